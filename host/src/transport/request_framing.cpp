// SPDX-License-Identifier: Apache-2.0
// RFC 9112 §2–7 request framing. The rules that matter for request smuggling are strict on
// purpose: a framing header this host would read differently from a proxy in front of it
// (a blank before the colon, obs-fold, a second Content-Length, a coding after chunked, a lone
// CR) is refused with 400 and the connection closed, rather than guessed at (issue 11, C1).
#include "transport/request_framing.hpp"

#include <algorithm>
#include <limits>

namespace blueprint::host {

namespace {

/// tchar of RFC 9110 §5.6.2: the characters of methods, field names and codings.
constexpr bool isTokenCharSlow(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

/// The same as a table: every byte of a head passes through one of these tests.
struct TokenTable {
  bool is[256] = {};
  constexpr TokenTable() {
    for (int c = 0; c < 256; ++c) is[c] = isTokenCharSlow(static_cast<unsigned char>(c));
  }
};
constexpr TokenTable kTokenTable;

bool isTokenChar(unsigned char c) { return kTokenTable.is[c]; }

/// A byte a field value (or a chunk extension, or a trailer) may hold besides its blanks:
/// VCHAR and obs-text, i.e. no control character and no DEL.
bool isFieldChar(unsigned char c) { return c > 0x20 && c != 0x7F; }

/// The end of the run of field characters (isFieldChar) in data[from, stop): the fast path for
/// targets and values, which are most of a head's bytes. Locals, not members, so the loop keeps
/// its index in a register.
std::size_t skipFieldChars(const char* data, std::size_t from, std::size_t stop) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  while (from < stop && isFieldChar(bytes[from])) ++from;
  return from;
}

/// The same for token characters (method and field names).
std::size_t skipTokenChars(const char* data, std::size_t from, std::size_t stop) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  while (from < stop && isTokenChar(bytes[from])) ++from;
  return from;
}

bool isBlank(unsigned char c) { return c == ' ' || c == '\t'; }

bool equalsIgnoreCase(std::string_view text, std::string_view lower_ascii) {
  if (text.size() != lower_ascii.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_ascii[i]) return false;
  }
  return true;
}

