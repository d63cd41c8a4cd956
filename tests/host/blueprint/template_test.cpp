// SPDX-License-Identifier: Apache-2.0
// template_test.cpp: golden tables for `@{path}` templates (paths, Text and Json modes, escapes,
// errors) plus the compile-once contract of Template.
#include "blueprint/template.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace blueprint::host {
namespace {

using Mode = Template::Mode;

/// Parses JSON text; keeps the tables readable.
Json j(const char* text) { return Json::parse(text); }

/// A JSON string value (so a table entry never parses by accident).
Json s(const char* text) { return Json(std::string(text)); }

/// The run environment every golden case renders against.
Json environmentData() {
  return j(R"({
    "result": {
      "a": {"b": "deep"},
      "items": [{"id": "i0", "n": 0}, {"id": "i1", "n": 1}, {"id": "i2", "n": 2}],
      "tags": ["red", "green"],
      "matrix": [[1, 2], [3, [4, 5]]],
      "byNumber": {"0": "zero", "-1": "minus one", "01": "zero one"},
      "count": 42,
      "ratio": 1.5,
      "ok": true,
      "off": false,
      "nothing": null,
      "name": "Ada",
      "obj": {"k": "v", "n": [1, 2]},
      "emptyList": [],
      "emptyObj": {},
      "emptyText": ""
    },
    "state": {"counter": 7, "user": {"name": "Grace"}},
    "payload": {
      "quote": "say \"hi\"",
      "path": "C:\\dir\\file",
      "multiline": "line1\nline2\ttab",
      "control": "bell\u0007",
      "unicode": "h\u00e9llo \u2713",
      "template": "@{state.counter}"
    }
  })");
}

/// A TemplateEnv backed by one JSON object whose top-level keys are the first path segment.
/// `$NAME` paths read an allow-list, like the host's environment-variable lookup. Every lookup
/// is recorded so tests can check what the template engine passed.
class JsonEnv : public TemplateEnv {
 public:
  explicit JsonEnv(Json root, Json allowed_variables = j(R"({"$HOME": "/home/ada"})"))
      : root_(std::move(root)), variables_(std::move(allowed_variables)) {}

  Json lookup(const Path& path) const override {
    seen_.push_back(path);
    seen_addresses_.push_back(&path);
    if (!path.segments.empty() && !path.segments[0].empty() && path.segments[0][0] == '$') {
      if (path.segments.size() != 1) return nullptr;
      const auto it = variables_.find(path.segments[0]);
      return it == variables_.end() ? Json() : *it;
    }
    const Json* value = walkPath(root_, path.segments);
    return value == nullptr ? Json() : *value;
  }

  const std::vector<Path>& seen() const { return seen_; }
  const std::vector<const Path*>& seenAddresses() const { return seen_addresses_; }

 private:
  Json root_;
  Json variables_;
  mutable std::vector<Path> seen_;
  mutable std::vector<const Path*> seen_addresses_;
};

// ---------------------------------------------------------------------------------------------
// Golden table: field value + mode → rendered value, and whether it compiles to a constant.
// ---------------------------------------------------------------------------------------------

struct GoldenCase {
  std::string name;
  Mode mode;
  Json input;
  Json expected;
  bool constant;
};

/// Readable failure output instead of gtest's byte dump of the parameter.
void PrintTo(const GoldenCase& c, std::ostream* os) {
  *os << c.name << (c.mode == Mode::Text ? " (Text) " : " (Json) ") << c.input.dump();
}

GoldenCase text(const char* name, Json input, Json expected, bool constant = false) {
  return GoldenCase{name, Mode::Text, std::move(input), std::move(expected), constant};
}

GoldenCase json(const char* name, Json input, Json expected, bool constant = false) {
  return GoldenCase{name, Mode::Json, std::move(input), std::move(expected), constant};
}

