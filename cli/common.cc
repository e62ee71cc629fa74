#include "common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "ltx/coding.h"
#include "vfs/src/sqlite_format.h"

namespace cli {

std::string Describe(const ltx::Status& s, std::string_view context) {
  std::string msg = s.message().empty() ? s.ToString() : s.message();
  if (context.empty()) return msg;
  // Library messages often name the file already ("PATH: ltx: ..."): do not repeat it.
  if (msg.size() > context.size() && msg.compare(0, context.size(), context) == 0 &&
      msg[context.size()] == ':') {
    return msg;
  }
  return std::string(context) + ": " + msg;
}

namespace {
// The global flag that overrides environment variable `env`.
std::string FlagFor(std::string_view env) {
  if (env == "LITEFS_CLOUD_HOST") return "--host";
  if (env == "LITEFS_CLOUD_TOKEN") return "--token";
  if (env == "LITEFS_CLOUD_CLUSTER") return "--cluster";
  return "--cache-dir";
}

}  // namespace

std::string ErrorText(std::string_view msg) {
  static constexpr std::string_view kOwn = "litevfs: ";
  std::string out;
  for (size_t i = 0; i < msg.size();) {
    const bool at_start = i == 0 || (i >= 2 && msg.substr(i - 2, 2) == ": ");
    if (at_start && msg.substr(i, kOwn.size()) == kOwn) {
      i += kOwn.size();
      continue;
    }
    out += msg[i++];
  }
  const GlobalOptions& g = Globals();
  for (const auto& [flag, env] :
       {std::pair{&g.host, "LITEFS_CLOUD_HOST"}, std::pair{&g.token, "LITEFS_CLOUD_TOKEN"},
        std::pair{&g.cluster, "LITEFS_CLOUD_CLUSTER"},
        std::pair{&g.cache_dir, "LITEVFS_CACHE_DIR"}}) {
    if (flag->empty()) continue;
    const std::string name = FlagFor(env);
    for (size_t p = out.find(env); p != std::string::npos; p = out.find(env, p + name.size())) {
      out.replace(p, std::strlen(env), name);
    }
  }
  return out;
}

// ---- global flags ----

GlobalOptions& Globals() {
  static GlobalOptions g;
  return g;
}

void SetupGlobalOptions(CLI::App& app) {
  GlobalOptions& g = Globals();
  app.add_option("--host", g.host, "Cloud service URL (overrides LITEFS_CLOUD_HOST)");
  app.add_option("--token", g.token, "Auth token (overrides LITEFS_CLOUD_TOKEN)");
  app.add_option("--cluster", g.cluster, "Cluster name (overrides LITEFS_CLOUD_CLUSTER)");
  app.add_option("--cache-dir", g.cache_dir,
                 "Local page cache directory (overrides LITEVFS_CACHE_DIR)");
}

litevfs::ClientConfig MakeClientConfig() {
  litevfs::ClientConfig cfg = litevfs::ClientConfig::FromEnv();
  const GlobalOptions& g = Globals();
  auto overlay = [](const std::string& flag_value, std::string* field, std::string* source,
                    const char* env) {
    if (flag_value.empty()) return;
    *field = flag_value;
    *source = FlagFor(env);
  };
  overlay(g.host, &cfg.host, &cfg.host_source, "LITEFS_CLOUD_HOST");
  overlay(g.token, &cfg.token, &cfg.token_source, "LITEFS_CLOUD_TOKEN");
  overlay(g.cluster, &cfg.cluster, &cfg.cluster_source, "LITEFS_CLOUD_CLUSTER");
  if (cfg.token.empty()) {
    throw CliError("no auth token: set LITEFS_CLOUD_TOKEN or pass --token");
  }
  return cfg;
}

std::unique_ptr<litevfs::Client> MakeClient() {
  return Unwrap(litevfs::Client::Create(MakeClientConfig()), "cloud client");
}

void ExportVfsEnvironment() {
  const GlobalOptions& g = Globals();
  auto set = [](const char* name, const std::string& v) {
    if (!v.empty() && ::setenv(name, v.c_str(), 1) != 0) {
      throw CliError(std::string("setenv ") + name + ": " + std::strerror(errno));
    }
  };
  set("LITEFS_CLOUD_HOST", g.host);
  set("LITEFS_CLOUD_TOKEN", g.token);
  set("LITEFS_CLOUD_CLUSTER", g.cluster);
  set("LITEVFS_CACHE_DIR", g.cache_dir);
}

// ---- LTX ----

ltx::DecodeOptions DecodeOptionsFor(const std::string& format) {
  auto v = ltx::ParseVersion(format);
  if (!v.ok()) throw UsageError("--format: " + Describe(v.status()) + " (want auto, v1 or v3)");
  ltx::DecodeOptions opts;
  opts.version = *v;
  return opts;
}

const char* VersionNumber(ltx::Version v) {
  switch (v) {
    case ltx::Version::kV1:
      return "1";
    case ltx::Version::kV3:
      return "3";
    case ltx::Version::kAuto:
      break;
  }
  return "?";
}

nlohmann::json HeaderJson(const ltx::Header& h) {
  char salt[20];
  std::snprintf(salt, sizeof(salt), "%08x %08x", h.wal_salt1, h.wal_salt2);
  return {{"flags", h.flags},
          {"pageSize", h.page_size},
          {"commit", h.commit},
          {"minTXID", ltx::FormatTxid(h.min_txid)},
          {"maxTXID", ltx::FormatTxid(h.max_txid)},
          {"timestamp", h.timestamp == 0 ? "" : FormatRfc3339(h.timestamp, true)},
          {"timestampMs", h.timestamp},
          {"preApplyChecksum", ltx::FormatChecksum(h.pre_apply_checksum)},
          {"walOffset", h.wal_offset},
          {"walSize", h.wal_size},
          {"walSalt", salt},
          {"nodeID", h.node_id}};
}

nlohmann::json TrailerJson(const ltx::Trailer& t) {
  return {{"postApplyChecksum", ltx::FormatChecksum(t.post_apply_checksum)},
          {"fileChecksum", ltx::FormatChecksum(t.file_checksum)}};
}

nlohmann::json FileInfoJson(const std::string& path, const ltx::FileInfo& info) {
  return {{"path", path},
          {"version", ltx::VersionName(info.version)},
          {"header", HeaderJson(info.header)},
          {"trailer", TrailerJson(info.trailer)},
          {"pages", info.page_count},
          {"size", info.file_size}};
}

// ---- output ----

nlohmann::json PosJson(const ltx::Pos& pos) {
  return {{"txid", ltx::FormatTxid(pos.txid)},
          {"postApplyChecksum", ltx::FormatChecksum(pos.post_apply_checksum)}};
}

void PrintJson(const nlohmann::json& j) { std::cout << j.dump(2) << "\n" << std::flush; }

bool StdoutIsTty() { return ::isatty(STDOUT_FILENO) == 1; }
bool StdinIsTty() { return ::isatty(STDIN_FILENO) == 1; }
bool StderrIsTty() { return ::isatty(STDERR_FILENO) == 1; }

std::string TabWriter::Render() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    // The last cell of a row is not tab-terminated, so it does not size a column.
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (widths.size() <= i) widths.resize(i + 1, 0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(widths[i] + 2 - row[i].size(), ' ');
    }
    out += '\n';
  }
  return out;
}

