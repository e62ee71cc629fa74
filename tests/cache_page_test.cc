// PageCache behaviour: round trips, the versioning rule, persistence, corruption handling,
// bounds, locking. Concurrency and the hot-path timing live in their own files.
#include <sys/stat.h>
#include <unistd.h>

#include <limits>

#include "cache.h"
#include "cache_format.h"
#include "cache_test_util.h"
#include "pgno_map.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"

namespace litevfs {
namespace {

using cachetest::FlipByte;
using cachetest::MakePage;
using cachetest::MustOpen;
using cachetest::PokeFile;
using cachetest::ReadFileAt;
using cachetest::TempDir;

constexpr uint32_t kPs = 4096;

ltx::Pos P(uint64_t txid) { return {txid, ltx::kChecksumFlag | txid}; }

class CacheTest : public ::testing::Test {
 protected:
  CacheOptions Opts() const {
    CacheOptions o;
    o.dir = dir_.path() + "/db";
    o.page_size = kPs;
    return o;
  }
  // Get that must succeed (no error) and reports hit/miss; on a hit checks the bytes.
  bool Hit(PageCache& c, uint32_t pgno, uint64_t pin, const std::vector<uint8_t>& want) {
    std::vector<uint8_t> buf(c.page_size());
    auto r = c.Get(pgno, pin, buf);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || !*r) return false;
    EXPECT_EQ(buf, want) << "page " << pgno << " pin " << pin << " served the wrong bytes";
    return true;
  }
  bool Miss(PageCache& c, uint32_t pgno, uint64_t pin) {
    std::vector<uint8_t> buf(c.page_size());
    auto r = c.Get(pgno, pin, buf);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && !*r;
  }
  TempDir dir_;
};

// PutMany (bulk fetches): runs of consecutive pages and gaps, a page with a newer current
// version that must stay, an older one that is replaced; everything survives a reopen
// (the entries written per run are the ones the index reads back); bad batches are refused.
TEST_F(CacheTest, PutManyStoresRunsLikePut) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(2), false, {}, 100).ok());
    auto newer = MakePage(5, 3), older = MakePage(9, 1);  // 9: fetched at 2, other bytes
    ASSERT_TRUE(c->Put(5, 3, newer).ok());
    ASSERT_TRUE(c->Put(9, 2, older).ok());
    std::vector<std::vector<uint8_t>> data;
    const std::vector<uint32_t> pgnos = {1, 2, 3, 5, 6, 9, 10, 40};
    for (uint32_t pg : pgnos) data.push_back(MakePage(pg, 2));
    std::vector<PageCache::PageRef> refs;
    for (size_t i = 0; i < pgnos.size(); i++) refs.push_back({pgnos[i], data[i]});
    ASSERT_TRUE(c->PutMany(2, refs).ok());
    for (size_t i = 0; i < pgnos.size(); i++) {
      if (pgnos[i] != 5) {
        EXPECT_TRUE(Hit(*c, pgnos[i], 2, data[i])) << pgnos[i];
      }
    }
    EXPECT_TRUE(Hit(*c, 5, 3, newer));  // the newer version was not overwritten
    EXPECT_EQ(c->page_count(), pgnos.size());
    std::vector<PageCache::PageRef> bad = {refs[1], refs[0]};
    EXPECT_EQ(c->PutMany(2, bad).code(), ltx::Code::kInvalidArgument);
    ASSERT_TRUE(c->Flush().ok());
  }
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  for (uint32_t pg : {1u, 2u, 3u, 6u, 9u, 10u, 40u}) EXPECT_TRUE(Hit(*c, pg, 2, MakePage(pg, 2))) << pg;
}

TEST_F(CacheTest, PutGetRoundTrip) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->pos().IsZero());
  EXPECT_EQ(c->page_count(), 0u);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
  auto p1 = MakePage(1, 1), p7 = MakePage(7, 1);
  ASSERT_TRUE(c->Put(1, 1, p1).ok());
  ASSERT_TRUE(c->Put(7, 1, p7).ok());
  EXPECT_TRUE(Hit(*c, 1, 1, p1));
  EXPECT_TRUE(Hit(*c, 7, 1, p7));
  EXPECT_TRUE(Miss(*c, 2, 1));
  EXPECT_TRUE(c->Contains(7, 1));
  EXPECT_FALSE(c->Contains(2, 1));
  EXPECT_EQ(c->page_count(), 2u);
  EXPECT_EQ(c->stats().hits.load(), 2u);
  EXPECT_EQ(c->stats().misses.load(), 1u);
  EXPECT_EQ(c->stats().inserts.load(), 2u);
  // Pages sit at fixed offsets in the sparse pages file.
  EXPECT_EQ(ReadFileAt(dir_.path() + "/db/pages", 6 * kPs, kPs), p7);
}

