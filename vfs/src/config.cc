#include "config.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace litevfs {
namespace {

std::string Trim(std::string_view v) {
  size_t b = 0, e = v.size();
  while (b < e && std::isspace(static_cast<unsigned char>(v[b]))) b++;
  while (e > b && std::isspace(static_cast<unsigned char>(v[e - 1]))) e--;
  std::string s(v.substr(b, e - b));
  // SQLite passes quoted pragma values through with their quotes removed, but be lenient.
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) {
    s = s.substr(1, s.size() - 2);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

// Splits "123ms" into 123 and "ms". False when there is no leading number.
bool SplitNumber(const std::string& s, int64_t* num, std::string* unit) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  auto [p, ec] = std::from_chars(b, e, *num);
  if (ec != std::errc() || p == b) return false;
  *unit = Lower(Trim(std::string_view(p, size_t(e - p))));
  return true;
}

ltx::Status RangeError(std::string_view pragma, std::string_view v, const std::string& what,
                       int64_t lo, int64_t hi) {
  return ltx::Status::InvalidArgument("litevfs: " + std::string(pragma) + ": '" + std::string(v) +
                                      "' is not " + what + " in [" + std::to_string(lo) + ", " +
                                      std::to_string(hi) + "]");
}

}  // namespace

std::string DefaultCacheRoot() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/litevfs";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/litevfs";
  return "/tmp/litevfs-cache";
}

ltx::Status SetTimeoutMs(std::string_view what, const char* value, long* out) {
  if (!value || !*value) return ltx::Status::OK();
  auto ms = ParseDurationMs(what, value, kMinTimeoutMs, kMaxTimeoutMs);
  if (!ms.ok()) return ms.status();
  *out = static_cast<long>(*ms);
  return ltx::Status::OK();
}

ltx::Result<VfsConfig> LoadConfigFromEnv() {
  VfsConfig cfg;
  cfg.client = ClientConfig::FromEnv();
  if (const char* plain = std::getenv("LITEVFS_PLAIN_API"); plain && *plain && std::string(plain) != "0") {
    cfg.client.use_extensions = false;  // speak only the LiteFS Cloud API (no long poll, no interior)
  }
  if (const char* d = std::getenv("LITEVFS_CACHE_DIR"); d && *d) {
    cfg.cache_root = d;
  } else {
    cfg.cache_root = DefaultCacheRoot();
  }
  LTX_RETURN_IF_ERROR(SetTimeoutMs("LITEVFS_REQUEST_TIMEOUT", std::getenv("LITEVFS_REQUEST_TIMEOUT"),
                                   &cfg.client.request_timeout_ms));
  LTX_RETURN_IF_ERROR(SetTimeoutMs("LITEVFS_CONNECT_TIMEOUT", std::getenv("LITEVFS_CONNECT_TIMEOUT"),
                                   &cfg.client.connect_timeout_ms));
  ApplyProcessConfig(&cfg);
  return cfg;
}

ltx::Result<int64_t> ParseIntInRange(std::string_view pragma, std::string_view v, int64_t lo,
                                     int64_t hi) {
  std::string s = Trim(v);
  int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || n < lo || n > hi) {
    return RangeError(pragma, v, "an integer", lo, hi);
  }
  return n;
}

ltx::Result<int64_t> ParseDurationMs(std::string_view pragma, std::string_view v, int64_t lo_ms,
                                     int64_t hi_ms) {
  auto ms = ParseDurationInRange(pragma, v, lo_ms, hi_ms);
  if (!ms.ok()) return ltx::Status::InvalidArgument("litevfs: " + ms.status().message());
  return ms;
}

ltx::Result<int64_t> ParseBytes(std::string_view pragma, std::string_view v, int64_t lo,
                                int64_t hi) {
  std::string s = Trim(v);
  int64_t n = 0;
  std::string unit;
  auto bad = [&] { return RangeError(pragma, v, "a byte count (e.g. 1048576, 512KB, 10MB, 1GB)", lo, hi); };
  if (!SplitNumber(s, &n, &unit) || n < 0) return bad();
  int64_t mult = 0;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mult = int64_t{1} << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") mult = int64_t{1} << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") mult = int64_t{1} << 30;
  else return bad();
  if (n > hi / mult + 1) return bad();
  int64_t bytes = n * mult;
  if (bytes < lo || bytes > hi) return bad();
  return bytes;
}

}  // namespace litevfs
