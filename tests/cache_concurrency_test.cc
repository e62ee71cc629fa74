// PageCache under concurrent Get/Put/Advance/Collect: readers pinned at whatever position
// the cache had when they started must only ever see a page as it was at their pin. Twice:
// a bounded cache whose readers Put each missed page (eviction busy), and an unbounded one
// whose readers PutMany a batch of pages after each miss (absent pages written without the
// cache's lock, claimed, then published: issue 19), so batches of different pins overlap.
//
// The "remote database" is a pure function: page p changes at txid t when
// (p * 7 + t) % 5 == 0, so the version of p at pin T is the last such t <= T (or 1).
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "cache.h"
#include "cache_test_util.h"

namespace litevfs {
namespace {

using cachetest::MakePage;
using cachetest::MustOpen;
using cachetest::TempDir;

constexpr uint32_t kPages = 64;
constexpr uint64_t kLastTxid = 150;

bool ChangesAt(uint32_t pgno, uint64_t txid) { return txid == 1 || (pgno * 7 + txid) % 5 == 0; }

uint64_t VersionAt(uint32_t pgno, uint64_t pin) {
  for (uint64_t t = pin; t > 1; t--) {
    if (ChangesAt(pgno, t)) return t;
  }
  return 1;
}

ltx::Pos P(uint64_t txid) { return {txid, ltx::kChecksumFlag | txid}; }

// A reader's answer to a miss on pgno at pin: the page alone (Put), or a batch of the pages
// from pgno on (PutMany), every one as of the pin.
ltx::Status FetchInto(PageCache& c, uint32_t pgno, uint64_t pin, uint32_t page_size, bool batches) {
  if (!batches) return c.Put(pgno, pin, MakePage(pgno, VersionAt(pgno, pin), page_size));
  std::vector<std::vector<uint8_t>> bytes;
  for (uint32_t p = pgno; p <= kPages && p < pgno + 8; p++) bytes.push_back(MakePage(p, VersionAt(p, pin), page_size));
  std::vector<PageCache::PageRef> refs;
  for (uint32_t i = 0; i < bytes.size(); i++) refs.push_back({pgno + i, bytes[i]});
  return c.PutMany(pin, refs, /*wanted_soon=*/true);
}

class CacheConcurrencyTest : public ::testing::TestWithParam<bool> {};  // param: batches

TEST_P(CacheConcurrencyTest, ReadersNeverSeeAnotherPinsVersion) {
  const bool batches = GetParam();
  TempDir dir;
  CacheOptions o;
  o.dir = dir.path();
  o.page_size = 1024;
  o.max_pages = batches ? 0 : kPages / 2;  // keep eviction busy too (PutMany then puts one by one)
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance(P(1), false, {}, kPages).ok());

  std::atomic<bool> done{false};
  std::atomic<uint64_t> wrong{0}, hits{0}, errors{0}, reads{0};
  auto reader = [&](unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> buf(o.page_size);
    while (!done.load()) {
      const uint64_t pin = c->pos().txid;  // a read transaction starts
      for (int i = 0; i < 50; i++) {
        uint32_t pgno = 1 + rng() % kPages;
        auto want = MakePage(pgno, VersionAt(pgno, pin), o.page_size);
        auto r = c->Get(pgno, pin, buf);
        reads++;
        if (!r.ok()) {
          errors++;
          continue;
        }
        if (*r) {
          hits++;
          if (buf != want) wrong++;
        } else if (!FetchInto(*c, pgno, pin, o.page_size, batches).ok()) {  // "fetched" at the pin
          errors++;
        }
      }
    }
  };
  std::vector<std::thread> readers;
  for (unsigned i = 0; i < 3; i++) readers.emplace_back(reader, 1000 + i);

  std::thread syncer([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (uint64_t t = 2; t <= kLastTxid; t++) {
      // Let the readers work at every position (a fast syncer would otherwise finish before
      // they read anything); bounded, so a stuck reader fails the test instead of hanging it.
      const uint64_t target = reads.load() + 30;
      while (reads.load() < target && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
      std::vector<uint32_t> changed;
      for (uint32_t p = 1; p <= kPages; p++) {
        if (ChangesAt(p, t)) changed.push_back(p);
      }
      bool all = t % 40 == 0;
      if (t % 60 == 0) {  // e.g. `litevfs verify` found a problem, or a restore
        if (!c->Clear().ok()) errors++;
        all = true;
      }
      ltx::Status st = c->Advance(P(t), all, changed, kPages);
      if (!st.ok()) errors++;
      if (t % 25 == 0) c->Collect(t - 1);
      std::this_thread::yield();
    }
    done.store(true);
  });
  syncer.join();
  for (auto& t : readers) t.join();

  EXPECT_EQ(wrong.load(), 0u) << "a reader was served a page version not valid at its pin";
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  if (!batches) {
    EXPECT_LE(c->page_count(), kPages / 2);
  }
  EXPECT_EQ(c->stats().corrupt_dropped.load(), 0u) << "races must not look like corruption";
  EXPECT_EQ(c->pos(), P(kLastTxid));

  // What was persisted is still consistent.
  c.reset();
  c = MustOpen(o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pos(), P(kLastTxid));
  std::vector<uint8_t> buf(o.page_size);
  for (uint32_t p = 1; p <= kPages; p++) {
    auto r = c->Get(p, kLastTxid, buf);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (*r) {
      EXPECT_EQ(buf, MakePage(p, VersionAt(p, kLastTxid), o.page_size)) << p;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(PutAndPutMany, CacheConcurrencyTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "PutManyBatches" : "PutBounded"; });

}  // namespace
}  // namespace litevfs
