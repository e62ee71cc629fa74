// The VFS write path: writes need the lease, each commit is one LTX upload at
// pos.txid + 1, failures leave local and remote state untouched and the connection usable,
// shrinking commits (VACUUM, auto_vacuum) work, every rollback-journal mode works, and a
// new database is created by its first commit.
#include "vfs_test_util.h"

namespace vfstest {
namespace {

// These tests are about write mode lease (explicit pragmas; the default is auto: issue 17,
// vfs_write_modes_test.cc).
constexpr const char* kLeaseMode = "&write_mode=lease";

class VfsWriteTest : public VfsTest {
 protected:
  // Remote content check: the snapshot the service serves equals what the VFS shows.
  void ExpectRemoteMatches(sqlite3* vfs_db, const std::string& name, const std::string& sql) {
    std::string path = DownloadSnapshot(name);
    sqlite3* local = OpenLocal(path);
    EXPECT_EQ(Q(local, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
    EXPECT_EQ(Q(local, sql), Q(vfs_db, sql)) << sql;
    Close(local);
  }
  // A 50-row database `name` on the service, opened through the VFS with the write lease.
  sqlite3* OpenLeased(const std::string& name, std::string* lease_id) {
    UploadSnapshot(name, MakeLocalDb(name + ".db", 50));
    sqlite3* w = OpenRemote(name, kLeaseMode);
    *lease_id = Q1(w, "PRAGMA litevfs_acquire_lease");
    return w;
  }
  // Someone releases our lease behind our back (e.g. an operator), then another takes it.
  void StealLease(const std::string& name, const std::string& lease_id) {
    ASSERT_TRUE(client_->ReleaseLease(name, lease_id).ok());
    auto other = client_->AcquireLease(name, 60000);
    ASSERT_TRUE(other.ok()) << other.status().ToString();
  }
};

TEST_F(VfsWriteTest, WriteWithoutLeaseFailsAndChangesNothing) {
  std::string path = MakeLocalDb("a.db", 200);
  ltx::Pos p1 = UploadSnapshot("a", path);
  sqlite3* db = OpenRemote("a", kLeaseMode);
  int rc = Exec(db, "INSERT INTO t(id, k, v, pad) VALUES (100000, 'x', 1, 'y')");
  EXPECT_EQ(rc & 0xff, SQLITE_READONLY) << sqlite3_errmsg(db);
  EXPECT_NE(VfsLastError().find("run PRAGMA litevfs_acquire_lease"), std::string::npos) << VfsLastError();
  EXPECT_EQ(RemotePos("a"), p1);
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "200");
}

TEST_F(VfsWriteTest, ManyTransactionsUnderALease) {
  std::string path = MakeLocalDb("b.db", 300);
  ltx::Pos p1 = UploadSnapshot("b", path);
  sqlite3* w = OpenRemote("b", kLeaseMode);
  sqlite3* r = OpenRemote("b");
  std::string id = Q1(w, "PRAGMA litevfs_acquire_lease");
  EXPECT_EQ(id.size(), 32u) << id;
  EXPECT_EQ(Q1(w, "PRAGMA litevfs_acquire_lease"), id);  // already held: same lease
  uint64_t expect_txid = p1.txid;
  for (int i = 0; i < 40; i++) {
    Q(w, "INSERT INTO t(id, k, v, pad) VALUES (" + std::to_string(100000 + i) + ", 'new" +
             std::to_string(i) + "', " + std::to_string(i) + ", zeroblob(" + std::to_string(50 * i) + "))");
    expect_txid++;
    ltx::Pos remote = RemotePos("b");
    EXPECT_EQ(remote.txid, expect_txid);
    EXPECT_EQ(Q1(w, "PRAGMA litevfs_position"), ltx::FormatPos(remote));
    // Another connection sees exactly this state.
    EXPECT_EQ(Q1(r, "SELECT count(*), sum(v) FROM t WHERE id >= 100000"),
              std::to_string(i + 1) + "|" + std::to_string(i * (i + 1) / 2));
  }
  // A multi-statement transaction is one upload.
  Q(w, "BEGIN; UPDATE t SET v = v + 1 WHERE id < 100; DELETE FROM t WHERE id BETWEEN 200 AND 250; COMMIT;");
  EXPECT_EQ(RemotePos("b").txid, expect_txid + 1);
  EXPECT_EQ(Q(w, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  ExpectRemoteMatches(w, "b", "SELECT id, k, v, length(pad) FROM t ORDER BY id");
  EXPECT_EQ(Q1(w, "PRAGMA litevfs_release_lease"), id);
  EXPECT_EQ(Exec(w, "DELETE FROM t") & 0xff, SQLITE_READONLY);
}

TEST_F(VfsWriteTest, UploadFailureRollsBackAndTheConnectionStaysUsable) {
  std::string path = MakeLocalDb("c.db", 300);
  UploadSnapshot("c", path);
  sqlite3* w = OpenRemote("c");
  Q(w, "PRAGMA litevfs_acquire_lease");
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (100000, 'a', 1, 'a')");
  ltx::Pos before = RemotePos("c");
  SetFaults("error=1.0,routes=/db/tx");
  int rc = Exec(w, "INSERT INTO t(id, k, v, pad) VALUES (100001, 'b', 2, 'b')");
  EXPECT_NE(rc, SQLITE_OK);
  EXPECT_EQ(rc & 0xff, SQLITE_IOERR) << sqlite3_errmsg(w);
  rc = Exec(w, "BEGIN; UPDATE t SET v = 0; DELETE FROM t WHERE id < 100; COMMIT;");
  EXPECT_NE(rc, SQLITE_OK);
  Exec(w, "ROLLBACK");
  SetFaults("");
  EXPECT_EQ(RemotePos("c"), before);
  EXPECT_EQ(Q1(w, "SELECT count(*), sum(v) FROM t WHERE id >= 100000"), "1|1");
  EXPECT_EQ(Q1(w, "SELECT count(*) FROM t WHERE v = 0"), "0");
  // Usable again.
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (100002, 'c', 3, 'c')");
  EXPECT_EQ(RemotePos("c").txid, before.txid + 1);
  EXPECT_EQ(Q1(w, "SELECT count(*), sum(v) FROM t WHERE id >= 100000"), "2|4");
  ExpectRemoteMatches(w, "c", "SELECT id, v FROM t ORDER BY id");
}

TEST_F(VfsWriteTest, LostUploadAnswerIsResolvedBySyncing) {
  std::string path = MakeLocalDb("h.db", 100);
  ltx::Pos p1 = UploadSnapshot("h", path);
  sqlite3* w = OpenRemote("h");
  Q(w, "PRAGMA litevfs_acquire_lease");
  for (const char* fault : {"truncate=1.0,routes=/db/tx", "drop=1.0,routes=/db/tx"}) {
    SCOPED_TRACE(fault);
    SetFaults(fault);
    ltx::Pos before = RemotePos("h");
    int rc = Exec(w, "INSERT INTO t(id, k, v, pad) VALUES (NULL, 'x', 1, 'y')");
    SetFaults("");
    ltx::Pos after = RemotePos("h");
    // Whatever the fault did, the app's answer matches the service: success iff applied.
    EXPECT_EQ(rc == SQLITE_OK, after.txid == before.txid + 1) << rc << " " << sqlite3_errmsg(w);
    EXPECT_EQ(Q1(w, "PRAGMA litevfs_position"), ltx::FormatPos(after));
    EXPECT_EQ(Q1(w, "SELECT count(*) FROM t"), std::to_string(100 + after.txid - p1.txid));
  }
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (NULL, 'z', 1, 'y')");
  ExpectRemoteMatches(w, "h", "SELECT id, k, v, pad FROM t ORDER BY id");
}

TEST_F(VfsWriteTest, LostLeaseFailsTheNextWrite) {
  std::string id;
  sqlite3* w = OpenLeased("d", &id);
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (100000, 'a', 1, 'a')");
  StealLease("d", id);
  ltx::Pos before = RemotePos("d");
  int rc = Exec(w, "INSERT INTO t(id, k, v, pad) VALUES (100001, 'b', 2, 'b')");
  EXPECT_NE(rc, SQLITE_OK);
  EXPECT_EQ(RemotePos("d"), before);
  // From now on writes fail at once, with the lease message.
  rc = Exec(w, "INSERT INTO t(id, k, v, pad) VALUES (100001, 'b', 2, 'b')");
  EXPECT_EQ(rc & 0xff, SQLITE_READONLY);
  EXPECT_EQ(Q1(w, "SELECT count(*) FROM t WHERE id >= 100000"), "1");
}

// The lease is lost in the middle of an explicit transaction: its COMMIT fails, none of its
// statements reach the service, and the connection is left usable (reads work, the
// transaction is rolled back, local state matches the service).
TEST_F(VfsWriteTest, LeaseLostInsideAnExplicitTransactionAppliesNothing) {
  std::string id;
  sqlite3* w = OpenLeased("x", &id);
  Q(w, "BEGIN");
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (200000, 'a', 1, 'a')");
  Q(w, "UPDATE t SET v = -1 WHERE id <= 10");
  StealLease("x", id);  // mid-transaction
  const ltx::Pos before = RemotePos("x");
  Exec(w, "DELETE FROM t WHERE id BETWEEN 20 AND 30");  // may fail at once or at COMMIT
  int rc = Exec(w, "COMMIT");
  EXPECT_NE(rc, SQLITE_OK) << "a commit without the lease must fail";
  if (!sqlite3_get_autocommit(w)) Exec(w, "ROLLBACK");
  EXPECT_EQ(RemotePos("x"), before) << "nothing of the transaction may reach the service";
  // The connection still reads, and sees exactly the service's state.
  EXPECT_EQ(Q1(w, "SELECT count(*) FROM t WHERE id = 200000 OR v = -1"), "0");
  EXPECT_EQ(Q1(w, "SELECT count(*) FROM t"), "50");
  ExpectRemoteMatches(w, "x", "SELECT id, k, v, pad FROM t ORDER BY id");
  EXPECT_EQ(Q(w, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(VfsWriteTest, VacuumShrinksTheDatabase) {
  std::string path = MakeLocalDb("e.db", 4000);
  UploadSnapshot("e", path);
  sqlite3* w = OpenRemote("e");
  Q(w, "PRAGMA litevfs_acquire_lease");
  const int pages_before = std::stoi(Q1(w, "PRAGMA page_count"));
  Q(w, "DELETE FROM t WHERE id % 10 != 0");
  Q(w, "VACUUM");
  const int pages_after = std::stoi(Q1(w, "PRAGMA page_count"));
  EXPECT_LT(pages_after, pages_before / 3);
  EXPECT_EQ(Q(w, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_EQ(Q1(w, "SELECT count(*) FROM t"), "400");
  ExpectRemoteMatches(w, "e", "SELECT id, k, v, pad FROM t ORDER BY id");
  // A fresh process view (new Database, cold cache) agrees.
  sqlite3* r = OpenRemote("e");
  EXPECT_EQ(Q1(r, "PRAGMA page_count"), std::to_string(pages_after));
}

TEST_F(VfsWriteTest, AutoVacuumFullAndIncremental) {
  for (const char* mode : {"FULL", "INCREMENTAL"}) {
    SCOPED_TRACE(mode);
    const std::string name = std::string("av") + mode;
    sqlite3* w = OpenRemote(name);
    Q(w, "PRAGMA litevfs_acquire_lease");
    Q(w, std::string("PRAGMA auto_vacuum = ") + mode);
    Q(w, "CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB)");
    Q(w, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 600) "
         "INSERT INTO big SELECT i, randomblob(900) FROM c");
    const int full = std::stoi(Q1(w, "PRAGMA page_count"));
    Q(w, "DELETE FROM big WHERE id > 60");
    if (std::string(mode) == "INCREMENTAL") {
      EXPECT_EQ(std::stoi(Q1(w, "PRAGMA page_count")), full);
      EXPECT_GT(std::stoi(Q1(w, "PRAGMA freelist_count")), 0);
      Q(w, "PRAGMA incremental_vacuum");
    }
    const int shrunk = std::stoi(Q1(w, "PRAGMA page_count"));
    EXPECT_LT(shrunk, full / 4);
    EXPECT_EQ(Q(w, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
    ExpectRemoteMatches(w, name, "SELECT id, hex(b) FROM big ORDER BY id");
  }
}

TEST_F(VfsWriteTest, EveryRollbackJournalMode) {
  std::string path = MakeLocalDb("f.db", 300);
  UploadSnapshot("f", path);
  sqlite3* w = OpenRemote("f");
  sqlite3* r = OpenRemote("f");
  Q(w, "PRAGMA litevfs_acquire_lease");
  int n = 0;
  for (const char* mode : {"DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF"}) {
    for (const char* sync : {"FULL", "OFF"}) {
      SCOPED_TRACE(std::string(mode) + " synchronous=" + sync);
      std::string m = mode;
      for (auto& c : m) c = char(std::tolower(c));
      EXPECT_EQ(Q1(w, std::string("PRAGMA journal_mode = ") + mode), m);
      Q(w, std::string("PRAGMA synchronous = ") + sync);
      ltx::Pos before = RemotePos("f");
      Q(w, "INSERT INTO t(id, k, v, pad) VALUES (" + std::to_string(200000 + n) + ", 'j', 1, 'p')");
      n++;
      EXPECT_EQ(RemotePos("f").txid, before.txid + 1);
      EXPECT_EQ(Q1(r, "SELECT count(*) FROM t WHERE id >= 200000"), std::to_string(n));
      // Explicit rollback, with a big transaction that spills SQLite's page cache
      // (undefined behaviour in SQLite itself with journal_mode=OFF, so not tried there).
      if (m == "off") continue;
      Q(w, "PRAGMA cache_size = 10");
      Q(w, "BEGIN; UPDATE t SET pad = printf('%0500d', id); ROLLBACK;");
      Q(w, "PRAGMA cache_size = -2000");
      EXPECT_EQ(RemotePos("f").txid, before.txid + 1);  // nothing uploaded by a rollback
      EXPECT_EQ(Q1(w, "SELECT max(length(pad)) FROM t"), "100");
    }
  }
  EXPECT_EQ(Q(w, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  ExpectRemoteMatches(w, "f", "SELECT id, k, v, pad FROM t ORDER BY id");
}

TEST_F(VfsWriteTest, JournalModeWalIsRefused) {
  std::string path = MakeLocalDb("g.db", 10);
  UploadSnapshot("g", path);
  sqlite3* w = OpenRemote("g");
  Q(w, "PRAGMA litevfs_acquire_lease");
  EXPECT_NE(Q1(w, "PRAGMA journal_mode = WAL"), "wal");
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (100000, 'a', 1, 'a')");
  EXPECT_EQ(Q1(w, "SELECT count(*) FROM t"), "11");
}

TEST_F(VfsWriteTest, NewDatabaseIsCreatedByItsFirstCommit) {
  sqlite3* w = OpenRemote("fresh", kLeaseMode);
  EXPECT_TRUE(RemotePos("fresh").IsZero());
  EXPECT_EQ(Exec(w, "CREATE TABLE x(a)") & 0xff, SQLITE_READONLY);  // no lease yet
  Q(w, "PRAGMA litevfs_acquire_lease");
  Q(w, "PRAGMA page_size = 1024");
  Q(w, "CREATE TABLE x(a INTEGER PRIMARY KEY, b TEXT)");
  EXPECT_EQ(RemotePos("fresh").txid, 1u);  // the first commit is a snapshot
  Q(w, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 2000) "
       "INSERT INTO x SELECT i, printf('row %d', i) FROM c");
  EXPECT_EQ(RemotePos("fresh").txid, 2u);
  ExpectRemoteMatches(w, "fresh", "SELECT a, b FROM x ORDER BY a");
  Close(w);
  // Reopen (a new Database: the last connection closed and released the lease).
  sqlite3* r = OpenRemote("fresh");
  EXPECT_EQ(Q1(r, "SELECT count(*), sum(a) FROM x"), "2000|2001000");
  EXPECT_EQ(Q1(r, "PRAGMA page_size"), "1024");
  // The lease was released at close, so a new holder can take it right away.
  EXPECT_EQ(Q1(r, "PRAGMA litevfs_acquire_lease").size(), 32u);
}

// SQLite spills pages of a transaction bigger than its page cache before it writes page 1,
// so a new database's first write may be any page (issue 16: "unexpected first write").
TEST_F(VfsWriteTest, NewDatabaseWhoseFirstTransactionSpillsTheCache) {
  sqlite3* w = OpenRemote("spilled");
  Q(w, "PRAGMA litevfs_acquire_lease");
  Q(w, "PRAGMA cache_size = 10");
  Q(w, "BEGIN");
  Q(w, "CREATE TABLE t(a INTEGER PRIMARY KEY, b BLOB)");
  Q(w, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 600) "
       "INSERT INTO t SELECT i, randomblob(3000) FROM c");
  Q(w, "COMMIT");
  EXPECT_EQ(RemotePos("spilled").txid, 1u);
  ExpectRemoteMatches(w, "spilled", "SELECT a, length(b) FROM t ORDER BY a");
  Close(w);
  sqlite3* r = OpenRemote("spilled");
  EXPECT_EQ(Q1(r, "SELECT count(*), sum(length(b)) FROM t"), "600|1800000");
  EXPECT_EQ(Q1(r, "PRAGMA integrity_check"), "ok");
  Close(r);
}

TEST_F(VfsWriteTest, WalModeDatabaseIsServedAsRollbackAndKeepsItsHeader) {
  std::string path = dir_ + "/wal.db";
  {
    sqlite3* l = OpenLocal(path);
    Q(l, "PRAGMA journal_mode = WAL; CREATE TABLE t(a); INSERT INTO t VALUES (1), (2);");
    Q(l, "PRAGMA wal_checkpoint(TRUNCATE)");
    Close(l);
  }
  std::string img = ReadFileBytes(path);
  ASSERT_EQ(img[18], 2);
  UploadSnapshot("wal", path);
  sqlite3* w = OpenRemote("wal");
  EXPECT_EQ(Q1(w, "PRAGMA journal_mode"), "delete");
  EXPECT_EQ(Q1(w, "SELECT sum(a) FROM t"), "3");
  Q(w, "PRAGMA litevfs_acquire_lease");
  Q(w, "INSERT INTO t VALUES (3)");
  std::string snap = ReadFileBytes(DownloadSnapshot("wal"));
  EXPECT_EQ(snap[18], 2);  // stored as WAL-mode again
  EXPECT_EQ(snap[19], 2);
  EXPECT_EQ(Q1(w, "SELECT sum(a) FROM t"), "6");
}

}  // namespace
}  // namespace vfstest
