// Rows 9a-9d: the mockcloud under a fleet of connections (issue 13). One server process,
// loopback. First a baseline: 8 keep-alive clients GET single pages (binary) while a
// prober opens a fresh connection for each GET /healthz. Then the same while the server
// also holds 2,000 idle keep-alive connections, 300 slowloris connections (a header line
// every second, never finishing) and 500 clients each holding a long poll (re-issued when
// answered), and a writer commits one row every 100 ms through the VFS under the lease.
// Reported: page p99 (< 50 ms), /healthz p99 (< 100 ms), commits (all succeed), server RSS
// with those connections open (<= 256 MiB). The server runs with its shipped defaults
// except the header and idle deadlines, raised to 10 minutes so that no hostile connection
// is closed during the measurement (the worst case; the deadlines are tested elsewhere).
// --smoke: 200 idle, 30 slowloris, 50 long polls, short windows.
#include <sys/resource.h>

#include <atomic>
#include <random>

#include "bench_common.h"
#include "conn_load.h"

namespace {

using namespace bench;

constexpr int kPageClients = 8;
constexpr int kHealthEveryMs = 10;
constexpr int kCommitEveryMs = 100;
constexpr int64_t kBenchDeadlineMs = 600000;

struct Window {
  std::vector<double> page_ms, health_ms, commit_ms;
  uint64_t errors = 0;
};

void RaiseNoFile() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

// Page clients and the /healthz prober for `seconds`; with `db`, also one commit per
// kCommitEveryMs through the VFS.
Window Measure(int port, uint32_t pages, const std::string& pos_s, double seconds, sqlite3* db) {
  Window w;
  std::atomic<uint64_t> errors{0};
  const double end = Now() + seconds;
  std::vector<std::vector<double>> lat(kPageClients);
  std::vector<std::thread> ts;
  const httplib::Headers binary{{"Authorization", kToken}, {"Accept", "application/vnd.litevfs.pages"}};
  for (int i = 0; i < kPageClients; i++) {
    ts.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port);
      c.set_keep_alive(true);
      c.set_tcp_nodelay(true);
      c.set_read_timeout(30, 0);
      std::mt19937 rng(77 + i);
      for (double t0 = Now(); t0 < end; t0 = Now()) {
        const std::string q = "/db/page?db=bench&pos=" + pos_s + "&pgno=" + std::to_string(1 + rng() % pages);
        auto r = c.Get(q.c_str(), binary);
        if (!r || r->status != 200) {
          errors++;
          continue;
        }
        lat[i].push_back((Now() - t0) * 1000);
      }
    });
  }
  ts.emplace_back([&] {
    for (double t0 = Now(); t0 < end; t0 = Now()) {
      httplib::Client c("127.0.0.1", port);  // a fresh connection each time, like a prober
      c.set_read_timeout(30, 0);
      auto r = c.Get("/healthz");
      if (!r || r->status != 200) errors++;
      else w.health_ms.push_back((Now() - t0) * 1000);
      std::this_thread::sleep_for(std::chrono::milliseconds(kHealthEveryMs));
    }
  });
  if (db) {
    ts.emplace_back([&] {
      for (double t0 = Now(); t0 < end; t0 = Now()) {
        Exec(db, "INSERT INTO t(payload) VALUES (randomblob(100))");  // dies on failure
        w.commit_ms.push_back((Now() - t0) * 1000);
        std::this_thread::sleep_for(std::chrono::milliseconds(kCommitEveryMs));
      }
    });
  }
  for (auto& t : ts) t.join();
  for (auto& v : lat) w.page_ms.insert(w.page_ms.end(), v.begin(), v.end());
  w.errors = errors;
  return w;
}

int LongPollsHeld(int port) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/metrics", {{"Authorization", kToken}});
  if (!r || r->status != 200) return -1;
  size_t p = r->body.find("\nmockcloud_long_polls ");
  return p == std::string::npos ? -1 : std::atoi(r->body.c_str() + p + 22);
}

int Serve(const Args& a) {
  if (a.child != "serve" || a.rest.empty()) Die("usage: --child serve DIR");
  mockcloud::ServerOptions o;  // shipped defaults, but for:
  o.data_dir = a.rest[0];
  o.tokens = {{kToken, "*"}};
  o.compact_interval_ms = 0;
  o.log_level = mockcloud::LogLevel::kError;
  o.header_timeout_ms = o.idle_timeout_ms = kBenchDeadlineMs;
  return ServeUntilStdinCloses(o);
}

std::string P99(const std::vector<double>& v) { return Fmt(Percentile(v, 99)) + " ms"; }

