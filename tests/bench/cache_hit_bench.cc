// The warm-read cost (DESIGN.md §3 "Reads": a warm read must cost about what a local file
// read costs): PageCache::Get on present 4 KiB pages (pread + XXH3 check) against a raw
// pread of the same offsets of the same file, measured in the same run. Prints both and
// their ratio (the figure; > 1 means the cache costs more than the bare read). Moved here
// from the unit tests: timing on a shared machine is a figure to report, not a pass/fail.
// Usage: cache_hit_bench [--smoke] [--size-mb N] (scripts/bench's flags; --smoke: 20
// rounds of 256 pages instead of 200, --size-mb is ignored).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../../vfs/src/cache.h"

namespace {

constexpr uint32_t kPs = 4096;
constexpr uint32_t kPages = 256;

std::vector<uint8_t> MakePage(uint32_t pgno) {
  std::vector<uint8_t> page(kPs);
  uint64_t x = (uint64_t{pgno} << 32) ^ 0x9E3779B97F4A7C15ull;
  for (auto& b : page) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  return page;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "cache_hit_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 200;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--smoke") {
      rounds = 20;
    } else if (a == "--size-mb" && i + 1 < argc) {
      i++;
    } else {
      return Fail("unknown argument '" + a + "' (takes --smoke, --size-mb N)");
    }
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "litevfs-cache-bench-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return Fail("mkdtemp failed");
  litevfs::CacheOptions o;
  o.dir = tmpl;
  o.page_size = kPs;
  auto c = litevfs::PageCache::Open(o);
  if (!c.ok()) return Fail(c.status().ToString());
  if (!(*c)->Advance({1, 1}, false, {}, kPages).ok()) return Fail("advance failed");
  for (uint32_t p = 1; p <= kPages; p++) {
    if (!(*c)->Put(p, 1, MakePage(p)).ok()) return Fail("put failed");
  }
  std::vector<uint8_t> buf(kPs);
  using Clock = std::chrono::steady_clock;
  uint64_t hits = 0, bytes = 0;
  const auto t0 = Clock::now();
  for (int r = 0; r < rounds; r++) {
    for (uint32_t p = 1; p <= kPages; p++) {
      auto g = (*c)->Get(p, 1, buf);
      hits += (g.ok() && *g) ? 1 : 0;
    }
  }
  const auto t1 = Clock::now();
  const int fd = ::open((tmpl + "/pages").c_str(), O_RDONLY);
  if (fd < 0) return Fail("cannot open the cache's pages file");
  for (int r = 0; r < rounds; r++) {
    for (uint32_t p = 1; p <= kPages; p++) {
      const ssize_t n = ::pread(fd, buf.data(), kPs, off_t(p - 1) * kPs);
      bytes += n > 0 ? uint64_t(n) : 0;
    }
  }
  const auto t2 = Clock::now();
  ::close(fd);
  c->reset();
  std::filesystem::remove_all(tmpl);
  const double n = double(rounds) * kPages;
  if (hits != uint64_t(n) || bytes != uint64_t(n) * kPs) return Fail("not every read was a hit");
  const double get_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
  const double pread_ns = std::chrono::duration<double, std::nano>(t2 - t1).count() / n;
  std::printf("| 1b | warm cache hit: PageCache::Get of a 4 KiB page vs a raw pread of it | %.0f ns | %.0f ns | "
              "%.2fx | report |\n",
              pread_ns, get_ns, get_ns / pread_ns);
  return 0;
}
