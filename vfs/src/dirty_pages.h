// DirtyPages: the pages a write transaction changed, as SQLite wrote them, until the commit
// uploads them (or a rollback drops them). The first `memory_limit` bytes of pages stay in
// memory; pages beyond that go to a SpillFile (unlinked, in the cache directory, else
// $TMPDIR), so a transaction of any size holds at most the bound in memory (plus ~80 bytes
// of index per page). A page keeps the place it got first (memory or file slot) until
// Clear(); slots of dropped pages are reused.
//
// Not thread-safe: the Database guards its Writer (and so this) with its mutex.
// Errors from the spill file: kResourceExhausted + api_code "ENOSPACE" when the disk is
// full (SQLITE_FULL at the VFS edge), kIOError otherwise. A failed Put/Patch leaves the
// page as it was before the call (a page never half-written).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ltx/status.h"
#include "spill_file.h"

namespace litevfs {

// Dirty-page bytes a transaction keeps in memory before it spills to disk.
inline constexpr size_t kDefaultDirtyMemoryBytes = 16u << 20;

struct DirtyPagesOptions {
  size_t memory_limit = kDefaultDirtyMemoryBytes;
  std::vector<std::string> spill_dirs;  // SpillDirs(cache dir); empty: SpillDirs("")
  std::string what = "a transaction";   // names the pages in messages
  SpillIo* io = nullptr;                // nullptr: DefaultSpillIo()
};

class DirtyPages {
 public:
  explicit DirtyPages(DirtyPagesOptions opts = {});
  DirtyPages(const DirtyPages&) = delete;
  DirtyPages& operator=(const DirtyPages&) = delete;

  // Where pages spill from the next spill file on (the cache directory may change).
  void set_spill_dirs(std::vector<std::string> dirs);

  // Stores a whole page (inserted or replaced). Every page has the size of the first one
  // stored since the last Clear(); another size is kInvalidArgument.
  ltx::Status Put(uint32_t pgno, std::span<const uint8_t> page);
  // Overwrites bytes [in, in + bytes.size()) of a page already stored.
  ltx::Status Patch(uint32_t pgno, size_t in, std::span<const uint8_t> bytes);
  // Copies bytes [in, in + out.size()) of page pgno into out: false when it is not dirty.
  ltx::Result<bool> Read(uint32_t pgno, size_t in, std::span<uint8_t> out) const;
  bool Contains(uint32_t pgno) const { return slots_.count(pgno) != 0; }
  // The smallest dirty page number greater than `pgno` (0 when none): iteration in page
  // order is `for (p = Next(0); p != 0; p = Next(p))`.
  uint32_t Next(uint32_t pgno) const;
  // Drops every page above `last` (a truncate).
  void DropAbove(uint32_t last);
  // Drops every page and gives the spill file's space back (commit, rollback).
  ltx::Status Clear();

  size_t count() const { return slots_.size(); }
  bool empty() const { return slots_.empty(); }
  uint32_t page_size() const { return page_size_; }
  size_t memory_bytes() const { return memory_pages_ * size_t(page_size_); }
  size_t spilled_pages() const { return slots_.size() - memory_pages_; }
  size_t memory_limit() const { return opts_.memory_limit; }

 private:
  struct Slot {
    std::unique_ptr<uint8_t[]> mem;  // the page, when in memory
    uint64_t file_slot = 0;          // its place in the spill file, when not
  };
  ltx::Result<Slot> NewSlot(std::span<const uint8_t> page);
  ltx::Status CheckSize(size_t n, uint32_t pgno);

  DirtyPagesOptions opts_;
  std::unique_ptr<SpillFile> file_;  // created with the first spilled page
  uint32_t page_size_ = 0;           // 0 until the first Put after a Clear
  std::map<uint32_t, Slot> slots_;
  size_t memory_pages_ = 0;
  uint64_t file_slots_ = 0;             // slots handed out in the file so far
  std::vector<uint64_t> free_slots_;    // file slots of dropped pages
};

}  // namespace litevfs
