// PageCache::Pin without the cache's lock (issue 19, row 1d: vfs/src/cache_pins.h): a page
// pinned once is pinned again with one atomic add while it stays current. These tests pin the
// second time (the lock-free path) and check that such a pin still keeps the page's bytes
// (no rewrite, eviction or truncation), that the mark is withdrawn before the page changes,
// that it never serves a pin older than the page's version, and that pins from several
// threads race correctly with a writer putting newer versions.
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "cache.h"
#include "cache_test_util.h"

namespace litevfs {
namespace {

using namespace cachetest;  // MakePage, MustOpen, TempDir

constexpr uint32_t kPs = 4096;

ltx::Pos P(uint64_t txid) { return {txid, ltx::kChecksumFlag | txid}; }

bool Same(const uint8_t* p, const std::vector<uint8_t>& want) {
  return p && std::memcmp(p, want.data(), want.size()) == 0;
}

class CachePinTest : public ::testing::Test {
 protected:
  CacheOptions Opts(uint64_t max_pages = 0) const {
    CacheOptions o;
    o.dir = dir_.path() + "/db";
    o.page_size = kPs;
    o.max_pages = max_pages;
    return o;
  }
  // A cache at position `txid` (100 pages) holding version `txid` of page `pgno`, or nullptr
  // (the failure reported).
  std::unique_ptr<PageCache> OpenWithPage(uint32_t pgno, uint64_t txid, uint64_t max_pages = 0) {
    auto c = MustOpen(Opts(max_pages));
    if (c && c->Advance(P(txid), false, {}, 100).ok() && c->Put(pgno, txid, MakePage(pgno, txid)).ok()) return c;
    ADD_FAILURE() << "could not open a cache holding page " << pgno << " at " << txid;
    return nullptr;
  }
  // Pins pgno at `pin` twice (the second pin takes the lock-free path), unpins the first.
  const uint8_t* PinAgain(PageCache& c, uint32_t pgno, uint64_t pin) {
    const uint8_t* p = c.Pin(pgno, pin);
    if (!p) return nullptr;
    const uint8_t* again = c.Pin(pgno, pin);
    EXPECT_EQ(again, p);
    EXPECT_TRUE(c.Unpin(pgno, p));
    return again;
  }
  TempDir dir_;
};

// A newer version arrives while the page is pinned lock-free: not written over it. Once
// unpinned, the new version is written, and the old pin's lock-free path must not hand out
// the slot any more (it holds bytes of a version the old pin cannot use).
TEST_F(CachePinTest, ALockFreePinKeepsTheBytesAndIsWithdrawnWhenThePageChanges) {
  auto c = OpenWithPage(2, 1);
  ASSERT_TRUE(c);
  const uint8_t* p = PinAgain(*c, 2, 1);
  ASSERT_TRUE(Same(p, MakePage(2, 1)));
  EXPECT_EQ(c->pinned_count(), 1u);
  ASSERT_TRUE(c->Advance(P(2), false, std::vector<uint32_t>{2}, 100).ok());
  ASSERT_TRUE(c->Put(2, 2, MakePage(2, 2)).ok());
  EXPECT_TRUE(Same(p, MakePage(2, 1))) << "a newer version was written over a pinned page";
  EXPECT_FALSE(c->Contains(2, 2));
  ASSERT_TRUE(c->Unpin(2, p));
  ASSERT_TRUE(c->Put(2, 2, MakePage(2, 2)).ok());
  EXPECT_EQ(c->Pin(2, 1), nullptr) << "pin 1 was handed version 2's bytes";
  const uint8_t* q = PinAgain(*c, 2, 2);
  EXPECT_TRUE(Same(q, MakePage(2, 2)));
  EXPECT_TRUE(c->Unpin(2, q));
  EXPECT_EQ(c->pinned_count(), 0u);
}

// The lock-free path serves only pins at or after the cache's position: a version fetched at
// txid 3 is never given to a reader pinned at 2.
TEST_F(CachePinTest, ALockFreePinNeverServesAnOlderPin) {
  auto c = OpenWithPage(5, 3);
  ASSERT_TRUE(c);
  const uint8_t* p = PinAgain(*c, 5, 3);
  ASSERT_TRUE(Same(p, MakePage(5, 3)));
  EXPECT_EQ(c->Pin(5, 2), nullptr) << "pin 2 got the version fetched at 3";
  EXPECT_TRUE(c->Unpin(5, p));
  EXPECT_EQ(c->pinned_count(), 0u);
}

// Eviction passes a lock-free pinned page by and Clear keeps its bytes in the file; the clock
// still evicts it once it is unpinned and not read again (the mark implies its reference bit).
TEST_F(CachePinTest, ALockFreePinIsNotEvictedOrTruncated) {
  auto c = OpenWithPage(2, 1, /*max_pages=*/2);
  ASSERT_TRUE(c);
  const uint8_t* p = PinAgain(*c, 2, 1);
  ASSERT_NE(p, nullptr);
  for (uint32_t pg = 3; pg <= 8; pg++) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1)).ok());
  EXPECT_TRUE(c->Contains(2, 1)) << "a pinned page was evicted";
  EXPECT_TRUE(Same(p, MakePage(2, 1)));
  ASSERT_TRUE(c->Clear().ok());
  EXPECT_TRUE(Same(p, MakePage(2, 1))) << "Clear truncated a pinned page";
  EXPECT_EQ(c->Pin(2, 1), nullptr) << "cleared: nothing to pin";
  EXPECT_TRUE(c->Unpin(2, p));
  EXPECT_FALSE(c->Unpin(2, p)) << "unpinned already";
  ASSERT_TRUE(c->Advance(P(2), false, {}, 100).ok());
  for (uint32_t pg = 2; pg <= 3; pg++) ASSERT_TRUE(c->Put(pg, 2, MakePage(pg, 2)).ok());
  p = PinAgain(*c, 2, 2);
  ASSERT_TRUE(Same(p, MakePage(2, 2)));
  ASSERT_TRUE(c->Unpin(2, p));
  for (uint32_t pg = 4; pg <= 8; pg++) ASSERT_TRUE(c->Put(pg, 2, MakePage(pg, 2)).ok());
  EXPECT_FALSE(c->Contains(2, 2)) << "an unpinned page the reader left stays forever";
}

