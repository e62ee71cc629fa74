#include "interrupt.h"

#include <pthread.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace cli {
namespace {

constexpr int kStopSignal = SIGUSR1;  // sent by ~InterruptScope to end the waiting thread

struct Registry {
  std::mutex mu;  // guards next_id, fns
  int next_id = 0;
  std::map<int, std::function<void()>> fns;  // id order = registration order
};
Registry& Cleanups() {
  static Registry r;
  return r;
}

sigset_t WaitedSignals() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, kStopSignal}) sigaddset(&s, sig);
  return s;
}

void RunCleanupsAndDie(int sig) {
  std::vector<std::function<void()>> fns;
  {
    std::lock_guard l(Cleanups().mu);
    for (auto it = Cleanups().fns.rbegin(); it != Cleanups().fns.rend(); ++it)
      fns.push_back(it->second);
  }
  for (auto& fn : fns) fn();
  std::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  raise(sig);
  _exit(128 + sig);  // not reached: the default action of the three signals ends the process
}

}  // namespace

InterruptScope::InterruptScope() {
  const sigset_t waited = WaitedSignals();
  pthread_sigmask(SIG_BLOCK, &waited, &old_mask_);
  thread_ = std::thread([this] { Wait(); });
}

InterruptScope::~InterruptScope() {
  pthread_kill(thread_.native_handle(), kStopSignal);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void InterruptScope::Wait() {
  const sigset_t waited = WaitedSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&waited, &sig) != 0) continue;  // only EINVAL, impossible with this set
    if (sig == kStopSignal) return;
    RunCleanupsAndDie(sig);
  }
}

OnInterrupt::OnInterrupt(std::function<void()> fn) {
  std::lock_guard l(Cleanups().mu);
  id_ = Cleanups().next_id++;
  Cleanups().fns.emplace(id_, std::move(fn));
}

OnInterrupt::~OnInterrupt() {
  std::lock_guard l(Cleanups().mu);
  Cleanups().fns.erase(id_);
}

}  // namespace cli