std::vector<GoldenCase> goldenCases() {
  return {
      // ---- dot paths ----
      text("path_nested_keys", s("@{result.a.b}"), s("deep")),
      text("path_list_index", s("@{result.items.1.id}"), s("i1")),
      text("path_list_index_zero", s("@{result.items.0.id}"), s("i0")),
      text("path_negative_last", s("@{result.items.-1.id}"), s("i2")),
      text("path_negative_first", s("@{result.items.-3.id}"), s("i0")),
      text("path_negative_out_of_range", s("@{result.items.-4.id}"), nullptr),
      text("path_index_out_of_range", s("@{result.items.3}"), nullptr),
      text("path_index_on_empty_list", s("@{result.emptyList.0}"), nullptr),
      text("path_nested_lists", s("@{result.matrix.1.1.0}"), 4),
      text("path_nested_lists_negative", s("@{result.matrix.-1.-1.-1}"), 5),
      text("path_nested_list_whole", s("@{result.matrix.1}"), j(R"([3, [4, 5]])")),
      text("path_numeric_key_on_object", s("@{result.byNumber.0}"), s("zero")),
      text("path_negative_key_on_object", s("@{result.byNumber.-1}"), s("minus one")),
      text("path_leading_zero_key_on_object", s("@{result.byNumber.01}"), s("zero one")),
      text("path_leading_zero_index_on_list", s("@{result.tags.01}"), s("green")),
      text("path_minus_zero_on_list", s("@{result.tags.-0}"), nullptr),
      text("path_plus_index_on_list", s("@{result.tags.+1}"), nullptr),
      text("path_non_numeric_on_list", s("@{result.tags.first}"), nullptr),
      text("path_segment_on_string", s("@{result.name.length}"), nullptr),
      text("path_index_on_string", s("@{result.name.0}"), nullptr),
      text("path_segment_on_number", s("@{result.count.0}"), nullptr),
      text("path_segment_on_bool", s("@{result.ok.x}"), nullptr),
      text("path_segment_on_null", s("@{result.nothing.x}"), nullptr),
      text("path_missing_key", s("@{result.missing}"), nullptr),
      text("path_missing_root", s("@{nope.a.b}"), nullptr),
      text("path_empty_segment", s("@{result..a}"), nullptr),
      text("path_whitespace_trimmed", s("@{  result.a.b \t}"), s("deep")),
      text("path_root_object", s("@{state}"), j(R"({"counter": 7, "user": {"name": "Grace"}})")),

      // ---- a value that is exactly one template keeps the JSON type ----
      text("full_list", s("@{result.tags}"), j(R"(["red", "green"])")),
      text("full_object", s("@{result.obj}"), j(R"({"k": "v", "n": [1, 2]})")),
      text("full_integer", s("@{result.count}"), 42),
      text("full_float", s("@{result.ratio}"), 1.5),
      text("full_true", s("@{result.ok}"), true),
      text("full_false", s("@{result.off}"), false),
      text("full_null", s("@{result.nothing}"), nullptr),
      text("full_missing_is_null", s("@{result.missing}"), nullptr),
      text("full_string", s("@{result.name}"), s("Ada")),
      text("full_empty_string", s("@{result.emptyText}"), s("")),
      text("full_empty_list", s("@{result.emptyList}"), Json::array()),
      text("full_empty_object", s("@{result.emptyObj}"), Json::object()),
      text("full_value_not_rendered_again", s("@{payload.template}"), s("@{state.counter}")),

      // ---- interpolation into text ----
      text("text_string", s("Hello @{result.name}!"), s("Hello Ada!")),
      text("text_integer", s("n=@{result.count}"), s("n=42")),
      text("text_float", s("r=@{result.ratio}"), s("r=1.5")),
      text("text_true", s("ok=@{result.ok}"), s("ok=true")),
      text("text_false", s("off=@{result.off}"), s("off=false")),
      text("text_null", s("v=@{result.nothing}"), s("v=null")),
      text("text_missing", s("v=@{result.missing}"), s("v=null")),
      text("text_list", s("tags=@{result.tags}"), s(R"(tags=["red","green"])")),
      text("text_object", s("obj=@{result.obj}"), s(R"(obj={"k":"v","n":[1,2]})")),
      text("text_empty_list", s("[@{result.emptyList}]"), s("[[]]")),
      text("text_empty_string", s("<@{result.emptyText}>"), s("<>")),
      text("text_string_as_is", s("<@{payload.quote}>"), s("<say \"hi\">")),
      text("text_backslashes_as_is", s("at @{payload.path}"), s("at C:\\dir\\file")),
      text("text_newlines_as_is", s("> @{payload.multiline}"), s("> line1\nline2\ttab")),
      text("text_unicode", s("@{payload.unicode}!"), s("h\u00e9llo \u2713!")),
      text("text_space_before_single_template", s(" @{result.count}"), s(" 42")),
      text("text_space_after_single_template", s("@{result.count} "), s("42 ")),
      text("text_multiple", s("@{state.user.name} and @{result.name} (@{state.counter})"),
           s("Grace and Ada (7)")),
      text("text_adjacent", s("@{result.name}@{state.counter}@{result.ok}"), s("Ada7true")),
      text("text_same_twice", s("@{result.name}-@{result.name}"), s("Ada-Ada")),
      text("text_value_not_rendered_again", s("x @{payload.template}"), s("x @{state.counter}")),

      // ---- escapes and malformed templates are literal text ----
      text("escape_only", s("\\@{result.name}"), s("@{result.name}"), true),
      text("escape_then_template", s("\\@{x} is @{result.name}"), s("@{x} is Ada")),
      text("escape_wrapping_template", s("\\@{@{result.name}}"), s("@{Ada}")),
      text("escape_twice", s("\\@{a}\\@{b}"), s("@{a}@{b}"), true),
      text("backslash_elsewhere_kept", s("C:\\dir @{result.name}"), s("C:\\dir Ada")),
      text("backslash_at_before_other", s("\\@x"), s("\\@x"), true),
      text("lone_at", s("mail me @ home"), s("mail me @ home"), true),
      text("at_at_end", s("trailing @"), s("trailing @"), true),
      text("at_without_brace", s("ada@example.com"), s("ada@example.com"), true),
      text("unterminated", s("@{result.name"), s("@{result.name"), true),
      text("unterminated_at_end", s("tail @{"), s("tail @{"), true),
      text("unterminated_after_template", s("@{result.name} @{state"), s("Ada @{state")),
      text("empty_template", s("@{}"), s("@{}"), true),
      text("blank_template", s("a @{  } b"), s("a @{  } b"), true),
      text("closing_brace_alone", s("a } b"), s("a } b"), true),
      text("dollar_brace_not_template", s("${result.name}"), s("${result.name}"), true),
      text("plain_text", s("just text"), s("just text"), true),
      text("empty_string", s(""), s(""), true),

      // ---- $NAME goes to the env like any path ----
      text("variable_full", s("@{$HOME}"), s("/home/ada")),
      text("variable_trimmed_in_text", s("home=@{ $HOME }"), s("home=/home/ada")),
      text("variable_not_allowed", s("@{$SECRET}"), nullptr),
      text("variable_not_allowed_in_text", s("s=@{$SECRET}"), s("s=null")),

      // ---- Text mode on objects and lists: every string leaf, keys untouched ----
      text("leaves_object", j(R"({"greeting": "hi @{result.name}", "n": 5,
                 "nested": {"list": ["@{result.count}", "plain", null, true, 2.5]},
                 "@{result.name}": "key @{state.counter}"})"),
           j(R"({"greeting": "hi Ada", "n": 5,
                 "nested": {"list": [42, "plain", null, true, 2.5]},
                 "@{result.name}": "key 7"})")),
      text("leaves_list", j(R"(["@{result.tags}", "x@{result.ok}", 3.5, false, null])"),
           j(R"([["red", "green"], "xtrue", 3.5, false, null])")),
      text("leaves_nested_lists", j(R"([[["@{result.items.-1.n}"]], {"a": ["@{state.user}"]}])"),
           j(R"([[[2]], {"a": [{"name": "Grace"}]}])")),
      text("leaves_escape", j(R"({"a": "\\@{x}", "b": ["@{y"]})"),
           j(R"({"a": "@{x}", "b": ["@{y"]})"), true),
      text("leaves_constant_object", j(R"({"a": [1, "two", {"b": null}]})"),
           j(R"({"a": [1, "two", {"b": null}]})"), true),
      text("leaves_empty_object", Json::object(), Json::object(), true),
      text("leaves_empty_list", Json::array(), Json::array(), true),
      text("scalar_integer", 17, 17, true),
      text("scalar_float", -0.25, -0.25, true),
      text("scalar_bool", true, true, true),
      text("scalar_null", nullptr, nullptr, true),

      // ---- Json mode: a template where a value stands inserts a JSON literal ----
      json("value_list", s(R"({"tags": @{result.tags}})"), j(R"({"tags": ["red", "green"]})")),
      json("value_object", s(R"({"o": @{result.obj}})"), j(R"({"o": {"k": "v", "n": [1, 2]}})")),
      json("value_string_quoted", s(R"({"name": @{result.name}})"), j(R"({"name": "Ada"})")),
      json("value_string_with_quotes", s(R"({"q": @{payload.quote}})"),
           j(R"({"q": "say \"hi\""})")),
      json("value_string_with_newlines", s(R"([@{payload.multiline}])"),
           j(R"(["line1\nline2\ttab"])")),
      json("value_missing_is_null", s(R"({"m": @{result.missing}})"), j(R"({"m": null})")),
      json("value_null", s(R"({"m": @{result.nothing}})"), j(R"({"m": null})")),
      json("value_integer", s(R"({"n": @{result.count}})"), j(R"({"n": 42})")),
      json("value_float", s(R"({"n": @{result.ratio}})"), j(R"({"n": 1.5})")),
      json("value_bool", s(R"({"b": @{result.ok}})"), j(R"({"b": true})")),
      json("value_adjacent_in_list", s(R"([@{result.count},@{result.name},@{result.tags}])"),
           j(R"([42, "Ada", ["red", "green"]])")),
      json("value_as_key", s(R"({@{result.name}: 1})"), j(R"({"Ada": 1})")),
      json("value_for_each_items",
           s(R"([@{result.items.0}, @{result.items.-1.n}, "@{state.counter}"])"),
           j(R"([{"id": "i0", "n": 0}, 2, "7"])")),
      json("value_not_rendered_again", s(R"({"t": @{payload.template}})"),
           j(R"({"t": "@{state.counter}"})")),
      json("value_variable", s(R"({"home": @{$HOME}, "secret": @{$SECRET}})"),
           j(R"({"home": "/home/ada", "secret": null})")),
      json("full_list_json", s("@{result.tags}"), j(R"(["red", "green"])")),
      json("full_padded_integer", s("  @{result.count}\n"), 42),
      json("full_string_json", s("@{result.name}"), s("Ada")),
      json("full_missing_json", s("@{result.missing}"), nullptr),

      // ---- Json mode: a template inside a JSON string literal inserts escaped text ----
      json("string_plain", s(R"({"msg": "hi @{result.name}!"})"), j(R"({"msg": "hi Ada!"})")),
      json("string_quotes", s(R"({"msg": "<@{payload.quote}>"})"), j(R"({"msg": "<say \"hi\">"})")),
      json("string_backslashes", s(R"({"p": "@{payload.path}"})"), j(R"({"p": "C:\\dir\\file"})")),
      json("string_newline_tab", s(R"({"m": "@{payload.multiline}"})"),
           j(R"({"m": "line1\nline2\ttab"})")),
      json("string_control_char", s(R"({"c": "@{payload.control}"})"), j(R"({"c": "bell\u0007"})")),
      json("string_unicode", s(R"({"u": "@{payload.unicode}"})"),
           j(R"({"u": "h\u00e9llo \u2713"})")),
      json(
          "string_non_strings",
          s(R"({"m": "tags=@{result.tags} n=@{result.count} ok=@{result.ok} none=@{result.nothing} missing=@{result.missing}"})"),
          j(R"({"m": "tags=[\"red\",\"green\"] n=42 ok=true none=null missing=null"})")),
      json("string_object", s(R"({"o": "@{result.obj}"})"),
           j(R"({"o": "{\"k\":\"v\",\"n\":[1,2]}"})")),
      json("string_whole_literal", s(R"("@{result.tags}")"), s(R"(["red","green"])")),
      json("string_whole_literal_number", s(R"("@{result.count}")"), s("42")),
      json("string_key", s(R"({"@{result.name}": 1})"), j(R"({"Ada": 1})")),
      json("string_adjacent", s(R"(["@{result.name}@{state.counter}"])"), j(R"(["Ada7"])")),
      json("string_escaped_quote_keeps_string",
           s(R"({"a": "say \"@{result.name}\" now", "b": @{result.count}})"),
           j(R"({"a": "say \"Ada\" now", "b": 42})")),
      json("string_escaped_backslash_ends_before_quote",
           s(R"({"a": "dir\\", "b": @{result.tags}})"),
           j(R"({"a": "dir\\", "b": ["red", "green"]})")),
      json("string_escaped_backslash_before_template", s(R"({"a": "\\@{result.name}"})"),
           j(R"({"a": "\\Ada"})")),
      json("string_template_escape", s(R"({"a": "\@{result.name}", "b": @{result.ok}})"),
           j(R"({"a": "@{result.name}", "b": true})")),
      json("string_value_not_rendered_again", s(R"({"t": "x @{payload.template}"})"),
           j(R"({"t": "x @{state.counter}"})")),
      json("string_unterminated_template", s(R"(["@{result.name"])"), j(R"(["@{result.name"])"),
           true),

      // ---- Json mode: constants and non-string field values ----
      json("constant_text", s(R"({"a": [1, 2], "b": "x"})"), j(R"({"a": [1, 2], "b": "x"})"), true),
      json("constant_scalar_text", s(" 12 "), 12, true),
      json("non_string_object",
           j(R"({"a": "@{result.tags}", "b": "n=@{result.count}", "c": "{\"not\": \"parsed\"}"})"),
           j(R"({"a": ["red", "green"], "b": "n=42", "c": "{\"not\": \"parsed\"}"})")),
      json("non_string_list", j(R"(["@{result.name}", ["@{result.items.-1.id}"], 1])"),
           j(R"(["Ada", ["i2"], 1])")),
      json("non_string_number", 5, 5, true),
      json("non_string_null", nullptr, nullptr, true),
      json("non_string_constant_object", j(R"({"a": "[1, 2]"})"), j(R"({"a": "[1, 2]"})"), true),
  };
}

class TemplateGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(TemplateGolden, RendersExpectedValue) {
  const GoldenCase& c = GetParam();
  SCOPED_TRACE("input: " + c.input.dump());
  const JsonEnv env(environmentData());
  const Template compiled = Template::compile(c.input, c.mode);
  EXPECT_EQ(compiled.isConstant(), c.constant);
  const Json first = compiled.render(env);
  EXPECT_EQ(first, c.expected) << "got: " << first.dump();
  // Compile once, render many: a second render gives the same value.
  EXPECT_EQ(compiled.render(env), c.expected);
  if (c.constant) {
    EXPECT_TRUE(env.seen().empty()) << "a constant must not look anything up";
  }
}

INSTANTIATE_TEST_SUITE_P(Table, TemplateGolden, ::testing::ValuesIn(goldenCases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           return std::string(info.param.mode == Mode::Text ? "text_" : "json_") +
                                  info.param.name;
                         });

// ---------------------------------------------------------------------------------------------
// Json mode errors
// ---------------------------------------------------------------------------------------------

struct ErrorCase {
  const char* name;
  const char* input;
  bool constant;
};

TEST(TemplateJsonErrors, InvalidJsonThrowsTemplateErrorWithPosition) {
  const std::vector<ErrorCase> cases = {
      {"missing_brace", R"({"a": @{result.count})", false},
      {"two_values", "@{result.name} @{result.count}", false},
      {"unquoted_text", R"({"a": hello @{result.name}})", false},
      {"value_after_string", R"({"a": "x"@{result.count}})", false},
      {"escape_outside_string", R"({"a": \@{result.name}})", true},
      {"constant_invalid", R"({"a": })", true},
      {"constant_empty", "", true},
      {"constant_unterminated_template", R"({"a": @{result.name)", true},
  };
  const JsonEnv env(environmentData());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // Compiling never throws, even for a constant that cannot parse.
    Template compiled;
    EXPECT_NO_THROW(compiled = Template::compile(s(c.input), Mode::Json));
    EXPECT_EQ(compiled.isConstant(), c.constant);
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        (void)compiled.render(env);
        ADD_FAILURE() << "expected TemplateError";
      } catch (const TemplateError& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
        EXPECT_NE(message.find("line 1, column"), std::string::npos) << message;
        EXPECT_EQ(message.find("[json.exception"), std::string::npos) << message;
      }
    }
  }
}

TEST(TemplateJsonErrors, ANumberTooLargeIsATemplateErrorNotAnException) {
  // Found by template_fuzzer: nlohmann reports `1E999` as out_of_range, not parse_error, and it
  // escaped Template::compile (which never throws) as an uncaught exception.
  for (const char* input : {"1E999", R"({"a": 1E999, "b": "@{result.name}"})"}) {
    SCOPED_TRACE(input);
    Template compiled;
    EXPECT_NO_THROW(compiled = Template::compile(s(input), Mode::Json));
    try {
      (void)compiled.render(JsonEnv(environmentData()));
      ADD_FAILURE() << "expected TemplateError";
    } catch (const TemplateError& e) {
      EXPECT_NE(std::string(e.what()).find("number overflow"), std::string::npos) << e.what();
    }
  }
}

TEST(TemplateJsonErrors, MessageDoesNotEchoInsertedValues) {
  // The rendered text may hold secrets ($NAME variables, payload fields); the error names the
  // position only.
  const JsonEnv env(j(R"({"secret": "hunter2"})"));
  const Template compiled = Template::compile(s(R"({"a": @{secret} trailing})"), Mode::Json);
  try {
    (void)compiled.render(env);
    FAIL() << "expected TemplateError";
  } catch (const TemplateError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    EXPECT_EQ(message.find("last read"), std::string::npos) << message;
    EXPECT_NE(message.find("column"), std::string::npos) << message;
  }
}

TEST(TemplateJsonErrors, InvalidUtf8NeverEscapesAsTypeError) {
  // nlohmann throws type_error when dumping invalid UTF-8 by default; rendering must not.
  const JsonEnv env(Json{{"bad", std::string("a\xff")}, {"list", Json::array({"b\xfe"})}});
  EXPECT_EQ(Template::compile(s("x=@{list}"), Mode::Text).render(env), s("x=[\"b\xef\xbf\xbd\"]"));
  EXPECT_EQ(Template::compile(s("[@{bad}]"), Mode::Json).render(env), j("[\"a\xef\xbf\xbd\"]"));
  // Raw bad bytes inside a JSON string literal are a JSON error, reported as such.
  EXPECT_THROW((void)Template::compile(s(R"(["@{bad}"])"), Mode::Json).render(env), TemplateError);
}

// ---------------------------------------------------------------------------------------------
// parsePath / walkPath
// ---------------------------------------------------------------------------------------------

TEST(ParsePath, SplitsAtDotsAndTrims) {
  struct Case {
    const char* input;
    const char* text;
    std::vector<std::string> segments;
  };
  const std::vector<Case> cases = {
      {"result.items.-1.id", "result.items.-1.id", {"result", "items", "-1", "id"}},
      {"  a.b \t\n", "a.b", {"a", "b"}},
      {"a", "a", {"a"}},
      {"$HOME", "$HOME", {"$HOME"}},
      {" $HOME ", "$HOME", {"$HOME"}},
      {"a..b", "a..b", {"a", "", "b"}},
      {".a", ".a", {"", "a"}},
      {"a.", "a.", {"a", ""}},
      {" a . b ", "a . b", {"a ", " b"}},
      {"", "", {}},
      {"   ", "", {}},
      {"x.0.01.-0.+1", "x.0.01.-0.+1", {"x", "0", "01", "-0", "+1"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string("input: '") + c.input + "'");
    const Path path = parsePath(c.input);
    EXPECT_EQ(path.text, c.text);
    EXPECT_EQ(path.segments, c.segments);
  }
}

TEST(WalkPath, GoldenTable) {
  const Json root = environmentData();
  struct Case {
    std::vector<std::string> segments;
    std::size_t from;
    const Json* expected;  // nullptr: does not resolve.
  };
  const Json& result = root["result"];
  const Json& items = result["items"];
  const Json& tags = result["tags"];
  const std::vector<Case> cases = {
      {{}, 0, &root},
      {{"result"}, 0, &result},
      {{"result", "items", "0"}, 0, &items[0]},
      {{"result", "items", "2"}, 0, &items[2]},
      {{"result", "items", "-1"}, 0, &items[2]},
      {{"result", "items", "-3"}, 0, &items[0]},
      {{"result", "items", "-4"}, 0, nullptr},
      {{"result", "items", "3"}, 0, nullptr},
      {{"result", "items", "-0"}, 0, nullptr},
      {{"result", "tags", "01"}, 0, &tags[1]},
      {{"result", "tags", "+1"}, 0, nullptr},
      {{"result", "tags", "1.5"}, 0, nullptr},
      {{"result", "tags", " 1"}, 0, nullptr},
      {{"result", "tags", "1 "}, 0, nullptr},
      {{"result", "tags", ""}, 0, nullptr},
      {{"result", "tags", "-"}, 0, nullptr},
      {{"result", "tags", "--1"}, 0, nullptr},
      {{"result", "tags", "0x1"}, 0, nullptr},
      {{"result", "tags", "99999999999999999999999999"}, 0, nullptr},
      {{"result", "tags", "-99999999999999999999999999"}, 0, nullptr},
      {{"result", "tags", "18446744073709551615"}, 0, nullptr},
      {{"result", "byNumber", "0"}, 0, &result["byNumber"]["0"]},
      {{"result", "byNumber", "1"}, 0, nullptr},
      {{"result", "nothing"}, 0, &result["nothing"]},  // Present null is not "missing".
      {{"result", "nothing", "x"}, 0, nullptr},
      {{"result", "count", "0"}, 0, nullptr},
      {{"result", "name", "0"}, 0, nullptr},
      {{"result", "matrix", "1", "-1", "0"}, 0, &result["matrix"][1][1][0]},
      // `from` skips leading segments (an env resolving the first segment itself).
      {{"result", "items", "1", "id"}, 1, nullptr},
      {{"ignored", "items", "1", "id"}, 1, nullptr},
      {{"result", "a", "b"}, 3, &root},
      {{"result", "a", "b"}, 7, &root},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE("case " + std::to_string(i) + ": " + Json(c.segments).dump());
    EXPECT_EQ(walkPath(root, c.segments, c.from), c.expected);
  }
  // `from` walks from the given root: the env strips the first segment and walks its value.
  EXPECT_EQ(walkPath(result, {"result", "items", "1", "id"}, 1), &items[1]["id"]);
  const Json scalar = 3;
  EXPECT_EQ(walkPath(scalar, {}), &scalar);
  EXPECT_EQ(walkPath(scalar, {"0"}), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Compile once, render many; what the env sees
// ---------------------------------------------------------------------------------------------

TEST(Template, PassesDollarPathsToEnvUnchanged) {
  const JsonEnv env(environmentData());
  const Template compiled = Template::compile(s("a @{ $HOME } b @{$NOT_ALLOWED.x}"), Mode::Text);
  EXPECT_EQ(compiled.render(env), s("a /home/ada b null"));
  ASSERT_EQ(env.seen().size(), 2u);
  EXPECT_EQ(env.seen()[0].text, "$HOME");
  EXPECT_EQ(env.seen()[0].segments, std::vector<std::string>{"$HOME"});
  EXPECT_EQ(env.seen()[1].text, "$NOT_ALLOWED.x");
  EXPECT_EQ(env.seen()[1].segments, (std::vector<std::string>{"$NOT_ALLOWED", "x"}));
}

TEST(Template, RenderReusesCompiledPaths) {
  // The env receives the same pre-split Path object on every render: nothing is re-parsed.
  const std::vector<std::pair<Json, Mode>> inputs = {
      {s("@{result.a.b}"), Mode::Text},
      {s("x @{result.a.b}"), Mode::Text},
      {s(R"({"a": "@{result.a.b}"})"), Mode::Json},
      {s(R"({"a": @{result.a.b}})"), Mode::Json},
      {j(R"({"a": ["@{result.a.b}"]})"), Mode::Text},
  };
  for (const auto& [input, mode] : inputs) {
    SCOPED_TRACE(input.dump());
    const JsonEnv local(environmentData());
    const Template compiled = Template::compile(input, mode);
    for (int i = 0; i < 3; ++i) (void)compiled.render(local);
    ASSERT_EQ(local.seen().size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(local.seenAddresses()[i], local.seenAddresses()[0]);
      EXPECT_EQ(local.seen()[i].text, "result.a.b");
      EXPECT_EQ(local.seen()[i].segments, (std::vector<std::string>{"result", "a", "b"}));
    }
  }
}

TEST(Template, LooksUpOncePerTemplatePerRender) {
  const JsonEnv env(environmentData());
  const Template compiled =
      Template::compile(j(R"({"a": "@{result.name}@{result.name}", "b": ["@{state.counter}"],
                              "c": "\\@{not.looked.up}", "d": 1})"),
                        Mode::Text);
  EXPECT_FALSE(compiled.isConstant());
  EXPECT_EQ(compiled.render(env),
            j(R"({"a": "AdaAda", "b": [7], "c": "@{not.looked.up}", "d": 1})"));
  EXPECT_EQ(env.seen().size(), 3u);
}

TEST(Template, DefaultAndMovedFromRenderNull) {
  const JsonEnv env(environmentData());
  const Template empty;
  EXPECT_TRUE(empty.isConstant());
  EXPECT_EQ(empty.render(env), nullptr);

  Template source = Template::compile(s("@{result.count}"), Mode::Text);
  Template moved(std::move(source));
  EXPECT_EQ(moved.render(env), 42);
  Template assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.render(env), 42);
  EXPECT_FALSE(assigned.isConstant());
}

TEST(Template, CompiledTemplateOutlivesItsInput) {
  // compile copies what it needs: the field value can go away before rendering.
  Template compiled;
  {
    Json value = j(R"({"a": "hi @{result.name}", "b": [1, 2]})");
    compiled = Template::compile(value, Mode::Text);
    value["a"] = "changed";
  }
  const JsonEnv env(environmentData());
  EXPECT_EQ(compiled.render(env), j(R"({"a": "hi Ada", "b": [1, 2]})"));
}

TEST(Template, DifferentEnvsGiveDifferentResults) {
  const Template compiled = Template::compile(s(R"({"n": @{state.counter}})"), Mode::Json);
  EXPECT_EQ(compiled.render(JsonEnv(j(R"({"state": {"counter": 1}})"))), j(R"({"n": 1})"));
  EXPECT_EQ(compiled.render(JsonEnv(j(R"({"state": {"counter": [2]}})"))), j(R"({"n": [2]})"));
  EXPECT_EQ(compiled.render(JsonEnv(j(R"({})"))), j(R"({"n": null})"));
}

}  // namespace
}  // namespace blueprint::host