TEST_F(CacheTest, VersioningRuleAcrossAdvance) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
  auto v1 = MakePage(5, 1), other = MakePage(6, 1);
  ASSERT_TRUE(c->Put(5, 1, v1).ok());
  ASSERT_TRUE(c->Put(6, 1, other).ok());
  // Page 5 changed in txid 2 or 3.
  const uint32_t changed[] = {5};
  ASSERT_TRUE(c->Advance(P(3), false, changed, 10).ok());
  EXPECT_EQ(c->pos(), P(3));
  EXPECT_TRUE(Hit(*c, 5, 1, v1)) << "a reader pinned at the old position keeps its version";
  EXPECT_TRUE(Miss(*c, 5, 2));
  EXPECT_TRUE(Miss(*c, 5, 3)) << "a new pin must not see the stale version";
  EXPECT_FALSE(c->Contains(5, 3));
  EXPECT_TRUE(Hit(*c, 6, 3, other)) << "unchanged pages stay valid for new pins";
  // Fetching the new version replaces the old one.
  auto v3 = MakePage(5, 3);
  ASSERT_TRUE(c->Put(5, 3, v3).ok());
  EXPECT_TRUE(Hit(*c, 5, 3, v3));
  EXPECT_TRUE(Hit(*c, 5, 9, v3)) << "valid until a sync says otherwise";
  EXPECT_TRUE(Miss(*c, 5, 1)) << "one version per page: the old pin now misses";
  EXPECT_EQ(c->page_count(), 2u);
}

TEST_F(CacheTest, FirstAdvanceFromZeroTrustsNothingPutBefore) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Put(1, 5, MakePage(1, 5)).ok());  // accepted: 5 >= pos 0
  EXPECT_TRUE(c->Contains(1, 5));
  // Without `all`, but from zero: no change list relative to zero exists.
  ASSERT_TRUE(c->Advance(P(8), false, {}, 10).ok());
  EXPECT_FALSE(c->Contains(1, 8));
  EXPECT_EQ(c->page_count(), 0u);
}

TEST_F(CacheTest, PutForOlderPinIsIgnored) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(3), false, {}, 10).ok());
  ASSERT_TRUE(c->Put(7, 2, MakePage(7, 2)).ok());  // fetched for a pin older than pos
  EXPECT_EQ(c->page_count(), 0u);
  EXPECT_TRUE(Miss(*c, 7, 2));
  EXPECT_TRUE(Miss(*c, 7, 3));
  ASSERT_TRUE(c->Put(7, 0, MakePage(7, 0)).ok());
  EXPECT_EQ(c->page_count(), 0u);
  // A newer current version is not replaced by an older fetch.
  auto v5 = MakePage(7, 5);
  ASSERT_TRUE(c->Put(7, 5, v5).ok());
  ASSERT_TRUE(c->Put(7, 4, MakePage(7, 4)).ok());
  EXPECT_TRUE(Hit(*c, 7, 5, v5));
  EXPECT_TRUE(Miss(*c, 7, 4));
  EXPECT_EQ(c->stats().inserts.load(), 1u);
}

TEST_F(CacheTest, AllInvalidatesEveryPageThroughTheEpoch) {
  std::vector<std::vector<uint8_t>> v1;
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
    for (uint32_t pg = 1; pg <= 3; pg++) {
      v1.push_back(MakePage(pg, 1));
      ASSERT_TRUE(c->Put(pg, 1, v1.back()).ok());
    }
    ASSERT_TRUE(c->Advance(P(2), true, {}, 10).ok());
    for (uint32_t pg = 1; pg <= 3; pg++) {
      EXPECT_TRUE(Hit(*c, pg, 1, v1[pg - 1]));
      EXPECT_TRUE(Miss(*c, pg, 2));
    }
  }
  {
    auto c = MustOpen(Opts());  // the invalidation survived without per-entry writes
    ASSERT_TRUE(c);
    EXPECT_EQ(c->pos(), P(2));
    EXPECT_EQ(c->page_count(), 3u);
    for (uint32_t pg = 1; pg <= 3; pg++) {
      EXPECT_TRUE(Miss(*c, pg, 2));
      EXPECT_TRUE(Hit(*c, pg, 1, v1[pg - 1]));
    }
    ASSERT_TRUE(c->Put(2, 2, MakePage(2, 2)).ok());
    ASSERT_TRUE(c->Advance(P(4), true, {}, 10).ok());
  }
  {
    // Two epochs later the untouched version-1 pages are gone; page 2 (fetched at 2,
    // capped at 2 by the second bump) is still there for pin 2.
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->page_count(), 1u);
    EXPECT_TRUE(Hit(*c, 2, 2, MakePage(2, 2)));
    EXPECT_TRUE(Miss(*c, 2, 4));
    EXPECT_TRUE(Miss(*c, 1, 1));
  }
}

