// The on-disk format of the page cache's `index` file (PageCache, cache.h).
//
// All integers big-endian.
//   header  kIndexHeaderSize = 64 bytes at offset 0
//     0 magic "LVFSCIDX" | 8 format_version u32 | 12 page_size u32
//     16 pos_txid u64 | 24 pos_checksum u64 | 32 epoch u64 | 40 prev_epoch_valid_until u64
//     48 reserved u64 = 0 | 56 header_checksum u64 = crc64(bytes [0, 56))
//   entries kIndexEntrySize = 40 bytes each; pgno N at kIndexHeaderSize + (N-1)*40
//     0 fetched_txid u64 (0 = empty slot) | 8 valid_until_txid u64 (kValidForever = not yet
//     invalidated) | 16 epoch u64 | 24 page_checksum u64 = PageHash(pgno, page) (XXH3-64 seeded with pgno)
//     32 entry_checksum u64 = crc64(pgno as 4 BE bytes ‖ entry bytes [0, 32))
//
// Epochs make "every page changed" O(1): Advance(all=true) writes only a new header with
// epoch+1 and prev_epoch_valid_until = the old position's txid. When loading, an entry of
// the header's epoch is taken as written, an entry of epoch-1 is capped at
// prev_epoch_valid_until, and any other epoch is dropped. A reset picks a random epoch so
// entries left over from before it can never match.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ltx/status.h"

namespace litevfs::cachefmt {

inline constexpr char kIndexMagic[8] = {'L', 'V', 'F', 'S', 'C', 'I', 'D', 'X'};
inline constexpr uint32_t kFormatVersion = 2;  // 2: page hash is XXH3 (1 was CRC-64)
inline constexpr size_t kIndexHeaderSize = 64;
inline constexpr size_t kHeaderChecksumOffset = 56;
inline constexpr size_t kIndexEntrySize = 40;
inline constexpr size_t kEntryChecksumOffset = 32;
inline constexpr uint64_t kValidForever = UINT64_MAX;

static_assert(kHeaderChecksumOffset + 8 == kIndexHeaderSize);
static_assert(kEntryChecksumOffset + 8 == kIndexEntrySize);

struct IndexHeader {
  uint32_t page_size = 0;
  uint64_t pos_txid = 0;
  uint64_t pos_checksum = 0;
  uint64_t epoch = 0;
  uint64_t prev_epoch_valid_until = 0;

  void EncodeTo(uint8_t out[kIndexHeaderSize]) const;
  // Checks, in order: length, magic, format version, checksum. Each failure has its own
  // message ("cache index: ..."), code kCorruption (kUnsupported for an unknown version).
  static ltx::Result<IndexHeader> Decode(std::span<const uint8_t> in);
};

struct IndexEntry {
  uint64_t fetched_txid = 0;
  uint64_t valid_until = kValidForever;
  uint64_t epoch = 0;
  uint64_t page_checksum = 0;

  // An all-zero slot (never written, or cleared) means "no page".
  static bool IsEmptySlot(std::span<const uint8_t> in);
  void EncodeTo(uint32_t pgno, uint8_t out[kIndexEntrySize]) const;
  // kCorruption on short input or an entry checksum that does not match this pgno.
  static ltx::Result<IndexEntry> Decode(uint32_t pgno, std::span<const uint8_t> in);
};

constexpr uint64_t EntryOffset(uint32_t pgno) {
  return kIndexHeaderSize + uint64_t(pgno - 1) * kIndexEntrySize;
}
constexpr uint64_t PageOffset(uint32_t pgno, uint32_t page_size) {
  return uint64_t(pgno - 1) * page_size;
}

// The checksum an entry keeps of its page: XXH3-64 seeded with the pgno, so a page written
// at the wrong offset does not verify. ~10x cheaper than the CRC-64 LTX uses, which matters
// because every warm read verifies it; torn-write detection needs no CRC's properties.
uint64_t PageHash(uint32_t pgno, std::span<const uint8_t> page);

}  // namespace litevfs::cachefmt
