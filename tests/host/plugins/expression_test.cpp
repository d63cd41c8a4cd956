// SPDX-License-Identifier: Apache-2.0
// expression_test.cpp: the if_else expression language (plugins/core/expression.hpp) as a unit:
// lexing, precedence, error columns, limits, exact number comparison and lazy path resolution.
// The block itself is tested through the engine in tests/plugins/if_else_test.cpp.
#include "core/expression.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace blueprint::core {
namespace {

/// Evaluates `text` against `env` (dot path → value), recording every path asked for.
struct Env {
  std::map<std::string, Json> values;
  mutable std::vector<std::string> asked;

  Json eval(const std::string& text) const {
    return Expression::parse(text).evaluate([this](const std::string& path) {
      asked.push_back(path);
      auto it = values.find(path);
      return it == values.end() ? Json(nullptr) : it->second;
    });
  }
};

Json eval(const std::string& text) { return Env{}.eval(text); }

/// The message of the ExpressionError `text` throws (parse or evaluation), or "no error".
std::string errorOf(const std::string& text) {
  try {
    eval(text);
  } catch (const ExpressionError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Expression, EvaluatesLiterals) {
  EXPECT_EQ(eval("42"), Json(42));
  EXPECT_EQ(eval("-2.5"), Json(-2.5));
  EXPECT_EQ(eval("1e2"), Json(100.0));
  EXPECT_EQ(eval("'x'"), Json("x"));
  EXPECT_EQ(eval("\"y\""), Json("y"));
  EXPECT_EQ(eval("true"), Json(true));
  EXPECT_EQ(eval("True"), Json(true));
  EXPECT_EQ(eval("False"), Json(false));
  EXPECT_EQ(eval("None"), Json(nullptr));
  EXPECT_EQ(eval("null"), Json(nullptr));
}

TEST(Expression, DecodesEscapes) {
  EXPECT_EQ(eval(R"('a\nb\tc\\d\'e\"f')"), Json("a\nb\tc\\d'e\"f"));
  EXPECT_EQ(eval(R"('\u00e9\x41')"), Json("\xC3\xA9"
                                          "A"));
  EXPECT_EQ(eval(R"('\ud83d\ude00')"), Json("\xF0\x9F\x98\x80"));
  EXPECT_EQ(eval(R"('\q')"), Json("\\q"));  // unknown escapes keep the backslash (Python)
  EXPECT_NE(errorOf(R"('\u12')").find("expected 4 hex digits"), std::string::npos);
}

TEST(Expression, ResolvesPathsAsWritten) {
  Env env;
  env.values["result.items.-1.id"] = "z";
  env.values["results.fetch-user.body"] = 3;
  env.values["$HOME"] = "/root";
  EXPECT_EQ(env.eval("result.items.-1.id == 'z'"), Json(true));
  EXPECT_EQ(env.eval("@{ results.fetch-user.body } == 3"), Json(true));
  EXPECT_EQ(env.eval("@{$HOME}"), Json("/root"));
  EXPECT_EQ(env.asked,
            (std::vector<std::string>{"result.items.-1.id", "results.fetch-user.body", "$HOME"}));
}

TEST(Expression, ShortCircuitsWithoutResolvingTheRest) {
  Env env;
  EXPECT_EQ(env.eval("false and a.b"), Json(false));
  EXPECT_EQ(env.eval("true or c.d"), Json(true));
  EXPECT_EQ(env.eval("1 > 2 < x"), Json(false));  // chained: stops at the first false link
  EXPECT_TRUE(env.asked.empty());
}

TEST(Expression, AndOrNotYieldBooleans) {
  EXPECT_EQ(eval("'a' and 2"), Json(true));
  EXPECT_EQ(eval("0 or ''"), Json(false));
  EXPECT_EQ(eval("not 'x'"), Json(false));
}

TEST(Expression, ComparesLargeIntegersExactly) {
  EXPECT_EQ(eval("9007199254740993 > 9007199254740992"), Json(true));
  EXPECT_EQ(eval("18446744073709551615 > 9223372036854775807"), Json(true));
  EXPECT_EQ(eval("-9223372036854775808 < 0"), Json(true));
  EXPECT_EQ(eval("0.1 < 1"), Json(true));
}

TEST(Expression, TruthinessFollowsPython) {
  EXPECT_FALSE(isTruthy(nullptr));
  EXPECT_FALSE(isTruthy(0));
  EXPECT_FALSE(isTruthy(0.0));
  EXPECT_FALSE(isTruthy(""));
  EXPECT_FALSE(isTruthy(Json::array()));
  EXPECT_FALSE(isTruthy(Json::object()));
  EXPECT_TRUE(isTruthy(-1));
  EXPECT_TRUE(isTruthy(" "));
  EXPECT_TRUE(isTruthy(Json::array({0})));
}

TEST(Expression, ReportsParseErrorsWithOneBasedColumns) {
  EXPECT_EQ(errorOf(""),
            "column 1: expected a value (a number, a string, true/false/null, a path, '@{…}' or "
            "'('), found the end of the expression");
  EXPECT_EQ(errorOf("1 <"),
            "column 4: expected a value (a number, a string, true/false/null, a path, '@{…}' or "
            "'('), found the end of the expression");
  EXPECT_EQ(errorOf("(1"), "column 3: expected ')', found the end of the expression");
  EXPECT_EQ(errorOf("a and or b").substr(0, 38), "column 7: expected a value (a number, ");
  EXPECT_EQ(errorOf("1 ! 2"), "column 3: expected '!=', found '!' (use 'not' for negation)");
  EXPECT_EQ(errorOf("a. b"), "column 3: expected a path segment after '.'");
  EXPECT_EQ(errorOf("@{ }"), "column 3: expected a path inside '@{}'");
  EXPECT_EQ(errorOf("@{a.b"), "column 6: expected '}' closing the '@{' at column 1");
  EXPECT_EQ(errorOf("01 == 1"), "column 1: invalid number '01'");
  EXPECT_EQ(errorOf("1 # 2"), "column 3: unexpected character '#'");
  // Columns count characters, not bytes.
  EXPECT_EQ(errorOf("'é' ==").substr(0, 9), "column 7:");
  EXPECT_EQ(errorOf("1 == 1 )"),
            "column 8: expected an operator (== != < <= > >= in, not in, and, or) or the end, "
            "found ')'");
}

TEST(Expression, ReportsTypeErrorsAtTheOperator) {
  EXPECT_EQ(errorOf("'a' < 1"),
            "column 5: '<' needs two numbers or two strings, got string and "
            "number");
  EXPECT_EQ(errorOf("null >= 1"),
            "column 6: '>=' needs two numbers or two strings, got null and number");
  EXPECT_EQ(errorOf("true > false"),
            "column 6: '>' needs two numbers or two strings, got boolean and boolean");
  EXPECT_EQ(errorOf("-'a'"), "column 1: '-' needs a number, got string");
  EXPECT_EQ(errorOf("1 not in 'abc'"),
            "column 3: 'not in <string>' needs a string on the left, got number");
  EXPECT_EQ(errorOf("'a' in 3"),
            "column 5: 'in' needs a string, list or object on the right, got number");
}

TEST(Expression, LimitsNestingAndLength) {
  EXPECT_EQ(eval(std::string(100, '(') + "1" + std::string(100, ')')), Json(1));
  EXPECT_NE(errorOf(std::string(101, '(') + "1" + std::string(101, ')')).find("nests deeper"),
            std::string::npos);
  std::string chain = "true";
  for (int i = 0; i < 1000; ++i) chain += " and true";
  EXPECT_EQ(eval(chain), Json(true));
  EXPECT_NE(errorOf(chain + " and true").find("more than 1000 operators"), std::string::npos);
}

TEST(Expression, KeywordsArePathsOnlyAfterADot) {
  Env env;
  env.values["state.in"] = 1;
  env.values["state.not"] = 2;
  EXPECT_EQ(env.eval("state.in == 1 and state.not == 2"), Json(true));
  EXPECT_EQ(errorOf("in").substr(0, 28), "column 1: expected a value (");
}

}  // namespace
}  // namespace blueprint::core
