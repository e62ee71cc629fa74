// Exchange: the request body, read on demand by the route handler on its worker thread
// from the bytes the loop already buffered and then from the socket.
#include <cstring>

#include "http_conn.h"
#include "http_front.h"
#include "http_io.h"

namespace mockcloud {
namespace {

constexpr size_t kMaxChunkLine = 1024;  // "SIZE[;extensions]" line of a chunked body
constexpr size_t kMaxChunkDigits = 15;  // chunk sizes below 2^60
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Exchange::Exchange(HttpFront* front, Conn* conn)
    : front_(front),
      conn_(conn),
      reader_([this](httplib::ContentReceiver r) { return ReadBody(r); },
              [](httplib::MultipartContentHeader, httplib::ContentReceiver) { return false; }) {}

bool Exchange::FillSome() { return RecvSome(conn_->fd, &conn_->buf, conn_->io_timeout_ms); }

bool Exchange::ReadLength(uint64_t n, const httplib::ContentReceiver& receiver) {
  while (n > 0) {
    if (conn_->buf.empty() && !FillSome()) return false;
    size_t take = size_t(std::min<uint64_t>(n, conn_->buf.size()));
    bool more = receiver(conn_->buf.data(), take);
    conn_->buf.erase(0, take);
    n -= take;
    if (!more) return false;
  }
  return true;
}

bool Exchange::ReadChunked(const httplib::ContentReceiver& receiver) {
  auto read_line = [this](std::string* line) {
    size_t eol;
    while ((eol = conn_->buf.find("\r\n")) == std::string::npos) {
      if (conn_->buf.size() > kMaxChunkLine || !FillSome()) return false;
    }
    line->assign(conn_->buf, 0, eol);
    conn_->buf.erase(0, eol + 2);
    return true;
  };
  std::string line;
  for (;;) {
    if (!read_line(&line)) return false;
    uint64_t size = 0;
    size_t digits = 0;
    for (; digits < line.size() && HexDigit(line[digits]) >= 0; digits++)
      size = size * 16 + uint64_t(HexDigit(line[digits]));
    if (digits == 0 || digits > kMaxChunkDigits) return false;
    if (size == 0) break;
    if (!ReadLength(size, receiver)) return false;
    if (!read_line(&line) || !line.empty()) return false;  // CRLF after the chunk data
  }
  do {  // trailer fields, up to the blank line
    if (!read_line(&line)) return false;
  } while (!line.empty());
  return true;
}

bool Exchange::ReadBody(const httplib::ContentReceiver& receiver) {
  if (body_done_ || head.framing == BodyFraming::kNone) {
    body_done_ = true;
    return true;
  }
  if (head.expect_continue && !continue_sent_) {
    continue_sent_ = true;
    if (!SendAll(conn_->fd, kContinue, strlen(kContinue), conn_->io_timeout_ms)) return false;
  }
  bool ok = head.framing == BodyFraming::kChunked ? ReadChunked(receiver)
                                                   : ReadLength(head.content_length, receiver);
  body_done_ = ok;
  return ok;
}

}  // namespace mockcloud