void TabWriter::Flush() {
  std::cout << Render() << std::flush;
  rows_.clear();
}

std::string Hexdump(std::string_view data) {
  std::string out;
  char line[100];
  std::string_view prev;
  bool starred = false;
  for (size_t off = 0; off < data.size(); off += 16) {
    std::string_view cur = data.substr(off, 16);
    if (off > 0 && cur.size() == 16 && cur == prev) {
      if (!starred) out += "*\n";
      starred = true;
      continue;
    }
    starred = false;
    prev = cur;
    int n = std::snprintf(line, sizeof(line), "%08zx ", off);
    out.append(line, size_t(n));
    for (size_t i = 0; i < 16; ++i) {
      if (i == 8) out += ' ';
      if (i < cur.size()) {
        n = std::snprintf(line, sizeof(line), " %02x", static_cast<unsigned char>(cur[i]));
        out.append(line, size_t(n));
      } else {
        out += "   ";
      }
    }
    out += "  |";
    for (char c : cur) out += (c >= 0x20 && c < 0x7f) ? c : '.';
    out += "|\n";
  }
  if (!data.empty()) {
    int n = std::snprintf(line, sizeof(line), "%08zx\n", data.size());
    out.append(line, size_t(n));
  }
  return out;
}

std::string FormatRfc3339(int64_t unix_ms, bool with_fraction) {
  int64_t secs = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
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

int64_t ParseDurationFlag(std::string_view flag, const std::string& value, int64_t lo_ms,
                          int64_t hi_ms) {
  auto ms = litevfs::ParseDurationInRange(flag, value, lo_ms, hi_ms);
  if (!ms.ok()) throw UsageError(ms.status().message());
  return *ms;
}

std::string FormatBytes(uint64_t n) {
  char buf[32];
  if (n < 1024) {
    std::snprintf(buf, sizeof(buf), "%" PRIu64 " B", n);
  } else if (n < 1024 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", double(n) / 1024);
  } else if (n < uint64_t(1024) * 1024 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", double(n) / (1024 * 1024));
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", double(n) / (1024.0 * 1024 * 1024));
  }
  return buf;
}

// ---- SQLite files ----

void RequireNoWal(const std::string& path) {
  struct stat st {};
  std::string wal = path + "-wal";
  if (::stat(wal.c_str(), &st) == 0 && st.st_size > 0) {
    throw CliError(path + ": has a non-empty WAL file (" + wal +
                   "); checkpoint it first (PRAGMA wal_checkpoint(TRUNCATE))");
  }
}

// ---- temp files ----

namespace {
std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
}  // namespace

TempFile::TempFile(const std::string& final_path) : final_path_(final_path) {
  std::string tmpl = DirName(final_path) + "/." + BaseName(final_path) + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0)
    throw CliError("create temporary file for " + final_path + ": " + std::strerror(errno));
  tmp_path_ = buf.data();
  ::fchmod(fd_, 0644);
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

void TempFile::Commit() {
  if (::fsync(fd_) != 0) throw CliError("fsync " + tmp_path_ + ": " + std::strerror(errno));
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw CliError("close " + tmp_path_ + ": " + std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), final_path_.c_str()) != 0) {
    throw CliError("rename " + tmp_path_ + " to " + final_path_ + ": " + std::strerror(errno));
  }
  committed_ = true;
  int dfd = ::open(DirName(final_path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    if (rc != 0) throw CliError("fsync directory of " + final_path_ + ": " + std::strerror(err));
  }
}

