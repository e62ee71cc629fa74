// LTX checksums: CRC-64/ISO as Go's hash/crc64 computes it (reflected poly
// 0xD800000000000000, init and xorout all ones; crc64("123456789") == 0xb90956c775a41001),
// with kChecksumFlag OR-ed into every stored value so a real checksum is never 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "ltx/format.h"
#include "ltx/status.h"

namespace ltx {

// Streaming CRC-64/ISO with Go's hash/crc64.Update semantics: the running value is always
// the finished CRC of what was fed so far, so Crc64Update(Crc64Update(Crc64Init(), a), b)
// == Crc64(a ‖ b) and no separate finalisation step exists.
uint64_t Crc64(const void* data, size_t n);
uint64_t Crc64Update(uint64_t crc, const void* data, size_t n);  // crc is the running value
// The slicing-by-8 table code alone, whatever the CPU (tests compare the fast path with it).
uint64_t Crc64UpdateTable(uint64_t crc, const void* data, size_t n);
inline uint64_t Crc64Init() { return 0; }

// kChecksumFlag | crc64(pgno as 4 BE bytes ‖ page).
uint64_t PageChecksum(uint32_t pgno, std::span<const uint8_t> page);
// PageChecksum(pgno, page), and the running CRC *crc advanced over the page as
// Crc64Update(*crc, page) would: one pass over the page instead of two (the page's CRC is
// moved into the running one: linear algebra, no second read). For a file checksum that
// covers each page its page checksum also covers (LTX encode and decode).
uint64_t PageChecksumAndUpdate(uint32_t pgno, std::span<const uint8_t> page, uint64_t* crc);

// Database checksum maintained incrementally: FLAG | XOR of all page checksums except the
// lock page. Empty = kEmptyDatabaseChecksum.
class DatabaseChecksum {
 public:
  DatabaseChecksum() = default;
  explicit DatabaseChecksum(uint64_t value) : acc_(value & ~kChecksumFlag) {}
  // XOR a page in (or out: XOR is its own inverse). Lock page callers must skip.
  void Toggle(uint64_t page_checksum) { acc_ ^= (page_checksum & ~kChecksumFlag); }
  // Replace a page: old checksum out, new one in.
  void Replace(uint64_t old_page_checksum, uint64_t new_page_checksum) {
    Toggle(old_page_checksum);
    Toggle(new_page_checksum);
  }
  uint64_t value() const { return kChecksumFlag | acc_; }

 private:
  uint64_t acc_ = 0;
};

// Database checksum of a SQLite file on disk (page size from its header, or given).
Result<uint64_t> ChecksumDatabaseFile(const std::string& path, uint32_t page_size = 0);
// Database checksum of an in-memory image of `npages` pages.
uint64_t ChecksumDatabaseImage(std::span<const uint8_t> image, uint32_t page_size);

}  // namespace ltx
