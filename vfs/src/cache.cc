// PageCache implementation. The format is in cache_format.h, the contract in cache.h.
//
// Crash safety, and why the hot path needs no fsync:
//   * Every entry carries the checksum of its page (cachefmt::PageHash, which also binds the
//     pgno) and a checksum of itself. Whatever subset of page/entry writes survives a crash
//     (process kill or power loss, torn or reordered), an entry is only served if its own
//     checksum holds and the bytes at its offset hash to the checksum it names. Bytes that
//     hash right *are* the version the entry describes, so a Put (page pwrite, then entry
//     pwrite) and an eviction (entry cleared, then hole punched) need no ordering guarantee
//     beyond that: the worst case is a dropped page, never a wrong one.
//   * The one thing checksums cannot catch is a page whose bytes are intact but stale: an
//     entry that claims "valid until further notice" for a page a later position changed.
//     That claim is only judged against the header's position, and every change after that
//     position is re-reported by the next sync (Advance from the stored position), so what
//     must hold is: when a header naming position P is durable, every durable entry is at
//     least as invalidated as the in-memory state was when P was reached. Hence Advance
//     writes invalidations, fdatasyncs the index if any entry was written or cleared since
//     the last sync (a cleared entry whose clear is lost would otherwise come back valid),
//     and only then writes the header. A process crash alone would not need the fdatasync
//     (the kernel keeps write order for readers); power loss does. Cost: one index
//     fdatasync per sync that moves the position after cache writes, off the read path.
//   * Advance(all=true) writes no entries: it bumps the epoch in the header, and on load
//     entries of the previous epoch are capped at the position the bump left (older epochs
//     are dropped), so it needs no fdatasync either. The header is one 64-byte write with
//     its own checksum; a torn or unknown header empties the cache.
//   * When an invalidation or a clear cannot be written (EIO, ENOSPC, ...), the disk may
//     still call a page valid forever, so that Advance (or the next one) falls back to the
//     epoch bump: everything is capped, which is over-invalidation, never staleness.
//   * Entries written after the in-memory position moved but before the header did are
//     fetched at a txid >= the old stored position, so the re-reported changes cap them.
//
// Concurrency: one mutex (mu) guards all in-memory state and every write to the files, so
// the files match memory (but for failed writes, handled above). Get copies a page from the
// memory map (cache_map.h) under mu, so no write can interleave with the copy; a page whose
// bytes hashed right once through the map is marked verified until the slot is rewritten
// (torn writes are a crash's, and a new process verifies again). Where the map cannot
// serve (past its reservation, mmap failed), Get preads the page outside the mutex: it notes the entry's generation and checksum under the lock, preads, and
// verifies; a concurrent replace or eviction shows up as a checksum mismatch with a changed
// generation and is a plain miss (not a corruption). advance_mu serialises the writers of
// the position (Advance, Clear) so the fdatasync can run without holding mu. Pins (xFetch)
// are taken under mu and given back without it (cache_pins.h says why that is enough).
#include "cache.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <unordered_set>
#include <vector>

#include "cache_format.h"
#include "cache_map.h"
#include "cache_pins.h"
#include "pgno_map.h"
#include "ltx/checksum.h"
#include "ltx/fd_io.h"

namespace litevfs {

namespace fmt = cachefmt;

namespace {

constexpr const char* kPagesFile = "pages";
constexpr const char* kIndexFile = "index";
constexpr const char* kLockFile = "lock";
// Under min_available_bytes, a Put evicts at most this many pages to make room; a larger
// deficit means something else filled the disk and emptying the cache would not help.
constexpr uint64_t kMaxEvictForSpace = 256;
// Entries read per pread while loading the index.
constexpr size_t kLoadChunkEntries = 4096;

std::string ErrnoText(int err) { return std::strerror(err); }

ltx::Status IoError(const std::string& what, const std::string& path, int err) {
  return ltx::Status::IOError("cache: " + what + " " + path + ": " + ErrnoText(err));
}

using ltx::PreadFull;  // the shared whole-read and whole-write loops (ltx/fd_io.h)
using ltx::PwriteFull;
using ltx::PwritevFull;

// Empties a file, unless it is empty already. On ext4, truncating a file to zero marks it so
// that its close (with auto_da_alloc, the default) starts writeback of everything written
// since and waits for the submission: after a 1 GiB cold scan into a new cache, closing
// the pages file took 0.3 s (issue 19). A new cache's files are empty: nothing to truncate.
ltx::Status TruncateToZero(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return IoError("stat", path, errno);
  if (st.st_size == 0) return ltx::Status::OK();
  if (::ftruncate(fd, 0) != 0) return IoError("truncate", path, errno);
  return ltx::Status::OK();
}

uint64_t RandomEpoch() {
  std::random_device rd;
  const uint64_t hi = rd(), lo = rd();
  return (hi << 32) ^ lo;
}

}  // namespace

struct PageCache::Impl {
  // One cached page version, in memory. `gen` is unique per inserted version (never 0).
  struct Slot {
    uint64_t fetched = 0;
    uint64_t valid_until = 0;
    uint64_t checksum = 0;
    uint64_t gen = 0;
    uint32_t ring = 0;  // position in resident
    bool ref = false;   // clock reference bit
    // The page's bytes in the file hashed right once through the map (issue 19): later hits
    // skip the hash. Every (re)write of the slot resets it (a new gen comes with Slot{} or
    // an explicit false), and so does a map that found the file truncated.
    bool verified = false;
  };
  // A present page's slot, or nullptr.
  Slot* FindLocked(uint32_t pgno) {
    Slot* s = slots.Find(pgno);
    return s && s->gen != 0 ? s : nullptr;
  }

  CacheOptions opts;
  std::string pages_path, index_path, lock_path;
  int lock_fd = -1, pages_fd = -1, index_fd = -1;  // constant while open
  CacheStats stats;

