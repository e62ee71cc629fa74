// Several connections (threads) of one process against one remote database: read
// transactions stay consistent while a remote writer commits, in-process writers serialise
// through the lock table and every commit lands, and a cache directory held by "another
// process" makes the VFS fall back to a private one that is removed at close.
#include <atomic>
#include <thread>

#include "cache.h"
#include "vfs_test_util.h"

namespace vfstest {
namespace {

// Waits until `checks` reaches `want` (bounded: 10 s, then the test's own checks fail).
void WaitForChecks(const std::atomic<int>& checks, int want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (checks.load() < want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

class VfsConcurrencyTest : public VfsTest {};

TEST_F(VfsConcurrencyTest, ReadersSeeConsistentSnapshotsWhileRemoteCommits) {
  std::string path = MakeLocalDb("a.db", 2000);
  ltx::Pos pos = UploadSnapshot("a", path);
  const std::string total = Q1(OpenLocal(path), "SELECT sum(v) FROM t");
  std::atomic<bool> stop{false};
  std::atomic<int> checks{0};
  std::vector<std::thread> readers;
  std::vector<sqlite3*> conns;
  for (int i = 0; i < 3; i++) conns.push_back(OpenRemote("a"));
  for (int i = 0; i < 3; i++) {
    readers.emplace_back([&, db = conns[i]] {
      while (!stop) {
        std::vector<std::string> a, b;
        ASSERT_EQ(Exec(db, "BEGIN"), SQLITE_OK);
        ASSERT_EQ(Exec(db, "SELECT sum(v) FROM t", &a), SQLITE_OK) << sqlite3_errmsg(db);
        ASSERT_EQ(Exec(db, "SELECT sum(v) FROM t WHERE id % 2 = 0", &b), SQLITE_OK);
        std::vector<std::string> b2;
        ASSERT_EQ(Exec(db, "SELECT sum(v) FROM t WHERE id % 2 = 0", &b2), SQLITE_OK);
        ASSERT_EQ(Exec(db, "COMMIT"), SQLITE_OK);
        EXPECT_EQ(a, std::vector<std::string>{total});  // transfers keep the sum
        EXPECT_EQ(b, b2);                                // and a snapshot never moves
        checks++;
      }
    });
  }
  // A remote writer moves value between rows (the sum stays the same).
  for (int i = 0; i < 8; i++) {
    int from = 2 + 2 * i, to = 1001 + 2 * i;
    pos = RemoteWrite("a", path,
                      "UPDATE t SET v = v - 100 WHERE id = " + std::to_string(from) +
                          "; UPDATE t SET v = v + 100 WHERE id = " + std::to_string(to),
                      pos);
    // Let the readers check at least once more against this state (a condition, not a sleep).
    WaitForChecks(checks, checks.load() + 1);
  }
  WaitForChecks(checks, checks.load() + 3);
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(checks.load(), 3);
  // Every connection ends at the latest position, once the long poll has brought it (the
  // readers' last checks may all have run before it did: a loaded machine takes a while).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Stats(conns[0])["position"] != ltx::FormatPos(pos) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(Stats(conns[0])["position"], ltx::FormatPos(pos));
  EXPECT_EQ(Q1(conns[0], "SELECT sum(v) FROM t WHERE id % 2 = 0"),
            Q1(OpenLocal(path), "SELECT sum(v) FROM t WHERE id % 2 = 0"));
}

TEST_F(VfsConcurrencyTest, InProcessWritersSerialise) {
  std::string path = MakeLocalDb("b.db", 100);
  ltx::Pos p1 = UploadSnapshot("b", path);
  std::vector<sqlite3*> conns;
  for (int i = 0; i < 3; i++) conns.push_back(OpenRemote("b"));
  Q(conns[0], "PRAGMA litevfs_acquire_lease");  // one lease per database per process
  std::vector<std::thread> writers;
  constexpr int kPerThread = 10;
  for (int i = 0; i < 3; i++) {
    writers.emplace_back([&, i, db = conns[i]] {
      sqlite3_busy_timeout(db, 10000);
      for (int j = 0; j < kPerThread; j++) {
        int rc;
        // A writer whose read snapshot went stale gets SQLITE_BUSY: retry, bounded.
        for (int attempt = 0; attempt < 200; attempt++) {
          rc = Exec(db, "INSERT INTO t(id, k, v, pad) VALUES (" + std::to_string(10000 + i * 100 + j) + ", 'w', 1, 'p')");
          if (rc != SQLITE_BUSY) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db);
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(Q1(conns[1], "SELECT count(*) FROM t WHERE id >= 10000"), std::to_string(3 * kPerThread));
  EXPECT_EQ(RemotePos("b").txid, p1.txid + 3 * kPerThread);
  EXPECT_EQ(Q(conns[2], "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(VfsConcurrencyTest, BusyCacheDirectoryFallsBackToAPrivateOne) {
  std::string path = MakeLocalDb("c.db", 300);
  UploadSnapshot("c", path);
  const std::string shared = dir_ + "/cache/default/c";
  // "Another process" holds the shared cache directory.
  litevfs::CacheOptions o;
  o.dir = shared;
  o.page_size = 4096;
  auto held = litevfs::PageCache::Open(o);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  sqlite3* db = OpenRemote("c");
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "300");
  json s = Stats(db);
  const std::string priv = s["cache_dir"].get<std::string>();
  EXPECT_NE(priv, shared);
  EXPECT_NE(priv.find("/.c."), std::string::npos) << priv;
  EXPECT_TRUE(fs::exists(priv));
  Close(db);
  EXPECT_FALSE(fs::exists(priv));  // removed at close
}

}  // namespace
}  // namespace vfstest