TEST_F(CacheTest, ShrinkViaCommitInvalidatesPagesBeyondIt) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
  for (uint32_t pg = 1; pg <= 10; pg++) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1)).ok());
  ASSERT_TRUE(c->Advance(P(2), false, {}, 5).ok());
  for (uint32_t pg = 1; pg <= 10; pg++) {
    EXPECT_TRUE(Hit(*c, pg, 1, MakePage(pg, 1))) << pg;
    if (pg <= 5) {
      EXPECT_TRUE(Hit(*c, pg, 2, MakePage(pg, 1))) << pg;
    } else {
      EXPECT_TRUE(Miss(*c, pg, 2)) << pg;
    }
  }
  c.reset();
  c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_TRUE(Miss(*c, 8, 2)) << "the shrink was persisted";
  EXPECT_TRUE(Hit(*c, 3, 2, MakePage(3, 1)));
}

TEST_F(CacheTest, InvalidationsPersistAcrossReopen) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(4, 1, MakePage(4, 1)).ok());
    ASSERT_TRUE(c->Put(5, 1, MakePage(5, 1)).ok());
    const uint32_t changed[] = {4, 9};  // 9 is not cached: nothing to do for it
    ASSERT_TRUE(c->Advance(P(2), false, changed, 10).ok());
  }
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pos(), P(2));
  EXPECT_TRUE(Miss(*c, 4, 2));
  EXPECT_TRUE(Hit(*c, 4, 1, MakePage(4, 1)));
  EXPECT_TRUE(Hit(*c, 5, 2, MakePage(5, 1)));
}

// A writer's commit defers the index fdatasync and the header: a crash before the
// position is stored reopens at the older position, from which the re-reported changes
// cap what was put since (over-invalidation, never a stale page); PersistPosition and
// Flush store it.
TEST_F(CacheTest, DeferredPositionIsStoredLaterAndSafeWhenLost) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(4, 1, MakePage(4, 1)).ok());
    ASSERT_TRUE(c->Put(5, 1, MakePage(5, 1)).ok());
    const uint32_t changed[] = {4};
    ASSERT_TRUE(c->Advance(P(2), false, changed, 10, /*defer_durability=*/true).ok());
    EXPECT_TRUE(c->position_behind());
    EXPECT_EQ(c->pos(), P(2));  // in memory, the cache is at the new position
    ASSERT_TRUE(c->Put(4, 2, MakePage(4, 2)).ok());
    EXPECT_TRUE(Hit(*c, 4, 2, MakePage(4, 2)));
    // The object goes away without storing the position (a crash, as far as disk goes).
  }
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->pos(), P(1)) << "the deferred position must not have been stored";
    // The next sync from P1 re-reports page 4: the version put at txid 2 is capped, so
    // nothing stale or unaccounted for is served at the new position.
    const uint32_t changed[] = {4};
    ASSERT_TRUE(c->Advance(P(2), false, changed, 10).ok());
    EXPECT_TRUE(Miss(*c, 4, 2));
    EXPECT_TRUE(Hit(*c, 5, 2, MakePage(5, 1)));
    ASSERT_TRUE(c->Put(4, 2, MakePage(4, 2)).ok());
    const uint32_t changed3[] = {5};
    ASSERT_TRUE(c->Advance(P(3), false, changed3, 10, /*defer_durability=*/true).ok());
    EXPECT_TRUE(c->position_behind());
    ASSERT_TRUE(c->PersistPosition().ok());
    EXPECT_FALSE(c->position_behind());
    const uint32_t changed4[] = {4};
    ASSERT_TRUE(c->Advance(P(4), false, changed4, 10, /*defer_durability=*/true).ok());
    ASSERT_TRUE(c->PersistPosition().ok());  // what a clean close does
    EXPECT_FALSE(c->position_behind());
  }
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pos(), P(4));
  EXPECT_TRUE(Miss(*c, 4, 4));  // capped at 3 by the stored invalidation
  EXPECT_TRUE(Hit(*c, 4, 3, MakePage(4, 2)));
  EXPECT_TRUE(Miss(*c, 5, 3));
}

