// The latest read-ahead answers, kept in memory as they came off the wire (issue 19, row 3).
// A scan reads each of their pages once, moments after it arrived: serving it from here
// saves the pread of the page that was just written to the cache file (a system call and a
// copy per page on the reader's thread). A block answers only a reader pinned at exactly
// the position it is as of (txid and checksum: a restore may reuse a txid), so it can never
// serve a stale page; a reader elsewhere, or a
// page of a dropped block, falls through to the cache. Not thread-safe: the owner's lock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <span>

#include "litevfs/client.h"

namespace litevfs {

class RecentPages {
 public:
  // Keeps blocks up to max_bytes of pages in all (the newest always, whatever its size).
  explicit RecentPages(size_t max_bytes) : max_bytes_(max_bytes) {}

  void Add(const Pos& pos, std::shared_ptr<const PageBlock> block) {
    if (max_bytes_ == 0 || !block || block->pages.empty()) return;
    const size_t bytes = block->pages.size() * size_t(block->page_size);
    blocks_.push_back({pos, std::move(block), bytes});
    bytes_ += bytes;
    while (blocks_.size() > 1 && bytes_ > max_bytes_) {
      bytes_ -= blocks_.front().bytes;
      blocks_.pop_front();
    }
  }

  // Copies page pgno as of pos into out (its size: the page size); false if not held.
  bool Copy(const Pos& pos, uint32_t pgno, std::span<uint8_t> out) const {
    for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
      if (it->pos != pos) continue;
      const auto& pages = it->block->pages;
      if (pgno < pages.front().first || pgno > pages.back().first) continue;
      auto at = std::lower_bound(pages.begin(), pages.end(), pgno,
                                 [](const PageView& v, uint32_t p) { return v.first < p; });
      if (at == pages.end() || at->first != pgno || at->second.size() != out.size()) continue;
      std::memcpy(out.data(), at->second.data(), out.size());
      return true;
    }
    return false;
  }

  bool empty() const { return blocks_.empty(); }

  void Clear() {
    blocks_.clear();
    bytes_ = 0;
  }

 private:
  struct Entry {
    Pos pos;
    std::shared_ptr<const PageBlock> block;
    size_t bytes;
  };
  const size_t max_bytes_;
  std::deque<Entry> blocks_;  // oldest first
  size_t bytes_ = 0;          // pages held, in bytes
};

}  // namespace litevfs
