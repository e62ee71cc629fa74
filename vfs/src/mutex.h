// An annotated mutex, its scoped lock and a condition variable over it (the shapes of
// leveldb's port::Mutex / MutexLock / CondVar), so clang's -Wthread-safety can check every
// GUARDED_BY field. std::mutex underneath.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "thread_annotations.h"

namespace litevfs {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Tells the analysis the caller holds it (for lambdas run under the lock).
  void AssertHeld() ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for a scope. Unlock()/Lock() let a scope drop it around a network call.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_->Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  void Unlock() RELEASE() {
    held_ = false;
    mu_->Unlock();
  }
  void Lock() ACQUIRE() {
    mu_->Lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
};

// A condition variable used with one Mutex, which the waiter must hold (not annotated: the
// analysis cannot tie this object to the Mutex it was built with).
class CondVar {
 public:
  explicit CondVar(Mutex* mu) : mu_(mu) {}
  // Waits until notified or `d` passed (spurious wake-ups possible: callers loop on state).
  template <class Rep, class Period>
  void WaitFor(std::chrono::duration<Rep, Period> d) {
    std::unique_lock<std::mutex> lk(mu_->mu_, std::adopt_lock);
    cv_.wait_for(lk, d);
    lk.release();
  }
  void Wait() {
    std::unique_lock<std::mutex> lk(mu_->mu_, std::adopt_lock);
    cv_.wait(lk);
    lk.release();
  }
  void NotifyAll() { cv_.notify_all(); }

 private:
  Mutex* const mu_;
  std::condition_variable cv_;
};

}  // namespace litevfs
