#include "clock.h"

#include <atomic>
#include <thread>

namespace litevfs {
namespace {

class RealClock final : public Clock {
 public:
  time_point Now() override { return std::chrono::steady_clock::now(); }
  int64_t WallMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void WaitFor(CondVar* cv, duration d) override NO_THREAD_SAFETY_ANALYSIS { cv->WaitFor(d); }
  void SleepFor(duration d) override { std::this_thread::sleep_for(d); }
};

RealClock* Real() {
  static RealClock* c = new RealClock();  // leaked: background threads may outlive statics
  return c;
}

std::atomic<Clock*> g_clock{nullptr};

}  // namespace

Clock& GetClock() {
  Clock* c = g_clock.load(std::memory_order_acquire);
  return c ? *c : *Real();
}

void SetClockForTesting(Clock* c) { g_clock.store(c, std::memory_order_release); }

}  // namespace litevfs
