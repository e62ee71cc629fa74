// Reused storage for the client's page-batch answers (issue 19, rows 3 and 15c). A 4 MiB
// answer in a fresh allocation costs a page fault per 4 KiB of it, and answers freed on
// other threads than the one that allocated them stay in that thread's malloc arena: a scan
// grew the process by twice what it held. Answers now go into buffers taken from here, and
// a PageBlock hands its buffer back when it is destroyed. Six are kept: a scan has two
// read-aheads in flight and two answers in RecentPages, and with fewer kept (2 or 4 were
// tried) freed buffers went back to the arenas and the peak grew. Memory kept while idle: at most
// kKept buffers of kMinKeptBytes..kMaxKeptBytes capacity each; others are simply freed.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace litevfs {

class BufferPool {
 public:
  static constexpr size_t kKept = 6;
  static constexpr size_t kMinKeptBytes = 256u << 10;  // smaller answers: plain allocations
  // A scan's largest answer: a 4 MiB read-ahead window (readahead.cc) and its frame headers.
  static constexpr size_t kMaxKeptBytes = (4u << 20) + (64u << 10);

  // An empty string with at least `bytes` of capacity when a kept buffer has it (else
  // empty, to be grown by whoever fills it).
  std::string Take(size_t bytes) {
    std::lock_guard<std::mutex> l(state_->mu);
    auto& free = state_->free;
    for (size_t i = 0; i < free.size(); i++) {
      if (free[i].capacity() < bytes) continue;
      std::string s = std::move(free[i]);
      free.erase(free.begin() + std::ptrdiff_t(i));
      s.clear();
      return s;
    }
    return {};
  }

  // Owns `s`; its storage returns to the pool when the last owner lets go (the pool's state
  // outlives the pool itself if need be).
  std::shared_ptr<const std::string> Own(std::string&& s) {
    std::shared_ptr<State> state = state_;
    return std::shared_ptr<const std::string>(new std::string(std::move(s)), [state](const std::string* p) {
      std::unique_ptr<std::string> owned(const_cast<std::string*>(p));
      const size_t cap = owned->capacity();
      if (cap < kMinKeptBytes || cap > kMaxKeptBytes) return;
      std::lock_guard<std::mutex> l(state->mu);
      if (state->free.size() < kKept) state->free.push_back(std::move(*owned));
    });
  }

  void Clear() {
    std::vector<std::string> dropped;
    {
      std::lock_guard<std::mutex> l(state_->mu);
      dropped.swap(state_->free);
    }
  }

  size_t kept() const {
    std::lock_guard<std::mutex> l(state_->mu);
    return state_->free.size();
  }

 private:
  struct State {
    std::mutex mu;                  // guards free
    std::vector<std::string> free;  // at most kKept
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace litevfs
