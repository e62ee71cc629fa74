// The VFS's sense of time, injectable: a steady clock for deadlines (sync period, lease
// expiry and refresh, settle backoff) and a way to wait. The real one by default; tests
// install a ManualClock (tests/vfs_test_util.h) to move time without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "mutex.h"

namespace litevfs {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual time_point Now() = 0;
  // Milliseconds since the Unix epoch (LTX header timestamps).
  virtual int64_t WallMs() = 0;
  // Blocks up to `d` on cv (which the caller's lock `mu` guards), or less when notified.
  // A manual clock returns when its time passes the deadline, whatever the real time.
  virtual void WaitFor(CondVar* cv, duration d) = 0;
  // Sleeps for `d` (no lock held).
  virtual void SleepFor(duration d) = 0;
};

// The process's clock (the real one unless a test installed another).
Clock& GetClock();
// Installs `c` as the process's clock (tests only); null restores the real one. The
// caller keeps `c` alive while the VFS may use it.
void SetClockForTesting(Clock* c);

}  // namespace litevfs
