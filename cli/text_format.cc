#include "text_format.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace cli {
namespace {
constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = kKiB * 1024;
constexpr uint64_t kGiB = kMiB * 1024;
constexpr int64_t kMsPerSecond = 1000;
}  // namespace

std::string FormatRfc3339(int64_t unix_ms, bool with_fraction) {
  int64_t secs = unix_ms / kMsPerSecond;
  int64_t ms = unix_ms % kMsPerSecond;
  if (ms < 0) {
    ms += kMsPerSecond;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (with_fraction && ms != 0) {
    std::snprintf(buf, sizeof(buf), ".%03d", int(ms));
    std::string frac(buf);
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  return out + "Z";
}

std::string FormatBytes(uint64_t n) {
  char buf[32];
  if (n < kKiB) {
    std::snprintf(buf, sizeof(buf), "%" PRIu64 " B", n);
  } else if (n < kMiB) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", double(n) / double(kKiB));
  } else if (n < kGiB) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", double(n) / double(kMiB));
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", double(n) / double(kGiB));
  }
  return buf;
}

}  // namespace cli
