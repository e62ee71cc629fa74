// Long polls (GET /db/sync?wait=) held without a thread each: a parked poll is a record
// {position, deadline, fire}, and one watcher thread per database that has parked polls
// sleeps on that database's change signal (Database::WaitForChange) until the position moves
// or the nearest deadline passes, then fires every poll that is due. fire() must be quick
// (it hands the request back to a worker: HttpFront::Resume).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store.h"

namespace mockcloud {

class LongPollHub {
 public:
  using Fire = std::function<void()>;
  explicit LongPollHub(size_t max_polls) : max_polls_(max_polls) {}
  ~LongPollHub() { Stop(); }
  LongPollHub(const LongPollHub&) = delete;
  LongPollHub& operator=(const LongPollHub&) = delete;

  // Holds a poll until db's position differs from pos or the deadline passes, then calls
  // fire once. False (fire not kept) when max_polls are held or the hub is stopping.
  bool Park(const std::shared_ptr<Database>& db, const Pos& pos,
            std::chrono::steady_clock::time_point deadline, Fire fire);
  // Fires every held poll and joins the watchers. Idempotent.
  void Stop();
  size_t held() const { return held_.load(); }

 private:
  struct Poll {
    Pos pos;
    std::chrono::steady_clock::time_point deadline;
    Fire fire;
  };
  struct Watch {
    std::shared_ptr<Database> db;
    std::vector<Poll> polls;      // guarded by mu_
    std::atomic<bool> poke{false};  // makes WaitForChange return: polls or stop changed
    std::thread thread;
  };
  void Watcher(Watch* w);
  // Removes and returns the polls of w that are due (all of them when stopping).
  std::vector<Poll> TakeDue(Watch* w, std::chrono::steady_clock::time_point* next);

  const size_t max_polls_;
  std::atomic<size_t> held_{0};
  std::mutex mu_;  // guards watches_, finished_, stopping_ and every Watch::polls
  std::map<Database*, std::unique_ptr<Watch>> watches_;
  std::vector<std::unique_ptr<Watch>> finished_;  // watchers that ran out of polls, to join
  bool stopping_ = false;
};

}  // namespace mockcloud
