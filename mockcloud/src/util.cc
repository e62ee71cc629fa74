#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "ltx/fd_io.h"

namespace mockcloud {

Status ValidateName(std::string_view name, std::string_view what) {
  const std::string w(what);
  if (name.empty()) return Status::InvalidArgument(w + " name is empty");
  if (name.size() > 255) {
    return Status::InvalidArgument(w + " name is longer than 255 bytes");
  }
  if (name[0] == '.') return Status::InvalidArgument(w + " name must not start with '.'");
  if (name.find("..") != std::string_view::npos) {
    return Status::InvalidArgument(w + " name must not contain '..'");
  }
  for (unsigned char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument(w + " name may only contain [A-Za-z0-9._-]");
    }
  }
  return Status::OK();
}

static bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint64_t Hex16(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= uint64_t(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= uint64_t(c - 'a' + 10);
    else
      v |= uint64_t(c - 'A' + 10);
  }
  return v;
}

Result<Pos> ParsePosParam(std::string_view s) {
  if (s.size() != 33 || s[16] != '/') {
    return Status::InvalidArgument("bad position \"" + std::string(s.substr(0, 64)) +
                                   "\": want 16 hex digits '/' 16 hex digits");
  }
  for (size_t i = 0; i < 33; i++) {
    if (i != 16 && !IsHex(s[i])) {
      return Status::InvalidArgument("bad position \"" + std::string(s) + "\": non-hex character");
    }
  }
  return Pos{Hex16(s.substr(0, 16)), Hex16(s.substr(17, 16))};
}

Result<uint64_t> ParseUint(std::string_view s, std::string_view what) {
  if (s.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  if (s.size() > 19) return Status::InvalidArgument(std::string(what) + " is too large");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument(std::string(what) + " must be a decimal number, got \"" +
                                     std::string(s.substr(0, 32)) + "\"");
    }
    v = v * 10 + uint64_t(c - '0');
  }
  return v;
}

