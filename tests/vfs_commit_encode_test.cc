// EncodeCommit (vfs/src/commit_encode.h): the LTX decodes, carries exactly the changed
// pages, and its position's checksum is the checksum of the database image after the
// commit (new database, update, growth without writes, shrink, nothing changed).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "commit_encode.h"
#include "ltx/checksum.h"
#include "ltx/decoder.h"
#include "ltx/io.h"

namespace litevfs {
namespace {

constexpr uint32_t kPs = 512;

std::string Page(char fill) { return std::string(kPs, fill); }

uint64_t ImageChecksum(const std::map<uint32_t, std::string>& image, uint32_t commit) {
  std::string bytes;
  for (uint32_t pg = 1; pg <= commit; pg++) {
    auto it = image.find(pg);
    bytes += it == image.end() ? std::string(kPs, '\0') : it->second;
  }
  return ltx::ChecksumDatabaseImage(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), kPs);
}

// Decodes `ltx` (checking its checksums) and returns its pages.
std::map<uint32_t, std::string> Decode(const std::string& ltx_bytes) {
  auto dec = ltx::Decoder::Open(ltx::MemorySource(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(ltx_bytes.data()), ltx_bytes.size())));
  EXPECT_TRUE(dec.ok()) << dec.status().ToString();
  std::map<uint32_t, std::string> out;
  if (!dec.ok()) return out;
  ltx::PageFrame f;
  for (;;) {
    auto more = (*dec)->Next(&f);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    out[f.pgno] = std::string(reinterpret_cast<const char*>(f.data.data()), f.data.size());
  }
  EXPECT_TRUE((*dec)->Finish().ok());
  return out;
}

TEST(CommitEncodeTest, NewDatabaseIsASnapshotWithGrowthAsZeros) {
  DirtyPages dirty = {{1, Page('a')}, {3, Page('c')}};
  DirtyPages old;
  CommitInput in{kPs, ltx::Pos{}, 0, 3, 1000, &dirty, &old};
  auto enc = EncodeCommit(in);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_FALSE(enc->empty);
  EXPECT_EQ(enc->pos.txid, 1u);
  auto pages = Decode(enc->ltx);
  EXPECT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[2], std::string(kPs, '\0'));
  EXPECT_EQ(enc->pos.post_apply_checksum, ImageChecksum({{1, Page('a')}, {3, Page('c')}}, 3));
}

TEST(CommitEncodeTest, UpdateCarriesOnlyChangedPagesAndTheNewChecksum) {
  std::map<uint32_t, std::string> before = {{1, Page('a')}, {2, Page('b')}, {3, Page('c')}};
  const ltx::Pos pin{7, ImageChecksum(before, 3)};
  DirtyPages dirty = {{1, Page('a')}, {2, Page('B')}};  // page 1 rewritten unchanged
  ASSERT_EQ(OldPagesNeeded(dirty, kPs, 3, 3), (std::vector<uint32_t>{1, 2}));
  DirtyPages old = {{1, Page('a')}, {2, Page('b')}};
  auto enc = EncodeCommit(CommitInput{kPs, pin, 3, 3, 1000, &dirty, &old});
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_EQ(enc->written, (std::vector<uint32_t>{2}));
  EXPECT_EQ(enc->pos.txid, 8u);
  before[2] = Page('B');
  EXPECT_EQ(enc->pos.post_apply_checksum, ImageChecksum(before, 3));
  EXPECT_EQ(Decode(enc->ltx).size(), 1u);
}

TEST(CommitEncodeTest, ShrinkDropsPagesFromTheChecksum) {
  std::map<uint32_t, std::string> before = {{1, Page('a')}, {2, Page('b')}, {3, Page('c')}};
  const ltx::Pos pin{2, ImageChecksum(before, 3)};
  DirtyPages dirty = {{1, Page('A')}};
  ASSERT_EQ(OldPagesNeeded(dirty, kPs, 3, 1), (std::vector<uint32_t>{1, 2, 3}));
  DirtyPages old = before;
  auto enc = EncodeCommit(CommitInput{kPs, pin, 3, 1, 1000, &dirty, &old});
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_EQ(enc->changed, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(enc->pos.post_apply_checksum, ImageChecksum({{1, Page('A')}}, 1));
}

TEST(CommitEncodeTest, NothingChangedEncodesNothing) {
  std::map<uint32_t, std::string> before = {{1, Page('a')}};
  DirtyPages dirty = {{1, Page('a')}};
  DirtyPages old = before;
  auto enc = EncodeCommit(CommitInput{kPs, ltx::Pos{3, ImageChecksum(before, 1)}, 1, 1, 1000, &dirty, &old});
  ASSERT_TRUE(enc.ok());
  EXPECT_TRUE(enc->empty);
  EXPECT_TRUE(enc->ltx.empty());
}

TEST(CommitEncodeTest, WrongSizedPageIsAnError) {
  DirtyPages dirty = {{1, std::string(100, 'x')}};
  DirtyPages old;
  auto enc = EncodeCommit(CommitInput{kPs, ltx::Pos{}, 0, 1, 1000, &dirty, &old});
  ASSERT_FALSE(enc.ok());
  EXPECT_NE(enc.status().message().find("page size"), std::string::npos);
}

}  // namespace
}  // namespace litevfs