TEST_F(CacheTest, ReopenKeepsPagesAndPosition) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(7), false, {}, 100).ok());
    for (uint32_t pg : {1u, 2u, 50u, 100u}) ASSERT_TRUE(c->Put(pg, 7, MakePage(pg, 7)).ok());
  }
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pos(), P(7));
  EXPECT_EQ(c->page_count(), 4u);
  for (uint32_t pg : {1u, 2u, 50u, 100u}) EXPECT_TRUE(Hit(*c, pg, 7, MakePage(pg, 7))) << pg;
  EXPECT_TRUE(Miss(*c, 3, 7));
  EXPECT_EQ(c->stats().resets.load(), 0u);
}

TEST_F(CacheTest, DifferentPageSizeResets) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(7), false, {}, 100).ok());
    ASSERT_TRUE(c->Put(1, 7, MakePage(1, 7)).ok());
  }
  CacheOptions o = Opts();
  o.page_size = 8192;
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->page_size(), 8192u);
  EXPECT_TRUE(c->pos().IsZero());
  EXPECT_EQ(c->page_count(), 0u);
  EXPECT_EQ(c->stats().resets.load(), 1u);
  EXPECT_TRUE(Miss(*c, 1, 7));
}

TEST_F(CacheTest, CorruptPageByteIsDroppedNotServed) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
  ASSERT_TRUE(c->Put(3, 1, MakePage(3, 1)).ok());
  ASSERT_TRUE(c->Put(4, 1, MakePage(4, 1)).ok());
  FlipByte(dir_.path() + "/db/pages", 2 * kPs + 1234);
  std::vector<uint8_t> buf(kPs, 0xee);
  auto r = c->Get(3, 1, buf);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);
  EXPECT_EQ(buf, std::vector<uint8_t>(kPs, 0)) << "failed bytes must not leak to the caller";
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 1u);
  EXPECT_FALSE(c->Contains(3, 1));
  EXPECT_EQ(c->page_count(), 1u);
  EXPECT_TRUE(Miss(*c, 3, 1));
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 1u) << "dropped once, then a plain miss";
  EXPECT_TRUE(Hit(*c, 4, 1, MakePage(4, 1)));
  // Refetching repairs it.
  ASSERT_TRUE(c->Put(3, 1, MakePage(3, 1)).ok());
  EXPECT_TRUE(Hit(*c, 3, 1, MakePage(3, 1)));
}

TEST_F(CacheTest, TornPageWriteIsDetected) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
  auto v1 = MakePage(2, 1), v2 = MakePage(2, 2);
  ASSERT_TRUE(c->Put(2, 1, v1).ok());
  ASSERT_TRUE(c->Put(2, 2, v2).ok());
  // The entry names version 2 but only the first half of its page reached the disk.
  std::vector<uint8_t> old_tail(v1.begin() + kPs / 2, v1.end());
  PokeFile(dir_.path() + "/db/pages", kPs + kPs / 2, old_tail);
  EXPECT_TRUE(Miss(*c, 2, 2));
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 1u);
  EXPECT_EQ(c->page_count(), 0u);
}

TEST_F(CacheTest, TornPageDetectedAfterReopen) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(2, 1, MakePage(2, 1)).ok());
  }
  // Crash after the entry of a replacement but before all of its page: old page bytes,
  // new entry. Simulate by writing the new page's head only, keeping the old entry.
  auto v2 = MakePage(2, 2);
  PokeFile(dir_.path() + "/db/pages", kPs, std::vector<uint8_t>(v2.begin(), v2.begin() + 512));
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->page_count(), 1u) << "pages are verified lazily, on Get";
  EXPECT_TRUE(Miss(*c, 2, 1));
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 1u);
}