  std::mutex advance_mu;  // serialises Advance and Clear (the writers of the position)
  mutable std::mutex mu;  // guards everything below, and all writes to pages/index
  ltx::Pos pos;
  uint64_t epoch = 0;
  uint64_t prev_epoch_valid_until = 0;
  SparsePgnoMap<Slot> slots;                 // gen == 0: not present
  PagesMap map;                              // read-only map of pages_fd (cache_map.h)
  // Pages handed out in place (Pin, SQLite's xFetch) and not yet Unpinned: their bytes in
  // the file stay as they are (no Put, eviction, hole punch or truncation touches them),
  // even when their slot is dropped meanwhile. Added under mu, released without it.
  // A page marked fast there is pinned without mu: its version is current (valid_until is
  // forever, fetched <= fast_floor), verified, mapped and clock-referenced; every change to
  // one of those withdraws the mark first (PinnedLocked, UnmarkAll).
  PinCounts pins;
  // The highest pos.txid so far, for Pin without mu: a pin at or after it may use a page
  // marked fast.
  std::atomic<uint64_t> fast_floor{0};
  bool retired = false;  // Retire(): Pin hands out nothing more
  std::vector<uint32_t> resident;            // clock ring of present pgnos
  size_t hand = 0;
  uint32_t max_pgno = 0;  // >= every present pgno (not lowered by drops; reset by Clear)
  uint64_t next_gen = 1;
  bool index_dirty = false;  // entry writes since the last index fdatasync
  bool position_behind = false;  // pos moved by a deferred Advance; the header is older
  // An entry could not be cleared, so the disk may still call a dropped page valid
  // forever; the next Advance caps everything through the epoch instead of trusting it.
  bool unclean_drop = false;
  bool punch_supported = true;
  // Absent pages a PutMany is writing without mu (issue 19: a reader's Get or Contains no
  // longer waits while a scan's 4 MiB batch is copied into the file). They stay absent
  // until that PutMany publishes them; every other put leaves them alone.
  std::unordered_set<uint32_t> claimed;

  ~Impl() {
    for (int fd : {pages_fd, index_fd, lock_fd}) {
      if (fd >= 0) ::close(fd);
    }
  }

  // How long a page fetched at `fetched` stays valid when put now. Without a position (a
  // new or just-cleared cache) no change list covers the txids after it, so only its own
  // pin may use it: a reader pinned before a Clear must not serve its version to a newer pin.
  uint64_t ValidUntilForPutLocked(uint64_t fetched) const {
    return pos.IsZero() ? fetched : fmt::kValidForever;
  }

  static bool Usable(const Slot& s, uint64_t pin) {
    return s.gen != 0 && s.fetched <= pin && pin <= s.valid_until;
  }

  // Whether the page is pinned (its bytes must stay). Every caller is about to change the
  // page (bytes, entry, validity or reference bit), so this also withdraws its fast mark.
  bool PinnedLocked(uint32_t pgno) { return pins.Unmark(pgno); }

  // fast_floor is never lowered (Clear after a restore starts lower): a pin that saw a mark
  // set at some position must find the floor at least there, so it never accepts a version
  // fetched after its own txid. After a restore the locked path serves until txids pass it.
  void SetPosLocked(const ltx::Pos& p) {
    pos = p;
    if (p.txid > fast_floor.load(std::memory_order_relaxed)) {
      fast_floor.store(p.txid, std::memory_order_release);
    }
  }

  // --- reads through the map (issue 19); mu held ------------------------------------------

  // The page's bytes in the map, or nullptr (not mappable: the caller preads). A file
  // found truncated under the map voids every verification made through it.
  const uint8_t* MappedLocked(uint32_t pgno) {
    PagesMap::Remap remap;
    const uint8_t* p = map.Find(fmt::PageOffset(pgno, opts.page_size), opts.page_size, &remap);
    if (remap == PagesMap::Remap::kShrunk) {
      pins.UnmarkAll();
      for (uint32_t pg : resident) slots.At(pg).verified = false;
    }
    return p;
  }

  // Copies a usable slot's page out of the map into `out`, hashing it the first time.
  // False: the bytes do not match the entry (corrupt or torn): the page is dropped and
  // counted, `out` zeroed. The copy needs no generation check: Put and eviction write the
  // file under mu, which the caller holds.
  bool CopyMappedLocked(uint32_t pgno, Slot& s, const uint8_t* src, std::span<uint8_t> out) {
    std::memcpy(out.data(), src, out.size());
    if (!s.verified && fmt::PageHash(pgno, out) != s.checksum) {
      DropCountingErrorsLocked(pgno);
      stats.corrupt_dropped++;
      std::memset(out.data(), 0, out.size());  // never hand out bytes that failed the check
      return false;
    }
    s.verified = true;
    stats.mapped_reads++;
    return true;
  }

  // --- file writes; mu held -------------------------------------------------------------

  // fdatasync of the index, mu not held (the caller cleared index_dirty under it); on
  // failure the index counts as dirty again.
  ltx::Status SyncIndex() {
    if (::fdatasync(index_fd) == 0) return ltx::Status::OK();
    const int err = errno;
    std::lock_guard lock(mu);
    index_dirty = true;
    return IoError("sync", index_path, err);
  }

  ltx::Status WriteHeaderLocked() {
    fmt::IndexHeader h;
    h.page_size = opts.page_size;
    h.pos_txid = pos.txid;
    h.pos_checksum = pos.post_apply_checksum;
    h.epoch = epoch;
    h.prev_epoch_valid_until = prev_epoch_valid_until;
    uint8_t buf[fmt::kIndexHeaderSize];
    h.EncodeTo(buf);
    if (int err = PwriteFull(index_fd, buf, sizeof(buf), 0)) {
      return IoError("write header of", index_path, err);
    }
    position_behind = false;
    return ltx::Status::OK();
  }

