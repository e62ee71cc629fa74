// A litevfs::Clock that tests move by hand: steady time stands still until Advance() (or a
// SleepFor, which advances it instead of sleeping). Waits on condition variables return
// after at most kSlice of real time so their callers re-check the (manual) deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <vector>

#include "clock.h"

namespace vfstest {

class ManualClock final : public litevfs::Clock {
 public:
  static constexpr auto kSlice = std::chrono::milliseconds(2);
  time_point Now() override { return time_point(duration(ticks_.load())); }
  int64_t WallMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch() + duration(ticks_.load() - start_))
        .count();
  }
  void WaitFor(litevfs::CondVar* cv, duration d) override NO_THREAD_SAFETY_ANALYSIS {
    cv->WaitFor(std::min<duration>(d, kSlice));
  }
  void SleepFor(duration d) override { Advance(d); }
  void Advance(duration d) { ticks_ += d.count(); }

 private:
  const duration::rep start_ = std::chrono::steady_clock::now().time_since_epoch().count();
  std::atomic<duration::rep> ticks_{start_};
};

// Installs a ManualClock for a scope (the real clock again at its end). The clock itself is
// never freed: a background thread of a closed database may still hold it for a moment.
class ScopedManualClock {
 public:
  ScopedManualClock() : clock_(new ManualClock()) {
    Kept().push_back(clock_);  // reachable, so LeakSanitizer does not report the keep-alive
    litevfs::SetClockForTesting(clock_);
  }
  ~ScopedManualClock() { litevfs::SetClockForTesting(nullptr); }
  ManualClock& clock() { return *clock_; }

 private:
  static std::vector<ManualClock*>& Kept() {
    static auto* v = new std::vector<ManualClock*>();
    return *v;
  }
  ManualClock* clock_;  // leaked on purpose (above)
};

}  // namespace vfstest
