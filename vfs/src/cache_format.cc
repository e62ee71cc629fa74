#include "cache_format.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "litevfs/page_sum.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"

namespace litevfs::cachefmt {

void IndexHeader::EncodeTo(uint8_t out[kIndexHeaderSize]) const {
  std::memset(out, 0, kIndexHeaderSize);
  std::memcpy(out, kIndexMagic, sizeof(kIndexMagic));
  ltx::EncodeU32(out + 8, kFormatVersion);
  ltx::EncodeU32(out + 12, page_size);
  ltx::EncodeU64(out + 16, pos_txid);
  ltx::EncodeU64(out + 24, pos_checksum);
  ltx::EncodeU64(out + 32, epoch);
  ltx::EncodeU64(out + 40, prev_epoch_valid_until);
  ltx::EncodeU64(out + kHeaderChecksumOffset, ltx::Crc64(out, kHeaderChecksumOffset));
}

ltx::Result<IndexHeader> IndexHeader::Decode(std::span<const uint8_t> in) {
  if (in.size() < kIndexHeaderSize) {
    return ltx::Status::Corruption("cache index: header too short (" + std::to_string(in.size()) +
                                   " bytes, need " + std::to_string(kIndexHeaderSize) + ")");
  }
  if (std::memcmp(in.data(), kIndexMagic, sizeof(kIndexMagic)) != 0) {
    return ltx::Status::Corruption("cache index: bad magic");
  }
  uint32_t version = ltx::DecodeU32(in.data() + 8);
  if (version != kFormatVersion) {
    return ltx::Status::Unsupported("cache index: unknown format version " +
                                    std::to_string(version));
  }
  if (ltx::DecodeU64(in.data() + kHeaderChecksumOffset) !=
      ltx::Crc64(in.data(), kHeaderChecksumOffset)) {
    return ltx::Status::Corruption("cache index: header checksum mismatch");
  }
  IndexHeader h;
  h.page_size = ltx::DecodeU32(in.data() + 12);
  h.pos_txid = ltx::DecodeU64(in.data() + 16);
  h.pos_checksum = ltx::DecodeU64(in.data() + 24);
  h.epoch = ltx::DecodeU64(in.data() + 32);
  h.prev_epoch_valid_until = ltx::DecodeU64(in.data() + 40);
  return h;
}

namespace {
uint64_t EntryChecksum(uint32_t pgno, const uint8_t* entry) {
  uint8_t be[4];
  ltx::EncodeU32(be, pgno);
  uint64_t crc = ltx::Crc64Update(ltx::Crc64Init(), be, sizeof(be));
  return ltx::Crc64Update(crc, entry, kEntryChecksumOffset);
}
}  // namespace

bool IndexEntry::IsEmptySlot(std::span<const uint8_t> in) {
  return std::all_of(in.begin(), in.end(), [](uint8_t b) { return b == 0; });
}

void IndexEntry::EncodeTo(uint32_t pgno, uint8_t out[kIndexEntrySize]) const {
  ltx::EncodeU64(out + 0, fetched_txid);
  ltx::EncodeU64(out + 8, valid_until);
  ltx::EncodeU64(out + 16, epoch);
  ltx::EncodeU64(out + 24, page_checksum);
  ltx::EncodeU64(out + kEntryChecksumOffset, EntryChecksum(pgno, out));
}

ltx::Result<IndexEntry> IndexEntry::Decode(uint32_t pgno, std::span<const uint8_t> in) {
  if (in.size() < kIndexEntrySize) {
    return ltx::Status::Corruption("cache index: entry for page " + std::to_string(pgno) +
                                   " truncated");
  }
  if (ltx::DecodeU64(in.data() + kEntryChecksumOffset) != EntryChecksum(pgno, in.data())) {
    return ltx::Status::Corruption("cache index: entry checksum mismatch for page " +
                                   std::to_string(pgno));
  }
  IndexEntry e;
  e.fetched_txid = ltx::DecodeU64(in.data() + 0);
  e.valid_until = ltx::DecodeU64(in.data() + 8);
  e.epoch = ltx::DecodeU64(in.data() + 16);
  e.page_checksum = ltx::DecodeU64(in.data() + 24);
  return e;
}

uint64_t PageHash(uint32_t pgno, std::span<const uint8_t> page) {
  return litevfs::PageSum(pgno, page.data(), page.size());
}

}  // namespace litevfs::cachefmt
