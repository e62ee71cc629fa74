#include "http_head.h"

#include <algorithm>

namespace mockcloud {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return tolower(static_cast<unsigned char>(x)) == tolower(static_cast<unsigned char>(y));
         });
}

// True when the comma-separated list value holds token (case-insensitive).
bool ListHas(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (EqualsNoCase(Trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

ParsedHead Fail(int status, std::string why) {
  ParsedHead h;
  h.status = status;
  h.error = std::move(why);
  h.keep_alive = false;
  return h;
}

// "METHOD SP TARGET SP HTTP/1.x"
ParsedHead ParseRequestLine(std::string_view line, httplib::Request* req) {
  if (line.size() > kMaxRequestLine)
    return Fail(414, "request line over " + std::to_string(kMaxRequestLine) + " bytes");
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return Fail(400, "malformed request line (want \"METHOD TARGET HTTP/1.1\")");
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), IsTokenChar))
    return Fail(400, "malformed request method");
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return Fail(505, "only HTTP/1.0 and HTTP/1.1 are served");
  if (target.empty() || target.front() != '/')
    return Fail(400, "request target must be a path starting with '/'");
  req->method = std::string(method);
  req->target = std::string(target);
  req->version = std::string(version);
  size_t q = target.find('?');
  if (q != std::string_view::npos && target.find('?', q + 1) != std::string_view::npos)
    return Fail(400, "request target holds more than one '?' (encode it as %3F)");
  req->path = httplib::detail::decode_url(std::string(target.substr(0, q)), false);
  if (q != std::string_view::npos)
    httplib::detail::parse_query_text(std::string(target.substr(q + 1)), req->params);
  return ParsedHead{};
}

// Content-Length: digits only (no sign, no exponent, no spaces inside), below the cap.
bool ParseLength(std::string_view v, uint64_t* out) {
  if (v.empty() || v.size() > 18) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + uint64_t(c - '0');
  }
  *out = n;
  return n <= kMaxContentLength;
}

ParsedHead DecideFraming(const httplib::Request& req, ParsedHead h) {
  const size_t nlen = req.get_header_value_count("Content-Length");
  const bool has_te = req.has_header("Transfer-Encoding");
  if (has_te) {
    if (nlen > 0) return Fail(400, "both Transfer-Encoding and Content-Length given");
    if (req.get_header_value_count("Transfer-Encoding") > 1 ||
        !EqualsNoCase(Trim(req.get_header_value("Transfer-Encoding")), "chunked"))
      return Fail(501, "Transfer-Encoding other than \"chunked\" is not supported");
    h.framing = BodyFraming::kChunked;
    return h;
  }
  for (size_t i = 0; i < nlen; i++) {
    uint64_t n = 0;
    const std::string v = req.get_header_value("Content-Length", i);
    if (!ParseLength(Trim(v), &n))
      return Fail(400, "Content-Length \"" + v.substr(0, 40) +
                           "\" is not a byte count (decimal digits, at most 18)");
    if (i > 0 && n != h.content_length) return Fail(400, "conflicting Content-Length headers");
    h.content_length = n;
  }
  h.framing = nlen > 0 && h.content_length > 0 ? BodyFraming::kLength : BodyFraming::kNone;
  return h;
}

}  // namespace

size_t FindHeadEnd(std::string_view buf) {
  size_t p = buf.find("\r\n\r\n");
  return p == std::string_view::npos ? p : p + 4;
}

ParsedHead ParseHead(std::string_view head, httplib::Request* req) {
  size_t eol = head.find(kCrlf);
  if (eol == std::string_view::npos) return Fail(400, "request head does not end in CRLF");
  ParsedHead h = ParseRequestLine(head.substr(0, eol), req);
  if (h.status) return h;
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    eol = head.find(kCrlf);
    if (eol == std::string_view::npos) return Fail(400, "header line does not end in CRLF");
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || name.empty() ||
        !std::all_of(name.begin(), name.end(), IsTokenChar))
      return Fail(400, "malformed header line");
    req->headers.emplace(std::string(name), std::string(Trim(line.substr(colon + 1))));
  }
  const std::string conn = req->get_header_value("Connection");
  h.keep_alive = req->version == "HTTP/1.1" ? !ListHas(conn, "close") : ListHas(conn, "keep-alive");
  h.expect_continue = EqualsNoCase(Trim(req->get_header_value("Expect")), "100-continue");
  return DecideFraming(*req, h);
}

}  // namespace mockcloud