TEST_F(CacheTest, CorruptIndexHeaderResetsTheCache) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(5), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(1, 5, MakePage(1, 5)).ok());
  }
  FlipByte(dir_.path() + "/db/index", 20);  // inside pos_txid
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats().resets.load(), 1u);
  EXPECT_TRUE(c->pos().IsZero());
  EXPECT_EQ(c->page_count(), 0u);
  EXPECT_TRUE(Miss(*c, 1, 5));
  EXPECT_TRUE(Miss(*c, 1, 100));
}

TEST_F(CacheTest, TruncatedIndexResetsTheCache) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(5), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(1, 5, MakePage(1, 5)).ok());
  }
  ASSERT_EQ(::truncate((dir_.path() + "/db/index").c_str(), 30), 0);
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats().resets.load(), 1u);
  EXPECT_TRUE(c->pos().IsZero());
  EXPECT_EQ(c->page_count(), 0u);
  EXPECT_TRUE(Miss(*c, 1, 5));
}

TEST_F(CacheTest, UnknownFormatVersionResetsTheCache) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(5), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(1, 5, MakePage(1, 5)).ok());
  }
  // A future version with a *valid* checksum still must not be trusted.
  auto h = ReadFileAt(dir_.path() + "/db/index", 0, cachefmt::kIndexHeaderSize);
  ASSERT_EQ(h.size(), cachefmt::kIndexHeaderSize);
  ltx::EncodeU32(h.data() + 8, 99);
  ltx::EncodeU64(h.data() + 56, ltx::Crc64(h.data(), 56));
  PokeFile(dir_.path() + "/db/index", 0, h);
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats().resets.load(), 1u);
  EXPECT_EQ(c->page_count(), 0u);
}

TEST_F(CacheTest, CorruptIndexEntryDropsOnlyThatPage) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(5), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(1, 5, MakePage(1, 5)).ok());
    ASSERT_TRUE(c->Put(2, 5, MakePage(2, 5)).ok());
  }
  FlipByte(dir_.path() + "/db/index", cachefmt::EntryOffset(2) + 9);  // valid_until
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats().resets.load(), 0u);
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 1u);
  EXPECT_EQ(c->page_count(), 1u);
  EXPECT_TRUE(Hit(*c, 1, 5, MakePage(1, 5)));
  EXPECT_TRUE(Miss(*c, 2, 5));
}

TEST_F(CacheTest, TornTrailingIndexEntryIsIgnored) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(5), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(1, 5, MakePage(1, 5)).ok());
    ASSERT_TRUE(c->Put(2, 5, MakePage(2, 5)).ok());
  }
  ASSERT_EQ(::truncate((dir_.path() + "/db/index").c_str(),
                       static_cast<off_t>(cachefmt::EntryOffset(2) + 17)),
            0);
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->page_count(), 1u);
  EXPECT_TRUE(Hit(*c, 1, 5, MakePage(1, 5)));
  EXPECT_TRUE(Miss(*c, 2, 5));
}

TEST_F(CacheTest, LruBoundKeepsTheHottestPages) {
  CacheOptions o = Opts();
  o.max_pages = 8;
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 1000).ok());
  for (uint32_t pg = 1; pg <= 8; pg++) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1)).ok());
  for (uint32_t pg = 9; pg <= 40; pg++) {
    for (uint32_t hot : {1u, 2u, 3u}) ASSERT_TRUE(Hit(*c, hot, 1, MakePage(hot, 1))) << hot;
    ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1)).ok());
    ASSERT_LE(c->page_count(), 8u);
  }
  EXPECT_EQ(c->page_count(), 8u);
  EXPECT_EQ(c->stats().evictions.load(), 32u);
  for (uint32_t hot : {1u, 2u, 3u}) EXPECT_TRUE(c->Contains(hot, 1)) << hot;
  EXPECT_TRUE(c->Contains(40, 1)) << "the newest page was just inserted";
  c.reset();
  // The bound also holds when reopening with a smaller limit.
  o.max_pages = 4;
  c = MustOpen(o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->page_count(), 4u);
}

