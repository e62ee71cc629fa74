// SpillJournal: the bytes of an in-memory rollback journal (vfs.cc's MemJournal), bounded.
// Up to `memory_limit` bytes it is a string in memory; the write that would pass the bound
// moves the whole journal into a SpillFile (unlinked, $TMPDIR else /tmp) and later I/O goes
// there, so rewriting a large database holds at most the bound of old pages in memory.
// Truncating to 0 (the usual journal finalisation) gives the disk back and returns to
// memory. A journal still never outlives the process (the file has no name).
//
// Not thread-safe (MemJournal's mutex guards it). Disk full: kResourceExhausted with
// api_code "ENOSPACE" (SQLITE_FULL at the VFS edge).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ltx/status.h"
#include "spill_file.h"

namespace litevfs {

// Journal bytes kept in memory before the journal moves to disk.
inline constexpr size_t kJournalMemoryBytes = 16u << 20;

class SpillJournal {
 public:
  explicit SpillJournal(size_t memory_limit = kJournalMemoryBytes,
                        std::vector<std::string> dirs = SpillDirs(""), SpillIo* io = nullptr);

  ltx::Status Write(uint64_t off, const void* buf, size_t n);
  // Copies up to n bytes at off into buf: the count (less than n only at the end).
  ltx::Result<size_t> Read(uint64_t off, void* buf, size_t n) const;
  ltx::Status Truncate(uint64_t size);
  uint64_t size() const { return size_; }
  bool spilled() const { return spilled_; }

 private:
  ltx::Status Spill();

  const size_t memory_limit_;
  std::unique_ptr<SpillFile> file_;
  std::string mem_;       // the journal while !spilled_
  bool spilled_ = false;
  uint64_t size_ = 0;
};

}  // namespace litevfs