  ltx::Status WriteEntryLocked(uint32_t pgno, const Slot& s) {
    fmt::IndexEntry e;
    e.fetched_txid = s.fetched;
    e.valid_until = s.valid_until;
    e.epoch = epoch;
    e.page_checksum = s.checksum;
    uint8_t buf[fmt::kIndexEntrySize];
    e.EncodeTo(pgno, buf);
    index_dirty = true;
    if (int err = PwriteFull(index_fd, buf, sizeof(buf), fmt::EntryOffset(pgno))) {
      return IoError("write entry for page " + std::to_string(pgno) + " to", index_path, err);
    }
    return ltx::Status::OK();
  }

  ltx::Status ClearEntryLocked(uint32_t pgno) {
    uint8_t zero[fmt::kIndexEntrySize] = {};
    index_dirty = true;
    if (int err = PwriteFull(index_fd, zero, sizeof(zero), fmt::EntryOffset(pgno))) {
      unclean_drop = true;
      return IoError("clear entry for page " + std::to_string(pgno) + " in", index_path, err);
    }
    return ltx::Status::OK();
  }

  // Frees the page's disk blocks. Best effort: the entry is already cleared, so a page
  // that stays allocated only costs space.
  void PunchLocked(uint32_t pgno) {
    if (!punch_supported || PinnedLocked(pgno)) return;  // a pinned page's bytes stay
    if (::fallocate(pages_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(fmt::PageOffset(pgno, opts.page_size)),
                    static_cast<off_t>(opts.page_size)) != 0 &&
        (errno == EOPNOTSUPP || errno == ENOSYS)) {
      punch_supported = false;
    }
  }

  // --- in-memory bookkeeping; mu held ----------------------------------------------------

  // Adds a page to the ring: at ring position `at` (a slot EvictOneLocked kept), or at the
  // end when at == SIZE_MAX.
  Slot& InsertLocked(uint32_t pgno, size_t at = SIZE_MAX) {
    Slot& s = slots.At(pgno);
    assert(s.gen == 0 && "InsertLocked: page already present");
    max_pgno = std::max(max_pgno, pgno);
    if (at == SIZE_MAX) {
      s.ring = static_cast<uint32_t>(resident.size());
      resident.push_back(pgno);
    } else {
      s.ring = static_cast<uint32_t>(at);
      resident[at] = pgno;
    }
    return s;
  }

  // Removes the page from memory and disk (entry cleared, then hole punched). The status
  // is that of clearing the entry.
  ltx::Status DropLocked(uint32_t pgno) {
    Slot* it = FindLocked(pgno);
    assert(it && "DropLocked: page not present");
    pins.Unmark(pgno);
    const size_t idx = it->ring;
    *it = Slot{};
    RemoveRingIndexLocked(idx);
    ltx::Status st = ClearEntryLocked(pgno);
    PunchLocked(pgno);
    return st;
  }

  void DropCountingErrorsLocked(uint32_t pgno) {
    if (!DropLocked(pgno).ok()) stats.write_errors++;
  }

  // Removes ring position idx (its page already gone from `slots`): the ring's last page
  // moves into it.
  void RemoveRingIndexLocked(size_t idx) {
    assert(idx < resident.size());
    uint32_t last = resident.back();
    resident.pop_back();
    if (idx < resident.size()) {
      resident[idx] = last;
      slots.At(last).ring = static_cast<uint32_t>(idx);
    }
  }

  // Clock / second chance: skip (and clear) referenced pages, evict the first unreferenced.
  // With `reuse`, the victim's ring position is kept and returned for the caller's new page,
  // which so sits a full turn away from the hand (the classic clock); the caller must fill
  // it or RemoveRingIndexLocked it. Returns SIZE_MAX when the cache is empty or every page
  // in it is pinned.
  size_t EvictOneLocked(bool reuse) {
    if (resident.empty()) return SIZE_MAX;
    for (size_t steps = 0; steps <= 2 * resident.size(); steps++) {
      if (hand >= resident.size()) hand = 0;
      Slot* it = FindLocked(resident[hand]);
      assert(it && "ring names a page that is not present");
      const bool pinned = PinnedLocked(resident[hand]);  // unmarks: fast pins imply ref
      if (it->ref || pinned) {
        it->ref = false;
        hand++;
        continue;
      }
      const uint32_t victim = resident[hand];
      const size_t idx = hand;
      stats.evictions++;
      if (!reuse) {
        // The ring's last page moves into `hand`; it is examined next.
        DropCountingErrorsLocked(victim);
        return idx;
      }
      *it = Slot{};
      if (!ClearEntryLocked(victim).ok()) stats.write_errors++;
      PunchLocked(victim);
      hand++;
      return idx;
    }
    return SIZE_MAX;  // every page is pinned
  }

  // Caps the page's validity at `cap` (the old position's txid). Returns the status of
  // the entry write; a page no pin can use any more is dropped.
  ltx::Status CapLocked(uint32_t pgno, uint64_t cap) {
    Slot* it = FindLocked(pgno);
    if (!it || it->valid_until <= cap) return ltx::Status::OK();
    pins.Unmark(pgno);
    Slot& s = *it;
    s.valid_until = cap;
    if (s.valid_until < s.fetched) return DropLocked(pgno);
    return WriteEntryLocked(pgno, s);
  }

