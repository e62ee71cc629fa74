// Big-endian integer helpers in three shapes: append to a buffer, encode into caller-sized
// memory, decode from a bounded view that fails instead of reading past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace ltx {

inline void EncodeU16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void EncodeU32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}
inline void EncodeU64(uint8_t* p, uint64_t v) {
  EncodeU32(p, uint32_t(v >> 32));
  EncodeU32(p + 4, uint32_t(v));
}
inline uint16_t DecodeU16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
inline uint32_t DecodeU32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
inline uint64_t DecodeU64(const uint8_t* p) {
  return (uint64_t(DecodeU32(p)) << 32) | DecodeU32(p + 4);
}

inline void AppendU32(std::string* out, uint32_t v) {
  uint8_t b[4]; EncodeU32(b, v); out->append(reinterpret_cast<char*>(b), 4);
}
inline void AppendU64(std::string* out, uint64_t v) {
  uint8_t b[8]; EncodeU64(b, v); out->append(reinterpret_cast<char*>(b), 8);
}

// A bounded read cursor: every Get fails (returns false, leaves the out value alone)
// rather than read past the end.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}
  size_t remaining() const { return data_.size() - pos_; }
  size_t offset() const { return pos_; }
  bool GetU16(uint16_t* v) { if (remaining() < 2) return false; *v = DecodeU16(&data_[pos_]); pos_ += 2; return true; }
  bool GetU32(uint32_t* v) { if (remaining() < 4) return false; *v = DecodeU32(&data_[pos_]); pos_ += 4; return true; }
  bool GetU64(uint64_t* v) { if (remaining() < 8) return false; *v = DecodeU64(&data_[pos_]); pos_ += 8; return true; }
  bool GetBytes(size_t n, std::span<const uint8_t>* out) {
    if (remaining() < n) return false;
    *out = data_.subspan(pos_, n); pos_ += n; return true;
  }
  bool Skip(size_t n) { if (remaining() < n) return false; pos_ += n; return true; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace ltx
