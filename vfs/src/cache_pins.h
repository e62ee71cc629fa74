// PinCounts: for each page of the page cache, how many times it is handed out in place
// (PageCache::Pin, SQLite's xFetch) and not yet given back, and whether it may be pinned
// without the cache's mutex (the fast mark). One 32-bit word per page (issue 19, row 1d).
//
// Why lock-free pins are safe: a page's count and its fast mark share one atomic word, so a
// fast pin (add one, then look at the mark in the value it replaced) and a writer withdrawing
// the mark (clear it, then look at the count in the value it replaced) are ordered by that
// word: either the pin saw the mark (and the writer then sees the count and leaves the page's
// bytes alone), or the writer cleared it first (and the pin gives its count back and takes
// the locked path). The cache sets the mark only under its mutex, for a page whose version is
// current, verified and mapped, and withdraws it (under the mutex) before it changes anything
// of the page: its bytes, its entry, its validity, its clock reference bit.
//
// Giving a pin back (Unpin, SQLite's xUnfetch) never locks: one compare-and-swap. A count that
// drops to zero only means SQLite is done with the page (the release orders SQLite's reads of
// the bytes before a writer that then sees zero rewrites them).
//
// Lock-free lookups: words live in chunks of kChunk pages, allocated under the owner's mutex on
// the first pin in them and published through a fixed table of atomic pointers sized once (the
// pages the map can hold). Chunks are kept until destruction: 4 bytes per page of any chunk
// ever pinned (16 KiB per 16 MiB of 4 KiB pages).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace litevfs {

class PinCounts {
 public:
  static constexpr uint32_t kChunk = 4096;

  PinCounts() = default;
  PinCounts(const PinCounts&) = delete;
  PinCounts& operator=(const PinCounts&) = delete;

  // Room for pgnos 1..max_pgno (those the cache's map can address). Called once, before any
  // other call and before the cache is shared between threads.
  void Init(uint64_t max_pgno) {
    chunks_ = max_pgno / kChunk + 1;
    table_ = std::make_unique<std::atomic<Chunk*>[]>(chunks_);
    for (size_t i = 0; i < chunks_; i++) table_[i].store(nullptr, std::memory_order_relaxed);
    max_pgno_ = max_pgno;
  }

  // --- any thread, no lock ------------------------------------------------------------------

  // A pin of pgno if it carries the fast mark (true); else nothing changes (false).
  bool TryFastPin(uint32_t pgno) {
    std::atomic<uint32_t>* a = Find(pgno);
    if (!a) return false;
    if (a->fetch_add(1, std::memory_order_acq_rel) & kFast) return true;
    a->fetch_sub(1, std::memory_order_release);  // no mark: the caller takes the lock
    return false;
  }
  // One pin of pgno given back. False (nothing changed): pgno is not pinned.
  bool Release(uint32_t pgno) {
    std::atomic<uint32_t>* a = Find(pgno);
    if (!a) return false;
    uint32_t n = a->load(std::memory_order_relaxed);
    do {
      if ((n & kCount) == 0) return false;
    } while (!a->compare_exchange_weak(n, n - 1, std::memory_order_release, std::memory_order_relaxed));
    return true;
  }
  // Pins not yet released, over every page (O(pages ever pinned): for Clear and tests).
  uint64_t Total() const {
    uint64_t sum = 0;
    ForEach([&](const std::atomic<uint32_t>& a) { sum += a.load(std::memory_order_acquire) & kCount; });
    return sum;
  }

  // --- the owner's mutex held -----------------------------------------------------------------

  // One more pin of pgno. False: pgno is beyond Init's max_pgno (the caller does not hand the
  // page out).
  bool Add(uint32_t pgno) {
    if (pgno == 0 || pgno > max_pgno_) return false;
    std::atomic<Chunk*>& slot = table_[pgno / kChunk];
    Chunk* c = slot.load(std::memory_order_relaxed);
    if (!c) {
      owned_.push_back(std::make_unique<Chunk>());  // zero words
      c = owned_.back().get();
      slot.store(c, std::memory_order_release);
    }
    c->n[pgno % kChunk].fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  // Lets pgno (pinned by the caller just now, so its chunk exists) be pinned without the lock.
  void MarkFast(uint32_t pgno) {
    if (std::atomic<uint32_t>* a = Find(pgno)) a->fetch_or(kFast, std::memory_order_release);
  }
  // Withdraws pgno's fast mark; whether it is pinned (then its bytes must stay as they are).
  bool Unmark(uint32_t pgno) {
    std::atomic<uint32_t>* a = Find(pgno);
    return a && (a->fetch_and(~kFast, std::memory_order_acq_rel) & kCount) != 0;
  }
  void UnmarkAll() {
    ForEach([](std::atomic<uint32_t>& a) { a.fetch_and(~kFast, std::memory_order_acq_rel); });
  }
  // Memory held (owner's mutex): the chunk table and the chunks.
  size_t allocated_bytes() const { return chunks_ * sizeof(Chunk*) + owned_.size() * sizeof(Chunk); }

 private:
  static constexpr uint32_t kFast = uint32_t{1} << 31;
  static constexpr uint32_t kCount = kFast - 1;
  struct Chunk {
    std::atomic<uint32_t> n[kChunk] = {};
  };
  std::atomic<uint32_t>* Find(uint32_t pgno) const {
    if (pgno == 0 || pgno > max_pgno_) return nullptr;
    Chunk* c = table_[pgno / kChunk].load(std::memory_order_acquire);
    return c ? &c->n[pgno % kChunk] : nullptr;
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < chunks_; i++) {
      Chunk* c = table_[i].load(std::memory_order_acquire);
      if (!c) continue;
      for (auto& a : c->n) fn(a);
    }
  }

  std::unique_ptr<std::atomic<Chunk*>[]> table_;  // chunk of pgno / kChunk, or nullptr
  std::vector<std::unique_ptr<Chunk>> owned_;     // the chunks (owner's mutex; never shrinks)
  size_t chunks_ = 0;
  uint64_t max_pgno_ = 0;
};

}  // namespace litevfs
