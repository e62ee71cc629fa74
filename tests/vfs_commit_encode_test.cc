// The commit's encoding (vfs/src/commit_stream.h: PlanCommit, then LtxBodyStream): the LTX
// decodes, carries exactly the changed pages, and its position's checksum is the checksum of
// the database image after the commit (new database, update, growth without writes, shrink,
// nothing changed, a WAL-mode page 1, an old page of the wrong size).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "commit_stream.h"
#include "dirty_pages.h"
#include "ltx/checksum.h"
#include "ltx/decoder.h"
#include "ltx/io.h"
#include "sqlite_format.h"

namespace litevfs {
namespace {

constexpr uint32_t kPs = 512;
constexpr int64_t kTimestampMs = 1000;

std::string Page(char fill) { return std::string(kPs, fill); }

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

uint64_t ImageChecksum(const PageMap& image, uint32_t commit) {
  std::string bytes;
  for (uint32_t pg = 1; pg <= commit; pg++) {
    auto it = image.find(pg);
    bytes += it == image.end() ? std::string(kPs, '\0') : it->second;
  }
  return ltx::ChecksumDatabaseImage(Bytes(bytes), kPs);
}

// A transaction's pages, the old versions at its pin, and what encoding them gives.
struct Encoded {
  ltx::Result<CommitPlan> plan = ltx::Status::Unavailable("not planned");
  std::string ltx;              // empty when the plan is empty or failed
  std::vector<uint32_t> asked;  // the old pages PlanCommit read
};

Encoded Encode(DirtyPages* dirty, const PageMap& old, const ltx::Pos& pin, uint32_t old_commit,
               uint32_t new_commit) {
  Encoded e;
  const CommitShape shape{kPs, old_commit, new_commit, pin.post_apply_checksum, pin.IsZero()};
  e.plan = PlanCommit(shape, dirty, [&](const std::vector<uint32_t>& pgnos, PageMap* out) {
    for (uint32_t pg : pgnos) {
      e.asked.push_back(pg);
      auto it = old.find(pg);
      (*out)[pg] = it == old.end() ? std::string(kPs, '\0') : it->second;
    }
    return ltx::Status::OK();
  });
  if (!e.plan.ok() || e.plan->IsEmpty()) return e;
  LtxBodyStream body(dirty, &*e.plan, CommitHeader(*e.plan, pin.txid + 1, kTimestampMs));
  std::vector<uint8_t> buf(700);  // not a multiple of anything the encoder writes
  for (;;) {
    auto r = body.ReadAt(e.ltx.size(), buf.data(), buf.size());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || *r == 0) break;
    e.ltx.append(reinterpret_cast<const char*>(buf.data()), *r);
  }
  EXPECT_EQ(e.ltx.size(), body.size());
  return e;
}

void Fill(DirtyPages* dirty, const PageMap& pages) {
  for (const auto& [pg, data] : pages) ASSERT_TRUE(dirty->Put(pg, Bytes(data)).ok());
}

// Decodes `ltx` (checking its checksums) and returns its pages.
PageMap Decode(const std::string& ltx_bytes, uint64_t* post_checksum) {
  auto dec = ltx::Decoder::Open(ltx::MemorySource(Bytes(ltx_bytes)));
  EXPECT_TRUE(dec.ok()) << dec.status().ToString();
  PageMap out;
  if (!dec.ok()) return out;
  ltx::PageFrame f;
  for (;;) {
    auto more = (*dec)->Next(&f);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    out[f.pgno] = std::string(reinterpret_cast<const char*>(f.data.data()), f.data.size());
  }
  EXPECT_TRUE((*dec)->Finish().ok());
  *post_checksum = (*dec)->trailer().post_apply_checksum;
  return out;
}

TEST(CommitEncodeTest, NewDatabaseIsASnapshotWithGrowthAsZeros) {
  DirtyPages dirty;
  Fill(&dirty, {{1, Page('a')}, {3, Page('c')}});
  Encoded e = Encode(&dirty, {}, ltx::Pos{}, 0, 3);
  ASSERT_TRUE(e.plan.ok()) << e.plan.status().ToString();
  EXPECT_TRUE(e.asked.empty());
  uint64_t chk = 0;
  auto pages = Decode(e.ltx, &chk);
  EXPECT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[2], std::string(kPs, '\0'));
  EXPECT_EQ(e.plan->post_checksum, ImageChecksum({{1, Page('a')}, {3, Page('c')}}, 3));
  EXPECT_EQ(chk, e.plan->post_checksum);
}

