// PageCache when writes fail. The fault comes from outside the code under test: a lowered
// RLIMIT_FSIZE makes every pwrite at or past the limit fail with EFBIG (SIGXFSZ ignored),
// so pages and index entries at high page numbers become unwritable while low ones work.
#include <sys/resource.h>

#include <csignal>

#include "cache.h"
#include "cache_format.h"
#include "cache_test_util.h"

namespace litevfs {
namespace {

using cachetest::MakePage;
using cachetest::MustOpen;
using cachetest::TempDir;

constexpr uint32_t kPs = 4096;
constexpr rlim_t kLimit = 1 << 20;  // 1 MiB
// Page data of pgno >= 257 lies past the limit; index entries of pgno >= 26213 do too.
constexpr uint32_t kPageUnwritable = 1000;
constexpr uint32_t kEntryUnwritable = 30000;
static_assert(uint64_t(kPageUnwritable - 1) * kPs >= kLimit);
static_assert(cachefmt::EntryOffset(kPageUnwritable) + cachefmt::kIndexEntrySize <= kLimit);
static_assert(cachefmt::EntryOffset(kEntryUnwritable) >= kLimit);

ltx::Pos P(uint64_t txid) { return {txid, ltx::kChecksumFlag | txid}; }

// Lowers RLIMIT_FSIZE for its lifetime.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t limit) {
    EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &saved_), 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit l = saved_;
    l.rlim_cur = limit;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &l), 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
};

bool Hit(PageCache& c, uint32_t pgno, uint64_t pin) {
  std::vector<uint8_t> buf(c.page_size());
  auto r = c.Get(pgno, pin, buf);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && *r;
}

TEST(CacheFaultTest, FailedPageWriteLeavesThePageUncached) {
  TempDir dir;
  CacheOptions o;
  o.dir = dir.path();
  o.page_size = kPs;
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, 100000).ok());
  ASSERT_TRUE(c->Put(2000, 1, MakePage(2000, 1)).ok());  // cached before the fault
  {
    FileSizeLimit limit(kLimit);
    EXPECT_TRUE(c->Put(kPageUnwritable, 1, MakePage(kPageUnwritable, 1)).ok())
        << "a cache write failure must not fail the read that fetched the page";
    EXPECT_EQ(c->stats().write_errors.load(), 1u);
    EXPECT_FALSE(c->Contains(kPageUnwritable, 1));
    EXPECT_FALSE(Hit(*c, kPageUnwritable, 1));
    // Replacing a cached page fails too: the old version is dropped, not half-overwritten.
    EXPECT_TRUE(c->Put(2000, 1, MakePage(2000, 2)).ok());
    EXPECT_FALSE(c->Contains(2000, 1));
    EXPECT_FALSE(Hit(*c, 2000, 1));
    // Low pages still work.
    ASSERT_TRUE(c->Put(3, 1, MakePage(3, 1)).ok());
    EXPECT_TRUE(Hit(*c, 3, 1));
  }
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 0u);
}

TEST(CacheFaultTest, UnwritableInvalidationFallsBackToTheEpoch) {
  TempDir dir;
  CacheOptions o;
  o.dir = dir.path();
  o.page_size = kPs;
  {
    auto c = MustOpen(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(1), false, {}, 100000).ok());
    ASSERT_TRUE(c->Put(1, 1, MakePage(1, 1)).ok());
    ASSERT_TRUE(c->Put(kEntryUnwritable, 1, MakePage(kEntryUnwritable, 1)).ok());
    {
      FileSizeLimit limit(kLimit);
      const uint32_t changed[] = {kEntryUnwritable};
      // The entry cannot be rewritten, so every page is capped through the header instead.
      ASSERT_TRUE(c->Advance(P(2), false, changed, 100000).ok());
    }
    EXPECT_FALSE(Hit(*c, kEntryUnwritable, 2));
    EXPECT_TRUE(Hit(*c, kEntryUnwritable, 1));
    EXPECT_FALSE(Hit(*c, 1, 2)) << "over-invalidated: safe, and the price of the fallback";
    EXPECT_TRUE(Hit(*c, 1, 1));
  }
  // On disk the stale entry still says "valid forever", but its epoch is capped.
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pos(), P(2));
  EXPECT_FALSE(Hit(*c, kEntryUnwritable, 2));
  EXPECT_TRUE(Hit(*c, kEntryUnwritable, 1));
}

TEST(CacheFaultTest, UnclearableEvictionMakesTheNextAdvanceCapEverything) {
  TempDir dir;
  CacheOptions o;
  o.dir = dir.path();
  o.page_size = kPs;
  {
    auto c = MustOpen(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Advance(P(1), false, {}, 100000).ok());
    ASSERT_TRUE(c->Put(kEntryUnwritable, 1, MakePage(kEntryUnwritable, 1)).ok());
    ASSERT_TRUE(c->Put(1, 1, MakePage(1, 1)).ok());
    {
      FileSizeLimit limit(kLimit);
      c->SetLimits(1, 0);  // evicts the older page, whose entry cannot be cleared
    }
    EXPECT_EQ(c->page_count(), 1u);
    EXPECT_FALSE(c->Contains(kEntryUnwritable, 1));
    EXPECT_GE(c->stats().write_errors.load(), 1u);
    // The evicted page changes; the cache cannot see that in memory, but its disk entry
    // still claims "valid forever". The next Advance must cap it through the epoch.
    const uint32_t changed[] = {kEntryUnwritable};
    ASSERT_TRUE(c->Advance(P(2), false, changed, 100000).ok());
    EXPECT_FALSE(Hit(*c, 1, 2)) << "everything was capped";
  }
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->Contains(kEntryUnwritable, 2)) << "a stale page came back after reopen";
  EXPECT_FALSE(Hit(*c, kEntryUnwritable, 2));
}

}  // namespace
}  // namespace litevfs
