// PageCache reads through the memory map of its pages file (vfs/src/cache_map.h, issue 19):
// hits come from the map, the map follows the file as it grows, is reset with it and
// survives a truncation behind its back; a page's hash is checked once per process per
// write, so a page rewritten or corrupted before that check is still never served.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "cache_format.h"
#include "cache_map.h"
#include "cache_test_util.h"
#include "ltx/checksum.h"

namespace litevfs {
namespace {

using cachetest::FlipByte;
using cachetest::MakePage;
using cachetest::MustOpen;
using cachetest::TempDir;

constexpr uint32_t kPs = 4096;

ltx::Pos P(uint64_t txid) { return {txid, ltx::kChecksumFlag | txid}; }

class CacheMapTest : public ::testing::Test {
 protected:
  CacheOptions Opts(uint32_t page_size = kPs) const {
    CacheOptions o;
    o.dir = dir_.path() + "/db";
    o.page_size = page_size;
    return o;
  }
  std::string PagesFile() const { return dir_.path() + "/db/pages"; }
  // Get: hit with exactly `want`, or a miss (want empty).
  void Expect(PageCache& c, uint32_t pgno, uint64_t pin, const std::vector<uint8_t>& want) {
    std::vector<uint8_t> buf(c.page_size(), 0xee);
    auto r = c.Get(pgno, pin, buf);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (want.empty()) {
      EXPECT_FALSE(*r) << "page " << pgno << " should be a miss";
      const bool untouched = buf == std::vector<uint8_t>(c.page_size(), 0xee);
      EXPECT_TRUE(untouched || buf == std::vector<uint8_t>(c.page_size(), 0)) << "a failed page's bytes leaked";
    } else {
      EXPECT_TRUE(*r) << "page " << pgno << " should be a hit";
      EXPECT_EQ(buf, want) << "page " << pgno << " served the wrong bytes";
    }
  }
  TempDir dir_;
};

TEST_F(CacheMapTest, HitsComeFromTheMapAndItGrowsWithTheFile) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 5000).ok());
  ASSERT_TRUE(c->Put(1, 1, MakePage(1, 1)).ok());
  Expect(*c, 1, 1, MakePage(1, 1));
  EXPECT_EQ(c->stats().mapped_reads.load(), 1u);
  // The file grows (by Put and by PutMany) past what was mapped: the map follows.
  ASSERT_TRUE(c->Put(4000, 1, MakePage(4000, 1)).ok());
  const auto a = MakePage(200, 1), b = MakePage(201, 1);
  const PageCache::PageRef refs[] = {{200, a}, {201, b}};
  ASSERT_TRUE(c->PutMany(1, refs).ok());
  Expect(*c, 4000, 1, MakePage(4000, 1));
  Expect(*c, 201, 1, b);
  Expect(*c, 1, 1, MakePage(1, 1));
  EXPECT_EQ(c->stats().mapped_reads.load(), 4u);
  EXPECT_EQ(c->stats().hits.load(), 4u);
}

// A page whose hash was checked once is rewritten: the new bytes are checked again, so a
// rewrite that reached the disk damaged is caught (fails if Put kept the verified mark).
TEST_F(CacheMapTest, ARewrittenPageIsVerifiedAgain) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
  ASSERT_TRUE(c->Put(3, 1, MakePage(3, 1)).ok());
  Expect(*c, 3, 1, MakePage(3, 1));  // verified now
  ASSERT_TRUE(c->Advance(P(2), false, std::vector<uint32_t>{3}, 10).ok());
  ASSERT_TRUE(c->Put(3, 2, MakePage(3, 2)).ok());
  FlipByte(PagesFile(), 2 * kPs + 17);
  Expect(*c, 3, 2, {});
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 1u);
  // The same through PutMany.
  const auto v3 = MakePage(3, 3);
  const PageCache::PageRef refs[] = {{3, v3}};
  ASSERT_TRUE(c->Advance(P(3), false, std::vector<uint32_t>{3}, 10).ok());
  ASSERT_TRUE(c->PutMany(3, refs).ok());
  Expect(*c, 3, 3, v3);
  ASSERT_TRUE(c->Advance(P(4), false, std::vector<uint32_t>{3}, 10).ok());
  ASSERT_TRUE(c->PutMany(4, refs).ok());  // same bytes, a new write of the slot
  FlipByte(PagesFile(), 2 * kPs + 99);
  Expect(*c, 3, 4, {});
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 2u);
}

