// SPDX-License-Identifier: Apache-2.0
#include "core_blocks.hpp"
#include "expression.hpp"

namespace blueprint::core {

BlockSpec IfElse::spec() {
  return BlockSpec(kType, "If-else")
      .description(
          "Evaluates `condition`, a safe expression, and takes the `true` or `false` end state; "
          "the result is the condition's truth value. The language has numbers, single- or "
          "double-quoted strings (backslash escapes), `true false null` (also `True False "
          "None`), paths of the run environment written bare (`result.inputs.age`, `state.x`, "
          "`item`, `result.items.0.id`) or as `@{path}` (a missing path is null), `== != < <= "
          "> >=`, `in` / `not in` (substring, list element, object key), `and`, `or`, `not` "
          "and parentheses, with Python's precedence and semantics on JSON values: `==` compares "
          "values (1 == 1.0), ordering needs two numbers or two strings, and null, false, 0, "
          "\"\", [] and {} are false. Nothing in it can run code. A syntax error or a type "
          "error (`\"a\" < 1`) takes the `error` end state naming the column.")
      .field(Field::string("condition")
                 .required()
                 .raw()
                 .description("The expression, e.g. `result.inputs.age >= 18 and 'vip' in "
                              "state.tags`. Not templated: paths are resolved by the block, so "
                              "strings in the environment never change the expression's syntax."))
      .endStates({"true", "false", "error"})
      .instant()
      .example(R"({"condition":"1 < 2 and 'b' in 'abc'"})", "true");
}

Result IfElse::run(Context& ctx, const Json& fields) {
  const Json condition = fields.value("condition", Json());
  bool truth = false;
  if (condition.is_boolean() || condition.is_number()) {
    // A JSON literal written in the blueprint (`"condition": true`): its truth value.
    truth = isTruthy(condition);
  } else if (condition.is_string()) {
    const std::string& text = condition.get_ref<const std::string&>();
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
      return Result::error("condition is empty");
    try {
      const Expression expression = Expression::parse(text);
      truth = isTruthy(expression.evaluate([&ctx](const std::string& path) {
        std::optional<Json> value = ctx.env(path);
        return value ? std::move(*value) : Json(nullptr);
      }));
    } catch (const ExpressionError& e) {
      return Result::error(std::string("condition: ") + e.what());
    }
  } else {
    return Result::error("condition must be an expression (text), got " +
                         std::string(condition.type_name()));
  }
  return Result::endState(truth ? "true" : "false", truth);
}

}  // namespace blueprint::core