  // Empties both files and starts a fresh epoch at position zero. The truncations are made
  // durable before the new header so old entries can never reappear under it (and the
  // random epoch would reject them anyway).
  ltx::Status ResetLocked() {
    LTX_RETURN_IF_ERROR(TruncateToZero(index_fd, index_path));
    pins.UnmarkAll();
    if (pins.Total() == 0) {  // pinned pages keep their bytes (no entry names them any more)
      map.Reset();  // before the truncation: no mapped byte may lie past the end of the file
      LTX_RETURN_IF_ERROR(TruncateToZero(pages_fd, pages_path));
      if (::fdatasync(pages_fd) != 0) return IoError("sync", pages_path, errno);
    }
    if (::fdatasync(index_fd) != 0) return IoError("sync", index_path, errno);
    slots.Clear();
    resident.clear();
    hand = 0;
    max_pgno = 0;
    SetPosLocked({});
    epoch = RandomEpoch();
    prev_epoch_valid_until = 0;
    index_dirty = false;
    unclean_drop = false;
    return WriteHeaderLocked();
  }

  // Reads the index into memory, resetting on any header problem. Called once by Open.
  ltx::Status LoadLocked() {
    struct stat st;
    if (::fstat(index_fd, &st) != 0) return IoError("stat", index_path, errno);
    const uint64_t index_size = static_cast<uint64_t>(st.st_size);
    if (index_size == 0) return ResetLocked();  // a new cache

    uint8_t hbuf[fmt::kIndexHeaderSize];
    ssize_t n = PreadFull(index_fd, hbuf, sizeof(hbuf), 0);
    if (n < 0) return IoError("read header of", index_path, static_cast<int>(-n));
    auto header = fmt::IndexHeader::Decode({hbuf, static_cast<size_t>(n)});
    if (!header.ok() || header->page_size != opts.page_size) {
      stats.resets++;
      return ResetLocked();
    }
    SetPosLocked({header->pos_txid, header->pos_checksum});
    epoch = header->epoch;
    prev_epoch_valid_until = header->prev_epoch_valid_until;

    if (::fstat(pages_fd, &st) != 0) return IoError("stat", pages_path, errno);
    const uint64_t pages_size = static_cast<uint64_t>(st.st_size);

    std::vector<uint8_t> buf(kLoadChunkEntries * fmt::kIndexEntrySize);
    uint64_t off = fmt::kIndexHeaderSize;
    while (off + fmt::kIndexEntrySize <= index_size) {
      // Skip holes: a sparse index of a large database is mostly unwritten.
      off_t data = ::lseek(index_fd, static_cast<off_t>(off), SEEK_DATA);
      if (data < 0) {
        if (errno == ENXIO) break;  // no more data
        if (errno != EINVAL) return IoError("seek in", index_path, errno);
        data = static_cast<off_t>(off);  // SEEK_DATA unsupported: read everything
      }
      uint64_t entry_no =
          (static_cast<uint64_t>(data) - fmt::kIndexHeaderSize) / fmt::kIndexEntrySize;
      off = fmt::kIndexHeaderSize + entry_no * fmt::kIndexEntrySize;
      ssize_t got = PreadFull(index_fd, buf.data(), buf.size(), off);
      if (got < 0) return IoError("read", index_path, static_cast<int>(-got));
      size_t entries = static_cast<size_t>(got) / fmt::kIndexEntrySize;
      if (entries == 0) break;
      for (size_t i = 0; i < entries; i++) {
        uint64_t pgno64 = entry_no + i + 1;
        if (pgno64 > UINT32_MAX) break;
        LTX_RETURN_IF_ERROR(LoadEntryLocked(
            static_cast<uint32_t>(pgno64),
            {buf.data() + i * fmt::kIndexEntrySize, fmt::kIndexEntrySize}, pages_size));
      }
      off += entries * fmt::kIndexEntrySize;
    }
    while (opts.max_pages != 0 && resident.size() > opts.max_pages && EvictOneLocked(false) != SIZE_MAX) {
    }
    return ltx::Status::OK();
  }

  ltx::Status LoadEntryLocked(uint32_t pgno, std::span<const uint8_t> raw, uint64_t pages_size) {
    if (fmt::IndexEntry::IsEmptySlot(raw)) return ltx::Status::OK();
    auto e = fmt::IndexEntry::Decode(pgno, raw);
    bool keep = e.ok();
    if (!keep) stats.corrupt_dropped++;  // a torn or damaged entry
    uint64_t valid_until = keep ? e->valid_until : 0;
    if (keep && e->epoch != epoch) {
      if (e->epoch + 1 == epoch) {
        valid_until = std::min(valid_until, prev_epoch_valid_until);
      } else {
        keep = false;  // from before an earlier all-pages invalidation, or a future epoch
      }
    }
    keep = keep && e->fetched_txid != 0 && valid_until >= e->fetched_txid &&
           fmt::PageOffset(pgno, opts.page_size) + opts.page_size <= pages_size;
    if (!keep) {
      LTX_RETURN_IF_ERROR(ClearEntryLocked(pgno));
      PunchLocked(pgno);
      return ltx::Status::OK();
    }
    Slot& s = InsertLocked(pgno);
    s.fetched = e->fetched_txid;
    s.valid_until = valid_until;
    s.checksum = e->page_checksum;
    s.gen = next_gen++;
    s.verified = false;
    s.ref = false;
    return ltx::Status::OK();
  }

  // Whether a new page fits under min_available_bytes, evicting a little if that helps.
  // PutMany's first step: the indices of `pages` to write (a newer version still current
  // stays; a new page needs room), making room as Put does.
  std::vector<size_t> PlanPutsLocked(std::span<const PageCache::PageRef> pages, uint64_t fetched) {
    std::vector<size_t> todo;
    for (size_t i = 0; i < pages.size(); i++) {
      if (claimed.count(pages[i].pgno)) continue;  // another put is writing it
      const Slot* it = FindLocked(pages[i].pgno);
      if (it && it->fetched > fetched && it->valid_until >= pos.txid) continue;
      if (PinnedLocked(pages[i].pgno)) {  // its bytes are in use in place: not rewritten
        stats.skipped++;
        continue;
      }
      if (!it && !MakeRoomLocked()) {
        stats.skipped++;
        continue;
      }
      todo.push_back(i);
    }
    return todo;
  }

