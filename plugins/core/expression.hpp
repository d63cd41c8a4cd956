// SPDX-License-Identifier: Apache-2.0
// expression.hpp: the safe condition language of `if_else` (DESIGN §3 "Fine points", §8).
// A recursive-descent parser builds a small tree once; evaluation walks it against a path
// resolver. Nothing in the language can call code, loop, or touch anything but the values the
// resolver hands out.
//
// Start with Expression::parse(text), then Expression::evaluate(resolver).
//
// Grammar (lowest precedence first, as in Python):
//   or_expr    := and_expr ('or' and_expr)*
//   and_expr   := not_expr ('and' not_expr)*
//   not_expr   := 'not' not_expr | comparison
//   comparison := unary (cmp_op unary)*          chained like Python: a < b < c
//   cmp_op     := '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not' 'in'
//   unary      := '-' unary | primary
//   primary    := number | string | true | false | null | True | False | None
//               | path | '@{' path '}' | '(' or_expr ')'
// Strings take single or double quotes with backslash escapes (\n \t \r \b \f \0 \/ \\ \' \"
// \xHH \uXXXX); an unknown escape keeps its backslash, as Python does. A bare path starts with a
// letter, `_` or `$` and continues with dot-separated segments (`result.items.0.id`,
// `results.fetch-user.body`, `items.-1`).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace blueprint::core {

using Json = nlohmann::json;

/// A parse error or a type error of an expression. what() starts with "column N: " (1-based,
/// counted in characters) and says what was expected or which operand types clashed.
class ExpressionError : public std::runtime_error {
 public:
  ExpressionError(std::size_t column, const std::string& message);
  /// 1-based column of the offending token or operator.
  std::size_t column() const { return column_; }

 private:
  std::size_t column_;
};

/// Resolves a dot path (`state.x`, `result.items.0`) to its value; null when it does not resolve.
using PathResolver = std::function<Json(const std::string& path)>;

/// Python truthiness on JSON: null, false, 0, "", [] and {} are false; everything else is true.
bool isTruthy(const Json& value);

/// A parsed expression. Immutable; evaluate() may run on several threads at once.
class Expression {
 public:
  /// Parses `text`. Throws ExpressionError naming the column and what was expected.
  static Expression parse(std::string_view text);

  /// Evaluates against `resolve`. `==`/`!=` compare JSON values (1 == 1.0); ordering needs two
  /// numbers or two strings; `in` is substring, list element or object key; `and`, `or` and
  /// `not` short-circuit and yield booleans. Throws ExpressionError on a type error.
  Json evaluate(const PathResolver& resolve) const;

  /// One node of the tree (defined in expression.cpp).
  struct Node;

 private:
  explicit Expression(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

}  // namespace blueprint::core
