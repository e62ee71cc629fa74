// The HTTP face of the mockcloud: routes of mockcloud/PROTOCOL.md, served by HttpFront
// (http_front.h: an epoll loop for idle and arriving connections, a worker pool for
// requests) with cpp-httplib's Request/Response types.
//
// Request flow (Dispatch, on a worker): the pre-routing step stamps the start time, applies
// injected faults (latency, 503, dropped connection), checks the token (constant time) and
// the cluster name, then the route handler runs; after the response is written, AfterResponse
// records metrics and writes the one-line request log. Bodies of POST /db/tx are streamed to
// a temp file through a ContentReader so --max-body is enforced without holding the body in
// memory. A sync-wait that has to wait is parked in the LongPollHub (no worker held) and
// finished on a worker when its database moves or its wait ends.
#include "mockcloud/server.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "faults.h"
#include "fd_limit.h"
#include "http_front.h"
#include "litevfs/limits.h"
#include "litevfs/page_frames.h"
#include "local_leases.h"
#include "long_poll.h"
#include "page_reply.h"
#include "rfc3339.h"
#include "ltx/coding.h"
#include "store.h"
#include "store_api.h"
#include "upload_pipe.h"
#include "store_factory.h"
#include "store_snapshot.h"
#include "util.h"
#include "web.h"

namespace mockcloud {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

ltx::Result<LogLevel> ParseLogLevel(const std::string& s) {
  if (s == "error") return LogLevel::kError;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "info") return LogLevel::kInfo;
  if (s == "debug") return LogLevel::kDebug;
  return Status::InvalidArgument("log level must be error, warn, info or debug, got \"" + s + "\"");
}

ltx::Result<std::vector<TokenEntry>> LoadTokensFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read tokens file " + path);
  std::vector<TokenEntry> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream ss(line);
    std::string tok, cluster, extra;
    if (!(ss >> tok)) continue;
    const std::string where = path + ":" + std::to_string(lineno);
    if (!(ss >> cluster)) return Status::InvalidArgument(where + ": want \"TOKEN CLUSTER\"");
    if (ss >> extra) return Status::InvalidArgument(where + ": trailing text after CLUSTER");
    if (cluster != "*") {
      if (Status st = ValidateName(cluster, "cluster"); !st.ok()) {
        return Status::InvalidArgument(where + ": " + st.message());
      }
    }
    out.push_back({tok, cluster});
  }
  if (out.empty()) return Status::InvalidArgument("tokens file " + path + " holds no tokens");
  return out;
}

namespace {

constexpr int64_t kIoTimeoutMs = 30000;  // a body read or response write stalled this long aborts
constexpr size_t kReservedFds = 256;     // descriptors kept for files, logs and lingering closes
constexpr size_t kMemoryBody = 1 << 20;     // POST /db/tx bodies up to this are not spooled to disk
constexpr uint64_t kMaxJsonBody = 16ull << 20;  // POST /sync: held in memory, parsed whole
constexpr uint64_t kDrainCap = 8ull << 20;  // bytes past --max-body read (and dropped) so the
                                            // client sees the 413 before the socket closes
using litevfs::kPagesMime;
using litevfs::kPagesWithSumsMime;
// Our extensions: the /info list, and the same list in every response's Litevfs-Features.
const std::vector<std::string> kFeatures = {"pages-binary", "sync-wait", "interior", "history", "zstd",
                                            "pgno-ranges", "lease-status",
                                            "time-travel", "lease-wait", "page-sums"};
const std::string kFeaturesHeader = [] {
  std::string h;
  for (const auto& f : kFeatures) h += (h.empty() ? "" : ",") + f;
  return h;
}();
const double kBuckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};
constexpr size_t kNumBuckets = sizeof(kBuckets) / sizeof(kBuckets[0]);

// Per-request state; a request is handled start to end on one worker thread.
struct RequestState {
  Clock::time_point start;
  bool started = false;
  std::string route;    // metrics label
  std::string cluster;  // validated cluster name
  FaultDecision fault;
  bool close_after = false;  // shut the connection down after the response (unread body)
  bool dropped = false;
  uint64_t pages = 0;
  uint64_t bytes_in = 0;
  Exchange* ex = nullptr;  // the exchange being handled (a sync-wait parks it)
  bool deferred = false;   // the handler parked the exchange: nobody may touch it now
};
thread_local RequestState tl;

// Never throws: bytes that are not UTF-8 (echoed input) become U+FFFD.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json PosJson(const Pos& p) {
  return {{"txid", ltx::FormatTxid(p.txid)},
          {"postApplyChecksum", ltx::FormatChecksum(p.post_apply_checksum)}};
}

std::string FnvHex(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

std::string Sanitize(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 512)) out += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
  return out;
}