TEST_F(CacheTest, SetLimitsAppliesToAnOpenCache) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 1000).ok());
  for (uint32_t pg = 1; pg <= 10; pg++) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1)).ok());
  ASSERT_TRUE(Hit(*c, 4, 1, MakePage(4, 1)));
  c->SetLimits(3, 0);
  EXPECT_EQ(c->page_count(), 3u);
  EXPECT_TRUE(c->Contains(4, 1)) << "the referenced page survives";
  ASSERT_TRUE(c->Put(11, 1, MakePage(11, 1)).ok());
  EXPECT_EQ(c->page_count(), 3u);
  c->SetLimits(0, std::numeric_limits<uint64_t>::max() / 2);
  ASSERT_TRUE(c->Put(12, 1, MakePage(12, 1)).ok());
  EXPECT_EQ(c->stats().skipped.load(), 1u);
  c->SetLimits(0, 0);
  ASSERT_TRUE(c->Put(12, 1, MakePage(12, 1)).ok());
  EXPECT_EQ(c->page_count(), 4u);
}

TEST_F(CacheTest, EvictedPagesAreHolePunched) {
  CacheOptions o = Opts();
  o.max_pages = 4;
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 1000).ok());
  for (uint32_t pg = 1; pg <= 64; pg++) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1)).ok());
  ASSERT_TRUE(c->Flush().ok());
  struct stat st;
  ASSERT_EQ(::stat((dir_.path() + "/db/pages").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 64 * kPs) << "holes keep the size";
  // 4 live pages (plus slack for filesystems that allocate in larger units).
  EXPECT_LE(uint64_t(st.st_blocks) * 512, 16u * kPs) << "evicted pages still hold disk";
}

TEST_F(CacheTest, LowDiskSkipsInsertsButReadsWork) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(1, 1, MakePage(1, 1)).ok());
  }
  CacheOptions o = Opts();
  o.min_available_bytes = std::numeric_limits<uint64_t>::max() / 2;
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->Put(2, 1, MakePage(2, 1)).ok()) << "a full disk never fails a read";
  EXPECT_EQ(c->stats().skipped.load(), 1u);
  EXPECT_EQ(c->stats().inserts.load(), 0u);
  EXPECT_EQ(c->stats().evictions.load(), 0u) << "evicting cannot free that much: keep the cache";
  EXPECT_TRUE(Miss(*c, 2, 1));
  EXPECT_TRUE(Hit(*c, 1, 1, MakePage(1, 1)));
  // Replacing a page already on disk needs no new space.
  EXPECT_TRUE(c->Put(1, 2, MakePage(1, 2)).ok());
  EXPECT_TRUE(Hit(*c, 1, 2, MakePage(1, 2)));
}

TEST_F(CacheTest, SecondOpenOfTheSameDirectoryConflicts) {
  auto a = MustOpen(Opts());
  ASSERT_TRUE(a);
  auto b = PageCache::Open(Opts());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), ltx::Code::kConflict) << b.status().ToString();
  EXPECT_NE(b.status().message().find("in use"), std::string::npos) << b.status().message();
  a.reset();
  auto c = PageCache::Open(Opts());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
}

TEST_F(CacheTest, ClearEmptiesEverything) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(3), false, {}, 10).ok());
  ASSERT_TRUE(c->Put(1, 3, MakePage(1, 3)).ok());
  ASSERT_TRUE(c->Clear().ok());
  EXPECT_TRUE(c->pos().IsZero());
  EXPECT_EQ(c->page_count(), 0u);
  EXPECT_TRUE(Miss(*c, 1, 3));
  c.reset();
  c = MustOpen(Opts());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->page_count(), 0u);
  EXPECT_TRUE(c->pos().IsZero());
  EXPECT_EQ(c->stats().resets.load(), 0u) << "a cleared cache is valid, not corrupt";
}

TEST_F(CacheTest, CollectDropsVersionsNoPinCanUse) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
  ASSERT_TRUE(c->Put(1, 1, MakePage(1, 1)).ok());
  ASSERT_TRUE(c->Put(2, 1, MakePage(2, 1)).ok());
  const uint32_t changed[] = {1};
  ASSERT_TRUE(c->Advance(P(2), false, changed, 10).ok());
  c->Collect(1);  // a reader is still pinned at 1
  EXPECT_EQ(c->page_count(), 2u);
  c->Collect(2);
  EXPECT_EQ(c->page_count(), 1u);
  EXPECT_TRUE(Miss(*c, 1, 1));
  EXPECT_TRUE(Hit(*c, 2, 2, MakePage(2, 1)));
}

