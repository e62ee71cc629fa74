// The warm-read cost (DESIGN.md §3 "Reads": a warm read must cost about what a local file
// read costs). Measures PageCache::Get on present 4 KiB pages against a raw pread of the
// same offsets in the same file and prints both; asserts only correctness, because timing
// on a shared, possibly sanitised build is not a pass/fail signal.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cache.h"
#include "cache_format.h"
#include "cache_test_util.h"
#include "ltx/checksum.h"

namespace litevfs {
namespace {

using cachetest::MakePage;
using cachetest::MustOpen;
using cachetest::TempDir;

TEST(CacheHotPathTest, GetVersusRawPread) {
  constexpr uint32_t kPs = 4096;
  constexpr uint32_t kPages = 256;
  constexpr int kRounds = 40;  // 10240 reads each
  TempDir dir;
  CacheOptions o;
  o.dir = dir.path();
  o.page_size = kPs;
  auto c = MustOpen(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Advance({1, 1}, false, {}, kPages).ok());
  for (uint32_t p = 1; p <= kPages; p++) ASSERT_TRUE(c->Put(p, 1, MakePage(p, 1)).ok());

  std::vector<uint8_t> buf(kPs);
  for (uint32_t p = 1; p <= kPages; p++) {  // warm up, and check every page once
    auto r = c->Get(p, 1, buf);
    ASSERT_TRUE(r.ok() && *r) << p;
    ASSERT_EQ(buf, MakePage(p, 1)) << p;
  }
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  uint64_t hits = 0;
  for (int round = 0; round < kRounds; round++) {
    for (uint32_t p = 1; p <= kPages; p++) {
      auto r = c->Get(p, 1, buf);
      hits += (r.ok() && *r) ? 1 : 0;
    }
  }
  auto t1 = Clock::now();
  int fd = ::open((dir.path() + "/pages").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  uint64_t bytes = 0;
  for (int round = 0; round < kRounds; round++) {
    for (uint32_t p = 1; p <= kPages; p++) {
      ssize_t n = ::pread(fd, buf.data(), kPs, off_t(p - 1) * kPs);
      bytes += n > 0 ? uint64_t(n) : 0;
    }
  }
  auto t2 = Clock::now();
  ::close(fd);
  uint64_t sink = 0;
  for (int round = 0; round < kRounds; round++) {
    for (uint32_t p = 1; p <= kPages; p++) sink ^= litevfs::cachefmt::PageHash(p, buf);
  }
  auto t3 = Clock::now();
  EXPECT_NE(sink, 1u);  // keeps the loop
  const double n = double(kRounds) * kPages;
  EXPECT_EQ(hits, uint64_t(n));
  EXPECT_EQ(bytes, uint64_t(n) * kPs);
  const double get_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
  const double pread_ns = std::chrono::duration<double, std::nano>(t2 - t1).count() / n;
  const double crc_ns = std::chrono::duration<double, std::nano>(t3 - t2).count() / n;
  std::printf(
      "cache Get (4 KiB, hit): %.0f ns/op; raw pread: %.0f ns/op; ratio %.2f "
      "(of which the page hash over 4 KiB: %.0f ns)\n",
      get_ns, pread_ns, get_ns / pread_ns, crc_ns);
  RecordProperty("get_ns", std::to_string(get_ns));
  RecordProperty("pread_ns", std::to_string(pread_ns));
}

}  // namespace
}  // namespace litevfs