Result<std::vector<uint32_t>> ParsePgnoList(std::string_view s, size_t max_count) {
  if (s.empty()) return Status::InvalidArgument("pgno list is empty");
  std::vector<uint32_t> out;
  auto one = [](std::string_view item) -> Result<uint32_t> {
    auto v = ParseUint(item, "pgno");
    if (!v.ok()) return v.status();
    if (*v < 1 || *v > 0x7fffffffu) {
      return Status::InvalidArgument("pgno " + std::string(item) + " out of range 1..2147483647");
    }
    return uint32_t(*v);
  };
  auto too_many = [&] {
    return Status::InvalidArgument("too many page numbers (max " + std::to_string(max_count) + ")");
  };
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    std::string_view item =
        s.substr(start, comma == std::string_view::npos ? s.npos : comma - start);
    // "A-B" (extension pgno-ranges): every page from A to B.
    if (size_t dash = item.find('-'); dash != std::string_view::npos) {
      auto a = one(item.substr(0, dash));
      if (!a.ok()) return a.status();
      auto b = one(item.substr(dash + 1));
      if (!b.ok()) return b.status();
      if (*a > *b) {
        return Status::InvalidArgument("pgno range " + std::string(item) + " is backwards");
      }
      if (uint64_t(*b - *a) + 1 > max_count - std::min(max_count, out.size())) return too_many();
      for (uint32_t p = *a;; p++) {
        out.push_back(p);
        if (p == *b) break;
      }
    } else {
      if (out.size() >= max_count) return too_many();
      auto v = one(item);
      if (!v.ok()) return v.status();
      out.push_back(*v);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<int64_t> ParseDurationMs(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') i++;
  if (i == 0) return Status::InvalidArgument("bad duration \"" + std::string(s) + "\"");
  auto n = ParseUint(s.substr(0, i), "duration");
  if (!n.ok()) return n.status();
  std::string_view unit = s.substr(i);
  uint64_t mul;
  if (unit.empty() || unit == "ms")
    mul = 1;
  else if (unit == "s")
    mul = 1000;
  else if (unit == "m")
    mul = 60000;
  else if (unit == "h")
    mul = 3600000;
  else if (unit == "d")
    mul = 86400000;
  else {
    return Status::InvalidArgument("bad duration unit in \"" + std::string(s) +
                                   "\" (use ms, s, m, h or d)");
  }
  if (*n > uint64_t(INT64_MAX) / mul) return Status::InvalidArgument("duration too large");
  return int64_t(*n * mul);
}

Status ParseListen(std::string_view s, std::string* host, int* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("--listen wants HOST:PORT, got \"" + std::string(s) + "\"");
  }
  std::string_view h = s.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto p = ParseUint(s.substr(colon + 1), "port");
  if (!p.ok() || *p > 65535) {
    return Status::InvalidArgument("--listen port must be 0..65535, got \"" +
                                   std::string(s.substr(colon + 1)) + "\"");
  }
  *host = std::string(h);
  *port = int(*p);
  return Status::OK();
}

std::string Base64Encode(std::string_view in) {
  static const char kTab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
    out += kTab[(v >> 18) & 63];
    out += kTab[(v >> 12) & 63];
    out += kTab[(v >> 6) & 63];
    out += kTab[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint32_t(p[i]) << 16;
    out += kTab[(v >> 18) & 63];
    out += kTab[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8);
    out += kTab[(v >> 18) & 63];
    out += kTab[(v >> 12) & 63];
    out += kTab[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string FormatRfc3339Ms(int64_t unix_ms) {
  time_t secs = time_t(unix_ms / 1000);
  int ms = int(unix_ms % 1000);
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> RandomHex(size_t nbytes) {
  std::string raw(nbytes, '\0');
  size_t got = 0;
  while (got < nbytes) {
    ssize_t n = getrandom(raw.data() + got, nbytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("getrandom: ") + strerror(errno));
    }
    got += size_t(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walk the longer length so the loop count leaks only the lengths, never the content.
  size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char x = i < a.size() ? uint8_t(a[i]) : 0;
    unsigned char y = i < b.size() ? uint8_t(b[i]) : 0;
    diff |= unsigned(x ^ y);
  }
  return diff == 0;
}

std::string ErrnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + strerror(errno);
}

namespace {
Status WriteErrnoValue(int err, const std::string& what, const std::string& path) {
  std::string text = what + (path.empty() ? "" : " " + path) + ": " + strerror(err);
  if (err == ENOSPC || err == EDQUOT) {
    return Status(ltx::Code::kResourceExhausted, "out of disk space (" + text + ")", kApiNoSpace);
  }
  return Status::IOError(std::move(text));
}
}  // namespace

Status WriteErrno(const std::string& what, const std::string& path) {
  return WriteErrnoValue(errno, what, path);
}

Status FsyncPath(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(ErrnoText("open", path));
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  if (rc != 0) {
    errno = saved;
    return WriteErrno("fsync", path);
  }
  return Status::OK();
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (!d) return out;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status MakeDirs(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("empty directory path");
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status::IOError(path + " exists and is not a directory");
  }
  size_t slash = path.find_last_of('/');
  std::string parent =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (parent != path) LTX_RETURN_IF_ERROR(MakeDirs(parent));
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return WriteErrno("mkdir", path);
  }
  return FsyncPath(parent);
}

Status WriteAll(int fd, const void* data, size_t n) {
  if (int e = ltx::WriteFull(fd, data, n); e != 0) return WriteErrnoValue(e, "write", "");
  return Status::OK();
}

Status PwriteAll(int fd, const void* data, size_t n, uint64_t off) {
  if (int e = ltx::PwriteFull(fd, data, n, off); e != 0) return WriteErrnoValue(e, "pwrite", "");
  return Status::OK();
}

Status PreadAll(int fd, void* data, size_t n, uint64_t off) {
  const ssize_t got = ltx::PreadFull(fd, data, n, off);
  if (got < 0) return Status::IOError(std::string("pread: ") + strerror(int(-got)));
  if (size_t(got) < n) {
    return Status::Corruption("short read at offset " + std::to_string(off + uint64_t(got)));
  }
  return Status::OK();
}

}  // namespace mockcloud
