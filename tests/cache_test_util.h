// Helpers shared by the page-cache tests (tests/cache_*_test.cc): a temp dir that cleans
// itself up, deterministic page contents, and raw file pokes for corruption tests.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cache.h"

namespace litevfs::cachetest {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "litevfs-cache-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Page `pgno` as of `version`: every byte depends on both, so versions never collide.
inline std::vector<uint8_t> MakePage(uint32_t pgno, uint64_t version, uint32_t page_size = 4096) {
  std::vector<uint8_t> page(page_size);
  uint64_t x = (uint64_t{pgno} << 32) ^ (version * 0x9E3779B97F4A7C15ull) ^ 0x5bd1e995;
  for (auto& b : page) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  return page;
}

inline std::unique_ptr<PageCache> MustOpen(const CacheOptions& opts) {
  auto r = PageCache::Open(opts);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// Overwrites bytes of a file in place (the cache may be open: it is another descriptor).
inline void PokeFile(const std::string& path, uint64_t off, const std::vector<uint8_t>& bytes) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(off)),
            static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

inline std::vector<uint8_t> ReadFileAt(const std::string& path, uint64_t off, size_t n) {
  std::vector<uint8_t> out(n);
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return {};
  ssize_t got = ::pread(fd, out.data(), n, static_cast<off_t>(off));
  ::close(fd);
  out.resize(got < 0 ? 0 : static_cast<size_t>(got));
  return out;
}

inline void FlipByte(const std::string& path, uint64_t off) {
  auto b = ReadFileAt(path, off, 1);
  ASSERT_EQ(b.size(), 1u) << "offset " << off << " is past the end of " << path;
  b[0] ^= 0x5a;
  PokeFile(path, off, b);
}

}  // namespace litevfs::cachetest
