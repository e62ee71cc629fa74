// xFetch (issue 19): with PRAGMA mmap_size, SQLite reads cached pages in place in the page
// cache's memory map. Results equal the local file's, and a page SQLite holds in place
// keeps its bytes while other connections fetch and cache newer versions of it.
#include <atomic>
#include <thread>

#include "vfs_test_util.h"

namespace vfstest {
namespace {

constexpr const char* kMmap = "PRAGMA mmap_size = 268435456";

class VfsFetchTest : public VfsTest {};

TEST_F(VfsFetchTest, PagesReadInPlaceMatchTheLocalFile) {
  const std::string path = MakeLocalDb("a.db", 6000);
  UploadSnapshot("a", path);
  sqlite3* local = OpenLocal(path);
  sqlite3* remote = OpenRemote("a");
  Q(remote, "PRAGMA litevfs_cache_db");  // every page cached: reads are fetches now
  Q(remote, kMmap);
  const std::vector<std::string> queries = {
      "SELECT count(*), sum(v), min(k), max(k) FROM t",
      "SELECT id, k, v FROM t WHERE id = 4321",
      "SELECT id FROM t WHERE k = (SELECT k FROM t WHERE id = 777)",
      "SELECT t.id, u.x FROM u JOIN t ON t.id = u.t_id WHERE u.id % 70 = 0 ORDER BY u.id",
      "PRAGMA integrity_check",
  };
  const json before = Stats(remote);
  for (const auto& q : queries) EXPECT_EQ(Q(remote, q), Q(local, q)) << q;
  const json after = Stats(remote);
  EXPECT_GT(after["page_fetches"].get<uint64_t>(), before["page_fetches"].get<uint64_t>() + 50)
      << after.dump();
  EXPECT_EQ(after["page_requests"], before["page_requests"]) << "all cached: no request";
}

// Connection a scans with a statement left open (SQLite holds the current leaf in place)
// while a remote commit rewrites every leaf and connection b reads, fetches and caches the
// new versions. a must finish its scan on its snapshot: without the pin, b's cache put
// overwrote the leaf under a's cursor.
TEST_F(VfsFetchTest, APageHeldInPlaceKeepsItsSnapshotWhileNewerVersionsArrive) {
  const std::string path = MakeLocalDb("b.db", 3000);
  const ltx::Pos p1 = UploadSnapshot("b", path);
  sqlite3* a = OpenRemote("b");
  sqlite3* b = OpenRemote("b");
  Q(a, "PRAGMA litevfs_cache_db");
  Q(a, kMmap);
  const std::string want = Q1(a, "SELECT sum(v) FROM t");
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(a, "SELECT v FROM t ORDER BY id", -1, &st, nullptr), SQLITE_OK);
  int64_t sum = 0;
  for (int i = 0; i < 5; i++) {  // a few rows into the first leaf
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    sum += sqlite3_column_int64(st, 0);
  }
  EXPECT_GT(Stats(a)["page_fetches"].get<uint64_t>(), 0u);
  const ltx::Pos p2 = RemoteWrite("b", path, "UPDATE t SET v = v + 1000000", p1);
  const std::string want_newer = Q1(OpenLocal(path), "SELECT sum(v) FROM t");
  std::string newer;
  for (int i = 0; i < 300 && newer != want_newer; i++) {  // b sees p2 within a sync or so
    newer = Q1(b, "SELECT sum(v) FROM t");  // and fetches and caches the new leaves
    if (newer != want_newer) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(newer, want_newer) << "b never saw " << ltx::FormatPos(p2);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) sum += sqlite3_column_int64(st, 0);
  EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(a);
  sqlite3_finalize(st);
  EXPECT_EQ(std::to_string(sum), want) << "a's scan mixed in bytes of the newer version";
  EXPECT_EQ(Q1(a, "SELECT sum(v) FROM t"), newer);
  EXPECT_EQ(Q(a, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

// Two connections read in place from two threads (their xFetch/xUnfetch take no Database
// lock, and repeated pages no cache lock) while remote commits rewrite every row and the
// connections fetch and cache the new versions: every read transaction sees one whole state
// (v - 3 * id is the same on every row), and pages held in place are never rewritten.
TEST_F(VfsFetchTest, TwoThreadsReadInPlaceWhileCommitsArrive) {
  constexpr int kCommits = 8;
  const std::string path = MakeLocalDb("c.db", 3000);
  ltx::Pos pos = UploadSnapshot("c", path);
  sqlite3* a = OpenRemote("c");
  sqlite3* b = OpenRemote("c");
  Q(a, "PRAGMA litevfs_cache_db");
  for (sqlite3* db : {a, b}) Q(db, kMmap);
  const uint64_t fetches_before = Stats(a)["page_fetches"].get<uint64_t>();
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, torn{0}, newest{0};
  auto reader = [&](sqlite3* db) {
    for (int i = 0; i < 5000 && !(done && newest == kCommits); i++) {
      const std::string r = Q1(db, "SELECT min(v - 3 * id) || ' ' || max(v - 3 * id) FROM t");
      const size_t sp = r.find(' ');
      if (sp == std::string::npos || r.substr(0, sp) != r.substr(sp + 1)) {
        torn++;
        continue;
      }
      reads++;
      if (std::stoi(r.substr(0, sp)) == kCommits) newest = kCommits;
      if (done) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // wait for the last sync
    }
  };
  std::thread ta(reader, a), tb(reader, b);
  for (int i = 0; i < kCommits; i++) {
    pos = RemoteWrite("c", path, "UPDATE t SET v = v + 1", pos);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  done = true;
  ta.join();
  tb.join();
  EXPECT_EQ(torn.load(), 0) << "a read transaction mixed rows of two states";
  EXPECT_GT(reads.load(), kCommits);
  EXPECT_EQ(newest.load(), kCommits) << "the readers never saw " << ltx::FormatPos(pos);
  EXPECT_GT(Stats(a)["page_fetches"].get<uint64_t>(), fetches_before + 100) << "not read in place";
  EXPECT_EQ(Q(a, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_EQ(Q(b, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

// page_fetches counts every connection's pages read in place, closed connections' too (each
// connection counts its own, so the hit path makes no shared atomic add).
TEST_F(VfsFetchTest, PageFetchesCountClosedConnections) {
  const std::string path = MakeLocalDb("d.db", 2000);
  UploadSnapshot("d", path);
  sqlite3* a = OpenRemote("d");
  Q(a, "PRAGMA litevfs_cache_db");
  const uint64_t before = Stats(a)["page_fetches"].get<uint64_t>();
  sqlite3* b = OpenRemote("d");
  Q(b, kMmap);
  const std::string sum = Q1(b, "SELECT sum(v) FROM t");
  const uint64_t during = Stats(b)["page_fetches"].get<uint64_t>();
  EXPECT_GT(during, before + 20);
  Close(b);
  EXPECT_EQ(Stats(a)["page_fetches"].get<uint64_t>(), during) << "a closed connection's count was lost";
  sqlite3* c = OpenRemote("d");
  Q(c, kMmap);
  EXPECT_EQ(Q1(c, "SELECT sum(v) FROM t"), sum);
  EXPECT_GT(Stats(a)["page_fetches"].get<uint64_t>(), during + 20);
}

// Interior pages read in place teach the prefetch planner (once per version and process, as
// the hit path skips it after): a new Database on a warm cache reads everything through
// xFetch, a remote commit then changes every leaf of t but no interior page, and the misses
// that follow fetch the changed leaves in batches along the learnt shape, not one by one.
TEST_F(VfsFetchTest, InteriorPagesReadInPlaceTeachThePlanner) {
  const std::string path = MakeLocalDb("e.db", 6000);
  const ltx::Pos p1 = UploadSnapshot("e", path);
  sqlite3* a = OpenRemote("e");
  Q(a, "PRAGMA litevfs_cache_db");
  Close(a);  // the Database shuts down; its cache stays on disk, its planner goes
  sqlite3* b = OpenRemote("e");
  Q(b, kMmap);
  const uint64_t fetches = Stats(b)["page_fetches"].get<uint64_t>();
  const std::string old_sum = Q1(b, "SELECT sum(v) FROM t");
  ASSERT_GT(Stats(b)["page_fetches"].get<uint64_t>(), fetches + 100) << "not read in place";
  std::vector<uint32_t> changed;
  const ltx::Pos p2 = RemoteWrite("e", path, "UPDATE t SET v = v + 1", p1, &changed);
  ASSERT_GT(changed.size(), 100u);
  std::string v1;  // row 1's v was 3: b has synced to p2 once it reads 4
  for (int i = 0; i < 300 && v1 != "4"; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    v1 = Q1(b, "SELECT v FROM t WHERE id = 1");
  }
  ASSERT_EQ(v1, "4") << "b never saw " << ltx::FormatPos(p2);
  const uint64_t requests = Stats(b)["page_requests"].get<uint64_t>();
  EXPECT_EQ(Q1(b, "SELECT sum(v) FROM t"), Q1(OpenLocal(path), "SELECT sum(v) FROM t"));
  const uint64_t used = Stats(b)["page_requests"].get<uint64_t>() - requests;
  EXPECT_LT(used, changed.size() / 8) << used << " requests for " << changed.size()
                                       << " changed pages: the planner did not know the tree";
}

}  // namespace
}  // namespace vfstest
