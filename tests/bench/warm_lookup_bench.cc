// Row 1: warm point lookups by primary key on a 1M-row table, every page in the litevfs
// cache, against the same queries on the local file through SQLite's default VFS.
// Target: >= 0.90x the local throughput. Same connection settings on both sides (SQLite's
// default page cache), each query its own autocommit read transaction, the same random ids.
// Rounds alternate local/litevfs; the best round of each counts (the machine is shared).
// Row 1c: the regime where every lookup goes through xRead: an 8-page SQLite page cache on
// both sides and all lookups in ONE statement (a join from a temp table of ids), so SQLite
// keeps no page between lookups and holds one read transaction (issue 19, target >= 0.95x).
// Row 1d: row 1c with PRAGMA mmap_size = 1 GiB on both sides: SQLite reads pages in place,
// the local file's through its own map, litevfs's through xFetch from the cache's map.
#include <random>

#include "bench_common.h"

namespace {

using namespace bench;

// Runs `ids` through a prepared point lookup; returns queries per second.
double RunLookups(sqlite3* db, const std::vector<int64_t>& ids, int64_t* checksum) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT v, payload FROM t WHERE id = ?", -1, &st, nullptr) != SQLITE_OK) {
    Die(std::string("prepare: ") + sqlite3_errmsg(db));
  }
  int64_t sum = 0;
  const double t0 = Now();
  for (int64_t id : ids) {
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) Die("lookup id " + std::to_string(id) + ": " + sqlite3_errmsg(db) + " / " + VfsLastError());
    sum += sqlite3_column_int64(st, 0) + sqlite3_column_bytes(st, 1);
    sqlite3_reset(st);
  }
  const double t = Now() - t0;
  sqlite3_finalize(st);
  *checksum = sum;
  return double(ids.size()) / t;
}

// The ids as a temp table of `db` (temp pages stay in the temp database's own cache).
void LoadIds(sqlite3* db, const std::vector<int64_t>& ids) {
  Exec(db, "CREATE TEMP TABLE ids(x INTEGER); PRAGMA temp.cache_size = 2000; BEGIN");
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO temp.ids VALUES(?)", -1, &st, nullptr) != SQLITE_OK) {
    Die(std::string("prepare: ") + sqlite3_errmsg(db));
  }
  for (int64_t id : ids) {
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE) Die(std::string("insert id: ") + sqlite3_errmsg(db));
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  Exec(db, "COMMIT; PRAGMA main.cache_size = 8");
}

// All lookups in one statement; returns lookups per second.
double RunJoinedLookups(sqlite3* db, size_t n, int64_t* checksum) {
  const double t0 = Now();
  const std::string sum =
      Exec(db, "SELECT sum(t.v + length(t.payload)) FROM temp.ids CROSS JOIN t ON t.id = ids.x");
  const double t = Now() - t0;
  *checksum = std::stoll(sum);
  return double(n) / t;
}

struct Best {
  double local = 0, remote = 0;
};

// The joined lookups on both sides, a warm-up then `rounds` alternating rounds (best of
// each); logs the litevfs side's xRead page reads and xFetch page fetches.
Best BestJoined(sqlite3* local, sqlite3* remote, size_t n, int rounds, const std::string& row) {
  int64_t c1 = 0, c2 = 0;
  RunJoinedLookups(local, n, &c1);  // warm-up
  RunJoinedLookups(remote, n, &c2);
  if (c1 != c2) Die("row " + row + ": litevfs and local answers differ");
  const json before = Stats(remote);
  Best b;
  for (int r = 0; r < rounds; r++) {
    b.local = std::max(b.local, RunJoinedLookups(local, n, &c1));
    b.remote = std::max(b.remote, RunJoinedLookups(remote, n, &c2));
  }
  const json after = Stats(remote);
  auto delta = [&](const char* k) {  // 0 for a key an older VFS does not report
    return std::to_string(after.value(k, uint64_t{0}) - before.value(k, uint64_t{0}));
  };
  Log("row " + row + ": " + delta("page_reads") + " xRead page reads, " + delta("page_fetches") +
      " xFetch page fetches in " + std::to_string(rounds) + " rounds");
  return b;
}

