// Per-page checksums of base.db, kept in base.sums beside it so a page whose bytes changed
// after they were written is never served.
//
// base.sums: a 64-byte header (magic "LVMCSUM1", page_size u32 at 8, zeros, crc64 of bytes
// [0,56) at 56, big-endian) then one u64 per page: the entry of page P at 64 + 8*P (entry 0
// unused). An entry is PageSum(P, page) = XXH3-64 of the page seeded with P, so a page written
// at the wrong offset fails too. The lock page's entry is that of zeros (never read).
// Entries change together with their pages: written in place by a fold (which startup redoes
// after a crash, pages and entries alike), or whole with a new base (base.sums.tmp, renamed
// before base.db is).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store_io.h"
#include "util.h"

namespace mockcloud {

inline constexpr uint64_t kSumsHeaderSize = 64;

uint64_t PageSum(uint32_t pgno, const uint8_t* page, size_t page_size);
inline uint64_t SumOffset(uint32_t pgno) { return kSumsHeaderSize + uint64_t(pgno) * 8; }

// Reads every entry of pages 0..commit (Corruption naming the file when the header is bad or
// the file is short).
Result<std::vector<uint64_t>> ReadSumsFile(int fd, const std::string& path, uint32_t page_size,
                                           uint32_t commit);
// The header and every entry, written to `fd` from offset 0.
Status WriteSumsWhole(StoreIo* io, int fd, const std::string& path, uint32_t page_size,
                      const std::vector<uint64_t>& sums);
// The entries of `pgnos` (ascending), in place.
Status WriteSumEntries(StoreIo* io, int fd, const std::string& path,
                       const std::vector<uint32_t>& pgnos, const std::vector<uint64_t>& sums);

}  // namespace mockcloud
