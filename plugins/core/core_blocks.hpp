// SPDX-License-Identifier: Apache-2.0
// The core blocks (DESIGN §8): every type of core_blocks.so is declared here; plugin.cpp lists
// them.
#pragma once

#include <blueprint/sdk.hpp>

namespace blueprint::core {

/// Entry of an API run: its result is the request body, or `default_result` for an empty payload.
class ApiTrigger final : public Block {
 public:
  static constexpr std::string_view kType = "api_trigger";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Ends the run with `value` (the first Return Value to fire wins). Only null is an error.
class ReturnValue final : public Block {
 public:
  static constexpr std::string_view kType = "return_value";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Sets run-scoped state at a dot path.
class SetState final : public Block {
 public:
  static constexpr std::string_view kType = "set_state";
  static BlockSpec spec();
  /// `config`: the fields as written in the blueprint (before templates are rendered).
  explicit SetState(const Json& config);
  Result run(Context& ctx, const Json& fields) override;

 private:
  /// `value` is exactly one `@{…}`: with value_type json, text it resolves to is parsed.
  bool value_is_one_template_ = false;
};

/// Writes a message to the log and the run trace.
class LogMessage final : public Block {
 public:
  static constexpr std::string_view kType = "log_message";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Parses JSON text.
class ParseJson final : public Block {
 public:
  static constexpr std::string_view kType = "parse_json";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Appends a value to a list in run-scoped state.
class AddToStateList final : public Block {
 public:
  static constexpr std::string_view kType = "add_to_state_list";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Runs its `loop` branch once per item, in order.
class ForEach final : public Block {
 public:
  static constexpr std::string_view kType = "for_each";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Runs another blueprint of the same agent version.
class RunBlueprint final : public Block {
 public:
  static constexpr std::string_view kType = "run_blueprint";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Waits, cancellably.
class Delay final : public Block {
 public:
  static constexpr std::string_view kType = "delay";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Reads, writes and deletes entries of the agent's persistent key-value store.
class KvStorage final : public Block {
 public:
  static constexpr std::string_view kType = "kv_storage";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

/// Evaluates a safe expression (expression.hpp) and takes the `true` or `false` end state.
class IfElse final : public Block {
 public:
  static constexpr std::string_view kType = "if_else";
  static BlockSpec spec();
  Result run(Context& ctx, const Json& fields) override;
};

}  // namespace blueprint::core