TEST_F(CacheTest, BadArgumentsAreRejected) {
  CacheOptions o = Opts();
  o.page_size = 1000;
  auto bad = PageCache::Open(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ltx::Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("page size 1000"), std::string::npos);

  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  std::vector<uint8_t> small(100);
  EXPECT_EQ(c->Get(1, 1, small).status().code(), ltx::Code::kInvalidArgument);
  EXPECT_EQ(c->Put(1, 1, small).code(), ltx::Code::kInvalidArgument);
  EXPECT_EQ(c->Put(0, 1, MakePage(0, 1)).code(), ltx::Code::kInvalidArgument);
  ASSERT_TRUE(c->Advance(P(5), false, {}, 10).ok());
  auto st = c->Advance(P(4), false, {}, 10);
  EXPECT_EQ(st.code(), ltx::Code::kInvalidArgument) << st.ToString();
  st = c->Advance({5, 12345}, false, {}, 10);
  EXPECT_EQ(st.code(), ltx::Code::kInvalidArgument) << st.ToString();
  EXPECT_EQ(c->pos(), P(5));
}

// The page-number map behind the cache's slots and the b-tree hints: absent until written,
// memory only for the chunks written, the whole pgno range usable.
TEST(PgnoMapTest, ChunksAllocateOnWriteOnly) {
  PgnoMap<uint32_t> m;
  EXPECT_EQ(m.Find(1), nullptr);
  EXPECT_EQ(m.allocated_bytes(), 0u);
  m.At(5) = 7;
  ASSERT_NE(m.Find(5), nullptr);
  EXPECT_EQ(*m.Find(5), 7u);
  ASSERT_NE(m.Find(6), nullptr);  // same chunk: present but value-initialised
  EXPECT_EQ(*m.Find(6), 0u);
  EXPECT_EQ(m.allocated_bytes(), PgnoMap<uint32_t>::kChunk * sizeof(uint32_t));
  const uint32_t top = (1u << 31) - 1;  // the largest SQLite page number
  m.At(top) = 9;
  EXPECT_EQ(*m.Find(top), 9u);
  EXPECT_EQ(m.Find(top - PgnoMap<uint32_t>::kChunk), nullptr);  // chunks in between: none
  EXPECT_EQ(m.allocated_bytes(), 2 * PgnoMap<uint32_t>::kChunk * sizeof(uint32_t));
  m.Reset(5);
  EXPECT_EQ(*m.Find(5), 0u);
  m.Clear();
  EXPECT_EQ(m.Find(5), nullptr);
  EXPECT_EQ(m.Find(top), nullptr);
  EXPECT_EQ(m.allocated_bytes(), 0u);
}

// The cache's slots: pages scattered over a large database cost one value each plus a
// 4-byte number per page of a touched chunk, not a whole chunk of values.
TEST(PgnoMapTest, SparseMapPacksScatteredValues) {
  struct Big {
    uint64_t a = 0, b = 0, c = 0, d = 0, e = 0;
  };
  SparsePgnoMap<Big> m;
  EXPECT_EQ(m.Find(1), nullptr);
  const uint32_t stride = PgnoMap<uint32_t>::kChunk;  // one page per chunk: the worst case
  const uint32_t n = 2000;
  for (uint32_t i = 0; i < n; i++) m.At(1 + i * stride).a = i + 1;
  Big* first = m.Find(1);
  ASSERT_NE(first, nullptr);
  for (uint32_t i = 0; i < n; i++) {
    ASSERT_NE(m.Find(1 + i * stride), nullptr) << i;
    EXPECT_EQ(m.Find(1 + i * stride)->a, i + 1);
  }
  EXPECT_EQ(m.Find(2), nullptr);  // in a touched chunk, never written: absent
  EXPECT_EQ(m.Find(1), first);     // addresses are stable while values are added
  const size_t sparse = m.allocated_bytes();
  EXPECT_LE(sparse, n * PgnoMap<uint32_t>::kChunk * sizeof(uint32_t) + (n + 1024) * sizeof(Big));
  EXPECT_LT(sparse * 8, size_t(n) * PgnoMap<Big>::kChunk * sizeof(Big));  // vs a PgnoMap<Big>
  m.At(5).b = 3;  // a new page in a touched chunk
  EXPECT_EQ(m.Find(5)->b, 3u);
  EXPECT_EQ(m.Find(5)->a, 0u);  // value-initialised
  m.Clear();
  EXPECT_EQ(m.Find(1), nullptr);
  EXPECT_EQ(m.allocated_bytes(), 0u);
}

}  // namespace
}  // namespace litevfs
