// A string's bytes as a span (read-only or writable), for the LTX and cache calls that take bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace litevfs {

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline std::span<uint8_t> AsMutableBytes(std::string& s) {
  return {reinterpret_cast<uint8_t*>(s.data()), s.size()};
}

}  // namespace litevfs
