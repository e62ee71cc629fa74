// Helpers shared by the ltx_* tests: deterministic pages, building LTX files in memory,
// decoding them completely, and a self-deleting temporary directory.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ltx/checksum.h"
#include "ltx/decoder.h"
#include "ltx/encoder.h"
#include "ltx/format.h"
#include "ltx/io.h"

namespace ltx::testing {

using Page = std::vector<uint8_t>;
using Pages = std::map<uint32_t, Page>;

// A page that compresses somewhat (runs) but differs per pgno and seed.
inline Page MakePage(uint32_t pgno, uint32_t page_size, uint32_t seed = 0) {
  Page p(page_size);
  uint32_t x = pgno * 2654435761u ^ (seed * 40503u + 0x9e3779b9u);
  for (size_t i = 0; i < p.size(); i++) {
    if (i % 64 < 40) {
      p[i] = uint8_t((pgno + seed + i / 64) & 0xff);
    } else {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      p[i] = uint8_t(x);
    }
  }
  return p;
}

inline uint64_t ChecksumOf(const Pages& pages, uint32_t page_size) {
  DatabaseChecksum c;
  for (const auto& [pgno, data] : pages) {
    if (pgno != LockPgno(page_size)) c.Toggle(PageChecksum(pgno, data));
  }
  return c.value();
}

inline Header MakeHeader(uint32_t page_size, uint32_t commit, uint64_t min_txid, uint64_t max_txid,
                         uint64_t pre = 0) {
  Header h;
  h.page_size = page_size;
  h.commit = commit;
  h.min_txid = min_txid;
  h.max_txid = max_txid;
  h.timestamp = 1700000000000;
  h.pre_apply_checksum = pre;
  return h;
}

// Snapshot of pages 1..commit (seeded).
inline Pages SnapshotPages(uint32_t page_size, uint32_t commit, uint32_t seed = 0) {
  Pages pages;
  for (uint32_t p = 1; p <= commit; p++) {
    if (p != LockPgno(page_size)) pages[p] = MakePage(p, page_size, seed);
  }
  return pages;
}

struct Encoded {
  std::string bytes;
  Trailer trailer;
};

inline Encoded EncodeOrDie(const Header& h, const Pages& pages, const EncodeOptions& opts,
                           uint64_t post) {
  Encoded out;
  StringSink sink(&out.bytes);
  auto enc = Encoder::Open(&sink, h, opts);
  EXPECT_TRUE(enc.ok()) << enc.status().ToString();
  if (!enc.ok()) return out;
  for (const auto& [pgno, data] : pages) {
    Status s = (*enc)->AddPage(pgno, data);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  Status s = (*enc)->Finish(post);
  EXPECT_TRUE(s.ok()) << s.ToString();
  out.trailer = (*enc)->trailer();
  return out;
}

inline std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Decoded {
  Header header;
  Version version = Version::kAuto;
  Pages pages;
  Trailer trailer;
};

// Decodes everything; the first error is returned.
inline Result<Decoded> DecodeAll(const std::string& bytes, Version v = Version::kAuto) {
  DecodeOptions o;
  o.version = v;
  LTX_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> dec, Decoder::Open(MemorySource(Bytes(bytes)), o));
  Decoded d;
  d.header = dec->header();
  d.version = dec->version();
  PageFrame f;
  for (;;) {
    LTX_ASSIGN_OR_RETURN(bool more, dec->Next(&f));
    if (!more) break;
    d.pages[f.pgno] = Page(f.data.begin(), f.data.end());
  }
  LTX_RETURN_IF_ERROR(dec->Finish());
  d.trailer = dec->trailer();
  return d;
}

inline std::string DecodeError(const std::string& bytes, Version v = Version::kAuto) {
  auto r = DecodeAll(bytes, v);
  return r.ok() ? "OK" : r.status().ToString();
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ltxtest-XXXXXX").string();
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
  std::string Path(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(in.good()) << path;
  std::string out(size_t(in.tellg()), '\0');
  in.seekg(0);
  in.read(out.data(), std::streamsize(out.size()));
  EXPECT_TRUE(in.good() || out.empty()) << path;
  return out;
}

inline void WriteFileOrDie(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), std::streamsize(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

// The shared interop folder (LITEVFS_SHARED_DIR, else $LITEVFS_SOURCE_DIR/../shared), or "".
inline std::string SharedDir() {
  namespace fs = std::filesystem;
  if (const char* d = std::getenv("LITEVFS_SHARED_DIR"); d && *d && fs::is_directory(d)) return d;
  if (const char* s = std::getenv("LITEVFS_SOURCE_DIR"); s && *s) {
    fs::path p = fs::path(s) / ".." / "shared";
    if (fs::is_directory(p)) return p.string();
  }
  return "";
}

}  // namespace ltx::testing