  // PutMany's second step, for a run of consecutive pgnos (`run`: indices into `pages`):
  // the pages with one pwritev, then their entries with one pwrite. A failed write drops
  // the run's pages (as Put drops its page) and counts write errors.
  void PutRunLocked(std::span<const PageCache::PageRef> pages, const std::vector<uint64_t>& sums,
                    uint64_t fetched, std::span<const size_t> run, bool wanted_soon) {
    if (!WriteRunBytes(pages, run)) return DropRunLocked(pages, run);
    PublishRunLocked(pages, sums, fetched, run, wanted_soon);
  }

  // A run's bytes at their offsets in the pages file, with one pwritev (pages_fd is constant
  // while open: no lock needed for the call itself). False when the write failed.
  bool WriteRunBytes(std::span<const PageCache::PageRef> pages, std::span<const size_t> run) const {
    std::vector<iovec> iov;
    for (size_t i : run) iov.push_back({const_cast<uint8_t*>(pages[i].data.data()), pages[i].data.size()});
    return PwritevFull(pages_fd, std::move(iov), fmt::PageOffset(pages[run[0]].pgno, opts.page_size)) == 0;
  }

  // A run whose write failed: its pages dropped, counted as write errors.
  void DropRunLocked(std::span<const PageCache::PageRef> pages, std::span<const size_t> run) {
    for (size_t i : run) {
      stats.write_errors++;
      if (FindLocked(pages[i].pgno)) DropCountingErrorsLocked(pages[i].pgno);
    }
  }

  // A run whose bytes are in the file: its slots and their entries (one pwrite).
  void PublishRunLocked(std::span<const PageCache::PageRef> pages, const std::vector<uint64_t>& sums,
                        uint64_t fetched, std::span<const size_t> run, bool wanted_soon) {
    const uint32_t first = pages[run[0]].pgno;
    map.NoteWritten(fmt::PageOffset(pages[run.back()].pgno, opts.page_size) + opts.page_size);
    std::vector<uint8_t> entries(run.size() * fmt::kIndexEntrySize);
    for (size_t j = 0; j < run.size(); j++) {
      const uint32_t pgno = pages[run[j]].pgno;
      Slot* it = FindLocked(pgno);
      Slot& s = it ? *it : InsertLocked(pgno);
      s.fetched = fetched;
      s.valid_until = ValidUntilForPutLocked(fetched);
      s.checksum = sums[run[j]];
      s.gen = next_gen++;
      s.verified = false;
      s.ref = it != nullptr || wanted_soon;  // as in Put
      fmt::IndexEntry e;
      e.fetched_txid = s.fetched;
      e.valid_until = s.valid_until;
      e.epoch = epoch;
      e.page_checksum = s.checksum;
      e.EncodeTo(pgno, entries.data() + j * fmt::kIndexEntrySize);
    }
    index_dirty = true;
    if (PwriteFull(index_fd, entries.data(), entries.size(), fmt::EntryOffset(first)) != 0) {
      return DropRunLocked(pages, run);
    }
    stats.inserts += run.size();
  }

  bool MakeRoomLocked() {
    if (opts.min_available_bytes == 0) return true;
    struct statvfs sv;
    if (::statvfs(opts.dir.c_str(), &sv) != 0) return true;  // unknown: do not block caching
    const uint64_t avail = uint64_t{sv.f_bavail} * uint64_t{sv.f_frsize};
    const uint64_t want = opts.min_available_bytes + opts.page_size;
    if (avail >= want) return true;
    const uint64_t pages_needed = (want - avail + opts.page_size - 1) / opts.page_size;
    if (pages_needed > kMaxEvictForSpace || pages_needed > resident.size()) return false;
    for (uint64_t i = 0; i < pages_needed; i++) EvictOneLocked(false);
    return true;
  }
};

// --- PageCache ----------------------------------------------------------------------------

PageCache::PageCache(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), page_size_(impl_->opts.page_size) {}
PageCache::~PageCache() = default;

ltx::Result<std::unique_ptr<PageCache>> PageCache::Open(const CacheOptions& opts) {
  if (opts.dir.empty()) return ltx::Status::InvalidArgument("cache: dir is empty");
  if (!ltx::IsValidPageSize(opts.page_size)) {
    return ltx::Status::InvalidArgument("cache: invalid page size " +
                                        std::to_string(opts.page_size) +
                                        " (want a power of two in 512..65536)");
  }
  std::error_code ec;
  std::filesystem::create_directories(opts.dir, ec);
  if (ec) {
    return ltx::Status::IOError("cache: create directory " + opts.dir + ": " + ec.message());
  }
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  impl->pages_path = opts.dir + "/" + kPagesFile;
  impl->index_path = opts.dir + "/" + kIndexFile;
  impl->lock_path = opts.dir + "/" + kLockFile;

  impl->lock_fd = ::open(impl->lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->lock_fd < 0) return IoError("open", impl->lock_path, errno);
  if (::flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return ltx::Status::Conflict("cache: directory " + opts.dir +
                                   " is in use by another process");
    }
    return IoError("lock", impl->lock_path, errno);
  }
  impl->index_fd = ::open(impl->index_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->index_fd < 0) return IoError("open", impl->index_path, errno);
  impl->pages_fd = ::open(impl->pages_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->pages_fd < 0) return IoError("open", impl->pages_path, errno);
  impl->map.Open(impl->pages_fd);  // without a map (no address space), Get preads
  impl->pins.Init(impl->map.reserved_bytes() / opts.page_size);  // the pages Pin can hand out
  {
    std::lock_guard lock(impl->mu);
    LTX_RETURN_IF_ERROR(impl->LoadLocked());
  }
  return std::unique_ptr<PageCache>(new PageCache(std::move(impl)));
}