// A page put with the server's sum (page-sums) keeps that sum, not one of the bytes that
// arrived: a page damaged on the way is a miss at its first read, never served, for Put and
// for PutMany, bounded cache or not. A page whose sum matches is served as usual; a batch
// whose first sum is wrong is hashed here.
TEST_F(CacheMapTest, APageDamagedOnTheWayFailsTheServersSum) {
  for (const uint64_t max_pages : {uint64_t{0}, uint64_t{100}}) {
    SCOPED_TRACE("max_pages " + std::to_string(max_pages));
    TempDir dir;
    CacheOptions o = Opts();
    o.dir = dir.path() + "/db";
    o.max_pages = max_pages;
    auto c = MustOpen(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
    const auto good = MakePage(4, 1), sent = MakePage(5, 1);
    auto damaged = sent;
    damaged[123] ^= 0x10;
    ASSERT_TRUE(c->Put(4, 1, good, false, cachefmt::PageHash(4, good)).ok());
    ASSERT_TRUE(c->Put(5, 1, damaged, false, cachefmt::PageHash(5, sent)).ok());
    Expect(*c, 4, 1, good);
    Expect(*c, 5, 1, {});
    EXPECT_EQ(c->stats().corrupt_dropped.load(), 1u);
    const auto p7 = MakePage(7, 1), p8 = MakePage(8, 1);
    auto d8 = p8;
    d8[4000] ^= 0x01;
    const PageCache::PageRef refs[] = {{7, p7, cachefmt::PageHash(7, p7)}, {8, d8, cachefmt::PageHash(8, p8)}};
    ASSERT_TRUE(c->PutMany(1, refs).ok());
    Expect(*c, 7, 1, p7);
    Expect(*c, 8, 1, {});
    EXPECT_EQ(c->stats().corrupt_dropped.load(), 2u);
    EXPECT_EQ(c->stats().sums_refused.load(), 0u);
    // A source whose sums are all wrong (its first page's does not match): the batch is
    // hashed here, so its pages are served instead of failing their first read.
    const auto p9 = MakePage(9, 1), p10 = MakePage(10, 1);
    const PageCache::PageRef wrong[] = {{9, p9, 0x1234}, {10, p10, 0x5678}};
    ASSERT_TRUE(c->PutMany(1, wrong).ok());
    EXPECT_EQ(c->stats().sums_refused.load(), 1u);
    Expect(*c, 9, 1, p9);
    Expect(*c, 10, 1, p10);
    EXPECT_EQ(c->stats().corrupt_dropped.load(), 2u);
  }
}

// The verified mark lives in one process's memory: a page verified by another process and
// damaged on disk afterwards is caught by the next process that opens the cache.
TEST_F(CacheMapTest, APageVerifiedInAnotherProcessIsCheckedByAFreshOne) {
  {
    auto c = MustOpen(Opts());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(1), false, {}, 10).ok());
    ASSERT_TRUE(c->Put(2, 1, MakePage(2, 1)).ok());
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the other process: reads (and so verifies) page 2 through the map
    auto r = PageCache::Open(Opts());
    std::vector<uint8_t> buf(kPs);
    auto got = r.ok() ? (*r)->Get(2, 1, buf) : ltx::Result<bool>(false);
    const bool ok = got.ok() && *got && buf == MakePage(2, 1) && (*r)->stats().mapped_reads.load() == 1;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child could not read page 2";
  FlipByte(PagesFile(), kPs + 4000);
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  Expect(*c, 2, 1, {});
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 1u);
}

