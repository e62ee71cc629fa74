// Shared pieces of the `litevfs` CLI: how a subcommand fails, the global cloud flags, JSON
// and table output (the parallel page fetcher is in page_fetcher.h).
//
// Error model: a run_x() function throws CliError (exit 1) or UsageError (exit 2); main()
// holds the only catch and prints "litevfs: <message>" on stderr. Library calls return
// ltx::Status / ltx::Result, which Check()/Unwrap() turn into CliError with a context prefix.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "litevfs/client.h"
#include "litevfs/duration.h"
#include "ltx/decoder.h"
#include "ltx/file.h"
#include "ltx/format.h"
#include "ltx/io.h"
#include "ltx/status.h"

namespace CLI {
class App;
}

namespace cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// A run-time failure (exit 1). The message is printed after "litevfs: ".
class CliError : public std::runtime_error {
 public:
  explicit CliError(const std::string& msg, int exit_code = kExitError)
      : std::runtime_error(msg), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};
// A usage problem CLI11 cannot express (exit 2).
class UsageError : public CliError {
 public:
  explicit UsageError(const std::string& msg) : CliError(msg, kExitUsage) {}
};
// Exit with a code and no further message (the command already printed its report).
class ExitRequest : public CliError {
 public:
  explicit ExitRequest(int code) : CliError("", code) {}
};

// "context: message" (no code name: the message of our libraries is already precise).
std::string Describe(const ltx::Status& s, std::string_view context = {});
// The text main() prints after "litevfs: ": our libraries' own "litevfs: " prefixes removed
// (no "litevfs: litevfs:"), and the environment variable a global flag overrode named as
// that flag (the VFS only sees the environment).
std::string ErrorText(std::string_view msg);
inline void Check(const ltx::Status& s, std::string_view context = {}) {
  if (!s.ok()) throw CliError(Describe(s, context));
}
template <typename T>
T Unwrap(ltx::Result<T> r, std::string_view context = {}) {
  if (!r.ok()) throw CliError(Describe(r.status(), context));
  return std::move(r).value();
}

// ---- global flags (--host, --token, --cluster, --cache-dir) ----
struct GlobalOptions {
  std::string host;
  std::string token;
  std::string cluster;
  std::string cache_dir;
};
GlobalOptions& Globals();
void SetupGlobalOptions(CLI::App& app);
// ClientConfig::FromEnv() overlaid with the flags; fails without a token.
litevfs::ClientConfig MakeClientConfig();
std::unique_ptr<litevfs::Client> MakeClient();
// Exports the flags as LITEFS_CLOUD_* / LITEVFS_CACHE_DIR so the VFS (which reads the
// environment) sees the same settings as the client. Call before opening a litevfs db.
void ExportVfsEnvironment();

// ---- LTX helpers ----
// "--format auto|v1|v3" → decode options (UsageError on anything else).
ltx::DecodeOptions DecodeOptionsFor(const std::string& format);
const char* VersionNumber(ltx::Version v);  // "1" / "3" as the Go tool prints it
nlohmann::json HeaderJson(const ltx::Header& h);
nlohmann::json TrailerJson(const ltx::Trailer& t);
nlohmann::json FileInfoJson(const std::string& path, const ltx::FileInfo& info);

// ---- output helpers ----
nlohmann::json PosJson(const ltx::Pos& pos);
void PrintJson(const nlohmann::json& j);
bool StdoutIsTty();
bool StderrIsTty();
// Whether a progress bar should be drawn: stderr is a terminal and output is not --json.
inline bool ProgressWanted(bool json) { return !json && StderrIsTty(); }
bool StdinIsTty();

// Go text/tabwriter(minwidth 0, tabwidth 8, padding 2, ' ', 0): cells are tab-separated,
// every cell but a line's last is padded to its column's width + 2.
class TabWriter {
 public:
  void Row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string Render() const;
  void Flush();  // writes to stdout and clears

 private:
  std::vector<std::vector<std::string>> rows_;
};

// `hexdump -C` layout, with "*" for runs of identical 16-byte lines.
std::string Hexdump(std::string_view data);

// "2006-01-02T15:04:05Z" (RFC 3339 UTC, seconds) and the Nano variant with trailing zeros
// of the fraction trimmed, as Go formats them.
std::string FormatRfc3339(int64_t unix_ms, bool with_fraction);
// A duration flag's value in ms (litevfs/duration.h's grammar, the VFS's too) within
// [lo_ms, hi_ms]; else UsageError naming the flag, the accepted forms and the range.
int64_t ParseDurationFlag(std::string_view flag, const std::string& value, int64_t lo_ms,
                          int64_t hi_ms);
std::string FormatBytes(uint64_t n);

// ---- SQLite database files ----
// Fails if `path`-wal exists and is not empty (its pages would be silently missed).
void RequireNoWal(const std::string& path);

// A temporary file next to `final_path` (".NAME.tmp-XXXXXX", created 0644 by mkstemp) that
// is removed on destruction unless Commit() renamed it over final_path (after fsync of the
// file; the directory is fsynced after the rename).
class TempFile {
 public:
  explicit TempFile(const std::string& final_path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return tmp_path_; }
  int fd() const { return fd_; }
  void Commit();

 private:
  std::string final_path_;
  std::string tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
};
// ltx::Sink over a descriptor someone else owns (e.g. a TempFile's).
class FdSink : public ltx::Sink {
 public:
  FdSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ltx::Status Write(const void* data, size_t n) override;

 private:
  int fd_;
  std::string path_;
};
// True if both paths name the same existing file.
bool SameFile(const std::string& a, const std::string& b);

// The current position of `db` and its size in pages (sync from zero; falls back to page
// 1's header when the server does not say). NotFound when the database does not exist.
struct RemoteState {
  ltx::Pos pos;
  uint32_t commit = 0;
};
RemoteState GetRemoteState(litevfs::Client& client, const std::string& db);

// Progress bar on stderr: "label [#####.....] 45% 12.3 MiB 40.1 MiB/s", each draw over the
// last (the line is cleared first); only when stderr is a terminal (ProgressWanted()).
class Progress {
 public:
  // total = 0: unknown; the bytes and the rate are shown without a bar.
  Progress(std::string label, uint64_t total, bool enabled);
  ~Progress();
  void Add(uint64_t n, uint64_t bytes);
  void Done();

 private:
  void Draw();
  std::string label_;
  uint64_t total_;
  bool enabled_;
  uint64_t done_ = 0;
  uint64_t bytes_ = 0;
  int64_t start_us_ = 0;
  int64_t last_draw_us_ = 0;
  bool finished_ = false;
};
int64_t NowMicros();

// An ltx::Sink that counts what passes into `progress` (not owned) on its way to `next`.
class ProgressSink : public ltx::Sink {
 public:
  ProgressSink(ltx::Sink* next, Progress* progress) : next_(next), progress_(progress) {}
  ltx::Status Write(const void* data, size_t n) override {
    progress_->Add(0, n);
    return next_->Write(data, n);
  }

 private:
  ltx::Sink* next_;
  Progress* progress_;
};

}  // namespace cli
