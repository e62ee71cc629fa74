// Issue 19 target 4, scale: a 10 GiB database (--size-mb N, default 10240; smoke 64 MiB) of
// the bulk rows' data, imported once, then served by a fresh mockcloud process.
// 15a: cold open + one rowid lookup in a fresh process with an empty cache: requests (1 + 1).
// 15b: then one index lookup (k = ?): requests (<= 2).
// 15c: the VFS process's peak RSS after 2,000 random rowid lookups (<= 64 MiB + the
//      configured cache memory: SQLite's page cache and kVfsMapResidentBytes), its peak
//      anonymous memory, and the cache index's memory per cached page.
// 15d: the mockcloud's peak RSS serving it (<= 128 MiB).
// The import's rate against cp + fsync of the same file is printed as a detail (row 11 is
// the measured row for imports). Diagnostics: LITEVFS_BENCH_SCALE_DIR=DIR keeps the served
// data in DIR and reuses it in the next run (no build and import).
#include <fstream>
#include <random>

#include "big_db.h"
#include "physical_baseline.h"

namespace {

using namespace bench;

constexpr double kLimitRss = 64.0 * 1024 * 1024;
constexpr double kLimitServerRss = 128.0 * 1024 * 1024;
constexpr int kLookups = 2000;

uint64_t Requests(sqlite3* db) { return Stats(db)["requests"].get<uint64_t>(); }

// --child lookups HOST CACHE_DIR NAME ROWS: one JSON line.
int RunChild(const Args& a) {
  if (a.rest.size() != 4) Die("--child lookups HOST CACHE_DIR NAME ROWS");
  SetVfsEnv(a.rest[0], a.rest[1]);
  AnonPeak anon;
  const int64_t rows = std::stoll(a.rest[3]);
  const double t0 = Now();
  sqlite3* db = OpenRemote(a.rest[2], SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  Exec(db, "SELECT count(*) FROM sqlite_schema");  // the open: the schema is read
  const uint64_t open_req = Requests(db);
  const double open_ms = (Now() - t0) * 1000;
  const double t1 = Now();
  Exec(db, "SELECT length(v) FROM big WHERE id = " + std::to_string(rows / 2));
  const uint64_t rowid_req = Requests(db) - open_req;
  const double rowid_ms = (Now() - t1) * 1000;
  const uint64_t before_index = Requests(db);
  Exec(db, "SELECT count(*) FROM big WHERE k = 777777");
  const uint64_t index_req = Requests(db) - before_index;
  std::mt19937_64 rng(42);
  const double t2 = Now();
  for (int i = 0; i < kLookups; i++) {
    Exec(db, "SELECT length(v) FROM big WHERE id = " + std::to_string(1 + int64_t(rng() % uint64_t(rows))));
  }
  const double lookups_s = Now() - t2;
  json st = Stats(db);
  const std::string cache_size = Exec(db, "PRAGMA cache_size");
  sqlite3_close(db);
  json out = {{"open_requests", open_req},   {"open_ms", open_ms},
              {"rowid_requests", rowid_req}, {"rowid_ms", rowid_ms},
              {"index_requests", index_req}, {"lookups_per_s", kLookups / lookups_s},
              {"cache_pages", st["cache_pages"]}, {"cache_index_bytes", st["cache_index_bytes"]},
              {"bytes", st["bytes_received"]}, {"cache_size", cache_size},
              {"peak_rss_kb", SelfPeakRssKb()}, {"rss_kb", ProcStatusKb("self", "VmRSS")},
              {"peak_anon_kb", anon.Stop()}};
  std::printf("%s\n", out.dump().c_str());
  std::fflush(stdout);
  return 0;
}

int64_t RowCount(const std::string& file) {
  sqlite3* db = OpenDb(file, SQLITE_OPEN_READONLY);
  const int64_t n = std::stoll(Exec(db, "SELECT max(id) FROM big"));
  sqlite3_close(db);
  return n;
}

void ImportOnce(const std::string& dir, const std::string& file) {
  ServerProc importer(dir + "/data");
  PointCliAt(importer.host(), dir + "/cli-cache");
  const double cp = CopyAndFsync(file, dir + "/copy.db");
  RunResult res = RunProgram({CliPath(), "import", file, "big"});  // dies unless it succeeds
  const double bytes = double(fs::file_size(file));
  Log("import: " + Fmt(bytes / res.seconds / 1e6, 0) + " MB/s (" + Fmt(res.seconds, 1) + " s), cp + fsync " +
      Fmt(bytes / cp / 1e6, 0) + " MB/s (" + Fmt(cp, 1) + " s): " + Fmt(cp / res.seconds) + "×, peak RSS " +
      FmtBytes(double(res.peak_rss_kb) * 1024));
}

// The served data: built and imported into `dir`, or (diagnostics) an earlier run's kept in
// $LITEVFS_BENCH_SCALE_DIR, where rows.txt says its size and row count.
std::pair<double, int64_t> Prepare(const std::string& dir, int size_mb) {
  const std::string file = dir + "/big.db", meta = dir + "/rows.txt";
  if (fs::exists(meta)) {
    double bytes = 0;
    int64_t rows = 0;
    std::ifstream(meta) >> bytes >> rows;
    Log("reusing the database served from " + dir + "/data");
    return {bytes, rows};
  }
  BuildBigDatabase(file, size_mb);
  const double bytes = double(fs::file_size(file));
  const int64_t rows = RowCount(file);
  ImportOnce(dir, file);
  fs::remove(file);  // the service holds it now: keep the disk for the serving half
  std::ofstream(meta) << bytes << " " << rows << "\n";
  return {bytes, rows};
}

int Main(const Args& a) {
  const int size_mb = a.size_mb ? a.size_mb : (a.smoke ? 64 : 10240);
  TempDir tmp("scale");
  const char* kept = getenv("LITEVFS_BENCH_SCALE_DIR");
  const std::string dir = kept && *kept ? std::string(kept) : std::string(tmp / "");
  if (kept && *kept) fs::create_directories(dir);
  const auto [bytes, rows] = Prepare(dir, size_mb);
  fs::remove_all(dir + "/cache");

  ServerProc srv(dir + "/data");  // fresh process: its memory is the serving one
  auto child = Child::SpawnSelf({"--child", "lookups", srv.host(), dir + "/cache", "big", std::to_string(rows)});
  uint64_t server_peak_kb = srv.PeakRssKb();
  std::optional<std::string> line;
  for (int i = 0; i < 3600 && !line; i++) {
    line = child->ReadLine(1000);
    server_peak_kb = std::max(server_peak_kb, srv.PeakRssKb());
  }
  if (!line || child->Wait(60000) != 0) Die("lookups child failed");
  Log("lookups child: " + *line);
  const json r = json::parse(*line);

  const std::string size = FmtBytes(bytes);
  const uint64_t open_req = r["open_requests"], rowid_req = r["rowid_requests"], index_req = r["index_requests"];
  Row("15a", "cold open + rowid lookup, " + size + " database, fresh process, empty cache", "target 1 + 1 requests",
      std::to_string(open_req) + " + " + std::to_string(rowid_req) + " requests (" + Fmt(r["open_ms"].get<double>(), 0) +
          " + " + Fmt(r["rowid_ms"].get<double>(), 0) + " ms)",
      "≤ 1 + 1", Met(open_req <= 1 && rowid_req <= 1));
  Row("15b", "then an index lookup (k = ?)", "target ≤ 2 requests", std::to_string(index_req) + " requests", "≤ 2",
      Met(index_req <= 2));
  const long cs = std::stol(r["cache_size"].get<std::string>());
  const double vfs_limit = kLimitRss + (cs < 0 ? double(-cs) * 1024 : double(cs) * 4096) + kVfsMapResidentBytes;
  const double vfs_rss = r["peak_rss_kb"].get<double>() * 1024;
  const double vfs_rss_end = r["rss_kb"].get<double>() * 1024;
  const double pages = std::max(1.0, r["cache_pages"].get<double>());
  Row("15c", "VFS peak RSS after open + " + std::to_string(kLookups) + " random rowid lookups (" +
                 Fmt(r["lookups_per_s"].get<double>(), 0) + "/s cold)",
      "limit " + FmtBytes(vfs_limit), FmtBytes(vfs_rss) + " peak (anon " + FmtBytes(r["peak_anon_kb"].get<double>() * 1024) +
          "), " + FmtBytes(vfs_rss_end) + " at the end; cache index " +
          Fmt(r["cache_index_bytes"].get<double>() / pages, 1) + " B per cached page (" +
          Fmt(pages, 0) + " pages)",
      Fmt(vfs_rss / vfs_limit) + "× of limit / ≤ 1×", Met(vfs_rss <= vfs_limit));
  const double srv_rss = double(server_peak_kb) * 1024;
  Row("15d", "mockcloud peak RSS serving the " + size + " database", "limit 128 MiB", FmtBytes(srv_rss),
      Fmt(srv_rss / kLimitServerRss) + "× of limit / ≤ 1×", Met(srv_rss <= kLimitServerRss));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::Run(argc, argv, "Rows 15a-d: a 10 GiB database (issue 19 target 4)", Main, RunChild);
}