bool HeaderHasToken(const std::string& value, const std::string& token) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string item =
        value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t semi = item.find(';');
    if (semi != std::string::npos) item.resize(semi);
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) {
      std::string t = item.substr(b, e - b + 1);
      if (t.size() == token.size() &&
          std::equal(t.begin(), t.end(), token.begin(),
                     [](char x, char y) { return tolower(x) == tolower(y); })) {
        return true;
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

struct RouteMetrics {
  std::map<int, uint64_t> by_status;
  uint64_t bytes_in = 0, bytes_out = 0, pages = 0;
  double latency_sum = 0;
  uint64_t latency_count = 0;
  uint64_t buckets[kNumBuckets] = {};
};

class ServerImpl : public Server {
 public:
  explicit ServerImpl(ServerOptions o) : opts_(std::move(o)) {}
  ~ServerImpl() override { Stop(); }

  Status Init();
  int port() const override { return port_; }
  const std::string& instance_id() const override { return instance_id_; }
  void Stop() override;
  void Wait() override {
    std::unique_lock l(stop_mu_);
    stop_cv_.wait(l, [&] { return stopped_; });
  }
  Status Compact() override { return CompactAt(NowUnixMs()); }
  Status CompactAt(int64_t now_ms) override {  // and restore points (issue 18)
    LTX_RETURN_IF_ERROR(store_->CompactAll(now_ms));
    return store_->RestorePointsAll(now_ms);
  }

 private:
  void Log(LogLevel lvl, const std::string& msg);
  void Routes();
  Status StartFront();
  bool Dispatch(Exchange& ex);  // true = parked (a long poll)
  void Settle(Exchange& ex);    // after the handler: error bodies, close/drop flags
  enum class Pre { kContinue, kHandled };
  Pre PreRoute(const httplib::Request& req, httplib::Response& res);
  void AfterResponse(const httplib::Request& req, const httplib::Response& res);

  // Responses.
  void Reply(httplib::Response& res, int status, std::string body, const char* type);
  void ReplyJson(httplib::Response& res, int status, const json& j);
  void ReplyError(httplib::Response& res, int status, const std::string& code,
                  const std::string& msg, const Pos* pos = nullptr);
  void ReplyStatus(httplib::Response& res, const Status& st, const std::shared_ptr<Database>& db);

  // Parameter helpers; false = an error reply was written.
  bool GetDb(const httplib::Request& req, httplib::Response& res, bool create,
             std::shared_ptr<Database>* db, std::string* name);
  bool OptPos(const httplib::Request& req, httplib::Response& res, const char* key, bool* has,
              Pos* pos);
  bool ReadBody(const httplib::ContentReader& reader, httplib::Response& res, uint64_t limit,
                std::string* out);

  // Brings a lagging replica (distributed store) up to `at` before a read there.
  Status EnsureAt(const std::string& name, const std::shared_ptr<Database>& db, const Pos& at);

  void HandleInfo(const httplib::Request&, httplib::Response&);
  void HandlePos(const httplib::Request&, httplib::Response&);
  void HandleTx(const httplib::Request&, httplib::Response&, const httplib::ContentReader&);
  void HandleSnapshot(const httplib::Request&, httplib::Response&);
  void HandlePage(const httplib::Request&, httplib::Response&);
  void HandleInterior(const httplib::Request&, httplib::Response&);
  void HandleSync(const httplib::Request&, httplib::Response&);
  void FinishSync(httplib::Response& res, const std::shared_ptr<Database>& db, const Pos* pos);
  void HandleSyncMany(const httplib::Request&, httplib::Response&, const httplib::ContentReader&);
  void HandleHistory(const httplib::Request&, httplib::Response&);
  void HandleLease(const httplib::Request&, httplib::Response&, const httplib::ContentReader&);
  void HandleLeaseRelease(const httplib::Request&, httplib::Response&);
  void LeaseAfterCommit(const httplib::Request&, httplib::Response&, const std::string& key, const std::string& id);
  void HandleLeaseStatus(const httplib::Request&, httplib::Response&);
  void HandleMetrics(const httplib::Request&, httplib::Response&);
  void HandleAdminFaults(const httplib::Request&, httplib::Response&,
                         const httplib::ContentReader*);
  // A page batch's binary answer (page_reply.h), with the truncate fault.
  void SendPagesBinary(httplib::Response& res, PagesBody pb);
  static PagesFormat PagesFormatOf(const httplib::Request& req);
  // ---- time travel and lifecycle (issue 18; defined at the end of this file) ----
  void TimeRoutes();
  bool HeldByAnyone(const std::string& key);
  void HandleAt(const httplib::Request&, httplib::Response&);
  void HandleDiff(const httplib::Request&, httplib::Response&);
  void HandleRestore(const httplib::Request&, httplib::Response&);
  void HandleBranch(const httplib::Request&, httplib::Response&);
  void HandleDelete(const httplib::Request&, httplib::Response&);
  void HandleRename(const httplib::Request&, httplib::Response&);

  ServerOptions opts_;
  std::unique_ptr<StoreApi> store_;
  BodyPool body_pool_;  // page batch bodies (page_reply.h)
  using Route = std::function<void(Exchange&)>;
  std::map<std::pair<std::string, std::string>, Route> routes_;  // (method, path); set in Init
  std::unique_ptr<LongPollHub> polls_;
  std::unique_ptr<HttpFront> front_;
  FaultInjector faults_;
  std::string instance_id_;
  int port_ = 0;
  std::thread compact_thread_;
  std::atomic<bool> stopping_{false};

  std::mutex stop_mu_;  // guards stopped_; stop_cv_ wakes Wait() and the compactor
  std::condition_variable stop_cv_;
  bool stopped_ = false;
  bool stop_called_ = false;

  std::mutex metrics_mu_;  // guards metrics_
  std::map<std::string, RouteMetrics> metrics_;

  std::mutex log_mu_;  // serialises log lines
};

void ServerImpl::Log(LogLevel lvl, const std::string& msg) {
  if (int(lvl) > int(opts_.log_level)) return;
  static const char* kNames[] = {"ERROR", "WARN", "INFO", "DEBUG"};
  std::string line = FormatRfc3339Ms(NowUnixMs()) + " " + kNames[int(lvl)] + " " + msg;
  std::lock_guard l(log_mu_);
  if (opts_.log_sink) {
    opts_.log_sink(line);
  } else {
    fprintf(stderr, "%s\n", line.c_str());
  }
}

Status ServerImpl::Init() {
  if (opts_.threads < 2) return Status::InvalidArgument("threads must be at least 2");
  if (opts_.max_connections < 1) return Status::InvalidArgument("max-connections must be at least 1");
  if (opts_.header_timeout_ms < 1 || opts_.idle_timeout_ms < 1)
    return Status::InvalidArgument("header-timeout and idle-timeout must be positive");
  if (opts_.retain_txids < 1) return Status::InvalidArgument("retain-txids must be at least 1");
  if (opts_.max_body < 1024) return Status::InvalidArgument("max-body must be at least 1024 bytes");
  if (opts_.max_long_polls < 0) return Status::InvalidArgument("max-long-polls must be >= 0");
  const bool loopback =
      opts_.host == "127.0.0.1" || opts_.host == "::1" || opts_.host == "localhost";
  if (opts_.tokens.empty() && !loopback) {
    return Status::InvalidArgument("refusing to listen on " + opts_.host +
                                   " without authentication: give --token or --tokens");
  }
  for (const auto& t : opts_.tokens) {
    if (t.token.empty()) return Status::InvalidArgument("empty token");
    if (t.cluster != "*") LTX_RETURN_IF_ERROR(ValidateName(t.cluster, "cluster"));
  }
  LTX_ASSIGN_OR_RETURN(FaultSpec spec, ParseFaultSpec(opts_.faults));
  faults_.Set(spec);
  StoreOptions so;
  so.data_dir = opts_.data_dir;
  so.retention_ms = opts_.retention_ms;
  so.snapshots_every_ms = opts_.snapshots_every_ms;  // issue 18
  so.snapshots_keep_ms = opts_.snapshots_keep_ms;
  so.retain_txids = opts_.retain_txids;
  so.segment_bytes = opts_.segment_bytes;
  so.warn = [this](const std::string& msg) { Log(LogLevel::kWarn, msg); };
  so.error = [this](const std::string& msg) { Log(LogLevel::kError, msg); };
  so.verify_on_start = opts_.verify_on_start;
  so.io = opts_.store_io;
  LTX_RETURN_IF_ERROR(ValidateWebOptions(opts_.cors_origin, opts_.web_dir));
  LTX_ASSIGN_OR_RETURN(store_, OpenStore(opts_, so));
  LTX_ASSIGN_OR_RETURN(instance_id_, RandomHex(8));

  // Writes to a peer that went away must be an error, not a process-killing SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  Routes();
  LTX_RETURN_IF_ERROR(StartFront());
  if (opts_.compact_interval_ms > 0) {
    compact_thread_ = std::thread([this] {
      std::unique_lock l(stop_mu_);
      while (!stop_called_) {
        stop_cv_.wait_for(l, std::chrono::milliseconds(opts_.compact_interval_ms));
        if (stop_called_) break;
        l.unlock();
        Status st = store_->CompactAll(NowUnixMs());
        if (!st.ok()) Log(LogLevel::kError, "compaction: " + st.ToString());
        st = store_->RestorePointsAll(NowUnixMs());  // issue 18
        if (!st.ok()) Log(LogLevel::kError, "restore points: " + st.ToString());
        l.lock();
      }
    });
  }
  Log(LogLevel::kInfo,
      "listening on " + opts_.host + ":" + std::to_string(port_) + " data=" + opts_.data_dir);
  if (opts_.tokens.empty())
    Log(LogLevel::kWarn, "no --token/--tokens: every request is accepted (loopback only)");
  return Status::OK();
}

void ServerImpl::Stop() {
  {
    std::lock_guard l(stop_mu_);
    if (stop_called_) {
      return;
    }
    stop_called_ = true;
  }
  stopping_ = true;
  stop_cv_.notify_all();
  if (store_) store_->WakeAll();
  if (polls_) polls_->Stop();  // parked sync-waits answer now, on the front's workers
  if (front_) front_->Stop();
  if (compact_thread_.joinable()) compact_thread_.join();
  if (store_) store_->Stop();
  {
    std::lock_guard l(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
}

// ---- plumbing ----

ServerImpl::Pre ServerImpl::PreRoute(const httplib::Request& req, httplib::Response& res) {
  static const char* const kRoutes[] = {
      "/info",        "/pos",        "/db/tx", "/db/snapshot", "/db/page", "/db/sync",     "/sync",
      "/db/interior", "/db/history", "/lease", "/healthz",     "/metrics", "/admin/faults",
      "/db/at",       "/db/diff",    "/db/restore", "/db/branch", "/db",   "/db/rename"};
  tl.route = "other";  // a bounded label set, whatever paths clients send
  for (const char* r : kRoutes) {
    if (req.path == r) tl.route = r;
  }
  using HR = Pre;
  const bool has_body = req.has_header("Content-Length")
                            ? req.get_header_value("Content-Length") != "0"
                            : req.has_header("Transfer-Encoding");

  tl.fault = faults_.Decide(req.path);
  if (tl.fault.delay_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(tl.fault.delay_ms));
  if (tl.fault.drop) {
    tl.dropped = true;
    res.status = 503;
    return HR::kHandled;
  }
  if (tl.fault.error) {
    tl.close_after = has_body;
    ReplyError(res, 503, "EUNAVAILABLE", "injected fault");
    return HR::kHandled;
  }
  if (req.path == "/healthz" || req.path.rfind("/admin/", 0) == 0) return HR::kContinue;

  // Authentication: every token is compared (in constant time) so timing says nothing.
  const TokenEntry* match = nullptr;
  if (!opts_.tokens.empty()) {
    const std::string got = req.get_header_value("Authorization");
    for (const auto& t : opts_.tokens) {
      if (ConstantTimeEquals(got, t.token) && !match) match = &t;
    }
    if (!match) {
      tl.close_after = has_body;
      ReplyError(res, 401, "EUNAUTHORIZED",
                 req.has_header("Authorization") ? "invalid token" : "missing token");
      return HR::kHandled;
    }
  }
  std::string cluster = req.has_param("cluster") ? req.get_param_value("cluster") : "default";
  if (match && match->cluster != "*" && match->cluster != cluster) {
    // Same answer as a bad token: the caller must not learn whether the cluster exists.
    tl.close_after = has_body;
    ReplyError(res, 401, "EUNAUTHORIZED", "invalid token");
    return HR::kHandled;
  }
  if (Status st = ValidateName(cluster, "cluster"); !st.ok()) {
    tl.close_after = has_body;
    ReplyError(res, 400, "EBADREQUEST", st.message());
    return HR::kHandled;
  }
  tl.cluster = cluster;
  return HR::kContinue;
}

void ServerImpl::AfterResponse(const httplib::Request& req, const httplib::Response& res) {
  if (!tl.started) {  // request rejected before routing (bad request line, 414, ...)
    tl = RequestState();
    tl.start = Clock::now();
  }
  double secs = std::chrono::duration<double>(Clock::now() - tl.start).count();
  uint64_t out = res.body.size() ? res.body.size() : res.content_length_;
  {
    std::lock_guard l(metrics_mu_);
    RouteMetrics& m = metrics_[tl.route];
    m.by_status[tl.dropped ? 0 : res.status]++;
    m.bytes_in += tl.bytes_in ? tl.bytes_in : req.body.size();
    m.bytes_out += out;
    m.pages += tl.pages;
    m.latency_sum += secs;
    m.latency_count++;
    for (size_t i = 0; i < kNumBuckets; i++) {
      if (secs <= kBuckets[i]) m.buckets[i]++;
    }
  }
  char ms[32];
  snprintf(ms, sizeof ms, "%.1fms", secs * 1000);
  std::string target = req.path;
  std::string q;
  for (const auto& [k, v] : req.params) {
    // Credentials never reach the log, even if a client put one in the query string; nor
    // do lease ids (?id= of /lease), which let their holder write.
    const bool secret = k == "token" || k == "access_token" || k == "authorization" || k == "id";
    q += (q.empty() ? "?" : "&") + k + "=" + (secret ? std::string("REDACTED") : v);
  }
  // "METHOD PATH?QUERY STATUS in=BYTES out=BYTES MS" (the Authorization header never is).
  Log(res.status >= 500 && !tl.dropped ? LogLevel::kWarn : LogLevel::kInfo,
      (req.method.empty() ? std::string("- (unparsed request)")
                          : req.method + " " + Sanitize(target + q)) +
          " " + (tl.dropped ? std::string("dropped") : std::to_string(res.status)) +
          " in=" + std::to_string(tl.bytes_in ? tl.bytes_in : req.body.size()) +
          " out=" + std::to_string(tl.dropped ? 0 : out) + " " + ms);
  tl.started = false;
}

void ServerImpl::Reply(httplib::Response& res, int status, std::string body, const char* type) {
  res.status = status;
  if (tl.fault.truncate && status < 300 && body.size() > 1) {
    // Full Content-Length, half the body, then the connection closes.
    auto shared = std::make_shared<std::string>(std::move(body));
    res.set_content_provider(shared->size(), type,
                             [shared](size_t offset, size_t, httplib::DataSink& sink) {
                               size_t half = shared->size() / 2;
                               if (offset < half)
                                 sink.write(shared->data() + offset, half - offset);
                               return false;
                             });
    return;
  }
  res.set_content(std::move(body), type);
}

void ServerImpl::ReplyJson(httplib::Response& res, int status, const json& j) {
  Reply(res, status, Dump(j), "application/json");
}

void ServerImpl::ReplyError(httplib::Response& res, int status, const std::string& code,
                            const std::string& msg, const Pos* pos) {
  json j = {{"code", code}, {"error", msg}};
  if (pos) j["pos"] = PosJson(*pos);
  res.status = status;
  res.set_content(Dump(j), "application/json");
}

void ServerImpl::ReplyStatus(httplib::Response& res, const Status& st,
                             const std::shared_ptr<Database>& db) {
  switch (st.code()) {
    case ltx::Code::kInvalidArgument:
      return ReplyError(res, 400, "EBADREQUEST", st.message());
    case ltx::Code::kNotFound:
      return ReplyError(res, 404, "ENOTFOUND", st.message());
    case ltx::Code::kConflict: {
      if (st.api_code() == kApiPosMismatch) {
        Pos p = db ? db->pos() : Pos{};
        return ReplyError(res, 409, kApiPosMismatch, st.message(), &p);
      }
      return ReplyError(res, 409, st.api_code().empty() ? kApiLease : st.api_code(), st.message());
    }
    case ltx::Code::kPermissionDenied:
      return ReplyError(res, 401, "EUNAUTHORIZED", st.message());
    case ltx::Code::kUnavailable:  // a backend (etcd, S3) cannot be reached: retry, or another host
      Log(LogLevel::kWarn, st.message());
      return ReplyError(res, 503, "EUNAVAILABLE", st.message());
    case ltx::Code::kResourceExhausted:
      if (st.api_code() == kApiNoSpace) {
        Log(LogLevel::kError, st.message());
        return ReplyError(res, 507, kApiNoSpace, st.message() + "; nothing was stored");
      }
      return ReplyError(res, 413, "ETOOLARGE", st.message());
    case ltx::Code::kUnsupported:  // e.g. a history operation the distributed store lacks
      return ReplyError(res, 501, "ENOTSUPPORTED", st.message());
    case ltx::Code::kCorruption:
      if (st.api_code() == kApiCorrupt) {
        Log(LogLevel::kError, st.message());
        return ReplyError(res, 500, kApiCorrupt, st.message());
      }
      Log(LogLevel::kError, "internal error: " + st.ToString());
      return ReplyError(res, 500, "EINTERNAL", st.ToString());
    default:
      Log(LogLevel::kError, "internal error: " + st.ToString());
      return ReplyError(res, 500, "EINTERNAL", st.ToString());
  }
}

bool ServerImpl::GetDb(const httplib::Request& req, httplib::Response& res, bool create,
                       std::shared_ptr<Database>* db, std::string* name) {
  if (!req.has_param("db")) {
    ReplyError(res, 400, "EBADREQUEST", "missing db parameter");
    return false;
  }
  *name = req.get_param_value("db");
  if (Status st = ValidateName(*name, "db"); !st.ok()) {
    ReplyError(res, 400, "EBADREQUEST", st.message());
    return false;
  }
  auto r = store_->Get(tl.cluster, *name, create);
  if (!r.ok()) {
    ReplyStatus(res, r.status(), nullptr);
    return false;
  }
  *db = *r;
  if (!create && (!*db || !(*db)->exists())) {
    ReplyError(res, 404, "ENOTFOUND", "no such database: " + *name);
    return false;
  }
  return true;
}

bool ServerImpl::OptPos(const httplib::Request& req, httplib::Response& res, const char* key,
                        bool* has, Pos* pos) {
  *has = req.has_param(key);
  if (!*has) return true;
  auto p = ParsePosParam(req.get_param_value(key));
  if (!p.ok()) {
    ReplyError(res, 400, "EBADREQUEST", p.status().message());
    return false;
  }
  *pos = *p;
  return true;
}

bool ServerImpl::ReadBody(const httplib::ContentReader& reader, httplib::Response& res,
                          uint64_t limit, std::string* out) {
  bool too_large = false;
  uint64_t total = 0;
  bool ok = reader([&](const char* data, size_t n) {
    total += n;
    if (total > limit) {
      too_large = true;
      out->clear();
      return total <= limit + kDrainCap;
    }
    out->append(data, n);
    return true;
  });
  tl.bytes_in = total;
  if (too_large) {
    tl.close_after = true;
    ReplyError(res, 413, "ETOOLARGE", "request body over " + std::to_string(limit) + " bytes");
    return false;
  }
  if (!ok) {
    tl.close_after = true;
    ReplyError(res, 400, "EBADREQUEST", "could not read the request body");
    return false;
  }
  return true;
}

void ServerImpl::Routes() {
  auto get = [this](const char* path,
                    void (ServerImpl::*fn)(const httplib::Request&, httplib::Response&)) {
    routes_[{"GET", path}] = [this, fn](Exchange& e) { (this->*fn)(e.req, e.res); };
  };
  using BodyFn = void (ServerImpl::*)(const httplib::Request&, httplib::Response&,
                                      const httplib::ContentReader&);
  auto with_body = [this](const char* method, const char* path, BodyFn fn) {
    routes_[{method, path}] = [this, fn](Exchange& e) { (this->*fn)(e.req, e.res, e.reader()); };
  };
  get("/info", &ServerImpl::HandleInfo);
  get("/pos", &ServerImpl::HandlePos);
  get("/db/snapshot", &ServerImpl::HandleSnapshot);
  get("/db/page", &ServerImpl::HandlePage);
  get("/db/interior", &ServerImpl::HandleInterior);
  get("/db/sync", &ServerImpl::HandleSync);
  get("/db/history", &ServerImpl::HandleHistory);
  get("/lease", &ServerImpl::HandleLeaseStatus);
  get("/metrics", &ServerImpl::HandleMetrics);
  routes_[{"GET", "/healthz"}] = [](Exchange& e) { e.res.set_content("ok", "text/plain"); };
  with_body("POST", "/db/tx", &ServerImpl::HandleTx);
  with_body("POST", "/sync", &ServerImpl::HandleSyncMany);
  with_body("POST", "/lease", &ServerImpl::HandleLease);
  routes_[{"DELETE", "/lease"}] = [this](Exchange& e) {
    std::string body;
    if (!ReadBody(e.reader(), e.res, 64 * 1024, &body)) return;
    HandleLeaseRelease(e.req, e.res);
  };
  TimeRoutes();
  routes_[{"GET", "/admin/faults"}] = [this](Exchange& e) {
    HandleAdminFaults(e.req, e.res, nullptr);
  };
  routes_[{"PUT", "/admin/faults"}] = [this](Exchange& e) {
    HandleAdminFaults(e.req, e.res, &e.reader());
  };
}

Status ServerImpl::StartFront() {
  FrontOptions fo;
  fo.host = opts_.host;
  fo.port = opts_.port;
  fo.workers = opts_.threads;
  fo.max_connections = size_t(opts_.max_connections);
  fo.max_queue = size_t(opts_.max_queue);
  fo.header_timeout_ms = opts_.header_timeout_ms;
  fo.idle_timeout_ms = opts_.idle_timeout_ms;
  fo.io_timeout_ms = kIoTimeoutMs;
  // Every response names our extensions, so a client learns them from whatever it asked
  // first (a cold open is then one request: no /info round trip).
  fo.default_headers = {{"Lfsc-Instance-Id", instance_id_}, {"Litevfs-Features", kFeaturesHeader}};
  // And the body limit, so a writer refuses a transaction that cannot fit before the work.
  fo.default_headers.emplace("Litevfs-Max-Body", std::to_string(opts_.max_body));
  AddCorsHeaders(opts_.cors_origin, &fo.default_headers);
  FdFit fit = FitConnectionsToFdLimit(fo.max_connections + kReservedFds);
  if (fit.available < fo.max_connections + kReservedFds) {
    const size_t cap = fit.available > 2 * kReservedFds ? fit.available - kReservedFds : kReservedFds;
    Log(LogLevel::kWarn, "open-file limit " + std::to_string(fit.available) + " (hard limit) is below the " +
                             std::to_string(fo.max_connections + kReservedFds) +
                             " that --max-connections needs: serving at most " + std::to_string(cap) +
                             " connections (raise it with ulimit -Hn or LimitNOFILE=)");
    fo.max_connections = cap;
  } else if (fit.raised) {
    Log(LogLevel::kInfo, "raised the open-file limit to " + std::to_string(fit.available));
  }
  polls_ = std::make_unique<LongPollHub>(size_t(opts_.max_long_polls));
  auto front = HttpFront::Start(
      fo, [this](Exchange& e) { return Dispatch(e); },
      [this](const Exchange& e) { AfterResponse(e.req, e.res); },
      [this](const std::string& w) { Log(LogLevel::kWarn, w); });
  if (!front.ok()) return front.status();
  front_ = std::move(front).value();
  port_ = front_->port();
  return Status::OK();
}

bool ServerImpl::Dispatch(Exchange& ex) {
  tl = RequestState();
  tl.start = Clock::now();
  tl.started = true;
  tl.ex = &ex;
  httplib::Response& res = ex.res;
  if (ex.head.status != 0) {  // the head itself was refused (malformed, too long, ...)
    tl.route = "other";
    ReplyError(res, ex.head.status, "EBADREQUEST", ex.head.error);
    Settle(ex);
    return false;
  }
  if (ServeWeb(opts_.cors_origin, opts_.web_dir, ex.req, res)) {  // before auth: see web.h
    Settle(ex);
    return false;
  }
  if (PreRoute(ex.req, res) == Pre::kHandled) {
    Settle(ex);
    return false;
  }
  // "Expect: 100-continue" (curl sends it for big bodies): refuse an oversized upload
  // before the client sends it.
  if (ex.head.expect_continue && ex.head.content_length > opts_.max_body) {
    ReplyError(res, 413, "ETOOLARGE",
               "request body over " + std::to_string(opts_.max_body) + " bytes");
    Settle(ex);
    return false;
  }
  auto it = routes_.find({ex.req.method == "HEAD" ? "GET" : ex.req.method, ex.req.path});
  if (it == routes_.end()) {
    ReplyError(res, 404, "ENOTFOUND", "no such route");
    Settle(ex);
    return false;
  }
  try {
    it->second(ex);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, std::string("handler exception: ") + e.what());
    ReplyError(res, 500, "EINTERNAL", "internal error");
  }
  if (tl.deferred) return true;  // parked: another worker may own ex already
  Settle(ex);
  return false;
}

void ServerImpl::Settle(Exchange& ex) {
  httplib::Response& r = ex.res;
  if (r.status < 0) r.status = 200;
  if (r.status >= 400 && r.body.empty() && !r.content_provider_) {
    ReplyError(r, r.status, r.status == 413 ? "ETOOLARGE" : r.status >= 500 ? "EINTERNAL" : "EBADREQUEST",
               "HTTP error " + std::to_string(r.status));
  }
  ex.close = ex.close || tl.close_after;
  ex.drop = ex.drop || tl.dropped;
}

// ---- routes ----

void ServerImpl::HandleInfo(const httplib::Request&, httplib::Response& res) {
  ReplyJson(res, 200,
            {{"clusterID", "LFSC" + FnvHex(tl.cluster)},
             {"features", kFeatures}});
}

void ServerImpl::HandlePos(const httplib::Request&, httplib::Response& res) {
  json j = json::object();
  auto all = store_->ListPositions(tl.cluster);
  if (!all.ok()) return ReplyStatus(res, all.status(), nullptr);
  for (const auto& [name, p] : *all) j[name] = PosJson(p);
  ReplyJson(res, 200, j);
}

Status ServerImpl::EnsureAt(const std::string& name, const std::shared_ptr<Database>& db,
                            const Pos& at) {
  if (at.txid <= db->pos().txid) return Status::OK();
  return store_->CatchUp(tl.cluster, name, db, at);
}

void ServerImpl::HandleTx(const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) {
  std::shared_ptr<Database> db;
  std::string name;
  if (!GetDb(req, res, true, &db, &name)) {
    tl.close_after = true;
    return;
  }
  const std::string key = tl.cluster + "/" + name;
  const LeaseClaim claim{req.has_header("Lfsc-Lease-Id"), req.get_header_value("Lfsc-Lease-Id")};
  if (Status st = store_->leases().Check(key, claim); !st.ok()) {
    tl.close_after = true;
    return ReplyStatus(res, st, db);
  }
  if (req.has_header("Content-Length")) {
    auto len = ParseUint(req.get_header_value("Content-Length"), "Content-Length");
    if (len.ok() && *len > opts_.max_body + kDrainCap) {
      tl.close_after = true;
      return ReplyError(res, 413, "ETOOLARGE",
                        "request body over " + std::to_string(opts_.max_body) + " bytes");
    }
  }
  auto applied = [&](const ApplyResult& a, uint64_t bytes) {
    tl.pages = a.pages;
    if (!a.warning.empty()) Log(LogLevel::kWarn, tl.cluster + "/" + name + ": " + a.warning);
    Log(LogLevel::kDebug, tl.cluster + "/" + name + ": applied " + ltx::FormatPos(a.pos) + " (" +
                              std::to_string(a.pages) + " pages, " + std::to_string(bytes) + " bytes)");
    res.set_header("Litefs-Hwm", ltx::FormatTxid(a.pos.txid));
    if (claim.has_id) LeaseAfterCommit(req, res, key, claim.id);  // issue 17
    ReplyJson(res, 200, {{"pos", PosJson(a.pos)}});
  };
  // A larger body of known length goes into the store as it arrives (upload_pipe.h).
  if (req.has_header("Content-Length") && store_->CommitsStreamed()) {
    auto len = ParseUint(req.get_header_value("Content-Length"), "Content-Length");
    if (len.ok() && *len > kMemoryBody && *len <= opts_.max_body) {
      const std::string cluster = tl.cluster;  // tl is this thread's; the commit runs on another
      bool read_ok = false;
      auto r = CommitWhileReceiving(
          [&](const httplib::ContentReceiver& cb) { return reader(cb); },
          [&](std::unique_ptr<ltx::Source> src) {
            return store_->CommitStream(cluster, name, db, std::move(src), claim);
          },
          &tl.bytes_in, &read_ok);
      if (!read_ok) tl.close_after = true;
      if (!r.ok()) return ReplyStatus(res, r.status(), db);
      return applied(*r, tl.bytes_in);
    }
  }
  // Bodies up to kMemoryBody stay in memory (a one-row commit costs no file); a larger one
  // spills to a file under tmp/ as it arrives.
  std::string mem;
  std::string tmp_path;
  int fd = -1;
  struct Cleanup {
    std::string* path;
    int* fd;
    ~Cleanup() {
      if (*fd >= 0) close(*fd);
      if (!path->empty()) unlink(path->c_str());
    }
  } cleanup{&tmp_path, &fd};
  uint64_t total = 0;
  bool too_large = false;
  Status write_err;
  bool ok = reader([&](const char* data, size_t n) {
    total += n;
    if (total > opts_.max_body) {
      too_large = true;
      return total <= opts_.max_body + kDrainCap;  // drain a little so the 413 arrives
    }
    if (fd < 0 && mem.size() + n <= kMemoryBody) {
      mem.append(data, n);
      return true;
    }
    if (fd < 0) {
      auto tmp = store_->NewTempPath("upload");
      if (!tmp.ok()) {
        write_err = tmp.status();
        return false;
      }
      tmp_path = *tmp;
      fd = open(tmp_path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
      if (fd < 0) {
        write_err = Status::IOError(ErrnoText("open", tmp_path));
        return false;
      }
      write_err = WriteAll(fd, mem.data(), mem.size());
      std::string().swap(mem);
      if (!write_err.ok()) return false;
    }
    write_err = WriteAll(fd, data, n);
    return write_err.ok();
  });
  tl.bytes_in = total;
  if (too_large) {
    tl.close_after = true;
    return ReplyError(res, 413, "ETOOLARGE",
                      "request body over " + std::to_string(opts_.max_body) + " bytes");
  }
  if (!write_err.ok()) return ReplyStatus(res, write_err, db);
  if (!ok) {
    tl.close_after = true;
    return ReplyError(res, 400, "EBADREQUEST", "could not read the request body");
  }
  UploadBody body{mem, fd < 0 ? std::string() : tmp_path};
  auto r = store_->Commit(tl.cluster, name, db, body, claim);
  if (!r.ok()) return ReplyStatus(res, r.status(), db);
  applied(*r, total);
}

void ServerImpl::HandleSnapshot(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<Database> db;
  std::string name;
  if (!GetDb(req, res, false, &db, &name)) return;
  auto snap = db->OpenSnapshot(db);
  if (!snap.ok()) return ReplyStatus(res, snap.status(), db);
  std::shared_ptr<Database::SnapshotStream> stream = std::move(snap).value();
  const size_t size = size_t(stream->size());
  const size_t limit = tl.fault.truncate ? size / 2 : size;
  res.status = 200;
  res.set_header("Litevfs-Pos", ltx::FormatPos(stream->pos()));
  res.set_content_provider(
      size, "application/octet-stream",
      [this, stream, limit, name](size_t offset, size_t length, httplib::DataSink& sink) {
        if (offset >= limit || offset != stream->offset()) return false;
        char buf[1 << 16];
        auto r = stream->Read(buf, std::min({length, sizeof buf, limit - offset}));
        if (!r.ok()) Log(LogLevel::kError, name + ": snapshot: " + r.status().ToString());
        if (!r.ok() || *r == 0) return false;
        return sink.write(buf, *r);
      });
}

void ServerImpl::SendPagesBinary(httplib::Response& res, PagesBody pb) {
  tl.pages = pb.pages;
  res.set_header("Litevfs-Page-Size", std::to_string(pb.head.page_size));
  res.set_header("Litevfs-Pos", ltx::FormatPos(pb.head.pos));
  res.set_header("Litevfs-Commit", std::to_string(pb.head.commit));
  if (pb.zstd) res.set_header("Content-Encoding", "zstd");
  // Full Content-Length; with the truncate fault, half the body and then the connection closes.
  const size_t size = pb.body->size;
  const size_t limit = tl.fault.truncate && size > 1 ? size / 2 : size;
  res.status = 200;
  res.set_content_provider(size, pb.sums ? kPagesWithSumsMime : kPagesMime,
                           [body = std::move(pb.body), limit](size_t offset, size_t, httplib::DataSink& sink) {
                             if (offset >= limit) return false;
                             return sink.write(reinterpret_cast<const char*>(body->data.get()) + offset,
                                               limit - offset) &&
                                    limit == body->size;
                           });
}

// Frames with sums when the client accepts them (feature page-sums), zstd when it offers it.
PagesFormat ServerImpl::PagesFormatOf(const httplib::Request& req) {
  return {.sums = HeaderHasToken(req.get_header_value("Accept"), kPagesWithSumsMime),
          .zstd = HeaderHasToken(req.get_header_value("Accept-Encoding"), "zstd")};
}

void ServerImpl::HandlePage(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<Database> db;
  std::string name;
  bool has_pos;
  Pos pos;
  if (!req.has_param("db")) return ReplyError(res, 400, "EBADREQUEST", "missing db parameter");
  if (!OptPos(req, res, "pos", &has_pos, &pos)) return;
  if (!has_pos) return ReplyError(res, 400, "EBADREQUEST", "missing pos parameter");
  if (!req.has_param("pgno")) return ReplyError(res, 400, "EBADREQUEST", "missing pgno parameter");
  auto pgnos = ParsePgnoList(req.get_param_value("pgno"), litevfs::kMaxPgnosPerRequest);
  if (!pgnos.ok()) return ReplyError(res, 400, "EBADREQUEST", pgnos.status().message());
  if (!GetDb(req, res, false, &db, &name)) return;
  if (Status st = EnsureAt(name, db, pos); !st.ok()) return ReplyStatus(res, st, db);
  const PagesFormat fmt = PagesFormatOf(req);
  if (fmt.sums || HeaderHasToken(req.get_header_value("Accept"), kPagesMime)) {
    auto pb = BuildPagesBody(*db, pos, *pgnos, fmt, &body_pool_);
    if (!pb.ok()) return ReplyStatus(res, pb.status(), db);
    return SendPagesBinary(res, std::move(pb).value());
  }
  auto r = db->ReadPages(pos, *pgnos);  // JSON with base64 pages: clients before pages-binary
  if (!r.ok()) return ReplyStatus(res, r.status(), db);
  tl.pages = r->pages.size();
  json pages = json::array();
  for (const auto& [pgno, data] : r->pages) pages.push_back({{"pgno", pgno}, {"data", Base64Encode(data)}});
  ReplyJson(res, 200, {{"pages", std::move(pages)}});
}

void ServerImpl::HandleInterior(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<Database> db;
  std::string name;
  bool has_pos;
  Pos pos;
  if (!OptPos(req, res, "pos", &has_pos, &pos)) return;
  if (!GetDb(req, res, false, &db, &name)) return;
  if (has_pos) {
    if (Status st = EnsureAt(name, db, pos); !st.ok()) return ReplyStatus(res, st, db);
  }
  // The route is for pages-binary clients: always binary.
  auto pb = BuildInteriorBody(*db, has_pos ? &pos : nullptr, PagesFormatOf(req), &body_pool_);
  if (!pb.ok()) return ReplyStatus(res, pb.status(), db);
  SendPagesBinary(res, std::move(pb).value());
}

json SyncJson(const SyncInfo& s) {
  json j = {
      {"pos", PosJson(s.pos)}, {"all", s.all}, {"commit", s.commit}, {"pageSize", s.page_size}};
  if (s.all) {
    j["pgnos"] = nullptr;
  } else {
    j["pgnos"] = s.pgnos;
  }
  return j;
}

void ServerImpl::HandleSync(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<Database> db;
  std::string name;
  bool has_pos;
  Pos pos;
  if (!OptPos(req, res, "pos", &has_pos, &pos)) return;
  int64_t wait_ms = 0;
  if (req.has_param("wait")) {
    auto w = ParseUint(req.get_param_value("wait"), "wait");
    if (!w.ok()) return ReplyError(res, 400, "EBADREQUEST", w.status().message());
    wait_ms = int64_t(std::min<uint64_t>(*w, uint64_t(opts_.max_wait_ms)));
  }
  if (!GetDb(req, res, false, &db, &name)) return;
  if (has_pos) {
    if (Status st = EnsureAt(name, db, pos); !st.ok()) return ReplyStatus(res, st, db);
  }
  if (wait_ms > 0 && has_pos && db->pos() == pos && tl.ex && !stopping_) {
    // Park without holding a worker; over --max-long-polls, answer at once.
    Exchange* ex = tl.ex;
    auto saved = std::make_shared<RequestState>(tl);
    tl.deferred = true;  // set first: the poll may fire before Park returns
    auto fire = [this, ex, saved, db, pos] {
      front_->Resume(ex, [this, saved, db, pos](Exchange& e) {
        tl = *saved;
        tl.ex = &e;
        FinishSync(e.res, db, &pos);
        Settle(e);
      });
    };
    if (polls_->Park(db, pos, Clock::now() + std::chrono::milliseconds(wait_ms), fire)) return;
    tl.deferred = false;
  }
  FinishSync(res, db, has_pos ? &pos : nullptr);
}

void ServerImpl::FinishSync(httplib::Response& res, const std::shared_ptr<Database>& db,
                            const Pos* pos) {
  auto r = db->Sync(pos);
  if (!r.ok()) return ReplyStatus(res, r.status(), db);
  ReplyJson(res, 200, SyncJson(*r));
}

void ServerImpl::HandleSyncMany(const httplib::Request&, httplib::Response& res,
                                const httplib::ContentReader& reader) {
  std::string body;
  if (!ReadBody(reader, res, std::min(opts_.max_body, kMaxJsonBody), &body)) return;
  json in = json::parse(body, nullptr, false);
  if (in.is_discarded() || !in.is_object() || !in.contains("positions") ||
      !in["positions"].is_object()) {
    return ReplyError(res, 400, "EBADREQUEST", "body must be {\"positions\":{\"DB\":Pos,...}}");
  }
  json changes = json::object();
  for (const auto& [name, pj] : in["positions"].items()) {
    if (Status st = ValidateName(name, "db"); !st.ok())
      return ReplyError(res, 400, "EBADREQUEST", st.message());
    Pos p;
    if (!pj.is_null()) {
      if (!pj.is_object() || !pj.contains("txid") || !pj.contains("postApplyChecksum") ||
          !pj["txid"].is_string() || !pj["postApplyChecksum"].is_string()) {
        return ReplyError(res, 400, "EBADREQUEST",
                          "position of " + name + " must be {\"txid\":…,\"postApplyChecksum\":…}");
      }
      auto pp = ParsePosParam(pj["txid"].get<std::string>() + "/" +
                              pj["postApplyChecksum"].get<std::string>());
      if (!pp.ok())
        return ReplyError(res, 400, "EBADREQUEST",
                          "position of " + name + ": " + pp.status().message());
      p = *pp;
    }
    auto dbr = store_->Get(tl.cluster, name, false);
    if (!dbr.ok()) return ReplyStatus(res, dbr.status(), nullptr);
    SyncInfo s;
    if (*dbr && (*dbr)->exists()) {
      auto r = (*dbr)->Sync(&p);
      if (r.ok()) {
        s = *r;
      } else if (r.status().code() != ltx::Code::kNotFound) {
        return ReplyStatus(res, r.status(), *dbr);
      }
    }
    changes[name] = SyncJson(s);
  }
  ReplyJson(res, 200, {{"changes", std::move(changes)}});
}

void ServerImpl::HandleHistory(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<Database> db;
  std::string name;
  if (!GetDb(req, res, false, &db, &name)) return;
  json h = json::array();
  for (const auto& it : db->History()) {
    h.push_back({{"pos", PosJson(it.pos)},
                 {"timestamp", FormatRfc3339Ms(it.timestamp_ms)},
                 {"commit", it.commit},
                 {"pageCount", it.page_count}});
  }
  json points = json::array();  // issue 18
  for (const auto& rp : db->RestorePoints()) {
    points.push_back({{"pos", PosJson(rp.pos)}, {"timestamp", FormatRfc3339Ms(rp.timestamp_ms)},
                      {"takenAt", FormatRfc3339Ms(rp.taken_ms)}, {"commit", rp.commit}});
  }
  ReplyJson(res, 200, {{"history", std::move(h)}, {"restorePoints", std::move(points)}});
}

void ServerImpl::HandleLease(const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader& reader) {
  std::string body;
  if (!ReadBody(reader, res, 64 * 1024, &body)) return;
  if (!req.has_param("db")) return ReplyError(res, 400, "EBADREQUEST", "missing db parameter");
  const std::string name = req.get_param_value("db");
  if (Status st = ValidateName(name, "db"); !st.ok())
    return ReplyError(res, 400, "EBADREQUEST", st.message());
  if (!req.has_param("duration"))
    return ReplyError(res, 400, "EBADREQUEST", "missing duration parameter");
  auto d = ParseUint(req.get_param_value("duration"), "duration");
  if (!d.ok()) return ReplyError(res, 400, "EBADREQUEST", d.status().message());
  if (*d < uint64_t(litevfs::kMinLeaseDurationMs) || *d > uint64_t(litevfs::kMaxLeaseDurationMs)) {
    return ReplyError(res, 400, "EBADREQUEST",
                      "duration must be in [" + std::to_string(litevfs::kMinLeaseDurationMs) + ", " +
                          std::to_string(litevfs::kMaxLeaseDurationMs) + "] ms");
  }
  const std::string id = req.get_param_value("id");
  int64_t wait_ms = 0;  // issue 17: wait=MS (lease-wait): wait for a held lease, first come first served
  if (req.has_param("wait") && !req.has_param("id")) {
    auto w = ParseUint(req.get_param_value("wait"), "wait");
    if (!w.ok() || *w > uint64_t(kMaxLeaseWaitMs)) {
      return ReplyError(res, 400, "EBADREQUEST", "wait must be in [0, " + std::to_string(kMaxLeaseWaitMs) + "] ms");
    }
    wait_ms = int64_t(*w);
  }
  const std::string holder = req.get_header_value(kLeaseClientHeader);  // issue 17: idempotent acquire
  if (Status st = ValidateLeaseHolder(holder); !st.ok()) return ReplyError(res, 400, "EBADREQUEST", st.message());
  auto granted = wait_ms > 0 ? store_->leases().AcquireWaiting(tl.cluster + "/" + name, int64_t(*d), wait_ms, holder)
                             : store_->leases().Acquire(tl.cluster + "/" + name, int64_t(*d),
                                                        req.has_param("id") ? &id : nullptr, holder);
  if (!granted.ok()) return ReplyStatus(res, granted.status(), nullptr);
  if (req.has_param("id") && store_->leases().Waiting(tl.cluster + "/" + name)) {
    res.set_header(kLeaseWaitersHeader, "1");  // issue 17: a refresh learns of waiters too
  }
  json j = {{"id", granted->id}, {"expires_at", FormatRfc3339Ms(granted->expires_ms)}};
  if (!req.has_param("id")) {  // issue 17: where a new holder starts (it may skip a sync)
    auto db = store_->Get(tl.cluster, name, false);
    if (db.ok() && *db && (*db)->exists()) j["pos"] = PosJson((*db)->pos());
  }
  ReplyJson(res, 200, j);
}

// issue 17: after a commit under lease `id`: released with the commit when the client asked
// (Lfsc-Lease-Release: if-waiters) and someone waits (the first waiter is granted at once),
// else the holder is told that someone waits.
void ServerImpl::LeaseAfterCommit(const httplib::Request& req, httplib::Response& res, const std::string& key,
                                  const std::string& id) {
  Leases& leases = store_->leases();
  if (req.get_header_value(kLeaseReleaseHeader) == kLeaseReleaseIfWaiters) {
    auto released = leases.ReleaseIfWaiting(key, id);
    if (!released.ok()) Log(LogLevel::kWarn, key + ": release with the commit: " + released.status().message());
    if (released.ok() && *released) {
      res.set_header(kLeaseReleasedHeader, "1");
      return;
    }
  }
  if (leases.Waiting(key)) res.set_header(kLeaseWaitersHeader, "1");
}

void ServerImpl::HandleLeaseRelease(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_param("db")) return ReplyError(res, 400, "EBADREQUEST", "missing db parameter");
  const std::string name = req.get_param_value("db");
  if (Status st = ValidateName(name, "db"); !st.ok())
    return ReplyError(res, 400, "EBADREQUEST", st.message());
  if (!req.has_param("id")) return ReplyError(res, 400, "EBADREQUEST", "missing id parameter");
  Status st = store_->leases().Release(tl.cluster + "/" + name, req.get_param_value("id"));
  if (!st.ok()) return ReplyStatus(res, st, nullptr);
  res.status = 204;
}

// GET /lease?db=N: whether the lease is held and until when; never the id, never taken.
void ServerImpl::HandleLeaseStatus(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_param("db")) return ReplyError(res, 400, "EBADREQUEST", "missing db parameter");
  const std::string name = req.get_param_value("db");
  if (Status st = ValidateName(name, "db"); !st.ok())
    return ReplyError(res, 400, "EBADREQUEST", st.message());
  auto db = store_->Get(tl.cluster, name, false);
  if (!db.ok()) return ReplyStatus(res, db.status(), nullptr);
  const bool exists = *db && (*db)->exists();
  auto left = store_->leases().LeftMs(tl.cluster + "/" + name);
  if (!left.ok()) return ReplyStatus(res, left.status(), nullptr);
  const int64_t left_ms = *left;
  if (!exists && left_ms < 0) return ReplyError(res, 404, "ENOTFOUND", "no such database: " + name);
  const std::string expires = left_ms < 0 ? "" : FormatRfc3339Ms(NowUnixMs() + left_ms);
  ReplyJson(res, 200, {{"exists", exists}, {"held", left_ms >= 0}, {"expires_at", expires}});
}

void ServerImpl::HandleMetrics(const httplib::Request&, httplib::Response& res) {
  std::ostringstream o;
  std::lock_guard l(metrics_mu_);
  o << "# HELP mockcloud_requests_total Requests by route and status (0 = dropped).\n"
    << "# TYPE mockcloud_requests_total counter\n";
  for (const auto& [route, m] : metrics_) {
    for (const auto& [s, n] : m.by_status)
      o << "mockcloud_requests_total{route=\"" << route << "\",code=\"" << s << "\"} " << n << "\n";
  }
  o << "# HELP mockcloud_request_bytes_total Request body bytes by route.\n# TYPE "
       "mockcloud_request_bytes_total counter\n";
  for (const auto& [route, m] : metrics_)
    o << "mockcloud_request_bytes_total{route=\"" << route << "\"} " << m.bytes_in << "\n";
  o << "# HELP mockcloud_response_bytes_total Response body bytes by route.\n# TYPE "
       "mockcloud_response_bytes_total counter\n";
  for (const auto& [route, m] : metrics_)
    o << "mockcloud_response_bytes_total{route=\"" << route << "\"} " << m.bytes_out << "\n";
  o << "# HELP mockcloud_pages_total Pages served or written by route.\n# TYPE "
       "mockcloud_pages_total counter\n";
  for (const auto& [route, m] : metrics_)
    o << "mockcloud_pages_total{route=\"" << route << "\"} " << m.pages << "\n";
  o << "# HELP mockcloud_request_duration_seconds Request latency by route.\n# TYPE "
       "mockcloud_request_duration_seconds histogram\n";
  for (const auto& [route, m] : metrics_) {
    for (size_t i = 0; i < kNumBuckets; i++) {
      o << "mockcloud_request_duration_seconds_bucket{route=\"" << route << "\",le=\""
        << kBuckets[i] << "\"} " << m.buckets[i] << "\n";
    }
    o << "mockcloud_request_duration_seconds_bucket{route=\"" << route << "\",le=\"+Inf\"} "
      << m.latency_count << "\n";
    o << "mockcloud_request_duration_seconds_sum{route=\"" << route << "\"} " << m.latency_sum
      << "\n";
    o << "mockcloud_request_duration_seconds_count{route=\"" << route << "\"} " << m.latency_count
      << "\n";
  }
  o << "# HELP mockcloud_long_polls Sync-wait requests being held now.\n# TYPE "
       "mockcloud_long_polls gauge\n"
    << "mockcloud_long_polls " << polls_->held() << "\n";
  const HttpFront::Stats fs = front_->stats();
  o << "# HELP mockcloud_connections Client connections open now.\n# TYPE mockcloud_connections "
       "gauge\nmockcloud_connections "
    << fs.open << "\n"
    << "# HELP mockcloud_connections_rejected_total Answered 503 at capacity.\n# TYPE "
       "mockcloud_connections_rejected_total counter\nmockcloud_connections_rejected_total "
    << fs.rejected << "\n"
    << "# HELP mockcloud_connections_timed_out_total Closed by a deadline.\n# TYPE "
       "mockcloud_connections_timed_out_total counter\n"
    << "mockcloud_connections_timed_out_total{deadline=\"header\"} " << fs.header_timeouts << "\n"
    << "mockcloud_connections_timed_out_total{deadline=\"idle\"} " << fs.idle_timeouts << "\n";
  o << store_->Metrics();
  Reply(res, 200, o.str(), "text/plain; version=0.0.4");
}

void ServerImpl::HandleAdminFaults(const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader* reader) {
  if (opts_.admin_token.empty()) {
    if (reader) tl.close_after = true;
    return ReplyError(res, 404, "ENOTFOUND", "admin routes are disabled (no --admin-token)");
  }
  if (!ConstantTimeEquals(req.get_header_value("Authorization"), opts_.admin_token)) {
    if (reader) tl.close_after = true;
    return ReplyError(res, 401, "EUNAUTHORIZED", "invalid admin token");
  }
  if (reader) {
    std::string body;
    if (!ReadBody(*reader, res, 4096, &body)) return;
    auto spec = ParseFaultSpec(body);
    if (!spec.ok()) return ReplyError(res, 400, "EBADREQUEST", spec.status().message());
    faults_.Set(*spec);
    Log(LogLevel::kInfo, "faults set to \"" + FormatFaultSpec(*spec) + "\"");
  }
  res.status = 200;
  res.set_content(FormatFaultSpec(faults_.Get()), "text/plain");
}

// ---- time travel and lifecycle (issue 18) ----

void ServerImpl::TimeRoutes() {
  auto get = [this](const char* method, const char* path,
                    void (ServerImpl::*fn)(const httplib::Request&, httplib::Response&)) {
    routes_[{method, path}] = [this, fn](Exchange& e) {
      std::string body;  // none expected; read so the connection stays usable
      if (std::string(e.req.method) != "GET" && !ReadBody(e.reader(), e.res, 64 * 1024, &body)) return;
      (this->*fn)(e.req, e.res);
    };
  };
  get("GET", "/db/at", &ServerImpl::HandleAt);
  get("GET", "/db/diff", &ServerImpl::HandleDiff);
  get("POST", "/db/restore", &ServerImpl::HandleRestore);
  get("POST", "/db/branch", &ServerImpl::HandleBranch);
  get("DELETE", "/db", &ServerImpl::HandleDelete);
  get("POST", "/db/rename", &ServerImpl::HandleRename);
}

// Whether a lease on `key` is held now (or cannot be told: a lifecycle change is refused then).
bool ServerImpl::HeldByAnyone(const std::string& key) {
  auto left = store_->leases().LeftMs(key);
  return !left.ok() || *left >= 0;
}

json HistoryItemJson(const HistoryItem& it) {
  return {{"pos", PosJson(it.pos)},
          {"timestamp", FormatRfc3339Ms(it.timestamp_ms)},
          {"commit", it.commit},
          {"pageCount", it.page_count}};
}

// GET /db/at?db=N&txid=HEX | &time=RFC3339 [&points=1]: the retained position at a txid or a
// time (or, with points, a restore point when it is older than retention).
void ServerImpl::HandleAt(const httplib::Request& req, httplib::Response& res) {
  const bool by_txid = req.has_param("txid"), by_time = req.has_param("time");
  if (by_txid == by_time) return ReplyError(res, 400, "EBADREQUEST", "give exactly one of txid=HEX and time=RFC3339");
  std::shared_ptr<Database> db;
  std::string name;
  if (!GetDb(req, res, false, &db, &name)) return;
  const bool points = req.has_param("points") && req.get_param_value("points") != "0";
  auto resolve = [&]() -> Result<HistoryItem> {
    if (by_txid) {
      auto t = ltx::ParseHex64(req.get_param_value("txid"));
      if (!t.ok()) return Status::InvalidArgument("txid: " + t.status().message());
      return db->AtTxid(*t, points);
    }
    auto ms = ParseRfc3339Ms(req.get_param_value("time"));
    if (!ms.ok()) return ms.status();
    return db->AtTime(*ms, points);
  };
  auto r = resolve();
  if (!r.ok()) return ReplyStatus(res, r.status(), db);
  ReplyJson(res, 200, HistoryItemJson(*r));
}

// GET /db/diff?db=N&from=P&to=Q: the pages that may differ (from the index; no page reads).
void ServerImpl::HandleDiff(const httplib::Request& req, httplib::Response& res) {
  bool has_from, has_to;
  Pos from, to;
  if (!OptPos(req, res, "from", &has_from, &from) || !OptPos(req, res, "to", &has_to, &to)) return;
  if (!has_from || !has_to) return ReplyError(res, 400, "EBADREQUEST", "missing from or to parameter");
  std::shared_ptr<Database> db;
  std::string name;
  if (!GetDb(req, res, false, &db, &name)) return;
  auto d = db->Diff(from, to);
  if (!d.ok()) return ReplyStatus(res, d.status(), db);
  ReplyJson(res, 200, {{"from", PosJson(d->from)}, {"to", PosJson(d->to)},
                       {"fromCommit", d->from_commit}, {"toCommit", d->to_commit},
                       {"pageSize", d->page_size}, {"pgnos", d->pgnos}});
}

// POST /db/restore?db=N&pos=P (Lfsc-Lease-Id as for /db/tx): P's state becomes current as one
// new transaction, built and applied on the server.
void ServerImpl::HandleRestore(const httplib::Request& req, httplib::Response& res) {
  bool has_pos;
  Pos pos;
  if (!OptPos(req, res, "pos", &has_pos, &pos)) return;
  if (!has_pos) return ReplyError(res, 400, "EBADREQUEST", "missing pos parameter");
  std::shared_ptr<Database> db;
  std::string name;
  if (!GetDb(req, res, false, &db, &name)) return;
  const std::string key = tl.cluster + "/" + name;
  const bool has_id = req.has_header("Lfsc-Lease-Id");
  const std::string id = req.get_header_value("Lfsc-Lease-Id");
  const LeaseClaim claim{has_id, id};
  if (Status st = store_->leases().Check(key, claim); !st.ok()) return ReplyStatus(res, st, db);
  auto r = store_->Restore(tl.cluster, name, db, pos, claim);
  if (!r.ok()) return ReplyStatus(res, r.status(), db);
  tl.pages = r->pages;
  Log(LogLevel::kInfo, key + ": restored the state of " + ltx::FormatPos(pos) + " as " +
                           ltx::FormatPos(r->pos) + " (" + std::to_string(r->pages) + " pages)");
  res.set_header("Litefs-Hwm", ltx::FormatTxid(r->pos.txid));
  ReplyJson(res, 200, {{"pos", PosJson(r->pos)}, {"restored", PosJson(pos)}, {"pages", r->pages}});
}

// POST /db/branch?db=N&pos=P&to=NEW: a new database holding P's state, copied on the server.
void ServerImpl::HandleBranch(const httplib::Request& req, httplib::Response& res) {
  bool has_pos;
  Pos pos;
  if (!OptPos(req, res, "pos", &has_pos, &pos)) return;
  if (!has_pos || !req.has_param("to")) return ReplyError(res, 400, "EBADREQUEST", "missing pos or to parameter");
  const std::string to = req.get_param_value("to");
  if (Status st = ValidateName(to, "to"); !st.ok()) return ReplyError(res, 400, "EBADREQUEST", st.message());
  std::shared_ptr<Database> db;
  std::string name;
  if (!GetDb(req, res, false, &db, &name)) return;
  if (HeldByAnyone(tl.cluster + "/" + to)) return ReplyError(res, 409, kApiLease, "database " + to + " is leased");
  auto r = store_->Branch(tl.cluster, name, pos, to);
  if (!r.ok()) return ReplyStatus(res, r.status(), db);
  tl.pages = r->pages;
  Log(LogLevel::kInfo, tl.cluster + "/" + name + ": branched " + ltx::FormatPos(pos) + " into " + to +
                           " (" + std::to_string(r->pages) + " pages)");
  ReplyJson(res, 200, {{"db", to}, {"pos", PosJson(r->pos)}, {"pages", r->pages}});
}

// DELETE /db?db=N[&force=1]: refused (409 ELEASE) while a lease is held, unless force.
void ServerImpl::HandleDelete(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<Database> db;
  std::string name;
  if (!GetDb(req, res, false, &db, &name)) return;
  const std::string key = tl.cluster + "/" + name;
  const bool force = req.has_param("force") && req.get_param_value("force") != "0";
  if (!force && HeldByAnyone(key))
    return ReplyError(res, 409, kApiLease, name + " is leased; release the lease or delete with force");
  if (Status st = store_->Delete(tl.cluster, name); !st.ok()) return ReplyStatus(res, st, nullptr);
  if (Status st = store_->leases().Forget(key); !st.ok()) {  // the lease ends with the database
    Log(LogLevel::kWarn, key + ": deleted, but its lease could not be dropped: " + st.message());
  }
  Log(LogLevel::kInfo, key + ": deleted" + (force ? " (force)" : ""));
  res.status = 204;
}

// POST /db/rename?db=OLD&to=NEW: refused while OLD is leased (409 ELEASE) or NEW exists (EEXISTS).
void ServerImpl::HandleRename(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_param("to")) return ReplyError(res, 400, "EBADREQUEST", "missing to parameter");
  const std::string to = req.get_param_value("to");
  if (Status st = ValidateName(to, "to"); !st.ok()) return ReplyError(res, 400, "EBADREQUEST", st.message());
  std::shared_ptr<Database> db;
  std::string name;
  if (!GetDb(req, res, false, &db, &name)) return;
  if (HeldByAnyone(tl.cluster + "/" + name) || HeldByAnyone(tl.cluster + "/" + to))
    return ReplyError(res, 409, kApiLease, "a lease is held on " + name + " or " + to + "; release it first");
  if (Status st = store_->Rename(tl.cluster, name, to); !st.ok()) return ReplyStatus(res, st, nullptr);
  Log(LogLevel::kInfo, tl.cluster + "/" + name + ": renamed to " + to);
  ReplyJson(res, 200, {{"db", to}});
}

}  // namespace

ltx::Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& opts) {
  auto s = std::make_unique<ServerImpl>(opts);
  LTX_RETURN_IF_ERROR(s->Init());
  return std::unique_ptr<Server>(std::move(s));
}

}  // namespace mockcloud