// Clear truncates the file: the map is reset first, and pages put after it are mapped anew.
TEST_F(CacheMapTest, ClearResetsTheMap) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 100).ok());
  for (uint32_t pg = 1; pg <= 64; pg++) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1)).ok());
  Expect(*c, 64, 1, MakePage(64, 1));
  ASSERT_TRUE(c->Clear().ok());
  Expect(*c, 64, 1, {});
  ASSERT_TRUE(c->Advance(P(2), false, {}, 100).ok());
  ASSERT_TRUE(c->Put(5, 2, MakePage(5, 2)).ok());
  Expect(*c, 5, 2, MakePage(5, 2));
  ASSERT_TRUE(c->Put(64, 2, MakePage(64, 2)).ok());
  Expect(*c, 64, 2, MakePage(64, 2));
  EXPECT_EQ(c->stats().mapped_reads.load(), 3u);
}

// The file shrinks behind the cache's back (not through Clear): when the map next grows it
// finds the file shorter, unmaps the lost part (no SIGBUS), and verifies what is left again.
TEST_F(CacheMapTest, AFileTruncatedBehindItsBackIsRemapped) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 100).ok());
  for (uint32_t pg = 1; pg <= 4; pg++) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1)).ok());
  Expect(*c, 1, 1, MakePage(1, 1));  // maps pages 1..4, verifies page 1
  ASSERT_TRUE(c->Put(8, 1, MakePage(8, 1)).ok());
  ASSERT_EQ(::truncate(PagesFile().c_str(), kPs), 0);  // pages 2..8 are gone
  FlipByte(PagesFile(), 100);  // and page 1, verified above, is damaged
  Expect(*c, 8, 1, {});  // the map grows, finds the file short: a torn page, not a crash
  Expect(*c, 1, 1, {});  // the remap voided page 1's verification: checked again, dropped
  Expect(*c, 2, 1, {});  // past the end of the file: neither mapped nor served
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 3u);
  EXPECT_EQ(c->page_count(), 2u) << "pages 3 and 4 are dropped when read";
}

// A file tail shorter than an OS page is not mapped (never map past the end of the file):
// those pages are preads, and mapped once the file covers their OS page.
TEST_F(CacheMapTest, PagesInTheFilesLastPartialOsPageArePreads) {
  constexpr uint32_t kSmall = 512;
  auto c = MustOpen(Opts(kSmall));
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 100).ok());
  for (uint32_t pg = 1; pg <= 3; pg++) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1, kSmall)).ok());
  Expect(*c, 3, 1, MakePage(3, 1, kSmall));
  EXPECT_EQ(c->stats().mapped_reads.load(), 0u);
  const uint32_t per_os_page = uint32_t(::sysconf(_SC_PAGESIZE)) / kSmall;
  for (uint32_t pg = 4; pg <= per_os_page; pg++) ASSERT_TRUE(c->Put(pg, 1, MakePage(pg, 1, kSmall)).ok());
  Expect(*c, 3, 1, MakePage(3, 1, kSmall));
  EXPECT_EQ(c->stats().mapped_reads.load(), 1u);
  EXPECT_EQ(c->stats().hits.load(), 2u);
}

}  // namespace
}  // namespace litevfs

