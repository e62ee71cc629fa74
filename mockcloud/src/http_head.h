// Parsing one HTTP/1.1 request head (request line + header fields, up to the blank line)
// into cpp-httplib's Request type, which the route handlers take. Pure: no I/O, so the
// event loop (http_front.cc) calls it once a whole head has arrived, and tests and the
// fuzzer feed it bytes directly. Body framing is decided here: Content-Length must be plain
// decimal digits below kMaxContentLength, Transfer-Encoding may only be "chunked", and a
// request with neither has an empty body (RFC 9112 6.3), e.g. what `curl -X POST` sends.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace mockcloud {

// Longest request line; longer gets 414 (cpp-httplib's limit, which clients know).
constexpr size_t kMaxRequestLine = 8192;
// Largest whole head (request line + fields); larger gets 431.
constexpr size_t kMaxHeadBytes = 64 * 1024;
// Content-Length values of 19 digits or more are refused as malformed (400), not as large.
constexpr uint64_t kMaxContentLength = 999'999'999'999'999'999ull;

enum class BodyFraming { kNone, kLength, kChunked };

struct ParsedHead {
  int status = 0;       // 0 = ok; else the 4xx/5xx to answer (and close)
  std::string error;    // why, for the client
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  bool keep_alive = true;         // after this exchange (HTTP/1.0 or "Connection: close")
  bool expect_continue = false;   // "Expect: 100-continue"
};

// Offset just past the blank line ending the head in buf, or npos when not all there yet.
size_t FindHeadEnd(std::string_view buf);

// Parses head (everything before and including the blank line) into req (method, target,
// path, params, headers, version). Never throws.
ParsedHead ParseHead(std::string_view head, httplib::Request* req);

}  // namespace mockcloud