ltx::Status FdSink::Write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ltx::Status::IOError("write " + path_ + ": " + std::strerror(errno));
    }
    p += w;
    n -= size_t(w);
  }
  return ltx::Status::OK();
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// ---- progress ----

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), start_us_(NowMicros()) {}

// The bar's line is erased when it ends, whichever way: the command's report follows.
Progress::~Progress() { Done(); }

void Progress::Add(uint64_t n, uint64_t bytes) {
  done_ += n;
  bytes_ += bytes;
  int64_t now = NowMicros();
  if (enabled_ && now - last_draw_us_ > 100000) {
    last_draw_us_ = now;
    Draw();
  }
}

void Progress::Done() {
  if (enabled_ && !finished_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }
  finished_ = true;
}

void Progress::Draw() {
  constexpr int kWidth = 30;
  double secs = double(NowMicros() - start_us_) / 1e6;
  double rate = secs > 0 ? double(bytes_) / (1024.0 * 1024.0) / secs : 0;
  if (total_ == 0) {  // size unknown: no bar
    std::fprintf(stderr, "\r\033[K%s %s %.1f MiB/s", label_.c_str(), FormatBytes(bytes_).c_str(),
                 rate);
    std::fflush(stderr);
    return;
  }
  const double frac = std::min(1.0, double(done_) / double(total_));
  int filled = int(frac * kWidth);
  std::string bar(size_t(filled), '#');
  bar.append(size_t(kWidth - filled), '.');
  // "\r" then erase-to-end-of-line: a shorter draw leaves nothing of the longer one behind.
  std::fprintf(stderr, "\r\033[K%s [%s] %3d%% %s %.1f MiB/s", label_.c_str(), bar.c_str(),
               int(frac * 100), FormatBytes(bytes_).c_str(), rate);
  std::fflush(stderr);
}

// ---- fetching ----

