// SPDX-License-Identifier: Apache-2.0
// RequestHeadScanner and ChunkedDecoder (host/src/http/request_framing.cpp) on exact bytes:
// where a head ends, the body framing it declares, each refusal's status, and chunked decoding
// fed whole or a byte at a time. Also printableForLog, the one way request bytes reach a log.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/http_error.hpp"
#include "transport/request_framing.hpp"

namespace blueprint::host {
namespace {

struct Scanned {
  RequestHeadScanner::Result result = RequestHeadScanner::Result::NeedMore;
  std::size_t head_length = 0;
  BodyFraming body;
  int status = 0;
};

Scanned scanWhole(const std::string& bytes, FramingLimits limits = {}) {
  RequestHeadScanner scanner(limits);
  Scanned out;
  out.result = scanner.scan(bytes);
  if (out.result == RequestHeadScanner::Result::Complete) {
    out.head_length = scanner.headLength();
    out.body = scanner.body();
  }
  if (out.result == RequestHeadScanner::Result::Invalid) out.status = scanner.error().status;
  return out;
}

/// The same bytes one at a time: the scanner must decide exactly as on the whole.
Scanned scanByteByByte(const std::string& bytes, FramingLimits limits = {}) {
  RequestHeadScanner scanner(limits);
  Scanned out;
  for (std::size_t n = 1; n <= bytes.size(); ++n) {
    out.result = scanner.scan(std::string_view(bytes).substr(0, n));
    if (out.result != RequestHeadScanner::Result::NeedMore) break;
  }
  if (out.result == RequestHeadScanner::Result::Complete) {
    out.head_length = scanner.headLength();
    out.body = scanner.body();
  }
  if (out.result == RequestHeadScanner::Result::Invalid) out.status = scanner.error().status;
  return out;
}

TEST(RequestHeadScanner, FindsTheEndOfAHeadAndItsBodyLength) {
  const std::string head = "POST /x?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n";
  for (const Scanned& s : {scanWhole(head + "body"), scanByteByByte(head + "body")}) {
    ASSERT_EQ(s.result, RequestHeadScanner::Result::Complete);
    EXPECT_EQ(s.head_length, head.size());
    EXPECT_EQ(s.body.kind, BodyFraming::Kind::Length);
    EXPECT_EQ(s.body.length, 12u);
  }
}

TEST(RequestHeadScanner, AcceptsLoneLfLineEndsLeadingEmptyLinesAndChunked) {
  const Scanned s = scanWhole("\r\nGET / HTTP/1.0\nTransfer-Encoding: x\n\n");
  EXPECT_EQ(s.status, 400);  // TE in HTTP/1.0
  const Scanned chunked = scanWhole("\r\nPOST / HTTP/1.1\nTRANSFER-encoding:  Chunked \n\n");
  ASSERT_EQ(chunked.result, RequestHeadScanner::Result::Complete);
  EXPECT_EQ(chunked.body.kind, BodyFraming::Kind::Chunked);
}

TEST(RequestHeadScanner, NoLengthAndNoChunkingMeansNoBody) {
  const Scanned s = scanWhole("POST /deploy HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(s.result, RequestHeadScanner::Result::Complete);
  EXPECT_EQ(s.body.kind, BodyFraming::Kind::None);
}

TEST(RequestHeadScanner, RefusesAmbiguousFramingWithItsStatus) {
  const std::pair<std::string, int> cases[] = {
      {"Content-Length: -1\r\n", 400},
      {"Content-Length: " + std::string(30, '9') + "\r\n", 400},
      {"Content-Length: 1\r\nContent-Length: 1\r\n", 400},
      {"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n", 400},
      {"Transfer-Encoding: gzip, chunked\r\n", 501},
      {"Transfer-Encoding: chunked, gzip\r\n", 400},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
      {"Transfer-Encoding: ,\r\n", 400},
      {"Transfer-Encoding : chunked\r\n", 400},
      {"X: 1\r\n\tmore\r\n", 400},
      {"X: a\rb\r\n", 400},
      {"X: a\x7f\r\n", 400},
      {": empty name\r\n", 400},
  };
  for (const auto& [fields, status] : cases) {
    const std::string head = "POST / HTTP/1.1\r\n" + fields + "\r\n";
    EXPECT_EQ(scanWhole(head).status, status) << fields;
    EXPECT_EQ(scanByteByByte(head).status, status) << fields;
  }
}

TEST(RequestHeadScanner, BoundsTheHeadTheTargetAndTheFields) {
  FramingLimits limits;
  limits.max_header_bytes = 1024;
  limits.max_header_fields = 4;
  limits.max_target_bytes = 100;
  EXPECT_EQ(scanWhole("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", limits).status, 414);
  EXPECT_EQ(
      scanWhole("GET / HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n", limits).status,
      431);
  EXPECT_EQ(scanWhole("GET / HTTP/1.1\r\nA: " + std::string(2000, 'v'), limits).status, 431);
  EXPECT_EQ(scanWhole(std::string(2000, '\n'), limits).status, 431);
  EXPECT_EQ(scanWhole("GET / HTTP/3.0\r\n\r\n").status, 505);
  EXPECT_EQ(scanWhole("GET / HTTPS/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(scanWhole("GET  / HTTP/1.1\r\n\r\n").status, 400);
}

std::string decodeAll(const std::string& body, std::size_t piece, bool& done, bool& failed) {
  FramingLimits limits;
  ChunkedDecoder decoder(limits);
  std::string data;
  for (std::size_t at = 0; at < body.size() && !decoder.done() && !decoder.failed();) {
    const std::size_t size = std::min(piece, body.size() - at);
    const ChunkedDecoder::Step step = decoder.decode(body.data() + at, size);
    data.append(body, at + step.data_offset, step.data_size);
    at += step.consumed;
    if (step.consumed == 0) break;
  }
  done = decoder.done();
  failed = decoder.failed();
  return data;
}

TEST(ChunkedDecoder, DecodesChunksExtensionsAndTrailersWholeOrByteByByte) {
  const std::string body = "5;name=\"v\"\r\nhello\r\n6 \r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
  for (const std::size_t piece : {body.size(), std::size_t{1}, std::size_t{3}}) {
    bool done = false, failed = false;
    EXPECT_EQ(decodeAll(body, piece, done, failed), "hello world") << piece;
    EXPECT_TRUE(done);
    EXPECT_FALSE(failed);
  }
}

TEST(ChunkedDecoder, FailsOnMalformedFraming) {
  for (const std::string& body : std::vector<std::string>{
           "zz\r\n", "5\nhello\r\n", "2\r\nhello\r\n", std::string(20, 'f') + "\r\n",
           "5\r\nhello\n", "0\r\nX: 1\n\r\n", "\r\n"}) {
    bool done = false, failed = false;
    decodeAll(body, body.size(), done, failed);
    EXPECT_TRUE(failed) << body;
  }
}

TEST(PrintableForLog, EscapesControlAndNonAsciiBytesAndCuts) {
  EXPECT_EQ(printableForLog("GET /a\x1b[31m\xff\\"), "GET /a\\x1b[31m\\xff\\x5c");
  EXPECT_EQ(printableForLog(std::string(10, 'a'), 4), "aaaa…(10 bytes)");
}

}  // namespace
}  // namespace blueprint::host
