// litevfs-mockcloud as a library: a self-contained LiteFS Cloud server (mockcloud/PROTOCOL.md)
// with a durable store, leases, token auth, fault injection and metrics. Tests start it
// in-process on a random loopback port; the binary (src/main.cc) is a thin CLI11 shell.
//
//   mockcloud::ServerOptions o;
//   o.data_dir = tmp; o.tokens = {{"secret", "*"}};
//   auto srv = mockcloud::Server::Start(o);      // listening when this returns
//   httplib::Client c("127.0.0.1", (*srv)->port());
//   ...
//   (*srv)->Stop();                              // also done by the destructor
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ltx/status.h"

namespace mockcloud {

class StoreIo;  // mockcloud/src/store_io.h

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };
ltx::Result<LogLevel> ParseLogLevel(const std::string& s);  // error|warn|info|debug

struct TokenEntry {
  std::string token;
  std::string cluster;  // "*" = every cluster
};

// The default largest request body: a transaction upload (an import of a large database is
// one). A disk guard, not a memory one: uploads are applied or spooled as they arrive.
inline constexpr uint64_t kDefaultMaxBody = 64ull << 30;

struct ServerOptions {
  std::string data_dir;  // required (local store); everything lives under it
  std::string host = "127.0.0.1";
  int port = 0;                         // 0 = any free port (see Server::port())
  std::vector<TokenEntry> tokens;       // empty = no authentication
  std::string admin_token;              // empty = /admin/* disabled (404)
  int64_t retention_ms = 3600 * 1000;   // positions younger than this are kept...
  uint64_t retain_txids = 1000;         // ...and always the last N txids (>= 1)
  int64_t snapshots_every_ms = 0;       // a restore point this often (0 = none; issue 18)...
  int64_t snapshots_keep_ms = 30ll * 24 * 3600 * 1000;  // ...each kept this long
  int64_t compact_interval_ms = 10000;  // background compaction period (0 = never)
  uint64_t max_body = kDefaultMaxBody;  // request bodies above this get 413
  uint64_t segment_bytes = 64ull << 20; // the store starts a new segment file past this
  std::string faults;                   // fault spec (see PROTOCOL.md), empty = none
  int threads = 16;                     // HTTP worker threads (requests being handled)
  int max_long_polls = 4096;            // concurrent sync-wait holds; more answer at once
  int64_t max_wait_ms = 30000;          // cap on ?wait=
  int64_t max_connections = 10000;      // open connections; more get 503 + Retry-After
  int64_t max_queue = 1024;             // requests waiting for a worker; more get 503
  int64_t header_timeout_ms = 10000;    // a request head must arrive within this
  int64_t idle_timeout_ms = 60000;      // an idle keep-alive connection is closed after this
  LogLevel log_level = LogLevel::kInfo;
  bool verify_on_start = false;  // read every base.db page against its checksum at start
  // The store's file writes (tests inject faults: a full disk); nullptr = the real calls.
  std::shared_ptr<StoreIo> store_io;
  // Distributed mode (issue 14; man litevfs-mockcloud, DISTRIBUTED MODE): objects in S3,
  // positions and leases in etcd; data_dir is then this instance's cache (optional).
  std::string store_url;             // "s3://BUCKET/PREFIX?endpoint=http://HOST:PORT"; empty = local
  std::string etcd;                  // "http://HOST:PORT[,http://HOST:PORT…]"
  std::string aws_credentials_file;  // empty = AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
  // The browser build (vfs/wasm; src/web.h): CORS for pages of this origin ("*" = any,
  // empty = none) and a directory served read-only under /web/ (empty = none).
  std::string cors_origin;
  std::string web_dir;
  uint64_t cache_memory_bytes = 256ull << 20;  // bound on the instance's replicas (LRU)
  // Where log lines go (one per call, no newline). Default: stderr.
  std::function<void(const std::string&)> log_sink;
};

// Reads a --token-file / --admin-token-file: the token alone on one line (trailing
// whitespace and blank lines ignored); empty or several lines is an error naming the file.
ltx::Result<std::string> LoadTokenFile(const std::string& path);

// Parses a --tokens file: "TOKEN CLUSTER" per line, '#' comments, CLUSTER '*' = all.
ltx::Result<std::vector<TokenEntry>> LoadTokensFile(const std::string& path);

class Server {
 public:
  // Opens (and recovers) the store, binds, and starts serving on a background thread.
  static ltx::Result<std::unique_ptr<Server>> Start(const ServerOptions& opts);
  virtual ~Server() = default;

  virtual int port() const = 0;
  virtual const std::string& instance_id() const = 0;
  // Stops accepting, wakes long polls, joins every thread. Idempotent.
  virtual void Stop() = 0;
  // Blocks until Stop() is called (from another thread or a signal handler thread).
  virtual void Wait() = 0;
  // Runs one compaction pass now, then restore points when due (tests; the background pass
  // does the same).
  virtual ltx::Status Compact() = 0;
  // Same, but as if the wall clock were now_ms (tests of time-based retention).
  virtual ltx::Status CompactAt(int64_t now_ms) = 0;
};

}  // namespace mockcloud
