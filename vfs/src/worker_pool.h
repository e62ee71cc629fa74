// The VFS's one pool of background workers (process-wide, kWorkers threads, started on first
// use and never stopped: the module is loaded for the life of the process). It runs the
// speculative and pipelined page fetches: a scan's read-ahead and the bulk fetches of
// PRAGMA litevfs_cache_db and of a commit's old pages. Tasks hold what they use alive
// (shared_ptrs); none waits on another task, so the pool cannot deadlock itself.
#pragma once

#include <functional>
#include <future>
#include <memory>

namespace litevfs {

inline constexpr int kWorkers = 4;

// Queues `task`. Never blocks on the task; runs it on the caller's thread only when no
// worker thread could be started.
void RunInBackground(std::function<void()> task);

// Queues `fn` and returns its result's future.
template <typename Fn>
auto RunForResult(Fn fn) -> std::future<decltype(fn())> {
  auto task = std::make_shared<std::packaged_task<decltype(fn())()>>(std::move(fn));
  auto fut = task->get_future();
  RunInBackground([task] { (*task)(); });
  return fut;
}

}  // namespace litevfs