int Main(const Args& a) {
  const int idle = a.smoke ? 200 : 2000, slow = a.smoke ? 30 : 300, polls = a.smoke ? 50 : 500;
  const double seconds = a.smoke ? 1.5 : 10;
  RaiseNoFile();
  TempDir dir("conn");
  const std::string path = dir / "db.sqlite";
  {
    sqlite3* db = OpenDb(path);
    Exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=OFF;"
             "CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);"
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 4000)"
             " INSERT INTO t(payload) SELECT randomblob(1000) FROM c;");
    sqlite3_close(db);
  }
  const uint32_t pages = uint32_t(fs::file_size(path) / 4096);
  auto server = Child::SpawnSelf({"--child", "serve", dir / "data"});
  auto line = server->ReadLine(30000);
  if (!line || line->rfind("PORT ", 0) != 0) Die("mockcloud child did not start");
  const int port = std::atoi(line->c_str() + 5);
  const std::string host = "http://127.0.0.1:" + std::to_string(port);
  const ltx::Pos pos = Import(host, "bench", path);
  const std::string pos_s = ltx::FormatPos(pos);

  Window base = Measure(port, pages, pos_s, seconds / 2, nullptr);
  const uint64_t rss_idle_kb = server->StatusKb("VmRSS");

  HostileLoad load(port, "bench", pos_s);
  load.Start(idle, slow, polls, 1000);
  const double ready_by = Now() + 60;
  while ((load.counts().idle_ready < uint64_t(idle) || LongPollsHeld(port) < polls) && Now() < ready_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (load.counts().idle_ready < uint64_t(idle) || LongPollsHeld(port) < polls)
    Die("the hostile connections did not all get going: idle answered " +
        std::to_string(load.counts().idle_ready) + "/" + std::to_string(idle) + ", long polls held " +
        std::to_string(LongPollsHeld(port)) + "/" + std::to_string(polls));

  SetVfsEnv(host, dir / "cache");
  sqlite3* db = OpenRemote("bench");
  Exec(db, "PRAGMA litevfs_acquire_lease");
  Window hot = Measure(port, pages, pos_s, seconds, db);
  const uint64_t rss_kb = server->StatusKb("VmRSS"), hwm_kb = server->StatusKb("VmHWM");
  const size_t still_open = load.open_now();
  const uint64_t answered = load.counts().polls_answered, closed = load.counts().closed_by_server;
  load.Stop();
  sqlite3_close(db);
  server->CloseStdin();
  if (server->Wait(30000) != 0) Die("mockcloud child did not stop cleanly");

  const std::string load_s = std::to_string(idle) + " idle + " + std::to_string(slow) + " slowloris + " +
                             std::to_string(polls) + " long polls";
  Log("under load: " + std::to_string(hot.page_ms.size()) + " page GETs, " + std::to_string(hot.health_ms.size()) +
      " /healthz, " + std::to_string(hot.commit_ms.size()) + " commits (p50 " + Fmt(Percentile(hot.commit_ms, 50)) +
      " ms), long polls answered " + std::to_string(answered) + ", hostile connections still open " +
      std::to_string(still_open) + " (closed by the server: " + std::to_string(closed) + "), errors " +
      std::to_string(base.errors + hot.errors + load.counts().errors));
  const bool all_there = still_open == size_t(idle + slow + polls);
  const double page_p99 = Percentile(hot.page_ms, 99), health_p99 = Percentile(hot.health_ms, 99);
  Row("9a", "single-page GET p99, 8 keep-alive clients, with " + load_s,
      "no other connections: p99 " + P99(base.page_ms), "p99 " + P99(hot.page_ms) + " (" +
      std::to_string(hot.page_ms.size()) + " GETs)", "< 50 ms", Met(page_p99 < 50 && hot.errors == 0 && all_there));
  Row("9b", "GET /healthz p99 (fresh connection each), same load", "no other connections: p99 " + P99(base.health_ms),
      "p99 " + P99(hot.health_ms), "< 100 ms", Met(health_p99 < 100 && all_there));
  Row("9c", "one-row commits through the VFS every 100 ms, same load", "-",
      std::to_string(hot.commit_ms.size()) + " commits, p99 " + P99(hot.commit_ms),
      "keep working", Met(!hot.commit_ms.empty() && all_there));
  Row("9d", "server RSS with " + std::to_string(idle + slow + polls + kPageClients) + " connections open",
      "before them: " + FmtBytes(rss_idle_kb * 1024.0), FmtBytes(rss_kb * 1024.0) + " (peak " + FmtBytes(hwm_kb * 1024.0) + ")",
      "<= 256 MiB", Met(hwm_kb <= 256 * 1024));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::Run(argc, argv, "Rows 9a-9d: the mockcloud under thousands of connections", Main, Serve);
}