namespace litevfs {
namespace {

// xFetch's contract (Pin): the page's bytes stay as they were until Unpin, through a Put of
// a newer version, eviction, a drop and Clear; after Unpin the cache works as before.
TEST_F(CacheMapTest, APinnedPageKeepsItsBytesUntilUnpinned) {
  CacheOptions o = Opts();
  o.max_pages = 2;
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 100).ok());
  ASSERT_TRUE(c->Put(2, 1, MakePage(2, 1)).ok());
  EXPECT_EQ(c->Pin(2, 0), nullptr) << "not usable at pin 0";
  EXPECT_EQ(c->Pin(3, 1), nullptr) << "not cached";
  const uint8_t* p = c->Pin(2, 1);
  ASSERT_NE(p, nullptr);
  const std::vector<uint8_t> v1 = MakePage(2, 1);
  auto same = [&] { return std::equal(v1.begin(), v1.end(), p); };
  EXPECT_TRUE(same());
  EXPECT_EQ(c->pinned_count(), 1u);
  // A newer version is not written over it (not cached: a skip), and the old one stays
  // usable only up to the position the sync capped it at.
  ASSERT_TRUE(c->Advance(P(2), false, std::vector<uint32_t>{2}, 100).ok());
  ASSERT_TRUE(c->Put(2, 2, MakePage(2, 2)).ok());
  EXPECT_TRUE(same());
  EXPECT_FALSE(c->Contains(2, 2));
  EXPECT_GE(c->stats().skipped.load(), 1u);
  // Eviction passes it by (the cache holds 2 pages).
  for (uint32_t pg = 3; pg <= 6; pg++) ASSERT_TRUE(c->Put(pg, 2, MakePage(pg, 2)).ok());
  EXPECT_TRUE(c->Contains(2, 1));
  EXPECT_TRUE(same());
  // Clear drops every entry but leaves the pinned bytes in the file.
  ASSERT_TRUE(c->Clear().ok());
  EXPECT_FALSE(c->Contains(2, 1));
  EXPECT_TRUE(same());
  ASSERT_TRUE(c->Advance(P(3), false, {}, 100).ok());
  ASSERT_TRUE(c->Put(2, 3, MakePage(2, 3)).ok());
  EXPECT_TRUE(same());
  EXPECT_FALSE(c->Unpin(2, v1.data())) << "not a pointer of this cache";
  EXPECT_TRUE(c->Unpin(2, p));
  EXPECT_EQ(c->pinned_count(), 0u);
  EXPECT_FALSE(c->Unpin(2, p)) << "unpinned already";
  ASSERT_TRUE(c->Put(2, 3, MakePage(2, 3)).ok());
  Expect(*c, 2, 3, MakePage(2, 3));
}

// Pin checks a page's hash before handing it out, like Get.
TEST_F(CacheMapTest, PinNeverHandsOutACorruptPage) {
  auto c = MustOpen(Opts());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 100).ok());
  ASSERT_TRUE(c->Put(2, 1, MakePage(2, 1)).ok());
  FlipByte(PagesFile(), kPs + 5);
  EXPECT_EQ(c->Pin(2, 1), nullptr);
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 1u);
  EXPECT_EQ(c->pinned_count(), 0u);
}

}  // namespace
}  // namespace litevfs

namespace litevfs {
namespace {

// The map reads at most PagesMap::kMaxResidentBytes of blocks through it (RSS bound): a page
// in any other block is refused (the cache preads it), the blocks read before still map.
TEST(PagesMapTest, ReadsPastTheResidentBudgetAreRefused) {
  TempDir dir;
  const std::string path = dir.file("pages");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  constexpr uint64_t kBudgetBlocks = PagesMap::kMaxResidentBytes / PagesMap::kBlockBytes;
  constexpr uint64_t kBlocks = kBudgetBlocks + 8;
  for (uint64_t b = 0; b < kBlocks; b++) {  // one marked 4 KiB page per 64 KiB block
    const auto page = MakePage(uint32_t(b + 1), 1);
    ASSERT_EQ(::pwrite(fd, page.data(), page.size(), off_t(b * PagesMap::kBlockBytes)), ssize_t(page.size()));
  }
  PagesMap map;
  ASSERT_TRUE(map.Open(fd));
  map.NoteWritten(kBlocks * PagesMap::kBlockBytes);
  PagesMap::Remap remap;
  for (uint64_t b = 0; b < kBlocks; b++) {
    const uint8_t* p = map.Find(b * PagesMap::kBlockBytes, kPs, &remap);
    if (b >= kBudgetBlocks) {
      EXPECT_EQ(p, nullptr) << "block " << b << " is past the budget";
      continue;
    }
    ASSERT_NE(p, nullptr) << "block " << b;
    const auto want = MakePage(uint32_t(b + 1), 1);
    ASSERT_TRUE(std::equal(want.begin(), want.end(), p)) << "block " << b;
  }
  EXPECT_EQ(map.over_budget(), kBlocks - kBudgetBlocks);
  // Another page of a block read before is still mapped.
  EXPECT_NE(map.Find(PagesMap::kBlockBytes + kPs, kPs, &remap), nullptr);
  // Reset forgets: the budget is whole again.
  map.Reset();
  map.NoteWritten(kBlocks * PagesMap::kBlockBytes);
  EXPECT_NE(map.Find((kBlocks - 1) * PagesMap::kBlockBytes, kPs, &remap), nullptr);
  ::close(fd);
}

}  // namespace
}  // namespace litevfs
