// The lease keeper: holds one database's write lease and refreshes it at a third of its
// duration on its own thread, for as long as it is held. Its own mutex; it never takes the
// Database's (lock order: Database::mu_ before LeaseKeeper::mu_). Times come from the
// injectable Clock, so lease tests move time instead of sleeping.
//
// Write mode auto (issue 17): BeginWrite takes the lease for a write transaction (or finds
// it held); EndWrite hands it over at once when the service said another client waits
// (Client::TakeLeaseWaiters), else the refresh thread releases it once no write transaction
// used it for the idle period. A lease taken by PRAGMA litevfs_acquire_lease is never
// released for idleness.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "clock.h"
#include "litevfs/client.h"
#include "mutex.h"

namespace litevfs {

// What BeginWrite found.
enum class WriteLease {
  kKept,   // already held: no request made
  kTaken,  // acquired now (the caller syncs: the previous holder may have committed)
  kBusy,   // held by another client (ELEASE)
};

class LeaseKeeper {
 public:
  // `client` makes the acquire and refresh requests. Release takes the client to use: at
  // close one whose requests are bounded by the connect timeout (a frozen service must not
  // hold the close for a whole request timeout: the lease expires on its own).
  LeaseKeeper(std::string db, std::shared_ptr<Client> client);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Takes (or keeps) the lease for `duration_ms` and starts refreshing it; a lease write
  // mode auto took is pinned (never released for idleness or handed over from now on).
  // Waits for a commit that may hand the lease over (BeginHandover) to be settled first: a
  // lease the commit gave away is then taken afresh, and is a clean kConflict when the
  // waiter has it. Returns its id; *taken (if given): a request was made (the caller syncs).
  Result<std::string> Acquire(long duration_ms, bool* taken = nullptr) EXCLUDES(mu_);
  // Stops refreshing and releases the lease through `client`; returns the released id ("" when
  // none was held). The id is forgotten even when the release fails.
  Result<std::string> Release(Client& client) EXCLUDES(mu_);
  // Held, not lost, and not within the safety margin of its expiry.
  bool Valid() EXCLUDES(mu_);
  bool Lost() EXCLUDES(mu_);
  // Marks the lease lost (the service said ELEASE on an upload).
  void MarkLost() EXCLUDES(mu_);
  std::string id() EXCLUDES(mu_);
  // Stops the refresh thread (joins it).
  void Stop() EXCLUDES(mu_);

  // ---- write mode auto ----
  // The lease for one write transaction, marked in use until EndWrite. When another client
  // holds it, the service may keep the request up to wait_ms for it (Client::AcquireLeaseWaiting).
  // kTaken: *granted_at = the database's position at the grant (zero: not said).
  Result<WriteLease> BeginWrite(long duration_ms, long wait_ms, Pos* granted_at) EXCLUDES(mu_);
  // The write transaction ended. `waiters`: another client waits, so an auto-taken lease is
  // released now; otherwise once unused for `idle_ms`.
  void EndWrite(bool waiters, long idle_ms) EXCLUDES(mu_);
  // True when an auto-taken lease is held: a commit under it may then ask the service to
  // release it with the commit when another client waits (Client::ReleaseOnCommit), and
  // must call EndHandover once its answer is settled. Until then Acquire waits.
  bool BeginHandover() EXCLUDES(mu_);
  // The commit BeginHandover allowed is settled. `released`: the service released lease `id`
  // with it (a waiter has it now): forgotten, no request. `unsure`: the answer that would
  // say was lost: forgotten and released (a refused release is only logged; the next
  // acquire, with this client's token, gets it back at once if it was held).
  void EndHandover(const std::string& id, bool released, bool unsure) EXCLUDES(mu_);
  // Counters for litevfs_stats: leases taken by BeginWrite, and released when idle / at a
  // waiter (handoffs: by this client's release or with a commit; commit_handoffs: the latter).
  uint64_t auto_acquired() const { return auto_acquired_.load(); }
  uint64_t idle_releases() const { return idle_releases_.load(); }
  uint64_t handoffs() const { return handoffs_.load(); }
  uint64_t commit_handoffs() const { return commit_handoffs_.load(); }

 private:
  void RefreshLoop() EXCLUDES(mu_);
  bool ValidLocked() REQUIRES(mu_);
  // An auto-taken lease no write transaction has used since its idle deadline.
  bool IdleLocked(Clock::time_point now) REQUIRES(mu_);
  // Forgets the id and releases it through client_ (mu_ dropped for the request).
  void ReleaseNowLocked(const char* why) REQUIRES(mu_);
  void StartRefreshLocked(const std::string& id, long duration_ms) REQUIRES(mu_);

  const std::string db_;
  const std::shared_ptr<Client> client_;
  Mutex mu_;  // guards every field below
  CondVar cv_{&mu_};  // wakes the refresh thread on stop, and Acquire when a handover ends
  std::string id_ GUARDED_BY(mu_);
  long duration_ms_ GUARDED_BY(mu_) = 0;
  Clock::time_point expires_ GUARDED_BY(mu_){};
  bool lost_ GUARDED_BY(mu_) = false;
  bool stop_ GUARDED_BY(mu_) = false;
  bool auto_ GUARDED_BY(mu_) = false;    // taken by BeginWrite (an explicit Acquire pins it)
  bool in_use_ GUARDED_BY(mu_) = false;  // a write transaction runs under it
  Clock::time_point idle_at_ GUARDED_BY(mu_){};  // auto_ && !in_use_: released from then
  bool idle_watched_ GUARDED_BY(mu_) = false;  // the refresh thread's wait ends by idle_at_
  bool handover_ GUARDED_BY(mu_) = false;  // a commit that may hand the lease over is in flight
  std::atomic<uint64_t> auto_acquired_{0};
  std::atomic<uint64_t> idle_releases_{0};
  std::atomic<uint64_t> handoffs_{0};
  std::atomic<uint64_t> commit_handoffs_{0};
  std::thread thread_;  // the refresh thread; started and joined by the caller of Acquire/Stop
};

}  // namespace litevfs
