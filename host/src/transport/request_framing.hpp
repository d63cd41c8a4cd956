// SPDX-License-Identifier: Apache-2.0
// request_framing.hpp: the HTTP/1.1 request framing rules of RFC 9112, as pure code over bytes
// with their limits: where a request head ends and whether it is acceptable
// (RequestHeadScanner), how long its body is (BodyFraming), and how a chunked body decodes
// (ChunkedDecoder). No I/O and no allocation on the way to an acceptable request: today's
// thread-per-connection loop (http_connection.cpp) feeds these from a blocking socket, and an
// event loop can feed them from its buffers. The policy (what is refused, what is drained,
// when a connection closes) is docs/decisions/011-request-framing-and-limits.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace blueprint::host {

/// The bounds on a request head (and on a chunked body's framing lines), from the host config.
struct FramingLimits {
  /// Request line, header fields and the blank line; past it: 431.
  std::size_t max_header_bytes = 64 * 1024;
  /// Header fields in one request (and trailer fields after a chunked body); past it: 431.
  std::size_t max_header_fields = 100;
  /// The request target (path and query); past it: 414. At most 16384, Poco's own bound.
  std::size_t max_target_bytes = 8 * 1024;
};

/// Poco's bounds on one header field (MessageHeader::MAX_NAME_LENGTH / MAX_VALUE_LENGTH):
/// checked here first so that a field Poco would refuse gets a 431 rather than a parse error.
inline constexpr std::size_t kMaxFieldNameBytes = 256;
inline constexpr std::size_t kMaxFieldValueBytes = 8192;
/// Poco's bound on a method (HTTPRequest::MAX_METHOD_LENGTH).
inline constexpr std::size_t kMaxMethodBytes = 32;
/// Poco's bound on a request target (HTTPRequest::MAX_URI_LENGTH).
inline constexpr std::size_t kMaxTargetBytesCeiling = 16384;
/// A chunk-size line with its extensions; nothing legitimate comes close.
inline constexpr std::size_t kMaxChunkLineBytes = 4096;

/// Why a request is refused: the status to answer with (the connection closes after it), the
/// error code of the JSON error shape, and a sentence. `status` 0 means no error.
struct FramingError {
  int status = 0;
  const char* code = "";
  std::string message;
};

/// How the body of an accepted request is delimited (RFC 9112 §6.3).
struct BodyFraming {
  enum class Kind { None, Length, Chunked };
  Kind kind = Kind::None;
  /// The Content-Length, for Kind::Length.
  std::uint64_t length = 0;
};

/// Finds the end of a request head and checks it byte by byte on the way: the request line
/// (`token SP target SP HTTP/1.x`), each field line (`token ":" OWS value OWS`), line ends
/// (CRLF or a lone LF, never a lone CR), no control characters, no obs-fold, the limits; and
/// the body framing: one Content-Length of digits, or Transfer-Encoding ending in a single
/// `chunked`, never both, no Transfer-Encoding in HTTP/1.0. It is incremental: call scan()
/// with the request's bytes received so far, from its first byte, as often as more arrive;
/// each byte is looked at once.
class RequestHeadScanner {
 public:
  enum class Result { NeedMore, Complete, Invalid };

  explicit RequestHeadScanner(const FramingLimits& limits) : limits_(limits) {}

  /// Scans `input` from where the previous call stopped. `input` must start with the same
  /// bytes as before (it may have moved in memory).
  Result scan(std::string_view input);

  /// The head's length in bytes, blank line included (once Complete).
  std::size_t headLength() const { return head_length_; }
  /// The body framing (once Complete).
  const BodyFraming& body() const { return body_; }
  /// The refusal (once Invalid).
  const FramingError& error() const { return error_; }
  /// Bytes scanned so far: when the peer closes or times out mid-head, whether it sent any.
  std::size_t scanned() const { return position_; }

 private:
  enum class State {
    LeadingLine,  // empty lines before the request line (RFC 9112 §2.2 lets them pass)
    LeadingCr,
    Method,
    Target,
    Version,
    LineCr,     // a CR that must be followed by LF
    LineStart,  // the start of a field line, or of the blank line that ends the head
    EndCr,
    Name,
    Value,
    Complete,
    Failed,
  };

  Result fail(int status, const char* code, std::string message);
  /// The request line ended with `version`: HTTP/1.1 or HTTP/1.0 (false: refused).
  bool endRequestLine(std::string_view version);
  /// A field line ended: checks Content-Length and Transfer-Encoding (false: refused).
  bool endField(std::string_view input);
  /// The blank line ended the head: decides the body framing.
  Result complete();

  FramingLimits limits_;
  State state_ = State::LeadingLine;
  std::size_t position_ = 0;
  std::size_t token_start_ = 0;  // of the method, target, version or field name
  std::size_t name_length_ = 0;
  std::size_t value_start_ = 0;  // the value's first non-blank byte
  std::size_t value_end_ = 0;    // past its last non-blank byte
  bool value_started_ = false;
  std::size_t fields_ = 0;
  bool http10_ = false;

  bool content_length_seen_ = false;
  std::uint64_t content_length_ = 0;
  bool transfer_encoding_seen_ = false;
  std::size_t codings_ = 0;
  std::size_t chunked_codings_ = 0;
  bool chunked_last_ = false;
  bool coding_malformed_ = false;

  std::size_t head_length_ = 0;
  BodyFraming body_;
  FramingError error_;
};

/// Decodes a chunked body (RFC 9112 §7.1): hex chunk sizes with optional extensions, data,
/// CRLF after each chunk, a last chunk, trailer fields (bounded, then discarded) and the final
/// CRLF. Line ends are CRLF only: a lone LF or CR, a size that is not hex or overflows, or a
/// line past kMaxChunkLineBytes fails the body.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(const FramingLimits& limits) : limits_(limits) {}

  /// What one decode() call did with its input.
  struct Step {
    /// Input bytes used up (framing and data).
    std::size_t consumed = 0;
    /// Where in the input a run of body data starts, and how long it is (0: none).
    std::size_t data_offset = 0;
    std::size_t data_size = 0;
  };

  /// Consumes framing bytes and at most one run of body data from `input`, stopping after the
  /// data, at the end of the input, at the end of the body, or at an error.
  Step decode(const char* input, std::size_t size);

  bool done() const { return state_ == State::Done; }
  bool failed() const { return state_ == State::Failed; }
  /// Why the body failed (once failed()).
  const std::string& error() const { return error_; }

 private:
  enum class State {
    Size,
    SizeBlank,  // blanks after the size, before `;` or CR
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerLine,
    TrailerLf,
    EndLf,
    Done,
    Failed,
  };

  void fail(std::string message);

  FramingLimits limits_;
  State state_ = State::Size;
  std::uint64_t size_ = 0;
  std::size_t size_digits_ = 0;
  std::size_t line_bytes_ = 0;
  std::uint64_t remaining_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t trailer_fields_ = 0;
  std::string error_;
};

}  // namespace blueprint::host
