#include "long_poll.h"

namespace mockcloud {

using Clock = std::chrono::steady_clock;

bool LongPollHub::Park(const std::shared_ptr<Database>& db, const Pos& pos,
                       Clock::time_point deadline, Fire fire) {
  std::vector<std::unique_ptr<Watch>> done;
  {
    std::lock_guard l(mu_);
    if (stopping_ || held_.load() >= max_polls_) return false;
    done.swap(finished_);
    auto& w = watches_[db.get()];
    const bool fresh = !w;
    if (fresh) {
      w = std::make_unique<Watch>();
      w->db = db;
    }
    w->polls.push_back({pos, deadline, std::move(fire)});
    held_++;
    w->poke = true;
    if (fresh) w->thread = std::thread([this, raw = w.get()] { Watcher(raw); });
  }
  db->WakeWaiters();
  for (auto& w : done) w->thread.join();
  return true;
}

std::vector<LongPollHub::Poll> LongPollHub::TakeDue(Watch* w, Clock::time_point* next) {
  std::vector<Poll> due;
  const Pos now_pos = w->db->pos();
  const auto now = Clock::now();
  *next = Clock::time_point::max();
  std::vector<Poll> keep;
  for (auto& p : w->polls) {
    if (stopping_ || !(p.pos == now_pos) || p.deadline <= now) {
      due.push_back(std::move(p));
    } else {
      keep.push_back(std::move(p));
      *next = std::min(*next, keep.back().deadline);
    }
  }
  w->polls.swap(keep);
  return due;
}

void LongPollHub::Watcher(Watch* w) {
  for (;;) {
    Clock::time_point next;
    std::vector<Poll> due;
    bool last = false;
    {
      std::lock_guard l(mu_);
      w->poke = false;
      due = TakeDue(w, &next);
      held_ -= due.size();
      if (w->polls.empty()) {  // retire: a later Park starts a new watcher
        auto it = watches_.find(w->db.get());
        finished_.push_back(std::move(it->second));
        watches_.erase(it);
        last = true;
      }
    }
    for (auto& p : due) p.fire();
    if (last) return;
    // Every poll still held is at the current position: sleep until it moves or a deadline.
    w->db->WaitForChange(w->db->pos(), next, w->poke);
  }
}

void LongPollHub::Stop() {
  std::vector<Watch*> live;
  {
    std::lock_guard l(mu_);
    if (stopping_ && watches_.empty() && finished_.empty()) return;
    stopping_ = true;
    for (auto& [db, w] : watches_) {
      w->poke = true;
      live.push_back(w.get());
    }
  }
  for (Watch* w : live) w->db->WakeWaiters();
  // Watchers fire everything and retire themselves; then join them all.
  for (;;) {
    std::vector<std::unique_ptr<Watch>> done;
    {
      std::lock_guard l(mu_);
      done.swap(finished_);
      if (done.empty() && watches_.empty()) return;
    }
    for (auto& w : done) w->thread.join();
    if (done.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace mockcloud
