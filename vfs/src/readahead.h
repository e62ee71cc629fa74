// Prefetch and read-ahead planning: which pages to ask for with a miss, and when a scan
// should fetch its next window in the background. It keeps the b-tree shape seen so far
// (interior page -> children; child -> parent): prefetch hints, which may be stale (that
// only wastes a prefetch). No I/O and no lock of its own: the Database holds it under its
// mutex and does the fetching.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pgno_map.h"

namespace litevfs {

// A scan's read-ahead grows to this many bytes of pages per request.
inline constexpr size_t kMaxReadAheadWindowBytes = 4u << 20;

// One read transaction's read-ahead. A miss prefetches `window` pages; when the reader has
// used at least half of what the previous miss prefetched (a scan), the window doubles, else
// it falls back to the configured base. Reset at each transaction start.
struct ReadAheadState {
  uint32_t window = 0;                  // 0: not yet set (the configured base)
  std::unordered_set<uint32_t> ahead;   // prefetched (or being read ahead), not read yet
  uint32_t ahead_total = 0;             // how many the latest batch prefetched
  uint32_t frontier = 0;                // the last page, in key order, prefetched so far
  void Reset() { *this = ReadAheadState{}; }
};

// The sizes planning works with, from the pragmas and the page size.
struct PrefetchLimits {
  size_t base = 0;            // litevfs_max_prefetch_pages (0: no prefetch)
  size_t cap = 0;             // the largest window (4 MiB of pages, < the request limit)
  size_t cache_room = SIZE_MAX;  // pages the cache bound leaves for read-ahead (unbounded: max)
};
PrefetchLimits MakePrefetchLimits(int64_t max_prefetch_pages, uint32_t page_size, int64_t max_cached_pages);

class PrefetchPlanner {
 public:
  // Whether page p is worth asking for (within the db, not cached, not already coming).
  using Fetchable = std::function<bool(uint32_t)>;

  void Clear();
  // Records the b-tree shape seen in `page` (children of an interior page, or the schema's
  // roots on page 1). `refresh`: parse even if the page is known (a newly fetched version).
  void Record(uint32_t pgno, std::span<const uint8_t> page, uint32_t page_size, uint32_t commit, bool refresh);
  // Prefetch candidates for a miss on pgno: the pages after it at its depth in key order
  // (right siblings, then the next subtrees' pages as far as the shape is known), then its
  // left siblings, then its own children. *frontier: the last key-order pick.
  std::vector<uint32_t> Candidates(uint32_t pgno, size_t max, const Fetchable& ok, uint32_t* frontier) const;
  // The next scan window after `from` in key order: up to `max` fetchable pages.
  std::vector<uint32_t> Following(uint32_t from, size_t max, const Fetchable& ok, uint32_t* frontier) const;

  // The window for a miss (updates st.window).
  static size_t MissWindow(ReadAheadState& st, const PrefetchLimits& lim);
  // How many pages a background read-ahead should fetch now (0: none). `in_flight`: read-
  // aheads running for this database. Never more than the cache bound can hold beside what
  // is already ahead of the reader.
  static size_t ReadAheadSize(const ReadAheadState& st, const PrefetchLimits& lim, size_t in_flight);

 private:
  void AppendFollowing(uint32_t pgno, size_t max, std::vector<uint32_t>* order) const;

  std::unordered_map<uint32_t, std::vector<uint32_t>> children_;  // interior pgno -> children
  PgnoMap<uint32_t> parent_;                                      // child -> interior pgno (0: none)
  size_t hints_ = 0;                                              // entries in children_
};

}  // namespace litevfs
