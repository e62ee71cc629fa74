// The VFS read path against an in-process mockcloud: results equal the local file, cached
// pages are never fetched twice, read transactions are pinned to a position, a restart
// reuses the cache, and errors (missing db, token, host, retention) are clear.
#include <algorithm>
#include <cstdio>

#include "database.h"
#include "litevfs/limits.h"
#include "manual_clock.h"
#include "vfs_test_util.h"

namespace vfstest {
namespace {

const std::vector<std::string> kQueries = {
    "SELECT count(*), sum(v), min(k), max(k) FROM t",
    "SELECT id, k, v FROM t WHERE id = 4321",
    "SELECT id, v FROM t WHERE id BETWEEN 1000 AND 1040 ORDER BY id",
    "SELECT id FROM t WHERE k = (SELECT k FROM t WHERE id = 777)",
    "SELECT k, id FROM t WHERE k >= 'key00050000' ORDER BY k LIMIT 25",
    "SELECT t.id, u.x FROM u JOIN t ON t.id = u.t_id WHERE u.id % 70 = 0 ORDER BY u.id",
    "SELECT v % 7 AS g, count(*), avg(v) FROM t GROUP BY g ORDER BY g",
    "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name",
    "PRAGMA integrity_check",
};

class VfsReadTest : public VfsTest {};

TEST_F(VfsReadTest, QueriesMatchTheLocalFile) {
  std::string path = MakeLocalDb("a.db", 6000);
  UploadSnapshot("a", path);
  sqlite3* local = OpenLocal(path);
  sqlite3* remote = OpenRemote("a");
  for (const auto& q : kQueries) {
    EXPECT_EQ(Q(remote, q), Q(local, q)) << q;
  }
  json s = Stats(remote);
  EXPECT_GT(s["requests"].get<uint64_t>(), 0u);
  EXPECT_EQ(Q1(remote, "PRAGMA litevfs_position"), ltx::FormatPos(RemotePos("a")));
}

TEST_F(VfsReadTest, CachedPagesAreNeverFetchedTwice) {
  std::string path = MakeLocalDb("b.db", 6000);
  UploadSnapshot("b", path);
  const uint64_t db_pages = ReadFileBytes(path).size() / 4096;
  sqlite3* r1 = OpenRemote("b");
  for (const auto& q : kQueries) Q(r1, q);
  json s1 = Stats(r1);
  EXPECT_LE(s1["pages_fetched"].get<uint64_t>(), db_pages);
  // A second connection has an empty SQLite page cache: every page comes from our cache.
  sqlite3* r2 = OpenRemote("b");
  for (const auto& q : kQueries) Q(r2, q);
  json s2 = Stats(r2);
  EXPECT_EQ(s2["requests"].get<uint64_t>(), s1["requests"].get<uint64_t>() + 0)
      << s1.dump() << "\n" << s2.dump();
  EXPECT_EQ(s2["pages_fetched"], s1["pages_fetched"]);
  EXPECT_GT(s2["cache_hits"].get<uint64_t>(), s1["cache_hits"].get<uint64_t>());
}

TEST_F(VfsReadTest, ColdPointLookupCostsOnePageRequest) {
  std::string path = MakeLocalDb("c.db", 20000);
  UploadSnapshot("c", path);
  sqlite3* r = OpenRemote("c");
  // page_requests counts page fetches only (requests also counts the background long polls).
  json s0 = Stats(r);
  EXPECT_EQ(Q1(r, "SELECT v FROM t WHERE id = 12345"), "37035");
  json s1 = Stats(r);
  EXPECT_EQ(Q1(r, "SELECT id FROM t WHERE k = 'key00000087'"), Q1(OpenLocal(path), "SELECT id FROM t WHERE k = 'key00000087'"));
  json s2 = Stats(r);
  const uint64_t open_reqs = s0["page_requests"].get<uint64_t>();
  const uint64_t point_reqs = s1["page_requests"].get<uint64_t>() - open_reqs;
  const uint64_t index_reqs = s2["page_requests"].get<uint64_t>() - s1["page_requests"].get<uint64_t>();
  std::printf("cold open: %llu page requests (%llu requests in all); rowid point lookup: %llu; "
              "index lookup: %llu; db pages %zu, cached after: %llu\n",
              (unsigned long long)open_reqs, (unsigned long long)s0["requests"].get<uint64_t>(),
              (unsigned long long)point_reqs, (unsigned long long)index_reqs,
              ReadFileBytes(path).size() / 4096, (unsigned long long)s2["cache_pages"].get<uint64_t>());
  EXPECT_EQ(open_reqs, 1u);   // /db/interior: page 1 and every interior page
  // ... and nothing else: no /info, no /db/sync (the position, size, page size and features
  // come with the interior batch).
  EXPECT_EQ(s0["requests"].get<uint64_t>(), 1u) << s0.dump();
  EXPECT_EQ(point_reqs, 1u);  // the leaf (with its siblings as prefetch)
  EXPECT_LE(index_reqs, 2u);  // index leaf, then the table leaf unless prefetched

  // A warm reopen (cache on disk) is one request too: the sync from the cached position.
  Close(r);
  r = OpenRemote("c");
  json w = Stats(r);
  EXPECT_EQ(w["requests"].get<uint64_t>(), 1u) << w.dump();
  EXPECT_EQ(w["page_requests"].get<uint64_t>(), 0u) << w.dump();
  EXPECT_EQ(Q1(r, "SELECT v FROM t WHERE id = 12345"), "37035");
  EXPECT_EQ(Stats(r)["requests"].get<uint64_t>(), 1u);
}

TEST_F(VfsReadTest, TransactionIsPinnedAcrossRemoteCommits) {
  std::string path = MakeLocalDb("d.db", 3000);
  ltx::Pos p1 = UploadSnapshot("d", path);
  sqlite3* a = OpenRemote("d");
  sqlite3* b = OpenRemote("d");
  Q(a, "BEGIN");
  EXPECT_EQ(Q1(a, "SELECT count(*) FROM t"), "3000");
  EXPECT_EQ(Q1(a, "PRAGMA litevfs_position"), ltx::FormatPos(p1));
  ltx::Pos p2 = RemoteWrite("d", path, "INSERT INTO t SELECT id + 100000, k, v, pad FROM t WHERE id <= 500", p1);
  ltx::Pos p3 = RemoteWrite("d", path, "DELETE FROM t WHERE id BETWEEN 1 AND 100", p2);
  ASSERT_EQ(p3.txid, 3u);
  // b sees the new state within one sync period (long poll: milliseconds).
  std::string count;
  for (int i = 0; i < 300 && count != "3400"; i++) {
    count = Q1(b, "SELECT count(*) FROM t");
    if (count != "3400") std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(count, "3400");
  // a still sees its snapshot, including pages it had not read before.
  EXPECT_EQ(Q1(a, "SELECT count(*) FROM t"), "3000");
  EXPECT_EQ(Q1(a, "SELECT sum(length(pad)) FROM t"), "300000");
  EXPECT_EQ(Q1(a, "PRAGMA litevfs_position"), ltx::FormatPos(p1));
  Q(a, "COMMIT");
  EXPECT_EQ(Q1(a, "SELECT count(*) FROM t"), "3400");
  EXPECT_EQ(Q(a, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(VfsReadTest, PeriodicSyncWithoutLongPollPicksUpChanges) {
  // The plain LiteFS Cloud API: no long poll, so the sync happens at transaction start,
  // at most once per litevfs_cache_sync_period.
  ScopedManualClock clock;
  std::string path = MakeLocalDb("e.db", 500);
  ltx::Pos p1 = UploadSnapshot("e", path);
  setenv("LITEVFS_PLAIN_API", "1", 1);
  sqlite3* a = OpenRemote("e");
  unsetenv("LITEVFS_PLAIN_API");
  EXPECT_EQ(Stats(a)["long_poll"], false);
  EXPECT_EQ(Q1(a, "SELECT count(*) FROM t"), "500");
  ltx::Pos p2 = RemoteWrite("e", path, "DELETE FROM t WHERE id > 450", p1);
  // Within the default period (1 s) of the last sync the old state is served; after it the
  // change is seen. Time moves on the manual clock (no real second slept).
  EXPECT_EQ(Q1(a, "SELECT count(*) FROM t"), "500");
  clock.clock().Advance(std::chrono::milliseconds(1100));
  EXPECT_EQ(Q1(a, "SELECT count(*) FROM t"), "450");
  p1 = p2;
  // With a zero period every transaction syncs first.
  EXPECT_EQ(Q1(a, "PRAGMA litevfs_cache_sync_period = 0"), "0");
  RemoteWrite("e", path, "DELETE FROM t WHERE id > 400", p1);
  EXPECT_EQ(Q1(a, "SELECT count(*) FROM t"), "400");
  EXPECT_EQ(Q(a, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(VfsReadTest, RestartFetchesOnlyChangedPages) {
  std::string path = MakeLocalDb("f.db", 6000);
  ltx::Pos p1 = UploadSnapshot("f", path);
  {
    sqlite3* r = OpenRemote("f");
    uint64_t fetched = std::stoull(Q1(r, "PRAGMA litevfs_cache_db"));
    EXPECT_GT(fetched, 100u);
    EXPECT_EQ(Q1(r, "PRAGMA litevfs_cache_db"), "0");  // everything is cached now
    Close(r);  // last connection: the Database shuts down, its cache is closed
  }
  std::vector<uint32_t> changed;
  RemoteWrite("f", path, "UPDATE t SET v = -v WHERE id IN (5, 5999)", p1, &changed);
  ASSERT_GE(changed.size(), 2u);
  sqlite3* r = OpenRemote("f");
  uint64_t refetched = std::stoull(Q1(r, "PRAGMA litevfs_cache_db"));
  EXPECT_LE(refetched, changed.size());
  EXPECT_EQ(Q1(r, "PRAGMA litevfs_cache_db"), "0");
  json s = Stats(r);
  EXPECT_EQ(s["pages_fetched"].get<uint64_t>(), changed.size()) << s.dump();
  EXPECT_EQ(Q1(r, "SELECT v FROM t WHERE id = 5999"), "-17997");
  EXPECT_EQ(Q(r, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(VfsReadTest, MissingDatabase) {
  sqlite3* db = nullptr;
  EXPECT_EQ(OpenRemoteRc("nosuch", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI), SQLITE_CANTOPEN);
  EXPECT_NE(VfsLastError().find("does not exist"), std::string::npos) << VfsLastError();
  // With CREATE it opens as an empty database.
  db = OpenRemote("nosuch");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM sqlite_schema"), "0");
}

TEST_F(VfsReadTest, MissingTokenAndUnreachableHostNameTheVariable) {
  std::string path = MakeLocalDb("g.db", 10);
  UploadSnapshot("g", path);
  sqlite3* db = nullptr;
  unsetenv("LITEFS_CLOUD_TOKEN");
  EXPECT_EQ(OpenRemoteRc("g", &db), SQLITE_CANTOPEN);
  EXPECT_NE(VfsLastError().find("LITEFS_CLOUD_TOKEN"), std::string::npos) << VfsLastError();
  setenv("LITEFS_CLOUD_TOKEN", "wrong", 1);
  EXPECT_EQ(OpenRemoteRc("g", &db), SQLITE_CANTOPEN);
  EXPECT_NE(VfsLastError().find("LITEFS_CLOUD_TOKEN"), std::string::npos) << VfsLastError();
  setenv("LITEFS_CLOUD_TOKEN", "secret", 1);
  setenv("LITEFS_CLOUD_HOST", "http://127.0.0.1:1", 1);
  EXPECT_EQ(OpenRemoteRc("g", &db), SQLITE_CANTOPEN);
  EXPECT_NE(VfsLastError().find("LITEFS_CLOUD_HOST"), std::string::npos) << VfsLastError();
  setenv("LITEFS_CLOUD_HOST", host_.c_str(), 1);
  EXPECT_EQ(OpenRemoteRc("g", &db), SQLITE_OK);
  // An invalid database name never reaches the network.
  EXPECT_EQ(OpenRemoteRc("..%2Fetc", &db), SQLITE_CANTOPEN);
}

TEST_F(VfsReadTest, ClusterFromUriParameter) {
  std::string path = MakeLocalDb("h.db", 10);
  litevfs::ClientConfig cfg;
  cfg.host = host_;
  cfg.token = "secret";
  cfg.cluster = "other";
  auto c = litevfs::Client::CreateWithTransport(cfg, litevfs::MakeCurlTransport(host_, 2000, 10000));
  std::string bytes;
  ltx::StringSink sink(&bytes);
  ASSERT_TRUE(ltx::EncodeDatabaseFile(path, &sink).ok());
  ASSERT_TRUE(c->UploadTx("h", bytes, "").ok());
  sqlite3* db = nullptr;
  EXPECT_EQ(OpenRemoteRc("h", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI), SQLITE_CANTOPEN);
  db = OpenRemote("h", "&cluster=other");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "10");
}

TEST_F(VfsReadTest, PragmasValidateAndReport) {
  std::string path = MakeLocalDb("i.db", 100);
  UploadSnapshot("i", path);
  sqlite3* db = OpenRemote("i");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_max_prefetch_pages"), "32");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_max_prefetch_pages = 8"), "8");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_cache_sync_period"), "1000");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_cache_sync_period = '2s'"), "2000");
  // One grammar (litevfs/duration.h): a bare number is milliseconds, as in URIs and env vars.
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_cache_sync_period = 500"), "500");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_lease_duration = '1m30s'"), "90000");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_max_reqs_per_query = 10"), "10");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_max_cached_pages = 1000"), "1000");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_min_available_space = '1MB'"), "1048576");
  struct Bad { const char* sql; const char* range; };
  for (Bad b : {Bad{"PRAGMA litevfs_max_prefetch_pages = 5000", "[0, 4095]"},
                Bad{"PRAGMA litevfs_max_prefetch_pages = -1", "[0, 4095]"},
                Bad{"PRAGMA litevfs_cache_sync_period = 'soon'", "a number with a unit: ms, s, m or h"},
                Bad{"PRAGMA litevfs_lease_duration = 10",
                    "'10' (10ms: a number without a unit is milliseconds) is not between 1s and 10m"},
                Bad{"PRAGMA litevfs_lease_duration = '20m'", "'20m' is not between 1s and 10m"},
                Bad{"PRAGMA litevfs_max_reqs_per_query = 'x'", "[0, 1000000]"}}) {
    EXPECT_EQ(Exec(db, b.sql), SQLITE_ERROR) << b.sql;
    EXPECT_NE(std::string(sqlite3_errmsg(db)).find(b.range), std::string::npos) << sqlite3_errmsg(db);
  }
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_max_prefetch_pages"), "8");  // unchanged by the bad values
  EXPECT_EQ(Exec(db, "PRAGMA litevfs_position = 1"), SQLITE_ERROR);
  EXPECT_EQ(Exec(db, "PRAGMA litevfs_nonsense"), SQLITE_ERROR);
  EXPECT_NE(std::string(sqlite3_errmsg(db)).find("unknown pragma"), std::string::npos);
  // Not ours: SQLite's own pragmas still work.
  EXPECT_EQ(Q1(db, "PRAGMA page_size"), "4096");
  json s = Stats(db);
  for (const char* k : {"cache_hits", "cache_misses", "requests", "bytes_received", "pages_fetched", "lag_txids"}) {
    EXPECT_TRUE(s.contains(k)) << k;
  }
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "100");
}

TEST_F(VfsReadTest, MaxReqsPerQueryDisablesPrefetchButStillReads) {
  std::string path = MakeLocalDb("j.db", 1500);
  UploadSnapshot("j", path);
  sqlite3* db = OpenRemote("j");
  Q(db, "PRAGMA litevfs_max_reqs_per_query = 1");
  EXPECT_EQ(Q1(db, "SELECT sum(v) FROM t"), Q1(OpenLocal(path), "SELECT sum(v) FROM t"));
  json s = Stats(db);
  // After the first request of the transaction no prefetch: one request per missing page.
  EXPECT_GE(s["requests"].get<uint64_t>(), s["pages_fetched"].get<uint64_t>() / 40);
}

// A scan's read-ahead grows while the reader uses what was prefetched and follows the
// b-tree across interior pages; point reads keep the small window.
TEST_F(VfsReadTest, ScanReadAheadGrowsAndFollowsTheTree) {
  // 512-byte pages: ~6,000 table leaves under three interior levels, so a scan crosses
  // hundreds of interior-page boundaries.
  std::string path = MakeLocalDb("s.db", 20000, 512);
  UploadSnapshot("s", path);
  sqlite3* local = OpenLocal(path);
  const uint64_t db_pages = ReadFileBytes(path).size() / 512;
  sqlite3* db = OpenRemote("s");
  json s0 = Stats(db);
  // A point read: the leaf and the base window (32) of its neighbours, no more.
  EXPECT_EQ(Q1(db, "SELECT v FROM t WHERE id = 7777"), "23331");
  json s1 = Stats(db);
  EXPECT_EQ(s1["page_requests"].get<uint64_t>() - s0["page_requests"].get<uint64_t>(), 1u);
  EXPECT_LE(s1["pages_fetched"].get<uint64_t>() - s0["pages_fetched"].get<uint64_t>(), 33u);
  // A full scan: the window doubles (33, 65, 129, ... pages), so a logarithmic number of
  // requests; a fixed window of 32 would need db_pages / 33 (> 150 here).
  EXPECT_EQ(Q1(db, "SELECT sum(length(pad)), count(*) FROM t"),
            Q1(local, "SELECT sum(length(pad)), count(*) FROM t"));
  json s2 = Stats(db);
  const uint64_t scan_reqs = s2["page_requests"].get<uint64_t>() - s1["page_requests"].get<uint64_t>();
  const uint64_t readaheads = s2["readaheads"].get<uint64_t>() - s1["readaheads"].get<uint64_t>();
  std::printf("512-byte pages: %llu db pages, full scan took %llu requests (%llu read ahead)\n",
              (unsigned long long)db_pages, (unsigned long long)scan_reqs,
              (unsigned long long)readaheads);
  EXPECT_LE(scan_reqs, 12u) << s2.dump();
  // Once the window has grown, the next one is fetched in the background while the reader
  // works through the current one.
  EXPECT_GE(readaheads, 1u) << s2.dump();
  EXPECT_EQ(s1["readaheads"].get<uint64_t>(), 0u);  // never for a point read
  EXPECT_LE(s2["pages_fetched"].get<uint64_t>(), db_pages);  // nothing fetched twice
  // The next transaction starts over at the base window.
  Q(db, "PRAGMA litevfs_max_prefetch_pages = 8");
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t WHERE k >= 'key00500000' AND k < 'key00500100'"),
            Q1(local, "SELECT count(*) FROM t WHERE k >= 'key00500000' AND k < 'key00500100'"));
  json s3 = Stats(db);
  EXPECT_LE(s3["pages_fetched"].get<uint64_t>() - s2["pages_fetched"].get<uint64_t>(),
            9u * (s3["page_requests"].get<uint64_t>() - s2["page_requests"].get<uint64_t>()));
  EXPECT_EQ(Q(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

// A cold range over ~150 leaves (the peer benchmark's 5,000-row range, scaled down): three
// requests (33 + 65 pages, then one read-ahead of 128), not one per 33 leaves, and no more
// speculation than one batch past the range.
TEST_F(VfsReadTest, ColdRangeTakesThreeRequests) {
  std::string path = MakeLocalDb("r.db", 20000, 512);  // ~3 rows per leaf
  UploadSnapshot("r", path);
  sqlite3* db = OpenRemote("r");
  json s0 = Stats(db);
  const std::string q = "SELECT sum(v), count(*) FROM t WHERE id BETWEEN 9000 AND 9449";
  EXPECT_EQ(Q1(db, q), Q1(OpenLocal(path), q));
  json s1 = Stats(db);
  const uint64_t reqs = s1["page_requests"].get<uint64_t>() - s0["page_requests"].get<uint64_t>();
  const uint64_t pages = s1["pages_fetched"].get<uint64_t>() - s0["pages_fetched"].get<uint64_t>();
  std::printf("450-row range over ~150 leaves: %llu requests, %llu pages\n", (unsigned long long)reqs,
              (unsigned long long)pages);
  EXPECT_LE(reqs, 3u) << s1.dump();
  EXPECT_LE(pages, 33u + 65u + 129u) << s1.dump();
}

// PRAGMA litevfs_cache_db fetches in batches with several requests in flight: every page
// arrives once, a failing batch is an error that leaves the cache usable, and a retry
// fetches only what is still missing.
TEST_F(VfsReadTest, CacheDbPipelinesBatchesAndFailsCleanly) {
  std::string path = MakeLocalDb("p.db", 40000, 512);  // ~12,000 pages: 5+ batches
  UploadSnapshot("p", path);
  sqlite3* local = OpenLocal(path);
  const uint64_t db_pages = ReadFileBytes(path).size() / 512;
  sqlite3* db = OpenRemote("p");
  SetFaults("error=1,routes=/db/page");
  int rc = sqlite3_exec(db, "PRAGMA litevfs_cache_db", nullptr, nullptr, nullptr);
  EXPECT_NE(rc, SQLITE_OK);
  EXPECT_NE(std::string(sqlite3_errmsg(db)).find("/db/page"), std::string::npos) << sqlite3_errmsg(db);
  SetFaults("");
  json s0 = Stats(db);
  const uint64_t fetched = std::stoull(Q1(db, "PRAGMA litevfs_cache_db"));
  json s1 = Stats(db);
  const uint64_t cached_before = s0["cache_pages"].get<uint64_t>();
  EXPECT_EQ(fetched + cached_before, db_pages);  // (the lock page lies past 1 GiB)
  EXPECT_EQ(s1["cache_pages"].get<uint64_t>(), db_pages);
  const uint64_t batches = s1["page_requests"].get<uint64_t>() - s0["page_requests"].get<uint64_t>();
  const uint64_t per_batch = std::min<uint64_t>(litevfs::kMaxPgnosPerRequest, litevfs::kBulkBatchBytes / 512);
  EXPECT_EQ(batches, (fetched + per_batch - 1) / per_batch);
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_cache_db"), "0");
  EXPECT_EQ(Q1(db, "SELECT sum(length(pad)), sum(v), count(*) FROM t"),
            Q1(local, "SELECT sum(length(pad)), sum(v), count(*) FROM t"));
  EXPECT_EQ(Stats(db)["page_requests"], s1["page_requests"]);
  EXPECT_EQ(Q(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

class VfsRetentionTest : public VfsTest {
  void CustomizeServer(mockcloud::ServerOptions* o) override {
    o->retention_ms = 0;
    o->retain_txids = 1;
  }
};

TEST_F(VfsRetentionTest, PinnedPositionNoLongerRetainedIsARetryableError) {
  std::string path = MakeLocalDb("k.db", 6000);
  ltx::Pos p1 = UploadSnapshot("k", path);
  sqlite3* a = OpenRemote("k");
  Q(a, "PRAGMA litevfs_max_prefetch_pages = 0");
  Q(a, "BEGIN");
  EXPECT_EQ(Q1(a, "SELECT v FROM t WHERE id = 1"), "3");
  ltx::Pos p2 = RemoteWrite("k", path, "UPDATE t SET v = 0 WHERE id = 2", p1);
  RemoteWrite("k", path, "UPDATE t SET v = 0 WHERE id = 3", p2);
  ASSERT_TRUE(server_->Compact().ok());
  std::vector<std::string> rows;
  int rc = Exec(a, "SELECT sum(v) FROM t", &rows);
  EXPECT_EQ(rc & 0xff, SQLITE_IOERR);
  EXPECT_EQ(sqlite3_extended_errcode(a), kPosErrorCode) << sqlite3_errmsg(a);
  Exec(a, "ROLLBACK");
  Q(a, "PRAGMA litevfs_max_prefetch_pages = 64");
  // Retry: a new transaction is pinned at the latest position and works.
  std::string sum;
  for (int i = 0; i < 200 && sum.empty(); i++) {
    rows.clear();
    if (Exec(a, "SELECT sum(v) FROM t", &rows) == SQLITE_OK && !rows.empty()) sum = rows[0];
    else std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(sum, Q1(OpenLocal(path), "SELECT sum(v) FROM t"));
}

}  // namespace
}  // namespace vfstest
