// SPDX-License-Identifier: Apache-2.0
// The log channels' line formats (issue 15): bytes no log line may carry as they are (invalid
// UTF-8, control characters, a newline that would start a forged line) in the message and in
// the fields, through the JSON and the text channel.
#include <gtest/gtest.h>

#include <Poco/Message.h>

#include <nlohmann/json.hpp>
#include <string>

#include "logging/json_log_channel.hpp"
#include "logging/text_log_channel.hpp"

namespace blueprint::host {
namespace {

Poco::Message hostileMessage() {
  Poco::Message message(
      "blueprint.test",
      std::string("bad \xff\xfe utf-8\n{\"msg\":\"forged\"}\x1b[0m") + std::string(1, '\0') + "end",
      Poco::Message::PRIO_WARNING);
  message.set("agent", "a\xc3\x28gent\r\n");
  message.set("status", "503");
  message.set("bytes", "12abc");  // a numeric field that is not a number stays a string
  message.set("duration_us", "33333333333333333333");  // nor one past 64 bits
  message.set("not_a_field", "left out");
  return message;
}

TEST(JsonLogChannel, HostileBytesStayInsideOneValidObject) {
  const std::string line = JsonLogChannel::format(hostileMessage());
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  const nlohmann::json parsed = nlohmann::json::parse(line);  // throws on invalid UTF-8
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["logger"], "blueprint.test");
  EXPECT_EQ(parsed["msg"], std::string("bad \xef\xbf\xbd\xef\xbf\xbd utf-8\n{\"msg\":\"forged\"}"
                                       "\x1b[0m") +
                               std::string(1, '\0') + "end");
  EXPECT_EQ(parsed["agent"], "a\xef\xbf\xbd(gent\r\n");
  EXPECT_EQ(parsed["status"], 503);
  EXPECT_EQ(parsed["bytes"], "12abc");
  EXPECT_EQ(parsed["duration_us"], "33333333333333333333");
  EXPECT_FALSE(parsed.contains("not_a_field"));
  // Fields come in kLogFields order, after ts, level, logger and msg.
  EXPECT_LT(line.find("\"msg\""), line.find("\"agent\""));
  EXPECT_LT(line.find("\"agent\""), line.find("\"status\""));
}

TEST(JsonLogChannel, TimestampIsRfc3339UtcWithMilliseconds) {
  EXPECT_EQ(rfc3339Millis(Poco::Timestamp(1764767045123456)), "2025-12-03T13:04:05.123Z");
  EXPECT_EQ(rfc3339Millis(Poco::Timestamp(0)), "1970-01-01T00:00:00.000Z");
}

TEST(TextLogChannel, ControlCharactersCannotStartALine) {
  const std::string line = TextLogChannel::format(hostileMessage());
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_NE(line.find("utf-8\\x0a{\"msg\""), std::string::npos) << line;
  EXPECT_NE(line.find("\\x1b[0m\\x00end"), std::string::npos) << line;
  EXPECT_NE(line.find(" agent=a\xc3\x28gent\\x0d\\x0a status=503 bytes=12abc duration_us=3"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find("not_a_field"), std::string::npos) << line;
}

}  // namespace
}  // namespace blueprint::host
