// Row 7: the mockcloud server alone.
//  7a: single-page GET /db/page (binary) from 32 concurrent keep-alive clients, one thread
//      each: req/s and p99 latency. Baseline: the same clients on GET /healthz (no work).
//  7b: binary batch throughput (1024 pages per GET /db/page) in MB/s of page data.
//      Baseline: one plain GET of /db/snapshot (the same bytes, streamed).
// The server runs in its own process (the same one the VFS benchmarks use).
#include <atomic>
#include <random>

#include "bench_common.h"

namespace {

using namespace bench;

constexpr int kClients = 32;

struct LoadResult {
  double rps = 0;
  double p50_ms = 0, p99_ms = 0;
  uint64_t errors = 0;
};

// `kClients` threads, each with its own keep-alive httplib::Client, for `seconds`.
LoadResult RunLoad(int port, double seconds, const std::function<std::string(std::mt19937&)>& target,
                   const httplib::Headers& headers) {
  std::vector<std::vector<double>> lat(kClients);
  std::atomic<uint64_t> errors{0};
  std::atomic<bool> go{false};
  const double start_at = Now() + 1.5;
  std::vector<std::thread> ts;
  for (int i = 0; i < kClients; i++) {
    ts.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port);
      c.set_keep_alive(true);
      c.set_tcp_nodelay(true);
      c.set_read_timeout(30, 0);
      std::mt19937 rng(1234 + i);
      // Connect before the clock starts (cpp-httplib listens with a backlog of 5, so a
      // burst of 32 connects can wait for a SYN retransmit; that is not steady state).
      auto warm = c.Get("/healthz");
      if (!warm) errors++;
      while (Now() < start_at) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      const double end = start_at + seconds;
      for (double t0 = Now(); t0 < end; t0 = Now()) {
        auto r = c.Get(target(rng).c_str(), headers);
        if (!r || r->status != 200) {
          errors++;
          continue;
        }
        lat[i].push_back((Now() - t0) * 1000.0);
      }
    });
  }
  for (auto& t : ts) t.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  LoadResult r;
  r.rps = double(all.size()) / seconds;
  r.p50_ms = Percentile(all, 50);
  r.p99_ms = Percentile(all, 99);
  r.errors = errors.load();
  return r;
}

int Main(const Args& a) {
  const int size_mb = a.size_mb ? a.size_mb : (a.smoke ? 2 : 64);
  const double seconds = a.smoke ? 0.5 : 4.0;
  TempDir dir("mockcloud");

  // A database of random (incompressible) rows, about size_mb MiB.
  const std::string path = dir / "db.sqlite";
  {
    sqlite3* db = OpenDb(path);
    const int rows = size_mb * 1024 * 1024 / 1100;
    Exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
             "CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);"
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < " +
                 std::to_string(rows) + ") INSERT INTO t SELECT i, randomblob(1000) FROM c;");
    sqlite3_close(db);
  }
  const uint64_t db_bytes = fs::file_size(path);
  const uint32_t pages = uint32_t(db_bytes / 4096);

  ServerProc srv(dir / "data");
  const ltx::Pos pos = Import(srv.host(), "bench", path);
  const std::string pos_s = ltx::FormatPos(pos);
  Log("mockcloud: database of " + std::to_string(pages) + " pages at " + pos_s);
  const httplib::Headers auth{{"Authorization", kToken}};
  const httplib::Headers binary{{"Authorization", kToken}, {"Accept", "application/vnd.litevfs.pages"}};

  // 7a.
  LoadResult base = RunLoad(srv.port(), seconds, [](std::mt19937&) { return std::string("/healthz"); }, auth);
  LoadResult page = RunLoad(
      srv.port(), seconds,
      [&](std::mt19937& rng) {
        const uint32_t pg = 1 + uint32_t(rng() % pages);
        return "/db/page?db=bench&pos=" + pos_s + "&pgno=" + std::to_string(pg);
      },
      binary);
  Log("healthz: " + Fmt(base.rps, 0) + " req/s p50 " + Fmt(base.p50_ms) + " ms p99 " + Fmt(base.p99_ms) +
      " ms; page: " + Fmt(page.rps, 0) + " req/s p50 " + Fmt(page.p50_ms) + " ms p99 " + Fmt(page.p99_ms) +
      " ms; errors " + std::to_string(base.errors + page.errors));
  if (page.errors) Die("single-page GETs failed: " + std::to_string(page.errors));
  Row("7a", "mockcloud single-page GET, 32 keep-alive clients",
      "GET /healthz: " + Fmt(base.rps, 0) + " req/s, p99 " + Fmt(base.p99_ms) + " ms",
      Fmt(page.rps, 0) + " req/s, p99 " + Fmt(page.p99_ms) + " ms",
      Fmt(page.rps / base.rps) + "× of /healthz (no target)", "n/a");

  // 7b: batches of 1024 pages, walking the database, for `seconds` (at least one pass).
  httplib::Client c("127.0.0.1", srv.port());
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  c.set_read_timeout(120, 0);
  uint64_t page_bytes = 0;
  uint32_t next = 1;
  const double t0 = Now();
  bool wrapped = false;
  while (!wrapped || Now() - t0 < seconds) {
    std::string list;
    // Up to 1024 pages, and a request target well under the server's 8192 bytes even if
    // the client percent-encodes the commas.
    for (int i = 0; i < 1024 && next <= pages && list.size() + 3 * i < 7000; i++, next++) {
      if (!list.empty()) list += ",";
      list += std::to_string(next);
    }
    if (next > pages) {
      next = 1;
      wrapped = true;
    }
    auto r = c.Get(("/db/page?db=bench&pos=" + pos_s + "&pgno=" + list).c_str(), binary);
    if (!r || r->status != 200) {
      Die("batch GET failed: " + (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error())));
    }
    const uint64_t frames = r->body.size() / (4 + 4096);
    page_bytes += frames * 4096;
  }
  const double batch_s = Now() - t0;
  auto [snap_bytes, snap_s] = PlainSnapshotGet(srv.port(), "bench");
  auto [snap_bytes2, snap_s2] = PlainSnapshotGet(srv.port(), "bench");
  const double snap_mbs = std::max(snap_bytes / snap_s, snap_bytes2 / snap_s2) / 1e6;
  const double batch_mbs = page_bytes / batch_s / 1e6;
  Row("7b", "mockcloud binary page batches (≤ 1024 pages/GET, 1 client)",
      "GET /db/snapshot: " + Fmt(snap_mbs, 0) + " MB/s", Fmt(batch_mbs, 0) + " MB/s of page data",
      Fmt(batch_mbs / snap_mbs) + "× of snapshot GET (no target)", "n/a");
  Log("mockcloud peak RSS " + FmtBytes(srv.PeakRssKb() * 1024.0));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::Run(argc, argv, "Row 7: mockcloud request throughput", Main);
}
