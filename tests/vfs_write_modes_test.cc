// Write modes (issue 17): auto (the default: the lease is taken when SQLite takes RESERVED,
// kept while writes continue, released when idle or when another writer waits), lease (the
// explicit pragmas), optimistic (no lease; a commit on a moved database is refused) and off.
// A transaction that read a state older than the one it would commit on gets
// SQLITE_BUSY_SNAPSHOT, never a commit built on stale reads.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <optional>
#include <thread>

#include "manual_clock.h"
#include "vfs_test_util.h"

namespace vfstest {
namespace {

// A writer elsewhere: what a second process would do, through its own client.
class VfsWriteModesTest : public VfsTest {
 protected:
  void SetUp() override {
    unsetenv("LITEVFS_WRITE_MODE");
    VfsTest::SetUp();
  }
  void TearDown() override {
    unsetenv("LITEVFS_WRITE_MODE");
    VfsTest::TearDown();
  }
  // `name` on the service with 50 rows; its local image is `*path`.
  void Seed(const std::string& name, std::string* path = nullptr) {
    std::string p = MakeLocalDb(name + ".db", 50);
    UploadSnapshot(name, p);
    if (path) *path = p;
  }
  // Another client commits a change to `name` (from the service's current state).
  ltx::Pos OtherCommits(const std::string& name, const std::string& sql) {
    return RemoteWrite(name, DownloadSnapshot(name), sql, RemotePos(name));
  }
  bool LeaseHeld(const std::string& name) {
    auto st = client_->GetLeaseStatus(name);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    return st.ok() && st->held;
  }
  json Stats(sqlite3* db) { return json::parse(Q1(db, "PRAGMA litevfs_stats")); }
  // A writer of database "a" in an open write transaction under the auto lease, which only
  // a waiter frees (an idle release after 60 s).
  sqlite3* HolderMidTransaction() {
    Seed("a");
    sqlite3* w = OpenRemote("a");
    EXPECT_EQ(Q1(w, "PRAGMA litevfs_lease_idle = '60s'"), "60000");  // only a waiter frees it
    Q(w, "BEGIN");
    Q(w, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')");
    return w;
  }
  // Waits (bounded, on a condition, no fixed sleep) until `pred` holds.
  template <typename Pred>
  bool Eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::yield();
    }
    return pred();
  }
};

TEST_F(VfsWriteModesTest, AutoIsTheDefaultAndPlainSqlWrites) {
  Seed("a");
  const ltx::Pos before = RemotePos("a");
  sqlite3* w = OpenRemote("a");
  EXPECT_EQ(Q1(w, "PRAGMA litevfs_write_mode"), "auto");
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')");
  EXPECT_EQ(RemotePos("a").txid, before.txid + 1);
  json s = Stats(w);
  EXPECT_EQ(s["lease_auto_acquired"], 1);
  // The lease is kept while writes continue: the next commits take no new lease.
  for (int i = 0; i < 5; i++) Q(w, "INSERT INTO t(id, k, v, pad) VALUES (" + std::to_string(2000 + i) + ", 'x', 1, 'y')");
  EXPECT_EQ(Stats(w)["lease_auto_acquired"], 1);
  EXPECT_EQ(RemotePos("a").txid, before.txid + 6);
  EXPECT_EQ(Q1(OpenRemote("a"), "SELECT count(*) FROM t"), "56");
}

TEST_F(VfsWriteModesTest, ModeFromPragmaUriAndEnvironment) {
  Seed("a");
  sqlite3* db = OpenRemote("a", "&write_mode=optimistic");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_write_mode"), "optimistic");
  EXPECT_EQ(Q1(db, "PRAGMA litevfs_write_mode = 'LEASE'"), "lease");
  EXPECT_EQ(Exec(db, "PRAGMA litevfs_write_mode = sometimes"), SQLITE_ERROR);
  EXPECT_NE(VfsLastError().find("not a write mode (auto, lease, optimistic or off)"), std::string::npos) << VfsLastError();
  setenv("LITEVFS_WRITE_MODE", "off", 1);
  EXPECT_EQ(Q1(OpenRemote("a"), "PRAGMA litevfs_write_mode"), "off");
  EXPECT_EQ(Q1(OpenRemote("a", "&write_mode=auto"), "PRAGMA litevfs_write_mode"), "auto");  // URI over env
  setenv("LITEVFS_WRITE_MODE", "bogus", 1);
  sqlite3* bad = nullptr;
  EXPECT_EQ(OpenRemoteRc("a", &bad), SQLITE_CANTOPEN);
  EXPECT_NE(VfsLastError().find("LITEVFS_WRITE_MODE: 'bogus' is not a write mode"), std::string::npos) << VfsLastError();
  unsetenv("LITEVFS_WRITE_MODE");
  EXPECT_EQ(OpenRemoteRc("a", &bad, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, "&write_mode=x"), SQLITE_CANTOPEN);
  EXPECT_NE(VfsLastError().find("URI parameter write_mode: 'x'"), std::string::npos) << VfsLastError();
  // Not inside a write transaction.
  sqlite3* w = OpenRemote("a");
  Q(w, "BEGIN IMMEDIATE");
  EXPECT_EQ(Exec(w, "PRAGMA litevfs_write_mode = optimistic"), SQLITE_ERROR);
  Q(w, "ROLLBACK");
}

TEST_F(VfsWriteModesTest, OffIsReadOnly) {
  Seed("a");
  const ltx::Pos before = RemotePos("a");
  sqlite3* db = OpenRemote("a", "&write_mode=off");
  EXPECT_EQ(Exec(db, "DELETE FROM t") & 0xff, SQLITE_READONLY);
  EXPECT_NE(VfsLastError().find("write_mode=off"), std::string::npos) << VfsLastError();
  EXPECT_EQ(RemotePos("a"), before);
  EXPECT_FALSE(LeaseHeld("a"));
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "50");
}

