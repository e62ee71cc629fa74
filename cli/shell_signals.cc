#include "shell_signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>

namespace cli {
namespace {

// Written only by the signal handler (and the Clear/Set calls of the main thread); lock-free
// atomics are async-signal-safe.
std::atomic<sqlite3*> g_target{nullptr};
std::atomic<int> g_interrupts{0};
std::atomic<int> g_stop_signal{0};
std::atomic<bool> g_sigint_stops{false};
int g_pipe[2] = {-1, -1};  // self-pipe: [0] polled by the main thread, [1] written by the handler
static_assert(std::atomic<sqlite3*>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

extern "C" void OnShellSignal(int sig) {
  const int saved_errno = errno;
  if (sig == SIGINT && !g_sigint_stops.load()) {
    g_interrupts.fetch_add(1);
  } else {
    g_stop_signal.store(sig);
  }
  if (sqlite3* db = g_target.load())
    sqlite3_interrupt(db);  // sets a flag (as the sqlite3 shell does)
  const char byte = 1;
  if (g_pipe[1] >= 0) {
    ssize_t ignored = write(g_pipe[1], &byte, 1);  // a full pipe already wakes the reader
    (void)ignored;
  }
  errno = saved_errno;
}

void DrainPipe() {
  char buf[64];
  while (g_pipe[0] >= 0 && read(g_pipe[0], buf, sizeof buf) > 0) {
  }
}

}  // namespace

void InstallShellSignals() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (pipe2(g_pipe, O_NONBLOCK | O_CLOEXEC) != 0) g_pipe[0] = g_pipe[1] = -1;
    struct sigaction sa {};
    sa.sa_handler = OnShellSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: reads and waits return EINTR
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
      struct sigaction old {};
      sigaction(sig, &sa, &old);
      // A signal ignored when we started (nohup, a background job) stays ignored.
      if (old.sa_handler == SIG_IGN) sigaction(sig, &old, nullptr);
    }
  });
}

void SetInterruptTarget(sqlite3* db) { g_target.store(db); }

bool InterruptSeen() { return g_interrupts.load() > 0; }

void ClearInterrupts() {
  g_interrupts.store(0);
  DrainPipe();
}

int StopSignal() { return g_stop_signal.load(); }

void SetSigintStops(bool stops) { g_sigint_stops.store(stops); }

bool WaitReadable(int fd) {
  for (;;) {
    if (StopSignal() != 0 || InterruptSeen()) return false;
    struct pollfd p[2] = {{fd, POLLIN, 0}, {g_pipe[0], POLLIN, 0}};
    const int n = poll(p, g_pipe[0] >= 0 ? 2 : 1, -1);
    if (n < 0 && errno != EINTR) return true;  // let the read report the error
    if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
      if (StopSignal() == 0 && !InterruptSeen()) return true;
    }
    DrainPipe();
  }
}

void DieOfSignal(int sig) {
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
  std::_Exit(128 + sig);  // not reached unless the signal is ignored by the parent's mask
}

}  // namespace cli
