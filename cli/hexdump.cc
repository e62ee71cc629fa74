#include "hexdump.h"

#include <cstdio>

namespace cli {
namespace {

constexpr size_t kBytesPerLine = 16;
constexpr size_t kGroupBytes = 8;  // an extra space after the first 8 bytes of a line

// One line: offset, hex bytes (blank-padded on the last line), the printable characters.
void AppendLine(size_t off, std::string_view cur, std::string* out) {
  char buf[32];
  int n = std::snprintf(buf, sizeof(buf), "%08zx ", off);
  out->append(buf, size_t(n));
  for (size_t i = 0; i < kBytesPerLine; ++i) {
    if (i == kGroupBytes) *out += ' ';
    if (i < cur.size()) {
      n = std::snprintf(buf, sizeof(buf), " %02x", static_cast<unsigned char>(cur[i]));
      out->append(buf, size_t(n));
    } else {
      *out += "   ";
    }
  }
  *out += "  |";
  for (char c : cur) *out += (c >= 0x20 && c < 0x7f) ? c : '.';
  *out += "|\n";
}

}  // namespace

std::string Hexdump(std::string_view data) {
  std::string out;
  std::string_view prev;
  bool starred = false;
  for (size_t off = 0; off < data.size(); off += kBytesPerLine) {
    std::string_view cur = data.substr(off, kBytesPerLine);
    if (off > 0 && cur.size() == kBytesPerLine && cur == prev) {
      if (!starred) out += "*\n";
      starred = true;
      continue;
    }
    starred = false;
    prev = cur;
    AppendLine(off, cur, &out);
  }
  if (!data.empty()) {
    char buf[32];
    int n = std::snprintf(buf, sizeof(buf), "%08zx\n", data.size());
    out.append(buf, size_t(n));
  }
  return out;
}

}  // namespace cli
