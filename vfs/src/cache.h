// PageCache: the persistent, per-database local page cache (DESIGN.md §3 "Reads").
//
// On disk, in `dir` (one directory per cluster/database):
//   pages   a sparse file; page N lives at offset (N-1)*page_size
//   index   a fixed header (magic, page size, the synced position, epoch) followed by one
//           fixed-size entry per pgno: fetched_txid, valid_until_txid, epoch, crc64 of the page
//   lock    flock'd exclusively while open: a second process pointing at the same directory
//           gets kConflict from Open and uses a private directory instead (the VFS decides)
// A page is written before its index entry and both are checked on read (crc64 over the
// page), so a torn write is detected and the page dropped and refetched, never served.
// Invalidations are written before the new position is, so a crash never makes a stale
// page look current. Eviction is LRU (clock) down to max_pages and min_available_bytes of
// free disk; evicted pages are hole-punched.
//
// Versioning: each pgno holds one version. A version fetched at txid F is usable by a
// reader pinned at T iff F <= T <= valid_until (valid_until = infinity until a sync says
// the page changed). Pages fetched for a pin older than the cache's position are not
// inserted (they may already be stale).
//
// Thread-safe: one internal mutex (a page pinned before is pinned again, and every pin given
// back, without it: cache_pins.h). Warm reads copy from a read-only memory map of `pages`
// (cache_map.h; pread where it cannot map) and hash a page's bytes the first time this
// process reads them after they were written or mapped, not on every hit.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ltx/format.h"
#include "ltx/status.h"

namespace litevfs {

struct CacheOptions {
  std::string dir;                    // created if missing
  uint32_t page_size = 4096;          // a different stored page size resets the cache
  uint64_t max_pages = 0;             // 0 = unbounded
  uint64_t min_available_bytes = 0;   // keep at least this much free on the filesystem
};

struct CacheStats {
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> inserts{0};
  std::atomic<uint64_t> evictions{0};
  std::atomic<uint64_t> corrupt_dropped{0};
  // Puts not cached because free disk was below min_available_bytes (Put still returns OK).
  std::atomic<uint64_t> skipped{0};
  // Puts not cached because a pwrite failed (ENOSPC, EIO, ...; Put still returns OK).
  std::atomic<uint64_t> write_errors{0};
  // Times Open found an unreadable, unknown or mismatched index and emptied the cache.
  std::atomic<uint64_t> resets{0};
  // Hits served from the memory map of the pages file (the rest of the hits were preads).
  std::atomic<uint64_t> mapped_reads{0};
  // PutMany batches whose given sums were not taken: the first page's did not match it.
  std::atomic<uint64_t> sums_refused{0};
};

class PageCache {
 public:
  // kConflict if another process holds the directory's lock.
  static ltx::Result<std::unique_ptr<PageCache>> Open(const CacheOptions& opts);
  ~PageCache();
  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  // The position the cache's validity information is as of (zero for a new cache).
  ltx::Pos pos() const;
  uint32_t page_size() const { return page_size_; }  // inline: xFetch asks on every page

