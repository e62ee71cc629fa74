// Rows 16a, 16b: write modes (issue 17). (Rows 14a-d are the distributed store's.)
//  a) write mode auto, one writer, back-to-back one-row commits (row 5's workload) against
//     the explicit lease (write_mode=lease + PRAGMA litevfs_acquire_lease), in 0.5 s
//     slices of each in turn (ABBA), summed per mode; the local file (DELETE journal, synchronous=FULL) is the
//     physical baseline printed beside. Target: auto >= 0.9x the explicit lease.
//  b) 8 writer processes (each its own cache, write mode auto, plain INSERTs with
//     busy_timeout 5000) contending while the mockcloud adds 20 ms to every request:
//     total commits/s, per-commit latency p50/p99, and the handoff cost in round trips:
//     (contended time per commit - one writer's time per commit) / 20 ms, where one writer
//     alone at the same latency is measured in the same run. Target: <= 2 round trips.
#include "bench_common.h"

namespace {

using namespace bench;

constexpr int kLatencyMs = 20;
constexpr int kWriters = 8;
constexpr int kSingleWriterSlices = 16;  // row a: slices of each mode, in turn
constexpr double kSliceSeconds = 0.5;
constexpr const char* kSchema = "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v INTEGER, payload BLOB)";
constexpr const char* kSettings = "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;";

// One-row autocommit INSERTs for `seconds` (at least 5 commits); per-commit ms in *lat.
double RunCommits(sqlite3* db, double seconds, std::vector<double>* lat) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO t(v, payload) VALUES(?, randomblob(100))", -1, &st, nullptr) != SQLITE_OK) {
    Die(std::string("prepare: ") + sqlite3_errmsg(db));
  }
  int n = 0;
  const double t0 = Now();
  while (n < 5 || Now() - t0 < seconds) {
    const double c0 = Now();
    sqlite3_bind_int64(st, 1, n);
    if (sqlite3_step(st) != SQLITE_DONE) Die(std::string("insert: ") + sqlite3_errmsg(db) + " / " + VfsLastError());
    sqlite3_reset(st);
    if (lat) lat->push_back((Now() - c0) * 1000);
    n++;
  }
  const double t = Now() - t0;
  sqlite3_finalize(st);
  return n / t;
}

// --child writer HOST CACHE SECONDS: opens "c" (auto mode), says READY, waits for GO,
// commits for SECONDS, answers {"commits": n, "lat_ms": [...]}.
int RunChild(const Args& a) {
  if (a.rest.size() != 3) Die("child: want HOST CACHE SECONDS");
  SetVfsEnv(a.rest[0], a.rest[1]);
  sqlite3* db = OpenRemote("c", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI);
  sqlite3_busy_timeout(db, 5000);
  Exec(db, kSettings);
  Exec(db, "SELECT count(*) FROM t");  // warm: schema and pages cached
  std::printf("READY\n");
  std::fflush(stdout);
  char go[16];
  if (!std::fgets(go, sizeof go, stdin)) return 1;
  std::vector<double> lat;
  RunCommits(db, std::atof(a.rest[2].c_str()), &lat);
  json j = {{"commits", lat.size()}, {"lat_ms", lat}, {"stats", Stats(db)}};
  sqlite3_close(db);
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
  return 0;
}

// Commits and seconds over several runs of RunCommits.
struct Rate {
  double commits = 0, seconds = 0;
  void Add(sqlite3* db, double s) {
    const double t0 = Now();
    const double per_s = RunCommits(db, s, nullptr);
    const double t = Now() - t0;
    commits += per_s * t;
    seconds += t;
  }
  double PerSecond() const { return seconds > 0 ? commits / seconds : 0; }
};

// n writer processes on "c" at once for `seconds`: total commits/s and every latency.
double Contend(const std::string& host, const TempDir& dir, int n, double seconds, std::vector<double>* lat) {
  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < n; i++) {
    kids.push_back(Child::SpawnSelf({"--child", "writer", host, dir / ("cache" + std::to_string(n) + "-" + std::to_string(i)),
                                     std::to_string(seconds)}));
  }
  for (auto& k : kids) {
    auto l = k->ReadLine(60000);
    if (!l || *l != "READY") Die("writer child did not get ready");
  }
  const double t0 = Now();
  for (auto& k : kids) k->WriteLine("GO");
  uint64_t commits = 0;
  for (auto& k : kids) {
    json j = ReadJsonLine(k.get(), int(seconds * 1000) + 60000, "writer child");
    commits += j["commits"].get<uint64_t>();
    const json& s = j["stats"];
    Log("  writer: " + std::to_string(j["commits"].get<uint64_t>()) + " commits, leases taken " +
        s["lease_auto_acquired"].dump() + ", handed over " + s["lease_handoffs"].dump() + " (with the commit " +
        s["lease_commit_handoffs"].dump() + "), idle releases " + s["lease_idle_releases"].dump() + ", busy " +
        s["lease_busy"].dump() + ", stale reads " + s["stale_reads"].dump() + ", syncs " + s["syncs"].dump() + ", requests " + s["requests"].dump());
    for (double v : j["lat_ms"]) lat->push_back(v);
  }
  return double(commits) / (Now() - t0);
}