std::string_view trimBlanks(std::string_view text) {
  while (!text.empty() && isBlank(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && isBlank(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

int hexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Content-Length and chunk sizes above this are refused as lengths: far past any body limit,
/// and safe from overflow as a std::streamsize.
constexpr std::uint64_t kMaxBodyLength = std::uint64_t{1} << 60;

}  // namespace

RequestHeadScanner::Result RequestHeadScanner::fail(int status, const char* code,
                                                    std::string message) {
  error_.status = status;
  error_.code = code;
  error_.message = std::move(message);
  state_ = State::Failed;
  return Result::Invalid;
}

RequestHeadScanner::Result RequestHeadScanner::scan(std::string_view input) {
  if (state_ == State::Failed) return Result::Invalid;
  if (state_ == State::Complete) return Result::Complete;
  while (position_ < input.size()) {
    if (position_ >= limits_.max_header_bytes) {
      if (state_ == State::Target)
        return fail(
            414, "uri_too_long",
            "the request target exceeds " + std::to_string(limits_.max_target_bytes) + " bytes");
      return fail(
          431, "headers_too_large",
          "the request head exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
    }
    const auto c = static_cast<unsigned char>(input[position_]);
    switch (state_) {
      case State::LeadingLine:
        if (c == '\r') {
          state_ = State::LeadingCr;
        } else if (c != '\n') {
          state_ = State::Method;
          token_start_ = position_;
          continue;  // the same byte again, as the method's first
        }
        break;
      case State::LeadingCr:
        if (c != '\n') return fail(400, "invalid_request", "a CR is not followed by LF");
        state_ = State::LeadingLine;
        break;
      case State::Method:
        if (isTokenChar(c)) {
          if (position_ - token_start_ >= kMaxMethodBytes)
            return fail(400, "invalid_request",
                        "the request method exceeds " + std::to_string(kMaxMethodBytes) + " bytes");
        } else if (c == ' ' && position_ > token_start_) {
          state_ = State::Target;
          token_start_ = position_ + 1;
        } else {
          return fail(400, "invalid_request",
                      "malformed request line: expected METHOD SP target SP HTTP/1.1");
        }
        break;
      case State::Target:
        if (c == ' ' && position_ > token_start_) {
          state_ = State::Version;
          token_start_ = position_ + 1;
        } else if (isFieldChar(c)) {
          if (position_ - token_start_ >= limits_.max_target_bytes)
            return fail(414, "uri_too_long",
                        "the request target exceeds " + std::to_string(limits_.max_target_bytes) +
                            " bytes");
          // The rest of the run at once, stopping short of either limit: the byte that
          // reaches one is looked at by the checks above on the next turn.
          position_ = skipFieldChars(input.data(), position_ + 1,
                                     std::min({input.size(), limits_.max_header_bytes,
                                               token_start_ + limits_.max_target_bytes})) -
                      1;
        } else {
          return fail(400, "invalid_request",
                      "malformed request line: the target holds a blank or control character");
        }
        break;
      case State::Version:
        if (c == '\r' || c == '\n') {
          if (!endRequestLine(input.substr(token_start_, position_ - token_start_)))
            return Result::Invalid;
          state_ = c == '\r' ? State::LineCr : State::LineStart;
        } else if (position_ - token_start_ >= 8) {
          return fail(400, "invalid_request",
                      "malformed request line: the version is not HTTP/1.x");
        }
        break;
      case State::LineCr:
        if (c != '\n') return fail(400, "invalid_request", "a CR is not followed by LF");
        state_ = State::LineStart;
        break;
      case State::LineStart:
        if (c == '\r') {
          state_ = State::EndCr;
        } else if (c == '\n') {
          return complete();
        } else if (isBlank(c)) {
          return fail(400, "invalid_request",
                      "a header field line starts with a blank (obsolete line folding)");
        } else if (isTokenChar(c)) {
          if (++fields_ > limits_.max_header_fields)
            return fail(431, "headers_too_large",
                        "the request has more than " + std::to_string(limits_.max_header_fields) +
                            " header fields");
          state_ = State::Name;
          token_start_ = position_;
        } else {
          return fail(400, "invalid_request", "malformed header field name");
        }
        break;
      case State::EndCr:
        if (c != '\n') return fail(400, "invalid_request", "a CR is not followed by LF");
        return complete();
      case State::Name:
        if (isTokenChar(c)) {
          if (position_ - token_start_ >= kMaxFieldNameBytes)
            return fail(
                431, "headers_too_large",
                "a header field name exceeds " + std::to_string(kMaxFieldNameBytes) + " bytes");
          position_ = skipTokenChars(input.data(), position_ + 1,
                                     std::min({input.size(), limits_.max_header_bytes,
                                               token_start_ + kMaxFieldNameBytes})) -
                      1;
        } else if (c == ':') {
          name_length_ = position_ - token_start_;
          state_ = State::Value;
          value_started_ = false;
          value_start_ = value_end_ = position_ + 1;
        } else {
          return fail(400, "invalid_request",
                      "malformed header field: its name holds a blank or separator");
        }
        break;
      case State::Value:
        if (c == '\r' || c == '\n') {
          if (!endField(input)) return Result::Invalid;
          state_ = c == '\r' ? State::LineCr : State::LineStart;
        } else if (isBlank(c)) {
          if (!value_started_) value_start_ = value_end_ = position_ + 1;
        } else if (isFieldChar(c)) {
          value_started_ = true;
          if (position_ - value_start_ < kMaxFieldValueBytes)
            position_ = skipFieldChars(input.data(), position_ + 1,
                                       std::min({input.size(), limits_.max_header_bytes,
                                                 value_start_ + kMaxFieldValueBytes})) -
                        1;
          value_end_ = position_ + 1;
        } else {
          return fail(400, "invalid_request", "a header field value holds a control character");
        }
        if (value_started_ && position_ - value_start_ >= kMaxFieldValueBytes)
          return fail(
              431, "headers_too_large",
              "a header field value exceeds " + std::to_string(kMaxFieldValueBytes) + " bytes");
        break;
      case State::Complete:
      case State::Failed:
        break;  // returned above
    }
    ++position_;
  }
  return Result::NeedMore;
}

bool RequestHeadScanner::endRequestLine(std::string_view version) {
  if (version == "HTTP/1.1") return true;
  if (version == "HTTP/1.0") {
    http10_ = true;
    return true;
  }
  if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[5] >= '0' &&
      version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9') {
    fail(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served");
    return false;
  }
  fail(400, "invalid_request", "malformed request line: the version is not HTTP/1.x");
  return false;
}

bool RequestHeadScanner::endField(std::string_view input) {
  const std::string_view name = input.substr(token_start_, name_length_);
  const std::string_view value = input.substr(value_start_, value_end_ - value_start_);
  if (equalsIgnoreCase(name, "content-length")) {
    if (content_length_seen_) {
      fail(400, "invalid_request", "the request has more than one Content-Length");
      return false;
    }
    content_length_seen_ = true;
    if (value.empty()) {
      fail(400, "invalid_request", "Content-Length is empty");
      return false;
    }
    std::uint64_t length = 0;
    for (char ch : value) {
      if (ch < '0' || ch > '9') {
        fail(400, "invalid_request", "Content-Length is not a whole number of bytes");
        return false;
      }
      length = length * 10 + static_cast<std::uint64_t>(ch - '0');
      if (length > kMaxBodyLength) {
        fail(400, "invalid_request", "Content-Length is too large to be a body length");
        return false;
      }
    }
    content_length_ = length;
  } else if (equalsIgnoreCase(name, "transfer-encoding")) {
    transfer_encoding_seen_ = true;
    std::size_t at = 0;
    while (at <= value.size()) {
      std::size_t comma = value.find(',', at);
      if (comma == std::string_view::npos) comma = value.size();
      const std::string_view coding = trimBlanks(value.substr(at, comma - at));
      at = comma + 1;
      if (coding.empty()) continue;  // empty list elements are allowed (RFC 9110 §5.6.1)
      ++codings_;
      if (equalsIgnoreCase(coding, "chunked")) {
        ++chunked_codings_;
        chunked_last_ = true;
        continue;
      }
      chunked_last_ = false;
      // Another coding, with or without parameters: known to be one, or malformed.
      if (!isTokenChar(static_cast<unsigned char>(coding.front()))) coding_malformed_ = true;
    }
  }
  return true;
}

RequestHeadScanner::Result RequestHeadScanner::complete() {
  head_length_ = position_ + 1;
  if (transfer_encoding_seen_) {
    // RFC 9112 §6.1 and §6.3: each of these is a framing a proxy may read differently.
    if (http10_)
      return fail(400, "invalid_request", "Transfer-Encoding is not allowed in HTTP/1.0");
    if (content_length_seen_)
      return fail(400, "invalid_request",
                  "the request has both Content-Length and Transfer-Encoding");
    if (coding_malformed_ || codings_ == 0)
      return fail(400, "invalid_request", "Transfer-Encoding is malformed");
    if (!chunked_last_)
      return fail(400, "invalid_request", "chunked must be the last transfer coding of a request");
    if (chunked_codings_ > 1)
      return fail(400, "invalid_request", "chunked is applied more than once");
    if (codings_ > 1)
      return fail(501, "not_implemented", "only the chunked transfer coding is supported");
    body_.kind = BodyFraming::Kind::Chunked;
  } else if (content_length_seen_ && content_length_ > 0) {
    body_.kind = BodyFraming::Kind::Length;
    body_.length = content_length_;
  }
  // Neither: no body, whatever the method (RFC 9112 §6.3, item 7); never read until EOF.
  state_ = State::Complete;
  return Result::Complete;
}

void ChunkedDecoder::fail(std::string message) {
  state_ = State::Failed;
  error_ = std::move(message);
}

ChunkedDecoder::Step ChunkedDecoder::decode(const char* input, std::size_t size) {
  Step step;
  std::size_t i = 0;
  while (i < size && state_ != State::Done && state_ != State::Failed) {
    const auto c = static_cast<unsigned char>(input[i]);
    switch (state_) {
      case State::Size:
      case State::SizeBlank:
      case State::Extension:
        if (++line_bytes_ > kMaxChunkLineBytes) {
          fail("a chunk size line exceeds " + std::to_string(kMaxChunkLineBytes) + " bytes");
          break;
        }
        if (state_ == State::Size && hexValue(c) >= 0) {
          size_ = size_ * 16 + static_cast<std::uint64_t>(hexValue(c));
          ++size_digits_;
          if (size_ > kMaxBodyLength) fail("a chunk size is too large");
        } else if (state_ == State::Size && size_digits_ == 0) {
          fail("a chunk size is not a hexadecimal number");
        } else if (c == '\r') {
          state_ = State::SizeLf;
        } else if (state_ == State::Extension) {
          if (!isFieldChar(c) && !isBlank(c)) fail("a chunk extension holds a control character");
        } else if (c == ';') {
          state_ = State::Extension;
        } else if (isBlank(c)) {
          state_ = State::SizeBlank;
        } else {
          fail("a chunk size is not a hexadecimal number");
        }
        break;
      case State::SizeLf:
        if (c != '\n') {
          fail("a chunk size line does not end with CRLF");
          break;
        }
        remaining_ = size_;
        state_ = size_ == 0 ? State::TrailerLine : State::Data;
        size_ = 0;
        size_digits_ = 0;
        line_bytes_ = 0;
        break;
      case State::Data: {
        const std::size_t run =
            remaining_ < size - i ? static_cast<std::size_t>(remaining_) : size - i;
        step.data_offset = i;
        step.data_size = run;
        remaining_ -= run;
        if (remaining_ == 0) state_ = State::DataCr;
        step.consumed = i + run;
        return step;
      }
      case State::DataCr:
        if (c != '\r')
          fail("chunk data is not followed by CRLF");
        else
          state_ = State::DataLf;
        break;
      case State::DataLf:
        if (c != '\n')
          fail("chunk data is not followed by CRLF");
        else
          state_ = State::Size;
        break;
      case State::TrailerLine:
        if (++trailer_bytes_ > limits_.max_header_bytes) {
          fail("the trailer fields exceed " + std::to_string(limits_.max_header_bytes) + " bytes");
        } else if (c == '\r') {
          state_ = line_bytes_ == 0 ? State::EndLf : State::TrailerLf;
        } else if (isFieldChar(c) || isBlank(c)) {
          ++line_bytes_;
        } else {
          fail("a trailer field holds a control character");
        }
        break;
      case State::TrailerLf:
        if (c != '\n') {
          fail("a trailer field does not end with CRLF");
        } else if (++trailer_fields_ > limits_.max_header_fields) {
          fail("more than " + std::to_string(limits_.max_header_fields) + " trailer fields");
        } else {
          state_ = State::TrailerLine;
          line_bytes_ = 0;
        }
        break;
      case State::EndLf:
        if (c != '\n')
          fail("a chunked body does not end with CRLF");
        else
          state_ = State::Done;
        break;
      case State::Done:
      case State::Failed:
        break;
    }
    if (state_ != State::Failed) ++i;
  }
  step.consumed = i;
  return step;
}

}  // namespace blueprint::host
