// Faults the VFS mishandled (issue 16), each against the in-process mockcloud: a commit
// whose outcome cannot be settled gets its own code and is settled at the next chance; an
// unusable cache directory means memory-only caching, not a failed open; closing a writer
// against a frozen service is bounded by the connect timeout; a scan under a small cache
// bound fetches each page about once.
#include <fstream>

#include "vfs_test_util.h"

namespace vfstest {
namespace {

constexpr int kOutcomeUnknownCode = SQLITE_IOERR | (0x554E4B << 8);

class VfsFaultTest : public VfsTest {};

TEST_F(VfsFaultTest, UnsettledCommitHasItsOwnCodeAndIsSettledAtTheNextTransaction) {
  sqlite3* db = OpenRemote("unk", "&request_timeout=1s");
  ASSERT_NE(db, nullptr);
  Q(db, "PRAGMA litevfs_acquire_lease");
  Q(db, "CREATE TABLE t(x INTEGER)");
  const ltx::Pos before = RemotePos("unk");
  // The upload is applied but its answer is cut, and every check is cut too.
  SetFaults("truncate=1,routes=/db/tx|/db/sync");
  const int rc = Exec(db, "INSERT INTO t VALUES(1)");
  const std::string err = sqlite3_errmsg(db);
  SetFaults("");
  EXPECT_EQ(rc, kOutcomeUnknownCode) << "not the rollback code: " << err;
  EXPECT_NE(VfsLastError().find("outcome unknown"), std::string::npos) << VfsLastError();
  EXPECT_EQ(Stats(db)["outcomes_unknown"].get<uint64_t>(), 1u);
  // The next transaction settles it: the service has it.
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "1");
  json s = Stats(db);
  EXPECT_EQ(RemotePos("unk").txid, before.txid + 1);
  EXPECT_EQ(s["outcomes_settled_applied"].get<uint64_t>(), 1u) << s.dump();
  EXPECT_FALSE(s["outcome_unknown_pending"].get<bool>());
  EXPECT_NE(s["last_outcome_settlement"].get<std::string>().find("applied"), std::string::npos);
}

TEST_F(VfsFaultTest, UnwritableCacheDirectoryOpensWithMemoryOnlyCaching) {
  std::string path = MakeLocalDb("a.db", 3000);
  UploadSnapshot("a", path);
  // A directory under a regular file cannot be made, not even by root.
  const std::string file = dir_ + "/plain-file";
  std::ofstream(file) << "not a directory";
  setenv("LITEVFS_CACHE_DIR", (file + "/cache").c_str(), 1);
  sqlite3* db = OpenRemote("a");
  ASSERT_NE(db, nullptr) << VfsLastError();
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "3000");
  json s = Stats(db);
  EXPECT_TRUE(s["cache_memory_only"].get<bool>()) << s.dump();
  // Writes work as well (a new database whose cache could not be made either).
  sqlite3* w = OpenRemote("new");
  ASSERT_NE(w, nullptr) << VfsLastError();
  Q(w, "PRAGMA litevfs_acquire_lease");
  EXPECT_EQ(Exec(w, "CREATE TABLE n(x); INSERT INTO n VALUES(7)"), SQLITE_OK) << VfsLastError();
  EXPECT_EQ(Q1(w, "SELECT x FROM n"), "7");
}

TEST_F(VfsFaultTest, ClosingAWriterAgainstAFrozenServiceIsBoundedByTheConnectTimeout) {
  sqlite3* db = OpenRemote("frozen", "&connect_timeout=300ms&request_timeout=5s");
  ASSERT_NE(db, nullptr);
  Q(db, "PRAGMA litevfs_acquire_lease");
  Q(db, "CREATE TABLE t(x)");
  SetFaults("latency=6s,routes=/lease");  // the lease release gets no answer
  const auto t0 = std::chrono::steady_clock::now();
  Close(db);
  const auto took = std::chrono::steady_clock::now() - t0;
  SetFaults("");
  EXPECT_LT(took, std::chrono::milliseconds(2000))
      << "close took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << " ms (the request timeout is 5 s, the connect timeout 300 ms)";
}

TEST_F(VfsFaultTest, ScanUnderASmallCacheBoundFetchesEachPageAboutOnce) {
  std::string path = MakeLocalDb("scan.db", 60000);
  UploadSnapshot("scan", path);
  const uint64_t db_pages = ReadFileBytes(path).size() / 4096;
  ASSERT_GT(db_pages, 2000u);
  sqlite3* db = OpenRemote("scan");
  ASSERT_NE(db, nullptr);
  Q(db, "PRAGMA litevfs_max_cached_pages = 300");
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t WHERE pad <> ''"), "60000");
  const uint64_t fetched = Stats(db)["pages_fetched"].get<uint64_t>();
  EXPECT_LE(double(fetched), 1.1 * double(db_pages))
      << fetched << " pages fetched for a " << db_pages << "-page db: " << Stats(db).dump();
}

}  // namespace
}  // namespace vfstest
