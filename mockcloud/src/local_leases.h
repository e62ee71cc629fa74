// The local store's write leases: in memory (a restart frees them), one map under a mutex.
#pragma once

#include <chrono>
#include <map>
#include <mutex>

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

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string id;
    Clock::time_point expires;
    Clock::time_point waited{};  // the latest acquire refused because this lease was held
  };
  std::mutex mu_;  // guards leases_
  std::map<std::string, Entry> leases_;
};

// The rule both stores apply to a write: with an id, it must be the current (unexpired)
// lease's; without, no lease may be held. `current_id` empty = none held.
Status CheckLeaseClaim(const LeaseClaim& claim, const std::string& current_id);
Status LeaseRefused(const std::string& why);

}  // namespace mockcloud