TEST(CommitEncodeTest, UpdateCarriesOnlyChangedPagesAndTheNewChecksum) {
  PageMap before = {{1, Page('a')}, {2, Page('b')}, {3, Page('c')}};
  const ltx::Pos pin{7, ImageChecksum(before, 3)};
  DirtyPages dirty;
  Fill(&dirty, {{1, Page('a')}, {2, Page('B')}});  // page 1 rewritten unchanged
  Encoded e = Encode(&dirty, before, pin, 3, 3);
  ASSERT_TRUE(e.plan.ok()) << e.plan.status().ToString();
  EXPECT_EQ(e.asked, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(e.plan->unchanged, (std::vector<uint32_t>{1}));
  EXPECT_EQ(e.plan->page_count, 1u);
  before[2] = Page('B');
  EXPECT_EQ(e.plan->post_checksum, ImageChecksum(before, 3));
  uint64_t chk = 0;
  auto pages = Decode(e.ltx, &chk);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages.begin()->first, 2u);
  EXPECT_EQ(chk, e.plan->post_checksum);
}

TEST(CommitEncodeTest, ShrinkDropsPagesFromTheChecksum) {
  PageMap before = {{1, Page('a')}, {2, Page('b')}, {3, Page('c')}};
  const ltx::Pos pin{2, ImageChecksum(before, 3)};
  DirtyPages dirty;
  Fill(&dirty, {{1, Page('A')}});
  Encoded e = Encode(&dirty, before, pin, 3, 1);
  ASSERT_TRUE(e.plan.ok()) << e.plan.status().ToString();
  EXPECT_EQ(e.asked, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(e.plan->dropped, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(e.plan->post_checksum, ImageChecksum({{1, Page('A')}}, 1));
}

TEST(CommitEncodeTest, NothingChangedEncodesNothing) {
  PageMap before = {{1, Page('a')}};
  DirtyPages dirty;
  Fill(&dirty, {{1, Page('a')}});
  Encoded e = Encode(&dirty, before, ltx::Pos{3, ImageChecksum(before, 1)}, 1, 1);
  ASSERT_TRUE(e.plan.ok());
  EXPECT_TRUE(e.plan->IsEmpty());
  EXPECT_TRUE(e.ltx.empty());
}

TEST(CommitEncodeTest, WalPageOneGoesBackWithItsStoredJournalBytes) {
  std::string wal = Page('a');
  sqlite_format::SetJournalVersions(std::span<uint8_t>(reinterpret_cast<uint8_t*>(wal.data()), wal.size()),
                                    sqlite_format::kVersionWal);
  std::string shown = Page('A');  // SQLite saw (and wrote back) rollback-journal bytes
  sqlite_format::SetJournalVersions(std::span<uint8_t>(reinterpret_cast<uint8_t*>(shown.data()), shown.size()),
                                    sqlite_format::kVersionRollback);
  const PageMap before = {{1, wal}};
  DirtyPages dirty;
  Fill(&dirty, {{1, shown}});
  Encoded e = Encode(&dirty, before, ltx::Pos{4, ImageChecksum(before, 1)}, 1, 1);
  ASSERT_TRUE(e.plan.ok()) << e.plan.status().ToString();
  uint64_t chk = 0;
  auto pages = Decode(e.ltx, &chk);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_TRUE(sqlite_format::IsWalHeader(Bytes(pages[1])));
  EXPECT_EQ(chk, ImageChecksum(pages, 1));
}

TEST(CommitEncodeTest, WrongSizedOldPageIsAnError) {
  DirtyPages dirty;
  Fill(&dirty, {{1, Page('a')}});
  Encoded e = Encode(&dirty, {{1, std::string(100, 'x')}}, ltx::Pos{3, ltx::kChecksumFlag}, 1, 1);
  ASSERT_FALSE(e.plan.ok());
  EXPECT_NE(e.plan.status().message().find("100 bytes"), std::string::npos) << e.plan.status().ToString();
}

}  // namespace
}  // namespace litevfs
