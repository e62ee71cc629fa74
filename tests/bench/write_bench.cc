// Row 5: single-writer small transactions (one row each, autocommit INSERT) through the VFS
// under the write lease, against the local file with journal_mode=DELETE, synchronous=FULL
// (both sides get those settings). Target: >= 0.5x the local commits/s. The mockcloud (its
// own process, data on the same disk) makes every commit durable before answering.
// Rounds alternate local/litevfs, each for a fixed time; the best round of each counts.
#include "bench_common.h"

namespace {

using namespace bench;

// Commits one-row transactions for `seconds` (at least 5); returns commits/s.
double RunCommits(sqlite3* db, double seconds, int64_t* next_id) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO t(id, v, payload) VALUES(?, ?, randomblob(100))", -1, &st, nullptr) != SQLITE_OK) {
    Die(std::string("prepare: ") + sqlite3_errmsg(db));
  }
  int n = 0;
  const double t0 = Now();
  double t = 0;
  while (n < 5 || (t = Now() - t0) < seconds) {
    const int64_t id = (*next_id)++;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, id * 3);
    if (sqlite3_step(st) != SQLITE_DONE) Die(std::string("insert: ") + sqlite3_errmsg(db) + " / " + VfsLastError());
    sqlite3_reset(st);
    n++;
  }
  t = Now() - t0;
  sqlite3_finalize(st);
  return n / t;
}

int Main(const Args& a) {
  const double seconds = a.smoke ? 0.3 : 3.0;
  const int rounds = a.smoke ? 1 : 2;
  TempDir dir("write");
  const std::string schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, payload BLOB)";
  const std::string settings = "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;";

  sqlite3* local = OpenDb(dir / "local.db");
  Exec(local, settings);
  Exec(local, schema);

  ServerProc srv(dir / "data");
  SetVfsEnv(srv.host(), dir / "cache");
  sqlite3* remote = OpenRemote("w", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI);
  Exec(remote, "PRAGMA litevfs_acquire_lease");
  Exec(remote, settings);
  Exec(remote, schema);

  int64_t id_local = 1, id_remote = 1;
  double best_local = 0, best_remote = 0;
  const json before = Stats(remote);
  for (int r = 0; r < rounds; r++) {
    best_local = std::max(best_local, RunCommits(local, seconds, &id_local));
    best_remote = std::max(best_remote, RunCommits(remote, seconds, &id_remote));
    Log("round " + std::to_string(r) + ": local " + Fmt(best_local, 0) + " commits/s, litevfs " +
        Fmt(best_remote, 0) + " commits/s");
  }
  const json after = Stats(remote);
  const uint64_t uploads = after["uploads"].get<uint64_t>() - before["uploads"].get<uint64_t>();
  if (uploads != uint64_t(id_remote - 1)) {
    Die("litevfs uploaded " + std::to_string(uploads) + " transactions for " + std::to_string(id_remote - 1) + " commits");
  }
  const std::string count = Exec(remote, "SELECT count(*) FROM t");
  if (count != std::to_string(id_remote - 1)) Die("litevfs table has " + count + " rows");
  sqlite3_close(local);
  sqlite3_close(remote);

  const double ratio = best_remote / best_local;
  Row("5", "one-row write transactions under the lease", "local file, DELETE journal, synchronous=FULL: " +
      Fmt(best_local, 0) + " commits/s", Fmt(best_remote, 0) + " commits/s", Fmt(ratio) + "× / ≥ 0.5×",
      Met(ratio >= 0.5));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::Run(argc, argv, "Row 5: single-writer commits", Main);
}