ltx::Pos PageCache::pos() const {
  std::lock_guard lock(impl_->mu);
  return impl_->pos;
}

ltx::Result<bool> PageCache::Get(uint32_t pgno, uint64_t pin_txid, std::span<uint8_t> out) {
  Impl& m = *impl_;
  if (pgno == 0) return ltx::Status::InvalidArgument("cache: page number 0");
  if (out.size() != m.opts.page_size) {
    return ltx::Status::InvalidArgument("cache: read buffer is " + std::to_string(out.size()) +
                                        " bytes, page size is " + std::to_string(m.opts.page_size));
  }
  uint64_t gen, checksum;
  {
    std::lock_guard lock(m.mu);
    Impl::Slot* it = m.FindLocked(pgno);
    if (!it || !Impl::Usable(*it, pin_txid)) {
      m.stats.misses++;
      return false;
    }
    it->ref = true;
    if (const uint8_t* src = m.MappedLocked(pgno)) {  // the warm path: no system call
      const bool ok = m.CopyMappedLocked(pgno, *it, src, out);
      (ok ? m.stats.hits : m.stats.misses)++;
      return ok;
    }
    gen = it->gen;
    checksum = it->checksum;
  }
  ssize_t n =
      PreadFull(m.pages_fd, out.data(), out.size(), cachefmt::PageOffset(pgno, m.opts.page_size));
  if (n < 0) {
    return IoError("read page " + std::to_string(pgno) + " from", m.pages_path,
                   static_cast<int>(-n));
  }
  if (static_cast<size_t>(n) == out.size() && cachefmt::PageHash(pgno, out) == checksum) {
    m.stats.hits++;
    return true;
  }
  {
    std::lock_guard lock(m.mu);
    Impl::Slot* it = m.FindLocked(pgno);
    // A changed generation means a concurrent replace/evict raced the read: not corruption.
    if (it && it->gen == gen) {
      m.DropCountingErrorsLocked(pgno);
      m.stats.corrupt_dropped++;
    }
  }
  std::memset(out.data(), 0, out.size());  // never hand out bytes that failed the check
  m.stats.misses++;
  return false;
}

// The hit path of xFetch (issue 19, row 1d): a page marked fast is pinned with one atomic
// add and no lock (cache_pins.h); otherwise the version is checked under mu and, when current,
// the page is marked for the next time.
const uint8_t* PageCache::Pin(uint32_t pgno, uint64_t pin_txid, bool* first) {
  Impl& m = *impl_;
  if (first) *first = false;
  if (pgno == 0) return nullptr;
  const uint64_t off = cachefmt::PageOffset(pgno, m.opts.page_size);
  if (m.pins.TryFastPin(pgno)) {
    // The mark was set after fast_floor reached a txid >= the page's fetched txid.
    if (pin_txid >= m.fast_floor.load(std::memory_order_acquire)) return m.map.AddressOf(off);
    m.pins.Release(pgno);  // an older pin: its version is checked under the lock
  }
  std::lock_guard lock(m.mu);
  Impl::Slot* it = m.FindLocked(pgno);
  if (m.retired || !it || !Impl::Usable(*it, pin_txid)) return nullptr;  // not counted: Get follows
  const uint8_t* src = m.MappedLocked(pgno);
  if (!src) return nullptr;
  const bool fresh = !it->verified;
  if (fresh && cachefmt::PageHash(pgno, {src, m.opts.page_size}) != it->checksum) {
    m.DropCountingErrorsLocked(pgno);
    m.stats.corrupt_dropped++;
    return nullptr;
  }
  it->verified = true;
  if (!m.pins.Add(pgno)) return nullptr;  // past what the map can address: not mapped anyway
  it->ref = true;
  if (it->valid_until == fmt::kValidForever && it->fetched <= m.pos.txid) m.pins.MarkFast(pgno);
  if (first) *first = fresh;
  return src;
}

bool PageCache::Unpin(uint32_t pgno, const uint8_t* page) {
  Impl& m = *impl_;
  // No lock: the map's address range and the pin table are fixed once Open returned.
  if (pgno == 0 || !m.map.IsAt(page, cachefmt::PageOffset(pgno, m.opts.page_size))) return false;
  return m.pins.Release(pgno);
}

void PageCache::Retire() {
  std::lock_guard lock(impl_->mu);
  impl_->retired = true;
  impl_->pins.UnmarkAll();
}

void PageCache::RaiseMapBudget(uint64_t bytes) {
  std::lock_guard lock(impl_->mu);
  impl_->map.RaiseBudget(bytes);
}

uint64_t PageCache::pinned_count() const { return impl_->pins.Total(); }

bool PageCache::Contains(uint32_t pgno, uint64_t pin_txid) const {
  std::lock_guard lock(impl_->mu);
  const Impl::Slot* it = impl_->FindLocked(pgno);
  return it && Impl::Usable(*it, pin_txid);
}

