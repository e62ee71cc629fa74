// The page cache's index format (vfs/src/cache_format.h): round trips and the exact error
// for each kind of damage, checked in the documented order (length, magic, version, checksum).
#include "cache_format.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ltx/checksum.h"
#include "ltx/coding.h"

namespace litevfs::cachefmt {
namespace {

IndexHeader SampleHeader() {
  IndexHeader h;
  h.page_size = 4096;
  h.pos_txid = 0x1234;
  h.pos_checksum = 0x8000000000abcdefull;
  h.epoch = 0xfeedfacecafebeefull;
  h.prev_epoch_valid_until = 0x1200;
  return h;
}

TEST(CacheFormatTest, HeaderRoundTripAndLayout) {
  uint8_t buf[kIndexHeaderSize];
  SampleHeader().EncodeTo(buf);
  EXPECT_EQ(std::memcmp(buf, "LVFSCIDX", 8), 0);
  EXPECT_EQ(ltx::DecodeU32(buf + 8), kFormatVersion);
  EXPECT_EQ(ltx::DecodeU32(buf + 12), 4096u);
  EXPECT_EQ(ltx::DecodeU64(buf + 16), 0x1234u);
  EXPECT_EQ(ltx::DecodeU64(buf + 48), 0u) << "reserved";
  EXPECT_EQ(ltx::DecodeU64(buf + 56), ltx::Crc64(buf, 56));
  auto h = IndexHeader::Decode(buf);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->page_size, 4096u);
  EXPECT_EQ(h->pos_txid, 0x1234u);
  EXPECT_EQ(h->pos_checksum, 0x8000000000abcdefull);
  EXPECT_EQ(h->epoch, 0xfeedfacecafebeefull);
  EXPECT_EQ(h->prev_epoch_valid_until, 0x1200u);
}

TEST(CacheFormatTest, HeaderDamageHasItsOwnError) {
  uint8_t good[kIndexHeaderSize];
  SampleHeader().EncodeTo(good);

  auto r = IndexHeader::Decode({good, 63});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ltx::Code::kCorruption);
  EXPECT_EQ(r.status().message(), "cache index: header too short (63 bytes, need 64)");

  std::vector<uint8_t> b(good, good + kIndexHeaderSize);
  b[0] ^= 1;
  r = IndexHeader::Decode(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cache index: bad magic");

  b.assign(good, good + kIndexHeaderSize);
  ltx::EncodeU32(b.data() + 8, kFormatVersion + 1);
  r = IndexHeader::Decode(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ltx::Code::kUnsupported);
  EXPECT_EQ(r.status().message(),
            "cache index: unknown format version " + std::to_string(kFormatVersion + 1));

  for (size_t i : {12u, 20u, 33u, 47u, 50u, 60u}) {  // every field is covered by the checksum
    b.assign(good, good + kIndexHeaderSize);
    b[i] ^= 0x10;
    r = IndexHeader::Decode(b);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_EQ(r.status().message(), "cache index: header checksum mismatch") << "byte " << i;
  }
}

TEST(CacheFormatTest, EntryRoundTripBindsThePageNumber) {
  IndexEntry e;
  e.fetched_txid = 7;
  e.valid_until = kValidForever;
  e.epoch = 3;
  e.page_checksum = 0x8000000000000042ull;
  uint8_t buf[kIndexEntrySize];
  e.EncodeTo(9, buf);
  EXPECT_FALSE(IndexEntry::IsEmptySlot(buf));
  auto d = IndexEntry::Decode(9, buf);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->fetched_txid, 7u);
  EXPECT_EQ(d->valid_until, kValidForever);
  EXPECT_EQ(d->epoch, 3u);
  EXPECT_EQ(d->page_checksum, 0x8000000000000042ull);
  // The same bytes at another page's slot do not verify (a misdirected write).
  auto other = IndexEntry::Decode(10, buf);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message(), "cache index: entry checksum mismatch for page 10");
  buf[3] ^= 0x80;
  auto bad = IndexEntry::Decode(9, buf);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ltx::Code::kCorruption);
  auto shortr = IndexEntry::Decode(9, {buf, 39});
  ASSERT_FALSE(shortr.ok());
  EXPECT_EQ(shortr.status().message(), "cache index: entry for page 9 truncated");
  uint8_t zero[kIndexEntrySize] = {};
  EXPECT_TRUE(IndexEntry::IsEmptySlot(zero));
}

TEST(CacheFormatTest, Offsets) {
  EXPECT_EQ(EntryOffset(1), kIndexHeaderSize);
  EXPECT_EQ(EntryOffset(3), kIndexHeaderSize + 2 * kIndexEntrySize);
  EXPECT_EQ(PageOffset(1, 4096), 0u);
  EXPECT_EQ(PageOffset(0xffffffffu, 65536), uint64_t(0xfffffffeu) * 65536);
}

}  // namespace
}  // namespace litevfs::cachefmt