  // Copies page `pgno` into out (page_size bytes) if a version usable at pin_txid is
  // present and its checksum matches (checked on the first read through the map after the
  // page was written, loaded or remapped, and on every pread). Returns false on a miss (a corrupt entry is dropped
  // and counted, and is a miss; `out` is then zeroed). Errors: kInvalidArgument for pgno 0
  // or a wrong-sized buffer, kIOError only if pread itself fails.
  ltx::Result<bool> Get(uint32_t pgno, uint64_t pin_txid, std::span<uint8_t> out);
  // SQLite's xFetch (issue 19): a pointer to page `pgno` in the memory map when a version
  // usable at pin_txid is present and mapped (its hash checked as Get does), else nullptr
  // (the caller reads with Get). A non-null page is pinned until Unpin(pgno): its bytes are
  // not rewritten (Put skips it), evicted, hole-punched or truncated (Clear keeps the pages
  // file while anything is pinned), and the map does not move or shrink under it.
  // `*first` (optional): this Pin was the first read of this version of the page in this
  // process (it checked the hash), so the caller may learn from its bytes once. nullptr
  // after Retire(). A current page pinned before is pinned again without the lock (one
  // atomic add: cache_pins.h). Pins are not counted in stats (the hit path stays one add).
  const uint8_t* Pin(uint32_t pgno, uint64_t pin_txid, bool* first = nullptr);
  // Once per non-null Pin, with its result; takes no lock (one atomic decrement, cache_pins.h),
  // so xUnfetch costs what the unix VFS's does. False (nothing done): `page` is not this
  // cache's page pgno, or it is not pinned.
  bool Unpin(uint32_t pgno, const uint8_t* page);
  uint64_t pinned_count() const;  // Pins not yet Unpinned (O(pages ever pinned))
  // The owner stops keeping this cache current (a failed update): Pin answers nullptr from
  // now on, so a reader holding a pointer to this cache never gets a page that may be stale
  // for its pin. Pins taken before stay valid until Unpinned.
  void Retire();
  // The app accepts `bytes` of mapped pages in its RSS (SQLite's mmap_size): reads through
  // the map may cover that much (at least 32 MiB, cache_map.h). Only ever raised.
  void RaiseMapBudget(uint64_t bytes);
  // Whether a usable version is present (no I/O, no checksum).
  bool Contains(uint32_t pgno, uint64_t pin_txid) const;
  // Inserts a page fetched as of fetched_txid. A no-op when fetched_txid < pos().txid.
  // Replaces any older version. May evict. Never fails a read: low disk (stats.skipped) or
  // a failed write (stats.write_errors) leaves the page uncached and returns OK; only
  // caller bugs (pgno 0, wrong size) are errors. `wanted_soon`: a prefetched page a reader is
  // about to read starts referenced (a second chance), so the clock does not evict it for
  // pages already read; other new pages start unreferenced (scan resistance). `sum`: the
  // page's PageHash when the caller has it (the server's, page_frames.h), kept as the entry's
  // checksum instead of hashing `data`; the first read of the entry checks the bytes against it.
  ltx::Status Put(uint32_t pgno, uint64_t fetched_txid, std::span<const uint8_t> data,
                  bool wanted_soon = false, std::optional<uint64_t> sum = std::nullopt);
  // Put of a batch (ascending pgnos, as a bulk fetch answers): the same outcome page by
  // page, with one pwritev per run of consecutive pages and one index write per run of
  // entries instead of two system calls per page. A bounded cache (max_pages) puts one by one.
  // `wanted_soon` as for Put, for every page of the batch. Given sums are taken once the
  // first page with one matches it; else the batch is hashed here (stats.sums_refused): a
  // source whose sums are wrong costs the hashing, not a failed first read of every page.
  struct PageRef {
    uint32_t pgno;
    std::span<const uint8_t> data;
    std::optional<uint64_t> sum = std::nullopt;  // as Put's `sum`
  };
  ltx::Status PutMany(uint64_t fetched_txid, std::span<const PageRef> pages, bool wanted_soon = false);
  // Records a sync from pos() to new_pos: the listed pages (or all, when `all`) changed
  // after pos().txid, so their current versions stay valid only up to pos().txid.
  // Pages at pgno > commit (shrink) are dropped for pins >= new_pos. Persists, in order,
  // the invalidations and then the position. `commit` is taken literally (0 = empty).
  // kInvalidArgument if new_pos is behind pos() (Clear() first after a restore), or has
  // pos()'s txid with another checksum. all=true is O(1) on disk (an epoch bump). From
  // pos() zero (a new or cleared cache) every present page counts as changed.
  // `defer_durability` (a writer's own commit, on its latency path): when persisting the
  // position would need an index fdatasync now, skip it and the header write; the stored
  // position then stays behind the in-memory one (a crash re-syncs from there and
  // over-invalidates, never serves a stale page) until PersistPosition(), Flush() or an
  // Advance without the flag.
  ltx::Status Advance(const ltx::Pos& new_pos, bool all, std::span<const uint32_t> changed,
                      uint32_t commit, bool defer_durability = false);
  // Makes a deferred position durable (index fdatasync, then the header). Cheap when the
  // stored position is current.
  ltx::Status PersistPosition();
  bool position_behind() const;  // a deferred position is not stored yet
  // Drops versions no pin >= oldest_pin_txid can use (frees disk).
  void Collect(uint64_t oldest_pin_txid);
  // Removes every page and resets the position (e.g. `litevfs verify` found corruption).
  ltx::Status Clear();
  ltx::Status Flush();  // fdatasync pages, then index, then a deferred position
  // Changes the bounds of an open cache (the pragmas), evicting down to max_pages now;
  // the same as reopening with new CacheOptions, without re-reading the index.
  void SetLimits(uint64_t max_pages, uint64_t min_available_bytes);

  uint64_t page_count() const;  // pages present (any version)
  // Memory of the in-process index (slots, pins, clock ring): issue 19 reports it per page.
  uint64_t index_memory_bytes() const;
  const CacheStats& stats() const;

 private:
  static bool SumsHold(std::span<const PageRef> pages);
  static std::vector<std::span<const size_t>> ConsecutiveRuns(std::span<const PageRef> pages,
                                                              const std::vector<size_t>& idx);
  struct Impl;
  explicit PageCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  const uint32_t page_size_;  // impl_->opts.page_size, constant
};

}  // namespace litevfs
