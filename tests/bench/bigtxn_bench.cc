// Row 13: one big write transaction (default 500 MiB of new rows, then the same rows
// rewritten) through the VFS under the lease, each in a fresh child process, against the
// same transactions on a local file (DELETE journal) in the same kind of child. Reported:
// the writer's peak RSS (VmHWM) over its RSS before the transaction, and the commit time.
// Target (issue 16): ≤ 128 MiB over the RSS before (dirty pages and the journal spill to
// disk, the LTX is encoded as it is uploaded); the time is the ratio to the local file.
#include "bench_common.h"

namespace {

using namespace bench;

constexpr int kRowBytes = 4000;
constexpr uint64_t kBoundKb = 128 * 1024;

// --child write MODE TARGET MIB [HOST CACHE]: runs one transaction (insert|rewrite) on
// TARGET (a local path, or a litevfs name with HOST and CACHE) and prints one JSON line.
int RunChild(const Args& a) {
  if (a.child != "write" || (a.rest.size() != 3 && a.rest.size() != 5)) {
    Die("usage: --child write insert|rewrite TARGET MIB [HOST CACHE_DIR]");
  }
  const std::string& mode = a.rest[0];
  const bool remote = a.rest.size() == 5;
  sqlite3* db;
  if (remote) {
    SetVfsEnv(a.rest[3], a.rest[4]);
    db = OpenRemote(a.rest[1], SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI);
    Exec(db, "PRAGMA litevfs_acquire_lease");
  } else {
    db = OpenDb(a.rest[1]);
  }
  Exec(db, "CREATE TABLE IF NOT EXISTS big(a INTEGER PRIMARY KEY, b BLOB)");
  const uint64_t rows = uint64_t(std::stoi(a.rest[2])) * 1048576 / kRowBytes;
  const uint64_t rss_before = ProcStatusKb("self", "VmRSS");
  const double t0 = Now();
  Exec(db, "BEGIN");
  if (mode == "insert") {
    Exec(db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < " + std::to_string(rows) +
                 ") INSERT INTO big SELECT i, randomblob(" + std::to_string(kRowBytes) + ") FROM c");
  } else {
    Exec(db, "UPDATE big SET b = randomblob(" + std::to_string(kRowBytes) + ")");
  }
  const double t1 = Now();
  Exec(db, "COMMIT");
  const double t2 = Now();
  const std::string count = Exec(db, "SELECT count(*) FROM big");
  if (count != std::to_string(rows)) Die("the table has " + count + " rows, want " + std::to_string(rows));
  sqlite3_close(db);
  json j{{"rss_before_kb", rss_before}, {"hwm_kb", SelfPeakRssKb()}, {"commit_s", t2 - t1}, {"total_s", t2 - t0}};
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
  return 0;
}

json Measure(const std::vector<std::string>& args, const std::string& what) {
  std::vector<std::string> all{"--child", "write"};
  all.insert(all.end(), args.begin(), args.end());
  auto child = Child::SpawnSelf(all);
  json r = ReadJsonLine(child.get(), 1800000, what);
  if (child->Wait(60000) != 0) Die(what + ": the child failed");
  Log(what + ": " + r.dump());
  return r;
}

int Main(const Args& a) {
  const int mib = a.size_mb ? a.size_mb : (a.smoke ? 16 : 500);
  TempDir dir("bigtxn");
  ServerProc srv(dir / "data");
  for (const std::string mode : {"insert", "rewrite"}) {
    const json local = Measure({mode, dir / "local.db", std::to_string(mib)}, "local " + mode);
    const json lv = Measure({mode, "big", std::to_string(mib), srv.host(), dir / "cache"}, "litevfs " + mode);
    const uint64_t over = lv["hwm_kb"].get<uint64_t>() - lv["rss_before_kb"].get<uint64_t>();
    const double ratio = lv["total_s"].get<double>() / local["total_s"].get<double>();
    Row("13", std::to_string(mib) + " MiB in one transaction (" + mode + "), writer memory and time",
        "local file: peak RSS " + std::to_string(local["hwm_kb"].get<uint64_t>() / 1024) + " MiB, " +
            Fmt(local["total_s"].get<double>(), 1) + " s",
        "peak RSS +" + std::to_string(over / 1024) + " MiB, commit " + Fmt(lv["commit_s"].get<double>(), 1) +
            " s, " + Fmt(lv["total_s"].get<double>(), 1) + " s",
        "RSS ≤ +128 MiB; time " + Fmt(ratio) + "×", Met(over <= kBoundKb));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::Run(argc, argv, "Row 13: one big write transaction", Main, RunChild);
}