ltx::Status PageCache::Put(uint32_t pgno, uint64_t fetched_txid, std::span<const uint8_t> data,
                           bool wanted_soon, std::optional<uint64_t> sum) {
  Impl& m = *impl_;
  if (pgno == 0) return ltx::Status::InvalidArgument("cache: page number 0");
  if (data.size() != m.opts.page_size) {
    return ltx::Status::InvalidArgument("cache: page is " + std::to_string(data.size()) +
                                        " bytes, page size is " + std::to_string(m.opts.page_size));
  }
  const uint64_t checksum = sum ? *sum : cachefmt::PageHash(pgno, data);  // outside the lock
  std::lock_guard lock(m.mu);
  if (fetched_txid == 0 || fetched_txid < m.pos.txid) return ltx::Status::OK();
  if (m.claimed.count(pgno)) return ltx::Status::OK();  // a PutMany is writing it
  Impl::Slot* it = m.FindLocked(pgno);
  const bool present = it != nullptr;
  if (present && it->fetched > fetched_txid && it->valid_until >= m.pos.txid) {
    return ltx::Status::OK();  // a newer, still current version is already cached
  }
  if (m.PinnedLocked(pgno)) {  // its bytes are in use in place (Pin): not rewritten
    m.stats.skipped++;
    return ltx::Status::OK();
  }
  size_t ring_at = SIZE_MAX;  // a ring position freed for this page by eviction
  if (!present) {
    if (!m.MakeRoomLocked()) {
      m.stats.skipped++;
      return ltx::Status::OK();
    }
    while (m.opts.max_pages != 0 && m.resident.size() > m.opts.max_pages &&
           m.EvictOneLocked(false) != SIZE_MAX) {
    }
    if (m.opts.max_pages != 0 && m.resident.size() == m.opts.max_pages) {
      ring_at = m.EvictOneLocked(true);
    }
  }
  // From here on the old version (if any) is being overwritten: a failure drops the page.
  if (PwriteFull(m.pages_fd, data.data(), data.size(),
                 cachefmt::PageOffset(pgno, m.opts.page_size)) != 0) {
    m.stats.write_errors++;
    if (present) m.DropCountingErrorsLocked(pgno);
    if (ring_at != SIZE_MAX) m.RemoveRingIndexLocked(ring_at);
    return ltx::Status::OK();
  }
  m.map.NoteWritten(cachefmt::PageOffset(pgno, m.opts.page_size) + m.opts.page_size);
  Impl::Slot& s = present ? *it : m.InsertLocked(pgno, ring_at);
  s.fetched = fetched_txid;
  s.valid_until = m.ValidUntilForPutLocked(fetched_txid);
  s.checksum = checksum;
  s.gen = m.next_gen++;
  s.verified = false;
  // A new page starts unreferenced but a full clock turn from the hand (unless a reader
  // wants it soon); a replaced one was just read again.
  s.ref = present || wanted_soon;
  if (!m.WriteEntryLocked(pgno, s).ok()) {
    m.stats.write_errors++;
    m.DropCountingErrorsLocked(pgno);
    return ltx::Status::OK();
  }
  m.stats.inserts++;
  return ltx::Status::OK();
}

// `idx` (indices into `pages`, ascending pgnos) cut into runs of consecutive pgnos.
std::vector<std::span<const size_t>> PageCache::ConsecutiveRuns(std::span<const PageRef> pages,
                                                                const std::vector<size_t>& idx) {
  std::vector<std::span<const size_t>> runs;
  for (size_t a = 0; a < idx.size();) {
    size_t b = a + 1;
    while (b < idx.size() && pages[idx[b]].pgno == pages[idx[a]].pgno + (b - a)) b++;
    runs.emplace_back(idx.data() + a, b - a);
    a = b;
  }
  return runs;
}

// Whether a batch's given sums can be taken: its first page with a sum matches it (one hash
// per batch). No sums given: nothing to refuse.
bool PageCache::SumsHold(std::span<const PageRef> pages) {
  for (const PageRef& p : pages) {
    if (p.sum) return cachefmt::PageHash(p.pgno, p.data) == *p.sum;
  }
  return true;
}

ltx::Status PageCache::PutMany(uint64_t fetched_txid, std::span<const PageRef> pages, bool wanted_soon) {
  Impl& m = *impl_;
  const bool take_sums = SumsHold(pages);
  if (!take_sums) m.stats.sums_refused++;
  if (m.opts.max_pages != 0) {  // eviction reserves ring positions page by page: Put's order
    for (const PageRef& p : pages) {
      LTX_RETURN_IF_ERROR(Put(p.pgno, fetched_txid, p.data, wanted_soon, take_sums ? p.sum : std::nullopt));
    }
    return ltx::Status::OK();
  }
  std::vector<uint64_t> sums(pages.size());  // outside the lock
  for (size_t i = 0; i < pages.size(); i++) {
    if (pages[i].pgno == 0 || pages[i].data.size() != m.opts.page_size ||
        (i > 0 && pages[i].pgno <= pages[i - 1].pgno)) {
      return ltx::Status::InvalidArgument("cache: PutMany wants ascending page numbers > 0 of " +
                                          std::to_string(m.opts.page_size) + " bytes each");
    }
    sums[i] = take_sums && pages[i].sum ? *pages[i].sum : cachefmt::PageHash(pages[i].pgno, pages[i].data);
  }
  // Pages already present are rewritten under the lock (a reader may be reading them).
  // Absent ones are claimed, written without it, then published: no reader reads an absent
  // page's bytes, and no other put writes a claimed one.
  std::vector<size_t> fresh;
  uint64_t epoch = 0;
  {
    std::lock_guard lock(m.mu);
    if (fetched_txid == 0 || fetched_txid < m.pos.txid) return ltx::Status::OK();
    std::vector<size_t> present;
    for (size_t i : m.PlanPutsLocked(pages, fetched_txid)) {
      if (m.FindLocked(pages[i].pgno)) {
        present.push_back(i);
      } else {
        m.claimed.insert(pages[i].pgno);
        fresh.push_back(i);
      }
    }
    for (auto run : ConsecutiveRuns(pages, present)) m.PutRunLocked(pages, sums, fetched_txid, run, wanted_soon);
    epoch = m.epoch;
  }
  const std::vector<std::span<const size_t>> runs = ConsecutiveRuns(pages, fresh);
  std::vector<char> written(runs.size());
  try {
    for (size_t k = 0; k < runs.size(); k++) written[k] = m.WriteRunBytes(pages, runs[k]);
  } catch (...) {  // bad_alloc: the claims go, or those pages could never be cached again
    std::lock_guard lock(m.mu);
    for (size_t i : fresh) m.claimed.erase(pages[i].pgno);
    throw;
  }
  std::lock_guard lock(m.mu);
  for (size_t i : fresh) m.claimed.erase(pages[i].pgno);
  // A Clear or an all-pages Advance meanwhile (a new epoch), or a position past the fetch:
  // nothing is published; the bytes lie in slots no entry names.
  if (m.epoch != epoch || fetched_txid < m.pos.txid) return ltx::Status::OK();
  for (size_t k = 0; k < runs.size(); k++) {
    if (written[k]) {
      m.PublishRunLocked(pages, sums, fetched_txid, runs[k], wanted_soon);
    } else {
      m.DropRunLocked(pages, runs[k]);
    }
  }
  return ltx::Status::OK();
}

