// SPDX-License-Identifier: Apache-2.0
// blueprint::Fields (sdk/include/blueprint/fields.hpp): typed field access for blocks, with
// errors that name the field and the type it needed.
#include <gtest/gtest.h>
#include <blueprint/sdk.hpp>

#include <cstdint>
#include <limits>
#include <string>

namespace {

using blueprint::FieldError;
using blueprint::Fields;
using blueprint::Json;

/// The message of the FieldError `call` throws, or "" when it throws none.
template <typename Call>
std::string fieldErrorOf(Call call) {
  try {
    call();
  } catch (const FieldError& e) {
    return e.what();
  }
  return "";
}

const Json kFields = {{"name", "Ada"},     {"count", 3},         {"ratio", 0.5},
                      {"whole", 4.0},      {"big", 300},         {"negative", -1},
                      {"on", true},        {"tags", {"a", "b"}}, {"meta", {{"k", 1}}},
                      {"nothing", nullptr}};

TEST(Fields, ReadsEachTypeItIsAskedFor) {
  const Fields fields(kFields);
  EXPECT_EQ(fields.get<std::string>("name"), "Ada");
  EXPECT_EQ(fields.get<int>("count"), 3);
  EXPECT_EQ(fields.get<std::uint8_t>("count"), 3);
  EXPECT_EQ(fields.get<std::int64_t>("whole"), 4);
  EXPECT_DOUBLE_EQ(fields.get<double>("ratio"), 0.5);
  EXPECT_DOUBLE_EQ(fields.get<double>("count"), 3.0);
  EXPECT_TRUE(fields.get<bool>("on"));
  EXPECT_EQ(fields.get<Json::array_t>("tags").size(), 2u);
  EXPECT_EQ(fields.get<Json::object_t>("meta").at("k"), 1);
  EXPECT_EQ(fields.get<Json>("tags"), Json({"a", "b"}));
}

TEST(Fields, OptionalIsEmptyForAbsentAndNull) {
  const Fields fields(kFields);
  EXPECT_FALSE(fields.optional<std::string>("missing").has_value());
  EXPECT_FALSE(fields.optional<std::string>("nothing").has_value());
  EXPECT_FALSE(fields.has("nothing"));
  EXPECT_TRUE(fields.has("name"));
  EXPECT_EQ(fields.optional<int>("count"), 3);
  EXPECT_EQ(fields.optional<std::string>("missing").value_or("fallback"), "fallback");
}

TEST(Fields, NamesTheFieldAndTheTypeItNeeded) {
  const Fields fields(kFields);
  EXPECT_EQ(fieldErrorOf([&] { fields.get<std::string>("missing"); }),
            "field 'missing' is missing");
  EXPECT_EQ(fieldErrorOf([&] { fields.get<std::string>("nothing"); }),
            "field 'nothing' is missing");
  EXPECT_EQ(fieldErrorOf([&] { fields.get<std::string>("count"); }),
            "field 'count' must be a string, got number");
  EXPECT_EQ(fieldErrorOf([&] { fields.optional<bool>("name"); }),
            "field 'name' must be a boolean, got string");
  EXPECT_EQ(fieldErrorOf([&] { fields.get<int>("name"); }),
            "field 'name' must be an integer, got string");
  EXPECT_EQ(fieldErrorOf([&] { fields.get<int>("ratio"); }),
            "field 'ratio' must be an integer, got 0.5");
  EXPECT_EQ(fieldErrorOf([&] { fields.get<std::uint8_t>("big"); }),
            "field 'big' must be an integer from 0 to 255, got 300");
  EXPECT_EQ(fieldErrorOf([&] { fields.get<unsigned>("negative"); }),
            "field 'negative' must be an integer from 0 to " +
                std::to_string(std::numeric_limits<unsigned>::max()) + ", got -1");
  EXPECT_EQ(fieldErrorOf([&] { fields.get<double>("on"); }),
            "field 'on' must be a number, got boolean");
  EXPECT_EQ(fieldErrorOf([&] { fields.get<Json::array_t>("meta"); }),
            "field 'meta' must be a list, got object");
  EXPECT_EQ(fieldErrorOf([&] { fields.get<Json::object_t>("tags"); }),
            "field 'tags' must be an object, got array");
}

TEST(Fields, AFieldErrorBecomesTheBlocksErrorMessage) {
  // The SDK's run thunk turns what a block throws into its error end state and message.
  struct Reads final : blueprint::Block {
    blueprint::Result run(blueprint::Context&, const Json& json) override {
      return blueprint::Result::success(Fields(json).get<std::string>("text"));
    }
  } block;
  std::string output, error, end_state;
  auto append = [](void* ctx, const char* data, std::size_t size) {
    static_cast<std::string*>(ctx)->append(data, size);
  };
  const std::string fields = R"({"text":42})";
  bp_run_args args{};
  args.struct_size = sizeof(bp_run_args);
  args.fields_json = fields.data();
  args.fields_size = fields.size();
  args.output = bp_sink{&output, append};
  args.error = bp_sink{&error, append};
  args.end_state = bp_sink{&end_state, append};
  EXPECT_EQ(blueprint::detail::runThunk(static_cast<blueprint::Block*>(&block), &args),
            BP_STATUS_ERROR);
  EXPECT_EQ(error, "field 'text' must be a string, got number");
  EXPECT_EQ(output, "");
}

}  // namespace
