// The lease keeper against a real mockcloud (in-process): an explicit acquire
// (PRAGMA litevfs_acquire_lease) and write mode auto's lease on the same database. An
// explicit acquire pins a lease auto mode took, and never reports a lease that a commit in
// flight may be handing to another client: it waits for that commit's answer first.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "lease_keeper.h"
#include "manual_clock.h"
#include "mockcloud_test_util.h"

namespace litevfs {
namespace {

using ltx::Code;
using namespace std::chrono_literals;

constexpr long kDurationMs = 30000;
constexpr long kIdleMs = 50;

class LeaseKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override { h_.Start(); }

  std::shared_ptr<Client> NewClient() {
    ClientConfig c;
    c.host = "127.0.0.1:" + std::to_string(h_.server->port());
    c.token = "secret";
    c.max_retries = 0;
    c.request_timeout_ms = 10000;
    auto r = Client::Create(c);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::shared_ptr<Client>(std::move(r).value());
  }

  // A lease write mode auto took for a write transaction still running (EndWrite: over).
  std::string BeginAutoWrite(LeaseKeeper* k) {
    Pos granted;
    auto w = k->BeginWrite(kDurationMs, 0, &granted);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ(w.ok() ? *w : WriteLease::kBusy, WriteLease::kTaken);
    return k->id();
  }

  mctest::Harness h_;
};

// Runs Acquire on its own thread; done() tells whether it has returned.
class AcquireThread {
 public:
  explicit AcquireThread(LeaseKeeper* k)
      : thread_([this, k] {
          result_ = k->Acquire(kDurationMs, &taken_);
          done_ = true;
        }) {}
  ~AcquireThread() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_; }
  Result<std::string> Join() {
    thread_.join();
    return result_;
  }
  bool taken() const { return taken_; }

 private:
  Result<std::string> result_ = Status::Unavailable("Acquire has not returned");
  bool taken_ = false;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

TEST_F(LeaseKeeperTest, ExplicitAcquirePinsTheAutoLease) {
  vfstest::ScopedManualClock clock;
  LeaseKeeper k("db", NewClient());
  const std::string id = BeginAutoWrite(&k);
  ASSERT_FALSE(id.empty());
  k.EndWrite(/*waiters=*/false, kIdleMs);  // idle from now
  bool taken = true;
  auto r = k.Acquire(kDurationMs, &taken);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, id) << "the lease held is the one reported";
  EXPECT_FALSE(taken) << "no request: it was held";
  // Far past the idle period: a pinned lease is not released for idleness.
  clock.clock().Advance(std::chrono::milliseconds(kIdleMs * 10));
  std::this_thread::sleep_for(100ms);  // the refresh thread re-checks every 2 ms
  EXPECT_TRUE(k.Valid());
  EXPECT_EQ(k.id(), id);
  EXPECT_FALSE(k.BeginHandover()) << "a pinned lease is never handed over with a commit";
  auto other = NewClient()->AcquireLease("db", kDurationMs);
  EXPECT_EQ(other.status().code(), Code::kConflict) << "the service still has it held by us";
  k.Stop();
}

TEST_F(LeaseKeeperTest, ExplicitAcquireWaitsForACommitThatMayHandTheLeaseOver) {
  LeaseKeeper k("db", NewClient());
  const std::string id = BeginAutoWrite(&k);
  ASSERT_TRUE(k.BeginHandover());  // the commit of that write transaction starts
  AcquireThread acquire(&k);
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(acquire.done()) << "Acquire reported a lease the commit in flight may give away";
  k.EndHandover(id, /*released=*/false, /*unsure=*/false);  // nobody waited: kept
  k.EndWrite(/*waiters=*/false, kIdleMs);
  auto r = acquire.Join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, id);
  EXPECT_FALSE(acquire.taken());
  EXPECT_FALSE(k.BeginHandover()) << "pinned by the explicit acquire";
  k.Stop();
}

TEST_F(LeaseKeeperTest, ExplicitAcquireAfterTheCommitGaveTheLeaseAwayIsAConflict) {
  auto client = NewClient();
  LeaseKeeper k("db", client);
  const std::string id = BeginAutoWrite(&k);
  ASSERT_TRUE(k.BeginHandover());
  AcquireThread acquire(&k);
  // What the service does for a releasing commit when another client waits: the lease
  // goes, and the waiter takes it.
  ASSERT_TRUE(client->ReleaseLease("db", id).ok());
  auto waiter = NewClient();
  auto theirs = waiter->AcquireLease("db", kDurationMs);
  ASSERT_TRUE(theirs.ok()) << theirs.status().ToString();
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(acquire.done());
  k.EndHandover(id, /*released=*/true, /*unsure=*/false);
  k.EndWrite(/*waiters=*/true, kIdleMs);
  auto r = acquire.Join();
  ASSERT_FALSE(r.ok()) << "Acquire reported lease " << *r << ", which the waiter holds";
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_TRUE(k.id().empty());
  EXPECT_EQ(k.commit_handoffs(), 1u);
  k.Stop();
}

}  // namespace
}  // namespace litevfs
