// The local store's write leases: in memory (a restart frees them), one map under a mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>

#include "store_api.h"

namespace mockcloud {

class LocalLeases : public Leases {
 public:
  Result<LeaseGrant> Acquire(const std::string& key, int64_t duration_ms,
                             const std::string* refresh_id, const std::string& holder) override;
  Status Release(const std::string& key, const std::string& id) override;
  Result<int64_t> LeftMs(const std::string& key) override;
  Status Check(const std::string& key, const LeaseClaim& claim) override;
  Status Forget(const std::string& key) override;
  bool Waiting(const std::string& key) override;
  Result<LeaseGrant> AcquireWaiting(const std::string& key, int64_t duration_ms, int64_t wait_ms,
                                    const std::string& holder) override;
  Result<bool> ReleaseIfWaiting(const std::string& key, const std::string& id) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string id;
    Clock::time_point expires;
    Clock::time_point waited{};  // the latest acquire refused because this lease was held
    std::string holder;          // the acquiring client's token (empty: none given)
  };
  // A new lease for key (none held). mu_ held.
  Result<LeaseGrant> GrantLocked(const std::string& key, int64_t duration_ms, const std::string& holder);
  // The live lease on key when `holder` (non-empty) took it, extended by duration_ms; else
  // null. mu_ held.
  Entry* HeldByLocked(const std::string& key, const std::string& holder, int64_t duration_ms);
  bool WaitingLocked(const std::string& key);
  std::mutex mu_;  // guards leases_, queues_, next_ticket_
  std::condition_variable cv_;  // a lease was released or granted (waiters re-check)
  std::map<std::string, Entry> leases_;
  std::map<std::string, std::set<uint64_t>> queues_;  // waiting acquires per key, in arrival order
  uint64_t next_ticket_ = 0;
};

// The rule both stores apply to a write: with an id, it must be the current (unexpired)
// lease's; without, no lease may be held. `current_id` empty = none held.
Status CheckLeaseClaim(const LeaseClaim& claim, const std::string& current_id);
Status LeaseRefused(const std::string& why);
// issue 17: an Lfsc-Lease-Client token: empty (none) or up to kMaxLeaseHolderLen of [0-9A-Za-z_-].
Status ValidateLeaseHolder(const std::string& holder);

}  // namespace mockcloud
