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
                             const std::string* refresh_id) override;
  Status Release(const std::string& key, const std::string& id) override;
  Result<int64_t> LeftMs(const std::string& key) override;
  Status Check(const std::string& key, const LeaseClaim& claim) override;
  Status Forget(const std::string& key) override;
  bool Waiting(const std::string& key) override;
  Result<LeaseGrant> AcquireWaiting(const std::string& key, int64_t duration_ms, int64_t wait_ms) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string id;
    Clock::time_point expires;
    Clock::time_point waited{};  // the latest acquire refused because this lease was held
  };
  // A new lease for key (none held). mu_ held.
  Result<LeaseGrant> GrantLocked(const std::string& key, int64_t duration_ms);
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

}  // namespace mockcloud
