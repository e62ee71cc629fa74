// PagesMap: a read-only memory map of the page cache's `pages` file, so a warm read is a
// memcpy instead of a pread system call (issue 19, target 1).
//
// The map lives in one address range reserved once (PROT_NONE, no memory committed), so
// its base never moves: the file is mapped into the front of the range, growing in place
// as the file grows (MAP_FIXED over the reservation), and a pointer into it stays valid
// while the mapped length does not shrink. Never maps past the end of the file (a read
// there would be SIGBUS): the mapped length is the file's size rounded down to whole OS
// pages. The page cache (cache.cc) tells the map how far its own writes extend the file
// (NoteWritten) and calls Reset() before it truncates the file; a file found shorter
// than the map when it grows (truncated behind our back) is remapped to its new size.
//
// Bounded RSS: pages read through the map count in the process's RSS (file-backed). The map
// notes which 64 KiB blocks (the kernel's fault-around unit) were read through it; once
// budget() of them were (kMaxResidentBytes, or more when the app asked SQLite for a larger
// mmap_size: it then accepts that much mapped RSS, as with a local file), Find answers nullptr for a page in any other block (the
// caller preads it): the first 32 MiB read stay mapped (a b-tree's interior pages are read
// first and most), the rest of a larger working set costs a pread as it did before the map.
// (Dropping the entries to make room instead, MADV_DONTNEED, made every later read a page
// fault: 4x slower than pread on the benchmark's 90 MB working set.)
//
// Not thread-safe: the owner serialises every call (PageCache: under its mutex) but Holds,
// IsAt, AddressOf and reserved_bytes, which read only what Open set; bytes behind a pointer
// it returned are read without that lock only while the owner keeps them from changing
// (PageCache's pins). A failed reservation or mmap leaves the map empty: Find returns
// nullptr and the caller preads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace litevfs {

class PagesMap {
 public:
  // What Find had to do to answer.
  enum class Remap { kNone, kShrunk };

  PagesMap() = default;
  ~PagesMap();
  PagesMap(const PagesMap&) = delete;
  PagesMap& operator=(const PagesMap&) = delete;

  // Reserves the address range for `fd` (kept open by the owner). False: no map (pread).
  bool Open(int fd);
  // A pointer to bytes [off, off+len) of the file, mapping more of it if the file has grown
  // that far; nullptr when that range cannot be mapped (past the end, past the reservation,
  // mmap failed). *remap says whether the file had shrunk under the map (every pointer the
  // map gave out before is then void, and bytes verified through it must be re-verified).
  const uint8_t* Find(uint64_t off, size_t len, Remap* remap);
  // The owner wrote up to `end` (the file is at least that long now).
  void NoteWritten(uint64_t end);
  // Unmaps everything (the owner is about to truncate the file).
  void Reset();

  uint64_t mapped_bytes() const { return mapped_; }
  uint64_t over_budget() const { return over_budget_; }  // Finds refused by the RSS budget
  uint64_t budget() const { return budget_; }
  void RaiseBudget(uint64_t bytes) { budget_ = bytes > budget_ ? bytes : budget_; }
  static constexpr uint64_t kMaxResidentBytes = uint64_t{32} << 20;
  static constexpr uint64_t kBlockBytes = uint64_t{64} << 10;
  // Whether p points into this map's address range.
  bool Holds(const uint8_t* p) const { return base_ && p >= base_ && p < base_ + reservation_; }
  // Whether p is where byte `off` of the file is (or would be) mapped. Like Holds and
  // reserved_bytes, safe without the owner's serialisation: they read only what Open set.
  bool IsAt(const uint8_t* p, uint64_t off) const { return Holds(p) && uint64_t(p - base_) == off; }
  // Where byte `off` of the file is mapped; the caller knows it is (a page it found before).
  const uint8_t* AddressOf(uint64_t off) const { return base_ + off; }
  uint64_t reserved_bytes() const { return reservation_; }  // 0 without a map

 private:
  // Maps the file up to its current size. kShrunk if it is shorter than the map was.
  Remap Grow();
  void UnmapFrom(uint64_t len);
  // Whether [off, off+len) may be read through the map: its blocks were, or fit the budget
  // (then they count from now on).
  bool MayRead(uint64_t off, size_t len);
  void ForgetReads();

  int fd_ = -1;
  uint8_t* base_ = nullptr;   // the reservation, nullptr when there is none
  uint64_t reservation_ = 0;  // bytes reserved at base_ (unmapped by the destructor)
  uint64_t growable_ = 0;     // the map may grow up to here (lowered if a remap failed)
  uint64_t mapped_ = 0;      // bytes [0, mapped_) of the file are mapped (whole OS pages)
  uint64_t known_size_ = 0;  // the file is at least this long (fstat or the owner's writes)
  uint64_t os_page_ = 4096;
  std::vector<uint64_t> touched_;  // one bit per kBlockBytes block of [0, mapped_)
  uint64_t touched_bytes_ = 0;     // blocks set in touched_, in bytes
  uint64_t over_budget_ = 0;
  uint64_t budget_ = kMaxResidentBytes;
};

}  // namespace litevfs
