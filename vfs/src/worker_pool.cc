#include "worker_pool.h"

#include <deque>
#include <system_error>
#include <thread>

#include "mutex.h"

namespace litevfs {
namespace {

class WorkerPool {
 public:
  // Returns false when no worker exists (none could be started): run the task inline.
  bool Submit(std::function<void()>& task) EXCLUDES(mu_) {
    MutexLock lk(&mu_);
    StartWorkersLocked();
    if (started_ == 0) return false;
    queue_.push_back(std::move(task));
    cv_.NotifyAll();
    return true;
  }

 private:
  void StartWorkersLocked() REQUIRES(mu_) {
    for (; started_ < kWorkers; started_++) {
      try {
        std::thread([this] { Work(); }).detach();  // the pool lives as long as the process
      } catch (const std::system_error&) {
        return;  // fewer workers (perhaps none): tried again at the next submit
      }
    }
  }
  void Work() EXCLUDES(mu_) {
    for (;;) {
      std::function<void()> task;
      {
        MutexLock lk(&mu_);
        while (queue_.empty()) cv_.Wait();
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  Mutex mu_;  // guards queue_ and started_
  CondVar cv_{&mu_};  // signals a queued task
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  int started_ GUARDED_BY(mu_) = 0;
};

WorkerPool* Pool() {
  static WorkerPool* p = new WorkerPool();  // leaked: its threads never stop
  return p;
}

}  // namespace

void RunInBackground(std::function<void()> task) {
  if (!Pool()->Submit(task)) task();
}

}  // namespace litevfs
