// Ctrl-C, SIGTERM and SIGHUP during a long command: undo what must not outlive the process
// (give a lease back, remove temporary files), then die of the signal as before.
//
// An InterruptScope blocks the three signals in the calling thread (and so in every thread it
// starts afterwards: create the scope first) and waits for them on a thread of its own. When
// one arrives, that thread runs the registered cleanups, newest first, then re-raises the
// signal with its default action. Cleanups run on that thread, while the command's threads
// may still be working: each must be safe to run concurrently with them (a new client to
// release a lease, unlink of a path).
#pragma once

#include <csignal>
#include <functional>
#include <thread>

namespace cli {

class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();  // stops waiting; a signal that arrives later takes its default action
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  void Wait();
  sigset_t old_mask_{};
  std::thread thread_;
};

// Registers `fn` to run if a signal ends the process inside an InterruptScope; the returned
// Cleanup unregisters it when destroyed (the normal way out does its own cleanup).
class OnInterrupt {
 public:
  explicit OnInterrupt(std::function<void()> fn);
  ~OnInterrupt();
  OnInterrupt(const OnInterrupt&) = delete;
  OnInterrupt& operator=(const OnInterrupt&) = delete;

 private:
  int id_;
};

}  // namespace cli