TEST_F(VfsWriteModesTest, AutoLeaseHeldByAnotherIsBusyThenWrites) {
  Seed("a");
  auto other = client_->AcquireLease("a", 60000);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  sqlite3* w = OpenRemote("a");
  sqlite3_busy_timeout(w, 0);
  const ltx::Pos before = RemotePos("a");
  EXPECT_EQ(Exec(w, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')"), SQLITE_BUSY);
  EXPECT_EQ(RemotePos("a"), before);
  EXPECT_GE(Stats(w)["lease_busy"].get<int>(), 1);
  ASSERT_TRUE(client_->ReleaseLease("a", other->id).ok());
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')");
  EXPECT_EQ(RemotePos("a").txid, before.txid + 1);
}

TEST_F(VfsWriteModesTest, AutoStaleReadIsBusySnapshotAndTheRetryCommits) {
  Seed("a");
  sqlite3* w = OpenRemote("a");
  Q(w, "PRAGMA litevfs_lease_idle = '60s'");  // kept for the retry, however slow the machine
  Q(w, "BEGIN");
  EXPECT_EQ(Q1(w, "SELECT v FROM t WHERE id = 1"), "3");
  const ltx::Pos theirs = OtherCommits("a", "UPDATE t SET v = 100 WHERE id = 1");
  // Read-then-update on the old value would lose their update: refused instead.
  EXPECT_EQ(Exec(w, "UPDATE t SET v = 3 + 1 WHERE id = 1"), SQLITE_BUSY_SNAPSHOT) << VfsLastError();
  EXPECT_NE(VfsLastError().find("roll back and retry"), std::string::npos) << VfsLastError();
  Q(w, "ROLLBACK");
  EXPECT_EQ(RemotePos("a"), theirs);
  // The retry reads their state and commits on it (the lease was kept: no new acquire).
  Q(w, "BEGIN");
  EXPECT_EQ(Q1(w, "SELECT v FROM t WHERE id = 1"), "100");
  Q(w, "UPDATE t SET v = 101 WHERE id = 1");
  Q(w, "COMMIT");
  EXPECT_EQ(RemotePos("a").txid, theirs.txid + 1);
  EXPECT_EQ(Stats(w)["lease_auto_acquired"], 1);
  EXPECT_EQ(Stats(w)["stale_reads"], 1);
}

TEST_F(VfsWriteModesTest, BeginImmediateNeverSeesBusySnapshot) {
  Seed("a");
  sqlite3* w = OpenRemote("a");
  Q(w, "SELECT count(*) FROM t");  // warm: the pin is current now
  const ltx::Pos theirs = OtherCommits("a", "UPDATE t SET v = 100 WHERE id = 1");
  // Taken before reading: a stale pin at RESERVED is retried by SQLite from a fresh one.
  Q(w, "BEGIN IMMEDIATE");
  EXPECT_EQ(Q1(w, "SELECT v FROM t WHERE id = 1"), "100");
  Q(w, "UPDATE t SET v = v + 1 WHERE id = 1");
  Q(w, "COMMIT");
  EXPECT_EQ(RemotePos("a").txid, theirs.txid + 1);
  EXPECT_EQ(Q1(OpenRemote("a"), "SELECT v FROM t WHERE id = 1"), "101");
}

TEST_F(VfsWriteModesTest, AutoLeaseIsReleasedWhenIdle) {
  Seed("a");
  sqlite3* w = OpenRemote("a");
  EXPECT_EQ(Q1(w, "PRAGMA litevfs_lease_idle = 50"), "50");
  {
    ScopedManualClock clock;  // the idle deadline moves with this clock only
    Q(w, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')");
    EXPECT_TRUE(LeaseHeld("a"));
    clock.clock().Advance(std::chrono::milliseconds(10));
    EXPECT_TRUE(LeaseHeld("a"));  // not idle long enough
    clock.clock().Advance(std::chrono::milliseconds(60));
    EXPECT_TRUE(Eventually([&] { return !LeaseHeld("a"); }));
  }
  EXPECT_EQ(Stats(w)["lease_idle_releases"], 1);
  // An explicitly acquired lease is never released for idleness.
  Q(w, "PRAGMA litevfs_acquire_lease");
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (1001, 'x', 1, 'y')");
  EXPECT_TRUE(LeaseHeld("a"));
  EXPECT_EQ(Stats(w)["lease_idle_releases"], 1);
}

TEST_F(VfsWriteModesTest, ExplicitAcquirePinsTheLeaseAutoModeHolds) {
  Seed("a");
  sqlite3* w = OpenRemote("a");
  EXPECT_EQ(Q1(w, "PRAGMA litevfs_lease_idle = 50"), "50");
  ScopedManualClock clock;
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')");  // auto takes the lease
  ASSERT_TRUE(LeaseHeld("a"));
  Q(w, "PRAGMA litevfs_acquire_lease");  // held already: now pinned, not released when idle
  clock.clock().Advance(std::chrono::milliseconds(500));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the refresh thread re-checks
  EXPECT_TRUE(LeaseHeld("a"));
  EXPECT_EQ(Stats(w)["lease_idle_releases"], 0);
}

TEST_F(VfsWriteModesTest, WaitingWriterGetsTheLeaseAtTheHoldersNextCommit) {
  sqlite3* w = HolderMidTransaction();
  // Another writer asks while the transaction runs: refused, and recorded as a waiter.
  auto refused = client_->AcquireLease("a", 5000);
  ASSERT_FALSE(refused.ok());
  Q(w, "COMMIT");  // the commit's answer says someone waits: the lease is handed over
  EXPECT_EQ(Stats(w)["lease_handoffs"], 1);
  auto got = client_->AcquireLease("a", 5000);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
}

TEST_F(VfsWriteModesTest, ServerTellsAHolderOfWaitersOnRefresh) {
  Seed("a");
  auto mine = client_->AcquireLease("a", 5000);
  ASSERT_TRUE(mine.ok());
  ASSERT_TRUE(client_->AcquireLease("a", 5000, mine->id).ok());
  EXPECT_FALSE(client_->TakeLeaseWaiters());  // nobody waits yet
  litevfs::ClientConfig cfg;
  cfg.host = host_;
  cfg.token = "secret";
  auto other = litevfs::Client::CreateWithTransport(cfg, litevfs::MakeCurlTransport(host_, 2000, 10000));
  EXPECT_FALSE(other->AcquireLease("a", 5000).ok());
  ASSERT_TRUE(client_->AcquireLease("a", 5000, mine->id).ok());
  EXPECT_TRUE(client_->TakeLeaseWaiters());
  EXPECT_FALSE(client_->TakeLeaseWaiters());  // taken
}

TEST_F(VfsWriteModesTest, ServerQueuesWaitingAcquiresFirstComeFirstServed) {
  Seed("a");
  auto mine = client_->AcquireLease("a", 5000);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->pos, RemotePos("a"));  // a new lease says where the database is
  litevfs::ClientConfig cfg;
  cfg.host = host_;
  cfg.token = "secret";
  auto waiter = litevfs::Client::CreateWithTransport(cfg, litevfs::MakeCurlTransport(host_, 2000, 10000));
  auto late = litevfs::Client::CreateWithTransport(cfg, litevfs::MakeCurlTransport(host_, 2000, 10000));
  std::optional<ltx::Result<litevfs::Lease>> got;
  std::thread t([&] { got.emplace(waiter->AcquireLeaseWaiting("a", 5000, 2000)); });
  // Queued: the holder's refresh says someone waits; an acquire without waiting cannot overtake.
  EXPECT_TRUE(Eventually([&] {
    return client_->AcquireLease("a", 5000, mine->id).ok() && client_->TakeLeaseWaiters();
  }));
  EXPECT_FALSE(late->AcquireLease("a", 5000).ok());
  ASSERT_TRUE(client_->ReleaseLease("a", mine->id).ok());
  t.join();
  ASSERT_TRUE(got.has_value() && got->ok()) << (got ? got->status().ToString() : "no answer");
  EXPECT_TRUE(LeaseHeld("a"));
  EXPECT_FALSE(late->AcquireLease("a", 5000).ok());  // the waiter holds it now
  EXPECT_TRUE(waiter->ReleaseLease("a", (*got)->id).ok());
}

TEST_F(VfsWriteModesTest, CommitHandsTheLeaseToAQueuedWaiterInTheSameRequest) {
  sqlite3* w = HolderMidTransaction();
  const std::string held = Stats(w)["lease"];
  ASSERT_FALSE(held.empty());
  litevfs::ClientConfig cfg;
  cfg.host = host_;
  cfg.token = "secret";
  auto waiter = litevfs::Client::CreateWithTransport(cfg, litevfs::MakeCurlTransport(host_, 2000, 10000));
  std::optional<ltx::Result<litevfs::Lease>> got;
  std::thread t([&] { got.emplace(waiter->AcquireLeaseWaiting("a", 5000, 2000)); });
  EXPECT_TRUE(Eventually([&] { return client_->AcquireLease("a", 5000, held).ok() && client_->TakeLeaseWaiters(); }));
  // The commit's own request releases the lease (no DELETE /lease); the queued waiter has it.
  Q(w, "COMMIT");
  t.join();
  ASSERT_TRUE(got.has_value() && got->ok()) << (got ? got->status().ToString() : "no answer");
  EXPECT_NE((*got)->id, held);
  json s = Stats(w);
  EXPECT_EQ(s["lease_commit_handoffs"], 1);
  EXPECT_EQ(s["lease_handoffs"], 1);
  EXPECT_EQ(s["lease"], "");
  EXPECT_FALSE(client_->AcquireLease("a", 5000, held).ok());  // the old lease is gone
  // The next write waits for the new holder like any other writer.
  ASSERT_TRUE(waiter->ReleaseLease("a", (*got)->id).ok());
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (1001, 'x', 1, 'y')");
  EXPECT_EQ(Q1(OpenRemote("a"), "SELECT count(*) FROM t"), "52");
}

// Passes every request to the server; the answer to the next acquire (POST /lease without
// id) after LoseNext() is lost on the way back, as a dropped connection after the server acted.
class LoseAcquireAnswers : public litevfs::Transport {
 public:
  explicit LoseAcquireAnswers(std::unique_ptr<litevfs::Transport> inner) : inner_(std::move(inner)) {}
  void LoseNext() { lose_ = true; }
  ltx::Result<litevfs::HttpResponse> Do(const litevfs::HttpRequest& req) override {
    auto r = inner_->Do(req);
    const bool acquire = req.method == "POST" && req.path == "/lease" &&
                         std::none_of(req.query.begin(), req.query.end(), [](auto& q) { return q.first == "id"; });
    if (acquire && lose_.exchange(false)) {
      lost_++;
      return ltx::Status::Unavailable("test: the acquire's answer was lost");
    }
    return r;
  }
  int lost() const { return lost_; }

 private:
  std::unique_ptr<litevfs::Transport> inner_;
  std::atomic<bool> lose_{false};
  std::atomic<int> lost_{0};
};

TEST_F(VfsWriteModesTest, LostAcquireAnswerCostsOneRetryNotALeasePeriod) {
  Seed("a");
  litevfs::ClientConfig cfg;
  cfg.host = host_;
  cfg.token = "secret";
  cfg.max_retries = 0;  // the caller retries: the service must answer it with the lease it granted
  auto* lossy = new LoseAcquireAnswers(litevfs::MakeCurlTransport(host_, 2000, 10000));
  auto c = litevfs::Client::CreateWithTransport(cfg, std::unique_ptr<litevfs::Transport>(lossy));
  lossy->LoseNext();
  EXPECT_EQ(c->AcquireLease("a", 60000).status().code(), ltx::Code::kUnavailable);
  EXPECT_TRUE(LeaseHeld("a"));  // granted; the answer was lost
  auto again = c->AcquireLease("a", 60000);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(client_->AcquireLease("a", 5000).ok());  // another client is still refused
  // A waiting acquire too: answered at once, not after the wait.
  lossy->LoseNext();
  EXPECT_EQ(c->AcquireLeaseWaiting("a", 60000, 2000).status().code(), ltx::Code::kUnavailable);
  const auto t0 = std::chrono::steady_clock::now();
  auto waited = c->AcquireLeaseWaiting("a", 60000, 2000);
  ASSERT_TRUE(waited.ok()) << waited.status().ToString();
  EXPECT_EQ(waited->id, again->id);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(lossy->lost(), 2);
  ASSERT_TRUE(c->ReleaseLease("a", again->id).ok());
  // With the client's own retries, a lost answer is invisible to the caller.
  cfg.max_retries = 3;
  auto* lossy2 = new LoseAcquireAnswers(litevfs::MakeCurlTransport(host_, 2000, 10000));
  auto c2 = litevfs::Client::CreateWithTransport(cfg, std::unique_ptr<litevfs::Transport>(lossy2));
  lossy2->LoseNext();
  auto got = c2->AcquireLease("a", 60000);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(lossy2->lost(), 1);
  EXPECT_TRUE(c2->ReleaseLease("a", got->id).ok());
}

TEST_F(VfsWriteModesTest, OptimisticCommitsWithoutALease) {
  Seed("a");
  const ltx::Pos before = RemotePos("a");
  sqlite3* w = OpenRemote("a", "&write_mode=optimistic");
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')");
  EXPECT_EQ(RemotePos("a").txid, before.txid + 1);
  EXPECT_FALSE(LeaseHeld("a"));
  EXPECT_EQ(Stats(w)["lease_auto_acquired"], 0);
  // Uncontended, each further commit is one request: the upload (issue 17's target).
  for (int i = 0; i < 3; i++) {
    const auto before_reqs = Stats(w)["requests"].get<uint64_t>();
    Q(w, "INSERT INTO t(id, k, v, pad) VALUES (" + std::to_string(1001 + i) + ", 'x', 1, 'y')");
    EXPECT_EQ(Stats(w)["requests"].get<uint64_t>() - before_reqs, 1u) << "commit " << i;
  }
  EXPECT_EQ(RemotePos("a").txid, before.txid + 4);
}

TEST_F(VfsWriteModesTest, OptimisticConflictIsBusySnapshotAndRollsBack) {
  Seed("a");
  sqlite3* w = OpenRemote("a", "&write_mode=optimistic");
  Q(w, "BEGIN");
  EXPECT_EQ(Q1(w, "SELECT v FROM t WHERE id = 1"), "3");
  Q(w, "UPDATE t SET v = 4 WHERE id = 1");  // RESERVED taken on a current pin
  const ltx::Pos theirs = OtherCommits("a", "UPDATE t SET v = 100 WHERE id = 1");
  EXPECT_EQ(Exec(w, "COMMIT"), SQLITE_BUSY_SNAPSHOT) << VfsLastError();
  EXPECT_EQ(sqlite3_get_autocommit(w), 1);  // SQLite rolled the transaction back
  EXPECT_EQ(RemotePos("a"), theirs);
  EXPECT_EQ(Q1(w, "SELECT v FROM t WHERE id = 1"), "100");  // the retry reads their state
  Q(w, "UPDATE t SET v = v + 1 WHERE id = 1");
  EXPECT_EQ(RemotePos("a").txid, theirs.txid + 1);
  EXPECT_EQ(Q1(OpenRemote("a"), "SELECT v FROM t WHERE id = 1"), "101");
}

TEST_F(VfsWriteModesTest, OptimisticCommitNeverLandsUnderAnothersLease) {
  Seed("a");
  auto other = client_->AcquireLease("a", 60000);
  ASSERT_TRUE(other.ok());
  const ltx::Pos before = RemotePos("a");
  sqlite3* w = OpenRemote("a", "&write_mode=optimistic");
  EXPECT_EQ(Exec(w, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')"), SQLITE_BUSY_SNAPSHOT)
      << VfsLastError();
  EXPECT_EQ(RemotePos("a"), before);
  EXPECT_EQ(Q1(w, "SELECT count(*) FROM t"), "50");
  ASSERT_TRUE(client_->ReleaseLease("a", other->id).ok());
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')");
  EXPECT_EQ(RemotePos("a").txid, before.txid + 1);
}

TEST_F(VfsWriteModesTest, OptimisticWriterCarriesItsProcesssOwnLease) {
  Seed("a");
  sqlite3* a = OpenRemote("a");  // auto: keeps the lease after its commit
  EXPECT_EQ(Q1(a, "PRAGMA litevfs_lease_idle = '60s'"), "60000");
  Q(a, "INSERT INTO t(id, k, v, pad) VALUES (1000, 'x', 1, 'y')");
  sqlite3* o = OpenRemote("a", "&write_mode=optimistic");
  Q(o, "INSERT INTO t(id, k, v, pad) VALUES (1001, 'x', 1, 'y')");
  EXPECT_EQ(Q1(OpenRemote("a"), "SELECT count(*) FROM t"), "52");
}

}  // namespace
}  // namespace vfstest
