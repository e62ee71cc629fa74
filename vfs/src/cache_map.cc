#include "cache_map.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace litevfs {
namespace {

// Address space reserved for the map, largest first (no memory is committed: PROT_NONE,
// MAP_NORESERVE). A cache file larger than the reservation is read with pread beyond it.
constexpr uint64_t kReserveTries[] = {uint64_t{64} << 30, uint64_t{4} << 30, uint64_t{256} << 20};

}  // namespace

PagesMap::~PagesMap() {
  if (base_) ::munmap(base_, reservation_);
}

bool PagesMap::Open(int fd) {
  if (sizeof(void*) < 8) return false;  // a 32-bit address space has no room to reserve
  const long page = ::sysconf(_SC_PAGESIZE);
  if (page > 0) os_page_ = uint64_t(page);
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  for (uint64_t bytes : kReserveTries) {
    void* p = ::mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) continue;
    fd_ = fd;
    base_ = static_cast<uint8_t*>(p);
    reservation_ = growable_ = bytes;
    known_size_ = uint64_t(st.st_size);
    return true;
  }
  return false;
}

const uint8_t* PagesMap::Find(uint64_t off, size_t len, Remap* remap) {
  *remap = Remap::kNone;
  if (!base_) return nullptr;
  const uint64_t end = off + len;
  if (end > mapped_) {
    // Only worth a system call when the file now reaches that far in whole OS pages.
    if (end > growable_ || end > known_size_ / os_page_ * os_page_) return nullptr;
    *remap = Grow();
    if (end > mapped_) return nullptr;
  }
  return MayRead(off, len) ? base_ + off : nullptr;
}

bool PagesMap::MayRead(uint64_t off, size_t len) {
  const uint64_t first = off / kBlockBytes, last = (off + len - 1) / kBlockBytes;
  if (touched_.size() * 64 <= last) touched_.resize(last / 64 + 1, 0);  // Grow sized it already
  uint64_t fresh = 0;
  for (uint64_t b = first; b <= last; b++) {
    if (!(touched_[b / 64] & (uint64_t{1} << (b % 64)))) fresh++;
  }
  if (fresh == 0) return true;
  if (touched_bytes_ + fresh * kBlockBytes > budget_) {
    over_budget_++;  // dropping entries to make room costs more in faults than a pread
    return false;
  }
  for (uint64_t b = first; b <= last; b++) {
    uint64_t& word = touched_[b / 64];
    const uint64_t bit = uint64_t{1} << (b % 64);
    if (!(word & bit)) touched_bytes_ += kBlockBytes;
    word |= bit;
  }
  return true;
}

void PagesMap::ForgetReads() {
  std::fill(touched_.begin(), touched_.end(), 0);
  touched_bytes_ = 0;
}

void PagesMap::NoteWritten(uint64_t end) { known_size_ = std::max(known_size_, end); }

void PagesMap::Reset() {
  UnmapFrom(0);
  known_size_ = 0;
}

PagesMap::Remap PagesMap::Grow() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Remap::kNone;  // keep what is mapped; the caller preads
  known_size_ = uint64_t(st.st_size);
  const uint64_t want = std::min(known_size_ / os_page_ * os_page_, growable_);
  if (want < mapped_) {
    UnmapFrom(want);  // truncated behind our back
    return Remap::kShrunk;
  }
  if (want == mapped_) return Remap::kNone;
  void* p = ::mmap(base_ + mapped_, want - mapped_, PROT_READ, MAP_SHARED | MAP_FIXED, fd_,
                   static_cast<off_t>(mapped_));
  if (p == MAP_FAILED) {
    // The failed MAP_FIXED may have released that part of the reservation (another
    // mapping could land there): never map over it again.
    growable_ = mapped_;
    return Remap::kNone;
  }
  mapped_ = want;
  touched_.resize((mapped_ + kBlockBytes - 1) / kBlockBytes / 64 + 1, 0);  // no allocation on reads
  return Remap::kNone;
}

void PagesMap::UnmapFrom(uint64_t len) {
  if (!base_ || len >= mapped_) return;
  void* p = ::mmap(base_ + len, mapped_ - len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) growable_ = len;  // as in Grow: that part is no longer ours for sure
  mapped_ = len;
  ForgetReads();  // exact for Reset (len 0); after a truncation behind our back, an undercount
  if (p != MAP_FAILED && len > 0) ::madvise(base_, len, MADV_DONTNEED);  // so make it exact
}

}  // namespace litevfs
