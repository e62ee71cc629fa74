// The SQLite database file format, as far as litevfs reads or patches it
// (https://www.sqlite.org/fileformat2.html). One home for every offset and type byte; the
// readers take a bounded view and never read past it. Header-only, dependency-free: the
// CLI includes it as "vfs/src/sqlite_format.h" (CMake target litevfs_facts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace litevfs::sqlite_format {

// ---- The 100-byte database header at the start of page 1 ----
inline constexpr size_t kHeaderSize = 100;
inline constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with its NUL
inline constexpr size_t kMagicSize = 16;
inline constexpr size_t kPageSizeOffset = 16;         // u16; 1 means 65536
inline constexpr size_t kWriteVersionOffset = 18;     // 1 = rollback journal, 2 = WAL
inline constexpr size_t kReadVersionOffset = 19;      // 1 = rollback journal, 2 = WAL
inline constexpr size_t kReservedOffset = 20;         // u8: bytes reserved at each page's end
inline constexpr size_t kChangeCounterOffset = 24;    // u32
inline constexpr size_t kDatabaseSizeOffset = 28;     // u32 pages; valid iff 24 == 92
inline constexpr size_t kFreelistTrunkOffset = 32;    // u32: first freelist trunk page
inline constexpr size_t kFreelistCountOffset = 36;    // u32: freelist pages
inline constexpr size_t kSchemaCookieOffset = 40;     // u32
inline constexpr size_t kVersionValidForOffset = 92;  // u32: change counter of the size
inline constexpr uint8_t kVersionRollback = 1;
inline constexpr uint8_t kVersionWal = 2;
inline constexpr uint32_t kPageSize65536 = 1;         // how 65536 is written at offset 16

// ---- B-tree page header (at offset kHeaderSize on page 1, else 0) ----
inline constexpr size_t kBtreeTypeOffset = 0;         // u8: one of the page types below
inline constexpr size_t kBtreeCellCountOffset = 3;    // u16
inline constexpr size_t kBtreeRightChildOffset = 8;   // u32, interior pages only
inline constexpr size_t kBtreeLeafHeaderSize = 8;     // then the cell pointer array (u16 each)
inline constexpr size_t kBtreeInteriorHeaderSize = 12;
inline constexpr size_t kCellPointerSize = 2;
inline constexpr size_t kChildPointerSize = 4;        // an interior cell starts with its child
inline constexpr uint8_t kInteriorIndex = 0x02;
inline constexpr uint8_t kInteriorTable = 0x05;
inline constexpr uint8_t kLeafIndex = 0x0A;
inline constexpr uint8_t kLeafTable = 0x0D;
inline constexpr size_t kMaxVarintSize = 9;
// sqlite_schema columns: (type, name, tbl_name, rootpage, sql); rootpage is column 3.
inline constexpr int kSchemaRootpageColumn = 3;

// Where the b-tree header of page `pgno` starts.
inline constexpr size_t BtreeHeaderOffset(uint32_t pgno) { return pgno == 1 ? kHeaderSize : 0; }
inline constexpr bool IsInteriorPage(uint8_t type) {
  return type == kInteriorIndex || type == kInteriorTable;
}

inline uint16_t ReadU16(std::span<const uint8_t> p, size_t off) {
  return off + 2 <= p.size() ? uint16_t((p[off] << 8) | p[off + 1]) : 0;
}
inline uint32_t ReadU32(std::span<const uint8_t> p, size_t off) {
  if (off + 4 > p.size()) return 0;
  return (uint32_t(p[off]) << 24) | (uint32_t(p[off + 1]) << 16) | (uint32_t(p[off + 2]) << 8) |
         uint32_t(p[off + 3]);
}

// Page 1's page size (1 read as 65536); 0 when the header is too short.
inline uint32_t HeaderPageSize(std::span<const uint8_t> page1) {
  if (page1.size() < kPageSizeOffset + 2) return 0;
  const uint32_t v = ReadU16(page1, kPageSizeOffset);
  return v == kPageSize65536 ? 65536u : v;
}
// Page 1's database size in pages (offset 28); 0 when the header is too short.
inline uint32_t HeaderDatabaseSize(std::span<const uint8_t> page1) {
  return ReadU32(page1, kDatabaseSizeOffset);
}
// Whether the database size at offset 28 is valid (change counter == version-valid-for).
inline bool HeaderDatabaseSizeValid(std::span<const uint8_t> page1) {
  return page1.size() >= kHeaderSize && HeaderDatabaseSize(page1) != 0 &&
         std::memcmp(page1.data() + kChangeCounterOffset, page1.data() + kVersionValidForOffset, 4) == 0;
}
inline bool HasMagic(std::span<const uint8_t> page1) {
  return page1.size() >= kMagicSize && std::memcmp(page1.data(), kMagic, kMagicSize) == 0;
}
// Whether page 1 says WAL mode (write and read version 2).
inline bool IsWalHeader(std::span<const uint8_t> page1) {
  return page1.size() > kReadVersionOffset && page1[kWriteVersionOffset] == kVersionWal &&
         page1[kReadVersionOffset] == kVersionWal;
}
inline bool IsRollbackHeader(std::span<const uint8_t> page1) {
  return page1.size() > kReadVersionOffset && page1[kWriteVersionOffset] == kVersionRollback &&
         page1[kReadVersionOffset] == kVersionRollback;
}
// Sets the write/read version bytes (no-op when page1 is too short).
inline void SetJournalVersions(std::span<uint8_t> page1, uint8_t version) {
  if (page1.size() <= kReadVersionOffset) return;
  page1[kWriteVersionOffset] = version;
  page1[kReadVersionOffset] = version;
}

}  // namespace litevfs::sqlite_format