ltx::Status PageCache::Advance(const ltx::Pos& new_pos, bool all, std::span<const uint32_t> changed,
                               uint32_t commit, bool defer_durability) {
  Impl& m = *impl_;
  std::lock_guard advance_lock(m.advance_mu);
  bool sync_index = false;
  {
    std::lock_guard lock(m.mu);
    if (new_pos.txid < m.pos.txid) {
      return ltx::Status::InvalidArgument("cache: cannot advance backwards from " +
                                          ltx::FormatPos(m.pos) + " to " + ltx::FormatPos(new_pos));
    }
    if (new_pos.txid == m.pos.txid && new_pos != m.pos && !m.pos.IsZero()) {
      return ltx::Status::InvalidArgument("cache: position " + ltx::FormatPos(new_pos) +
                                          " has the same txid as " + ltx::FormatPos(m.pos) +
                                          " but a different checksum");
    }
    const uint64_t cap = m.pos.txid;
    // From position zero there is no list of changes to trust (a new or cleared cache):
    // whatever was put meanwhile is capped like an all-pages change.
    bool bump = all || m.unclean_drop || m.pos.IsZero();
    if (!bump) {
      for (uint32_t pgno : changed) {
        if (!m.CapLocked(pgno, cap).ok()) bump = true;
      }
      std::vector<uint32_t> beyond;
      if (commit < m.max_pgno) {  // a shrink below some cached page: O(pages cached)
        for (uint32_t pgno : m.resident) {
          if (pgno > commit) beyond.push_back(pgno);
        }
      }
      for (uint32_t pgno : beyond) {
        if (!m.CapLocked(pgno, cap).ok()) bump = true;
      }
    }
    if (bump) {
      // Every page changed (or an invalidation could not be written): cap all of them in
      // memory, and on disk through the epoch in the header.
      for (size_t i = 0; i < m.resident.size();) {
        Impl::Slot& s = m.slots.At(m.resident[i]);
        m.pins.Unmark(m.resident[i]);
        s.valid_until = std::min(s.valid_until, cap);
        if (s.valid_until < s.fetched) {
          m.DropCountingErrorsLocked(m.resident[i]);  // the ring's last page moved to i
        } else {
          i++;
        }
      }
      m.epoch++;
      m.prev_epoch_valid_until = cap;
      m.unclean_drop = false;
    } else if (m.index_dirty) {
      if (defer_durability) {
        // The header keeps the older position until PersistPosition: entries written since
        // are at txids above it, so a re-sync from it caps them (see the top of this file).
        m.SetPosLocked(new_pos);
        m.position_behind = true;
        return ltx::Status::OK();
      }
      sync_index = true;
      m.index_dirty = false;
    }
    m.SetPosLocked(new_pos);
  }
  if (sync_index) LTX_RETURN_IF_ERROR(m.SyncIndex());
  std::lock_guard lock(m.mu);
  return m.WriteHeaderLocked();
}

void PageCache::Collect(uint64_t oldest_pin_txid) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  for (size_t i = 0; i < m.resident.size();) {
    if (m.slots.At(m.resident[i]).valid_until < oldest_pin_txid) {
      m.DropCountingErrorsLocked(m.resident[i]);  // the ring's last page moved to i
    } else {
      i++;
    }
  }
}

ltx::Status PageCache::Clear() {
  std::lock_guard advance_lock(impl_->advance_mu);
  std::lock_guard lock(impl_->mu);
  return impl_->ResetLocked();
}

ltx::Status PageCache::PersistPosition() {
  Impl& m = *impl_;
  std::lock_guard advance_lock(m.advance_mu);
  {
    std::lock_guard lock(m.mu);
    if (!m.position_behind) return ltx::Status::OK();
    m.index_dirty = false;
  }
  LTX_RETURN_IF_ERROR(m.SyncIndex());
  std::lock_guard lock(m.mu);
  return m.WriteHeaderLocked();
}

bool PageCache::position_behind() const {
  std::lock_guard lock(impl_->mu);
  return impl_->position_behind;
}

ltx::Status PageCache::Flush() {
  if (::fdatasync(impl_->pages_fd) != 0) return IoError("sync", impl_->pages_path, errno);
  {
    std::lock_guard lock(impl_->mu);
    impl_->index_dirty = false;
  }
  LTX_RETURN_IF_ERROR(impl_->SyncIndex());
  return PersistPosition();
}

void PageCache::SetLimits(uint64_t max_pages, uint64_t min_available_bytes) {
  std::lock_guard lock(impl_->mu);
  impl_->opts.max_pages = max_pages;
  impl_->opts.min_available_bytes = min_available_bytes;
  while (max_pages != 0 && impl_->resident.size() > max_pages && impl_->EvictOneLocked(false) != SIZE_MAX) {
  }
}

uint64_t PageCache::page_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->resident.size();
}

uint64_t PageCache::index_memory_bytes() const {
  std::lock_guard lock(impl_->mu);
  return impl_->slots.allocated_bytes() + impl_->pins.allocated_bytes() +
         impl_->resident.capacity() * sizeof(uint32_t);
}

const CacheStats& PageCache::stats() const { return impl_->stats; }

}  // namespace litevfs