ltx::Result<FetchStats> FetchAllPages(litevfs::Client& client, const std::string& db,
                                      const ltx::Pos& pos, uint32_t commit,
                                      const FetchOptions& opts, const PageSink& sink) {
  FetchStats stats;
  const int64_t start = NowMicros();
  if (commit == 0) return stats;
  const size_t batch = std::clamp<size_t>(opts.batch, 1, 4096);

  auto fetch_batch = [&](const std::vector<uint32_t>& want, uint32_t* page_size) -> ltx::Status {
    auto r = client.GetPages(db, pos, want);
    if (!r.ok()) return r.status();
    const litevfs::PageBatch& b = *r;
    if (*page_size == 0) *page_size = b.page_size;
    if (b.page_size != *page_size) {
      return ltx::Status::Corruption("server changed page size from " + std::to_string(*page_size) +
                                     " to " + std::to_string(b.page_size));
    }
    if (b.pages.size() != want.size()) {
      return ltx::Status::Corruption("asked for " + std::to_string(want.size()) + " pages from " +
                                     std::to_string(want.front()) + ", server returned " +
                                     std::to_string(b.pages.size()));
    }
    for (size_t i = 0; i < want.size(); ++i) {
      if (b.pages[i].first != want[i] || b.pages[i].second.size() != *page_size) {
        return ltx::Status::Corruption("server returned a wrong page for pgno " +
                                       std::to_string(want[i]));
      }
      LTX_RETURN_IF_ERROR(sink(want[i], b.pages[i].second));
    }
    return ltx::Status::OK();
  };

  // The first batch (never containing the lock page, which is >= 16385) tells the page size.
  uint32_t page_size = 0;
  std::vector<uint32_t> first;
  for (uint32_t p = 1; p <= commit && first.size() < batch; ++p) first.push_back(p);
  Progress progress(opts.label, commit, opts.progress);
  LTX_RETURN_IF_ERROR(fetch_batch(first, &page_size));
  progress.Add(first.size(), uint64_t(first.size()) * page_size);
  stats.pages = first.size();

  const uint32_t lock = ltx::LockPgno(page_size);
  std::vector<std::vector<uint32_t>> batches;
  std::vector<uint32_t> cur;
  for (uint64_t p = uint64_t(first.size()) + 1; p <= commit; ++p) {
    if (p == lock) continue;
    cur.push_back(uint32_t(p));
    if (cur.size() == batch) {
      batches.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) batches.push_back(std::move(cur));

  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards first_error, progress, stats.pages
  ltx::Status first_error;
  auto worker = [&] {
    uint32_t ps = page_size;
    while (!stop.load()) {
      size_t i = next.fetch_add(1);
      if (i >= batches.size()) return;
      ltx::Status st = fetch_batch(batches[i], &ps);
      std::lock_guard<std::mutex> lock_mu(mu);
      if (!st.ok()) {
        if (first_error.ok()) first_error = st;
        stop.store(true);
        return;
      }
      stats.pages += batches[i].size();
      progress.Add(batches[i].size(), uint64_t(batches[i].size()) * ps);
    }
  };
  unsigned n = std::max(1u, std::min<unsigned>(opts.parallel, unsigned(batches.size())));
  std::vector<std::thread> threads;
  if (!batches.empty()) {
    for (unsigned t = 0; t < n; ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
  }
  if (!first_error.ok()) return first_error;
  progress.Done();
  stats.page_size = page_size;
  stats.bytes = stats.pages * page_size;
  stats.seconds = double(NowMicros() - start) / 1e6;
  return stats;
}

RemoteState GetRemoteState(litevfs::Client& client, const std::string& db) {
  auto sr = client.Sync(db, ltx::Pos{});
  if (!sr.ok()) throw CliError(Describe(sr.status(), db));
  if (sr->pos.IsZero()) throw CliError(db + ": no such database");
  RemoteState st;
  st.pos = sr->pos;
  st.commit = sr->commit;
  if (st.commit == 0) {
    // Older servers do not report the size: page 1's header has it.
    auto b = client.GetPages(db, st.pos, {1});
    if (!b.ok()) throw CliError(Describe(b.status(), db + ": read page 1"));
    if (b->pages.empty() || b->pages[0].second.size() < litevfs::sqlite_format::kHeaderSize) {
      throw CliError(db + ": server returned no page 1");
    }
    const std::string& page1 = b->pages[0].second;
    st.commit = litevfs::sqlite_format::HeaderDatabaseSize(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(page1.data()), page1.size()));
  }
  return st;
}

}  // namespace cli