void SingleWriterRow(const TempDir& dir, const Args& a) {
  const double seconds = a.smoke ? 0.3 : 1.0;
  sqlite3* local = OpenDb(dir / "local.db");
  Exec(local, kSettings);
  Exec(local, kSchema);
  sqlite3* lease = OpenRemote("lease", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI);
  Exec(lease, "PRAGMA litevfs_write_mode = lease");
  Exec(lease, "PRAGMA litevfs_acquire_lease");
  sqlite3* autom = OpenRemote("auto", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI);
  for (sqlite3* db : {lease, autom}) Exec(db, std::string(kSettings) + kSchema);
  double best_local = 0;
  for (int r = 0; r < (a.smoke ? 1 : 2); r++) best_local = std::max(best_local, RunCommits(local, seconds, nullptr));
  // Short slices of each mode in turn (ABBA), summed: a loaded machine's drift hits both alike.
  Rate lease_rate, auto_rate;
  const int slices = a.smoke ? 2 : kSingleWriterSlices;
  for (int i = 0; i < slices; i++) {
    const bool auto_first = (i / 2) % 2 == 0;
    for (int k = 0; k < 2; k++) {
      if ((k == 0) == auto_first) {
        // Idle during the other slices, auto mode takes the lease once per slice, then keeps it.
        const uint64_t taken = Stats(autom)["lease_auto_acquired"].get<uint64_t>();
        auto_rate.Add(autom, kSliceSeconds);
        if (Stats(autom)["lease_auto_acquired"].get<uint64_t>() - taken > 1) Die("auto mode did not keep the lease");
      } else {
        lease_rate.Add(lease, kSliceSeconds);
      }
    }
  }
  const double best_lease = lease_rate.PerSecond(), best_auto = auto_rate.PerSecond();
  Log("local " + Fmt(best_local, 0) + ", lease " + Fmt(best_lease, 0) + ", auto " + Fmt(best_auto, 0) +
      " commits/s over " + std::to_string(slices) + " slices of each");
  for (sqlite3* db : {local, lease, autom}) sqlite3_close(db);
  const double ratio = best_auto / best_lease;
  Row("16a", "write mode auto, one writer, one-row commits",
      "explicit lease (row 5's workload): " + Fmt(best_lease, 0) + " commits/s; local file " + Fmt(best_local, 0),
      Fmt(best_auto, 0) + " commits/s", Fmt(ratio) + "× / ≥ 0.9×", Met(ratio >= 0.9));
}

int Main(const Args& a) {
  TempDir dir("write_modes");
  ServerProc srv(dir / "data");
  SetVfsEnv(srv.host(), dir / "cache");
  SingleWriterRow(dir, a);
  // b) contention at 20 ms per request.
  {
    sqlite3* db = OpenRemote("c", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI);
    Exec(db, kSchema);
    sqlite3_close(db);
  }
  srv.SetFaults("latency=" + std::to_string(kLatencyMs) + "ms");
  const double seconds = a.smoke ? 1.0 : 8.0;
  const int writers = a.smoke ? 2 : kWriters;
  std::vector<double> one_lat, lat;
  const double one = Contend(srv.host(), dir, 1, seconds, &one_lat);
  const double total = Contend(srv.host(), dir, writers, seconds, &lat);
  srv.SetFaults("");
  // Each contended commit costs 1/total s of the shared timeline; one writer alone 1/one.
  const double handoff_rt = (1000.0 / total - 1000.0 / one) / kLatencyMs;
  Log(std::to_string(writers) + " writers: " + Fmt(total, 1) + " commits/s, p50 " + Fmt(Percentile(lat, 50), 0) +
      " ms, p99 " + Fmt(Percentile(lat, 99), 0) + " ms; one writer " + Fmt(one, 1) + " commits/s");
  Row("16b", std::to_string(writers) + " auto writers contending, " + std::to_string(kLatencyMs) + " ms per request",
      "one writer alone at " + std::to_string(kLatencyMs) + " ms: " + Fmt(one, 1) + " commits/s, p50 " +
          Fmt(Percentile(one_lat, 50), 0) + " ms",
      Fmt(total, 1) + " commits/s total, p50 " + Fmt(Percentile(lat, 50), 0) + " ms, p99 " +
          Fmt(Percentile(lat, 99), 0) + " ms",
      "handoff " + Fmt(handoff_rt, 1) + " round trips / ≤ 2", Met(handoff_rt <= 2));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::Run(argc, argv, "Row 14: write modes", Main, RunChild);
}