// A retired cache pins nothing more, lock-free or not; pins taken before are given back.
TEST_F(CachePinTest, ARetiredCachePinsNothing) {
  auto c = OpenWithPage(2, 1);
  ASSERT_TRUE(c);
  const uint8_t* p = PinAgain(*c, 2, 1);
  ASSERT_NE(p, nullptr);
  c->Retire();
  EXPECT_EQ(c->Pin(2, 1), nullptr);
  EXPECT_TRUE(c->Unpin(2, p));
  EXPECT_EQ(c->pinned_count(), 0u);
}

// Two readers pin (twice: the second lock-free) and check every page they hold while a writer
// moves the position and puts a newer version of every page at each txid, in a cache small
// enough to evict. A pin at T may only hold version T (every txid changes every page), and
// its bytes must not change until it is unpinned.
TEST_F(CachePinTest, ReadersPinWhileAWriterPutsNewerVersions) {
  constexpr uint32_t kPages = 24;
  constexpr uint64_t kTxids = 120;
  auto c = MustOpen(Opts(/*max_pages=*/kPages + 4));
  ASSERT_TRUE(c);
  std::vector<uint32_t> all;
  for (uint32_t pg = 1; pg <= kPages + 8; pg++) all.push_back(pg);
  ASSERT_TRUE(c->Advance(P(1), false, {}, kPages + 8).ok());
  for (uint32_t pg : all) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1)).ok());
  std::atomic<bool> done{false};
  std::atomic<uint64_t> held{0}, wrong{0};
  auto reader = [&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done.load() && std::chrono::steady_clock::now() < deadline) {
      const uint64_t t = c->pos().txid;
      for (uint32_t pg = 1; pg <= kPages; pg++) {
        const uint8_t* a = c->Pin(pg, t);
        if (!a) continue;
        const uint8_t* b = c->Pin(pg, t);
        const std::vector<uint8_t> want = MakePage(pg, t);
        if (!Same(a, want) || (b && !Same(b, want))) wrong++;
        std::this_thread::yield();
        if (!Same(a, want)) wrong++;  // still the same bytes before it is given back
        held++;
        if (b && !c->Unpin(pg, b)) wrong++;
        if (!c->Unpin(pg, a)) wrong++;
      }
    }
  };
  std::thread r1(reader), r2(reader);
  bool written = true;
  for (uint64_t t = 2; t <= kTxids && written; t++) {
    written = c->Advance(P(t), false, all, kPages + 8).ok();
    for (uint32_t pg : all) written = written && c->Put(pg, t, MakePage(pg, t)).ok();
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_TRUE(written);
  EXPECT_EQ(wrong.load(), 0u) << "a reader held bytes of another version";
  EXPECT_GT(held.load(), 0u) << "the readers never got a page: the test tested nothing";
  EXPECT_EQ(c->pinned_count(), 0u);
}

}  // namespace
}  // namespace litevfs
