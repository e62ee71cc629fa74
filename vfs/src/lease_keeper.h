// The lease keeper: holds one database's write lease and refreshes it at a third of its
// duration on its own thread, for as long as it is held. Its own mutex; it never takes the
// Database's (lock order: Database::mu_ before LeaseKeeper::mu_). Times come from the
// injectable Clock, so lease tests move time instead of sleeping.
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

class LeaseKeeper {
 public:
  // `client` makes the acquire and refresh requests. Release takes the client to use: at
  // close one whose requests are bounded by the connect timeout (a frozen service must not
  // hold the close for a whole request timeout: the lease expires on its own).
  LeaseKeeper(std::string db, std::shared_ptr<Client> client);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Takes (or keeps) the lease for `duration_ms` and starts refreshing it. Returns its id.
  Result<std::string> Acquire(long duration_ms) EXCLUDES(mu_);
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

 private:
  void RefreshLoop() EXCLUDES(mu_);
  bool ValidLocked() REQUIRES(mu_);

  const std::string db_;
  const std::shared_ptr<Client> client_;
  Mutex mu_;  // guards every field below
  CondVar cv_{&mu_};  // wakes the refresh thread on stop
  std::string id_ GUARDED_BY(mu_);
  long duration_ms_ GUARDED_BY(mu_) = 0;
  Clock::time_point expires_ GUARDED_BY(mu_){};
  bool lost_ GUARDED_BY(mu_) = false;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // the refresh thread; started and joined by the caller of Acquire/Stop
};

}  // namespace litevfs
