// Internal helpers shared by the libltx sources: printf-style messages, uvarints and a
// buffered reader over a Source that can peek (for version detection) and that reports the
// offset it has consumed (for the v3 page index and error messages). Not installed.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ltx/io.h"
#include "ltx/status.h"

namespace ltx::internal {

// snprintf into a std::string.
[[gnu::format(printf, 1, 2)]] std::string Fmt(const char* fmt, ...);

// Go's encoding/binary uvarint: 7 bits per byte, low group first, at most 10 bytes.
inline constexpr size_t kMaxVarintLen64 = 10;
inline void AppendUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(uint8_t(v)));
}
// Decodes one uvarint from data. Returns bytes used, 0 if data ends first, -1 on overflow.
inline int DecodeUvarint(std::span<const uint8_t> data, uint64_t* v) {
  uint64_t x = 0;
  unsigned shift = 0;
  for (size_t i = 0; i < data.size(); i++) {
    uint8_t b = data[i];
    if (i == kMaxVarintLen64 - 1 && b > 1) return -1;  // more than 64 bits
    if (b < 0x80) {
      *v = x | (uint64_t(b) << shift);
      return int(i + 1);
    }
    if (i >= kMaxVarintLen64 - 1) return -1;
    x |= uint64_t(b & 0x7f) << shift;
    shift += 7;
  }
  return 0;
}

// Reads a Source through a buffer. `offset()` is the number of bytes handed out so far.
class BufReader {
 public:
  // Starts with `capacity` bytes and grows when Fill() asks for more.
  BufReader(Source* src, size_t capacity)
      : src_(src), buf_(new uint8_t[capacity]), cap_(capacity) {}

  uint64_t offset() const { return offset_; }
  size_t buffered() const { return end_ - begin_; }
  const uint8_t* data() const { return buf_.get() + begin_; }

  // Tries to have at least n bytes buffered; fewer only at end of input.
  Status Fill(size_t n);
  // Buffers whatever the source gives next (at least one byte unless at end of input).
  Status FillSome();
  void Consume(size_t n) {
    begin_ += n;
    offset_ += n;
  }
  // Copies exactly n bytes out; *got tells how many arrived when the input ended first.
  Status Read(void* dst, size_t n, size_t* got);
  bool at_eof() const { return eof_; }

 private:
  Source* src_;
  std::unique_ptr<uint8_t[]> buf_;  // not zero-filled: only [begin_, end_) is ever read
  size_t cap_;
  size_t begin_ = 0, end_ = 0;
  uint64_t offset_ = 0;
  bool eof_ = false;
};

}  // namespace ltx::internal