// Rows 1c and 1d on the two open connections (see the top of the file).
void RowsTinyCache(sqlite3* local, sqlite3* remote, const std::vector<int64_t>& ids, int rounds) {
  LoadIds(local, ids);
  LoadIds(remote, ids);
  const std::string k = std::to_string(ids.size() / 1000);
  Best b = BestJoined(local, remote, ids.size(), rounds, "1c");
  double ratio = b.remote / b.local;
  Row("1c", "warm PK lookups through xRead: 8-page SQLite cache, " + k + "k lookups in one statement",
      "local file, default VFS, same cache: " + Fmt(b.local, 0) + " lookups/s",
      Fmt(b.remote, 0) + " lookups/s", Fmt(ratio, 3) + "× / ≥ 0.95×", Met(ratio >= 0.95));  // 3 places: 0.945 is no 0.95
  for (sqlite3* db : {local, remote}) Exec(db, "PRAGMA main.mmap_size = 1073741824");
  b = BestJoined(local, remote, ids.size(), rounds, "1d");
  ratio = b.remote / b.local;
  Row("1d", "row 1c with PRAGMA mmap_size = 1 GiB (pages read in place: xFetch)",
      "local file, default VFS, same cache and mmap_size: " + Fmt(b.local, 0) + " lookups/s",
      Fmt(b.remote, 0) + " lookups/s", Fmt(ratio, 3) + "× / ≥ 0.95×", Met(ratio >= 0.95));  // 3 places: 0.945 is no 0.95
  for (sqlite3* db : {local, remote}) Exec(db, "PRAGMA main.mmap_size = 0");
}

int Main(const Args& a) {
  const int rows = a.smoke ? 20000 : 1000000;
  const int queries = a.smoke ? 5000 : 200000;
  const int rounds = a.smoke ? 1 : 3;
  TempDir dir("warm");

  const std::string path = dir / "local.db";
  {
    sqlite3* db = OpenDb(path);
    Exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=DELETE;"
             "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL, v INTEGER, payload TEXT);"
             "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < " +
                 std::to_string(rows) +
                 ") INSERT INTO t SELECT i, printf('key-%08d', i), i*3, hex(randomblob(32)) FROM c; COMMIT;");
    sqlite3_close(db);
  }
  Log("local database: " + std::to_string(rows) + " rows, " + FmtBytes(double(fs::file_size(path))));

  ServerProc srv(dir / "data");
  Import(srv.host(), "warm", path);
  SetVfsEnv(srv.host(), dir / "cache");

  std::mt19937_64 rng(42);
  std::vector<int64_t> ids(static_cast<size_t>(queries), 0);
  for (auto& id : ids) id = 1 + int64_t(rng() % uint64_t(rows));

  sqlite3* local = OpenDb(path, SQLITE_OPEN_READONLY);
  sqlite3* remote = OpenRemote("warm", SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  const std::string fetched = Exec(remote, "PRAGMA litevfs_cache_db");
  Log("PRAGMA litevfs_cache_db fetched " + fetched + " pages");

  int64_t c1 = 0, c2 = 0;
  RunLookups(local, ids, &c1);   // warm-up: OS page cache, SQLite page cache, statement
  RunLookups(remote, ids, &c2);
  if (c1 != c2) Die("litevfs and local answers differ");
  const json before = Stats(remote);
  double best_local = 0, best_remote = 0;
  for (int r = 0; r < rounds; r++) {
    best_local = std::max(best_local, RunLookups(local, ids, &c1));
    best_remote = std::max(best_remote, RunLookups(remote, ids, &c2));
    Log("round " + std::to_string(r) + ": local " + Fmt(best_local, 0) + " q/s, litevfs " + Fmt(best_remote, 0) + " q/s");
  }
  const json after = Stats(remote);
  const uint64_t misses = after["cache_misses"].get<uint64_t>() - before["cache_misses"].get<uint64_t>();
  const uint64_t reqs = after["page_requests"].get<uint64_t>() - before["page_requests"].get<uint64_t>();
  Log("during the measured rounds: cache_misses " + std::to_string(misses) + ", page requests " +
      std::to_string(reqs) + ", page_reads " +
      std::to_string(after["page_reads"].get<uint64_t>() - before["page_reads"].get<uint64_t>()));
  const double ratio = best_remote / best_local;
  Row("1", "warm PK point lookups, " + std::to_string(rows / 1000) + "k rows, all pages cached" +
               (misses ? " (" + std::to_string(misses) + " misses!)" : ""),
      "local file, default VFS: " + Fmt(best_local, 0) + " q/s", Fmt(best_remote, 0) + " q/s",
      Fmt(ratio) + "× / ≥ 0.90×", Met(ratio >= 0.90));
  const size_t joined = a.smoke ? 5000 : 60000;
  RowsTinyCache(local, remote, std::vector<int64_t>(ids.begin(), ids.begin() + joined), rounds);
  sqlite3_close(local);
  sqlite3_close(remote);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::Run(argc, argv, "Row 1: warm point lookups", Main);
}
