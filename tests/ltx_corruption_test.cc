// Corruption handling: one changed byte at each interesting offset gives one exact error;
// truncation at every offset of every format is an error (never a crash or an over-read:
// the bytes live in an exactly-sized heap buffer, so ASan sees any read past the end).
#include <gtest/gtest.h>

#include <memory>

#include "ltx/coding.h"
#include "ltx/file.h"
#include "ltx_test_util.h"

namespace ltx {
namespace {

using namespace ltx::testing;

// Decodes from an exactly-sized copy.
std::string Decode(const std::string& bytes, Version v = Version::kAuto) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size() ? bytes.size() : 1]);
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  DecodeOptions o;
  o.version = v;
  auto dec = Decoder::Open(MemorySource(std::span<const uint8_t>(copy.get(), bytes.size())), o);
  if (!dec.ok()) return dec.status().ToString();
  PageFrame f;
  for (;;) {
    auto more = (*dec)->Next(&f);
    if (!more.ok()) return more.status().ToString();
    if (!*more) break;
  }
  return (*dec)->Finish().ToString();
}

void SetU32(std::string* s, size_t off, uint32_t v) {
  EncodeU32(reinterpret_cast<uint8_t*>(s->data() + off), v);
}
void SetU64(std::string* s, size_t off, uint64_t v) {
  EncodeU64(reinterpret_cast<uint8_t*>(s->data() + off), v);
}
void SetU16(std::string* s, size_t off, uint16_t v) {
  EncodeU16(reinterpret_cast<uint8_t*>(s->data() + off), v);
}

// Recomputes the file checksum of an uncompressed v1 file after an edit, so the edit is
// seen by the rule it breaks rather than by the checksum.
void FixV1Checksum(std::string* s) {
  SetU64(s, s->size() - 8, kChecksumFlag | Crc64(s->data(), s->size() - 8));
}

constexpr uint32_t kPs = 512;

// Non-snapshot v1: TXID 4, commit 5, pages 2 and 4.
std::string Incremental() {
  const uint32_t commit = 5;
  Pages pages{{2, MakePage(2, kPs)}, {4, MakePage(4, kPs)}};
  return EncodeOrDie(MakeHeader(kPs, commit, 4, 4, kChecksumFlag | 0xabc), pages, {},
                     kChecksumFlag | 0xdef)
      .bytes;
}
// Snapshot v1: commit 3, pages 1..3.
std::string Snapshot() {
  Pages pages = SnapshotPages(kPs, 3);
  return EncodeOrDie(MakeHeader(kPs, 3, 1, 2), pages, {}, ChecksumOf(pages, kPs)).bytes;
}
constexpr size_t kFrame = 4 + kPs;
constexpr size_t kFrame1 = kHeaderSize;           // first page header
constexpr size_t kFrame2 = kHeaderSize + kFrame;  // second page header

TEST(Corruption, HeaderRulesInOrder) {
  const std::string base = Incremental();
  ASSERT_EQ(Decode(base), "OK");
  std::string s;

  EXPECT_EQ(Decode(base.substr(0, 99)), "Corruption: ltx: header too short: 99 bytes, want 100");
  EXPECT_EQ(Decode(""), "Corruption: ltx: header too short: 0 bytes, want 100");
  s = base;
  s[0] = 'X';
  EXPECT_EQ(Decode(s), "Corruption: ltx: bad magic (not an LTX file)");
  s = base;
  s[3] = '3';
  EXPECT_EQ(Decode(s), "Corruption: ltx: bad magic (not an LTX file)");
  s = base;
  s[7] = 0x08;
  EXPECT_EQ(Decode(s), "Corruption: ltx: unknown header flags 0x00000008");
  s = base;
  s[4] = 0x80;
  EXPECT_EQ(Decode(s), "Corruption: ltx: unknown header flags 0x80000000");
  s = base;
  SetU32(&s, 8, 1000);
  EXPECT_EQ(Decode(s), "Corruption: ltx: bad page size 1000");
  s = base;
  SetU32(&s, 8, 256);
  EXPECT_EQ(Decode(s), "Corruption: ltx: bad page size 256");
  s = base;
  SetU32(&s, 8, 131072);
  EXPECT_EQ(Decode(s), "Corruption: ltx: bad page size 131072");
  s = base;
  SetU64(&s, 16, 0);
  EXPECT_EQ(Decode(s), "Corruption: ltx: min_txid is 0");
  s = base;
  SetU64(&s, 16, 9);
  EXPECT_EQ(Decode(s), "Corruption: ltx: min_txid 0000000000000009 > max_txid 0000000000000004");
  s = base;
  SetU64(&s, 16, 1);
  EXPECT_EQ(Decode(s),
            "Corruption: ltx: snapshot has non-zero pre-apply checksum 8000000000000abc");
  s = base;
  s[40] = 0x00;
  EXPECT_EQ(Decode(s),
            "Corruption: ltx: pre-apply checksum 0000000000000abc lacks the checksum flag");
  s = base;
  SetU64(&s, 40, 0);
  EXPECT_EQ(Decode(s),
            "Corruption: ltx: pre-apply checksum 0000000000000000 lacks the checksum flag");
  s = base;
  s[7] = 0x02;
  EXPECT_EQ(Decode(s),
            "Corruption: ltx: pre-apply checksum 8000000000000abc set although the no-checksum "
            "flag is set");
  s = base;
  SetU64(&s, 48, uint64_t(-5));
  EXPECT_EQ(Decode(s), "Corruption: ltx: negative wal_offset -5");
  s = base;
  SetU64(&s, 56, 10);
  EXPECT_EQ(Decode(s), "Corruption: ltx: wal_size set without wal_offset");
  // Fields without rules (timestamp, node id, reserved) are caught by the file checksum.
  for (size_t off : {32u, 75u, 80u, 99u}) {
    s = base;
    s[off] ^= 0x01;
    EXPECT_NE(Decode(s).find("Corruption: ltx: file checksum mismatch"), std::string::npos) << off;
  }
}

TEST(Corruption, PageRules) {
  const std::string base = Incremental();
  std::string s;
  s = base;
  SetU32(&s, kFrame2, 2);
  EXPECT_EQ(Decode(s), "Corruption: ltx: duplicate page 2");
  s = base;
  SetU32(&s, kFrame2, 1);
  EXPECT_EQ(Decode(s), "Corruption: ltx: page 1 out of order after page 2");
  s = base;
  SetU32(&s, 12, 3);
  EXPECT_EQ(Decode(s), "Corruption: ltx: page 4 beyond commit 3");
  s = base;
  SetU32(&s, kFrame1, 0x80000000u);
  EXPECT_EQ(Decode(s), "Corruption: ltx: page 2147483648 beyond commit 5");
  // The lock page (page size 512: page 2097153).
  Pages near{{2097152, MakePage(1, kPs)}};
  s = EncodeOrDie(MakeHeader(kPs, 2097160, 4, 4, kChecksumFlag | 1), near, {}, kChecksumFlag | 2)
          .bytes;
  ASSERT_EQ(Decode(s), "OK");
  SetU32(&s, kFrame1, 2097153);
  EXPECT_EQ(Decode(s), "Corruption: ltx: lock page 2097153 present");

  const std::string snap = Snapshot();
  ASSERT_EQ(Decode(snap), "OK");
  s = snap;
  SetU32(&s, kFrame1, 2);
  EXPECT_EQ(Decode(s), "Corruption: ltx: snapshot missing page 1");
  s = snap;
  SetU32(&s, kFrame2, 3);
  EXPECT_EQ(Decode(s), "Corruption: ltx: snapshot missing page 2");
  s = snap;
  SetU32(&s, 12, 4);  // commit says 4 but only 3 pages follow
  EXPECT_EQ(Decode(s), "Corruption: ltx: snapshot missing page 4");
}

TEST(Corruption, TrailerRules) {
  const std::string base = Incremental();
  const size_t n = base.size();
  std::string s;
  s = base;
  s[kFrame1 + 4 + 100] ^= 0x10;  // page data
  EXPECT_EQ(Decode(s).substr(0, 44), "Corruption: ltx: file checksum mismatch: fil");
  s = base;
  s[n - 16 + 3] ^= 0x10;  // post-apply checksum (hashed)
  EXPECT_EQ(Decode(s).substr(0, 44), "Corruption: ltx: file checksum mismatch: fil");
  s = base;
  s[n - 1] ^= 0x01;  // file checksum itself
  EXPECT_EQ(Decode(s).substr(0, 44), "Corruption: ltx: file checksum mismatch: fil");
  s = base;
  s[n - 8] &= 0x7f;
  EXPECT_EQ(Decode(s), "Corruption: ltx: file checksum " +
                           FormatChecksum(DecodeU64(Bytes(s).data() + n - 8)) +
                           " lacks the checksum flag");
  s = base + std::string(1, '\0');
  EXPECT_EQ(Decode(s),
            "Corruption: ltx: unexpected bytes after the trailer at offset " + std::to_string(n));
  s = base;
  s[n - 16] &= 0x7f;
  FixV1Checksum(&s);
  EXPECT_EQ(Decode(s),
            "Corruption: ltx: post-apply checksum 0000000000000def lacks the checksum flag");
  s = base;
  s[n - 12 - 4] = 0;  // end-of-pages marker made non-zero: becomes a page number
  EXPECT_NE(Decode(s), "OK");

  const std::string snap = Snapshot();
  s = snap;
  s[snap.size() - 9] ^= 0x01;
  FixV1Checksum(&s);
  EXPECT_EQ(Decode(s).substr(0, 61),
            "Corruption: ltx: snapshot post-apply checksum mismatch: file ");
  s = base;
  SetU32(&s, 12, 0);  // pages beyond commit 0
  EXPECT_EQ(Decode(s), "Corruption: ltx: page 2 beyond commit 0");
  // commit 0 promises an empty database.
  s = EncodeOrDie(MakeHeader(kPs, 0, 4, 4, kChecksumFlag | 1), {}, {}, kEmptyDatabaseChecksum)
          .bytes;
  ASSERT_EQ(Decode(s), "OK");
  SetU64(&s, s.size() - 16, kChecksumFlag | 5);
  FixV1Checksum(&s);
  EXPECT_EQ(
      Decode(s),
      "Corruption: ltx: post-apply checksum 8000000000000005 for an empty database (commit 0)");
  // No-checksum files must not carry a post-apply checksum.
  Header nc = MakeHeader(kPs, 1, 4, 4, 0);
  nc.flags = kFlagNoChecksum;
  s = EncodeOrDie(nc, {{1, MakePage(1, kPs)}}, {}, 0).bytes;
  ASSERT_EQ(Decode(s), "OK");
  SetU64(&s, s.size() - 16, kChecksumFlag | 5);
  FixV1Checksum(&s);
  EXPECT_EQ(Decode(s),
            "Corruption: ltx: post-apply checksum 8000000000000005 set although the no-checksum "
            "flag is set");
}

TEST(Corruption, Lz4) {
  Pages pages = SnapshotPages(4096, 4);
  EncodeOptions o;
  o.compress = true;
  const std::string base =
      EncodeOrDie(MakeHeader(4096, 4, 1, 1), pages, o, ChecksumOf(pages, 4096)).bytes;
  ASSERT_EQ(Decode(base), "OK");
  std::string s = base;
  s[100] = 0x05;
  EXPECT_EQ(Decode(s), "Corruption: ltx: LZ4 flag set but no LZ4 frame follows the header");
  s = base;
  s[104] ^= 0xff;  // frame descriptor flags
  EXPECT_EQ(Decode(s).substr(0, 48), "Corruption: ltx: LZ4 decompression failed at off");
  // Any byte of the compressed block: some error, always (content checksum or a rule).
  int lz4_errors = 0;
  for (size_t off = 107; off < base.size() - 16; off += 7) {
    s = base;
    s[off] ^= 0x5a;
    std::string err = Decode(s);
    ASSERT_NE(err, "OK") << off;
    if (err.find("LZ4") != std::string::npos) lz4_errors++;
  }
  EXPECT_GT(lz4_errors, 0);
}

TEST(Corruption, V3) {
  Pages pages{{2, MakePage(2, kPs)}, {4, MakePage(4, kPs)}};
  EncodeOptions o;
  o.version = Version::kV3;
  const Header h = MakeHeader(kPs, 5, 4, 4, kChecksumFlag | 0xabc);
  const std::string base = EncodeOrDie(h, pages, o, kChecksumFlag | 0xdef).bytes;
  ASSERT_EQ(Decode(base), "OK");
  const uint32_t csize = DecodeU32(Bytes(base).data() + 106);
  const size_t frame2 = 100 + 10 + csize;
  std::string s;
  s = base;
  SetU16(&s, 104, 0x0003);
  EXPECT_EQ(Decode(s, Version::kV3),
            "Corruption: ltx: page 2 has unknown page header flags 0x0003");
  s = base;
  SetU32(&s, 106, 70000);
  EXPECT_EQ(Decode(s, Version::kV3), "Corruption: ltx: page 2 has bad compressed size 70000");
  s = base;
  SetU32(&s, 106, 0);
  EXPECT_EQ(Decode(s, Version::kV3), "Corruption: ltx: page 2 has bad compressed size 0");
  s = base;
  SetU32(&s, 106, csize - 1);
  EXPECT_EQ(Decode(s, Version::kV3), "Corruption: ltx: LZ4 decompression failed for page 2");
  s = base;
  SetU32(&s, frame2, 2);
  EXPECT_EQ(Decode(s), "Corruption: ltx: duplicate page 2");
  s = base;
  s[110] ^= 0x33;  // first byte of the LZ4 block (token)
  EXPECT_NE(Decode(s, Version::kV3), "OK");

  // Index edits, with the file checksum recomputed over the logical stream, hit the index
  // rules: decode the pages back, re-encode the logical stream by hand.
  auto fix = [&](std::string* f) {
    // Logical stream = raw bytes with every compressed block replaced by its page.
    std::string logical = f->substr(0, 100);
    size_t off = 100;
    for (const auto& [pgno, data] : pages) {
      uint32_t cs = DecodeU32(Bytes(*f).data() + off + 6);
      logical += f->substr(off, 10) + std::string(data.begin(), data.end());
      off += 10 + cs;
    }
    logical += f->substr(off, f->size() - off - 8);
    SetU64(f, f->size() - 8, kChecksumFlag | Crc64(logical.data(), logical.size()));
  };
  s = base;
  fix(&s);
  ASSERT_EQ(s, base);
  const size_t end_hdr = 100 + 10 + csize + 10 + DecodeU32(Bytes(base).data() + frame2 + 6);
  const size_t index = end_hdr + 6;
  s = base;
  s[index + 1] ^= 0x01;
  fix(&s);  // offset of page 2's frame
  EXPECT_EQ(Decode(s), "Corruption: ltx: page index does not match the page frames");
  s = base;
  s[index] = 3;
  fix(&s);  // page number
  EXPECT_EQ(Decode(s), "Corruption: ltx: page index does not match the page frames");
  s = base;
  SetU64(&s, s.size() - 24, 99);
  fix(&s);
  EXPECT_EQ(Decode(s), "Corruption: ltx: page index size 99 does not match its 10 bytes");
  s = base;
  s[end_hdr + 5] = 1;
  fix(&s);
  EXPECT_EQ(Decode(s, Version::kV3), "Corruption: ltx: end-of-pages header has flags 0x0001");
  s = base;
  s[index] = char(0x80);
  fix(&s);  // varint continues into the next bytes
  EXPECT_NE(Decode(s), "OK");

  // V3Index validates what it loads.
  auto load = [&](const std::string& f) {
    auto src = MemorySource(Bytes(f));
    auto idx = V3Index::Load(src.get(), h);
    return idx.ok() ? std::string("OK") : idx.status().ToString();
  };
  EXPECT_EQ(load(base), "OK");
  s = base;
  SetU64(&s, s.size() - 24, 1u << 30);
  EXPECT_EQ(load(s), "Corruption: ltx: bad page index size 1073741824");
  s = base;
  s[index + 1] ^= 0x01;
  EXPECT_EQ(load(s), "Corruption: ltx: bad frame location for page 2 in page index");
  s = base;
  s[end_hdr] = 1;
  EXPECT_EQ(load(s), "Corruption: ltx: no end-of-pages header before the page index");
  EXPECT_EQ(load(base.substr(0, 120)),
            "Corruption: ltx: file too short for a v3 page index: 120 bytes");
}

// ---- truncation at every offset ----

struct Sample {
  std::string name;
  std::string bytes;
  Version version;
};

std::vector<Sample> Samples() {
  std::vector<Sample> out;
  Pages pages = SnapshotPages(kPs, 3, 1);
  Header h = MakeHeader(kPs, 3, 1, 1);
  uint64_t post = ChecksumOf(pages, kPs);
  EncodeOptions v1, lz, v3;
  lz.compress = true;
  v3.version = Version::kV3;
  out.push_back({"v1", EncodeOrDie(h, pages, v1, post).bytes, Version::kV1});
  out.push_back({"v1lz4", EncodeOrDie(h, pages, lz, post).bytes, Version::kV1});
  out.push_back({"v3", EncodeOrDie(h, pages, v3, post).bytes, Version::kV3});
  Header e = MakeHeader(kPs, 0, 2, 2, kChecksumFlag | 9);
  out.push_back({"v1empty", EncodeOrDie(e, {}, v1, kEmptyDatabaseChecksum).bytes, Version::kV1});
  out.push_back({"v3empty", EncodeOrDie(e, {}, v3, kEmptyDatabaseChecksum).bytes, Version::kV3});
  return out;
}

TEST(Truncation, EveryOffsetOfEveryFormatIsAnError) {
  for (const Sample& s : Samples()) {
    SCOPED_TRACE(s.name);
    ASSERT_EQ(Decode(s.bytes), "OK");
    for (size_t len = 0; len < s.bytes.size(); len++) {
      std::string cut = s.bytes.substr(0, len);
      std::string forced = Decode(cut, s.version);
      ASSERT_EQ(forced.rfind("Corruption: ltx: ", 0), 0u) << "len " << len << ": " << forced;
      if (len < kHeaderSize) {
        ASSERT_EQ(forced,
                  "Corruption: ltx: header too short: " + std::to_string(len) + " bytes, want 100");
      } else {
        ASSERT_NE(forced.find("truncated file at offset"), std::string::npos)
            << "len " << len << ": " << forced;
      }
      std::string detected = Decode(cut, Version::kAuto);
      ASSERT_EQ(detected.rfind("Corruption: ltx: ", 0), 0u) << "len " << len << ": " << detected;
      if (s.version == Version::kV3 && len >= kHeaderSize) {
        auto src = MemorySource(Bytes(cut));
        Header h = *Header::Decode(Bytes(cut));
        auto idx = V3Index::Load(src.get(), h);
        ASSERT_FALSE(idx.ok()) << "len " << len;
      }
    }
  }
}

TEST(Truncation, ApplyFileRefusesATruncatedFile) {
  TempDir dir;
  const std::string bytes = Samples()[0].bytes;
  WriteFileOrDie(dir.Path("db"), "");
  WriteFileOrDie(dir.Path("cut.ltx"), bytes.substr(0, bytes.size() - 3));
  Status s = ApplyFile(dir.Path("db"), dir.Path("cut.ltx"));
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("truncated file at offset"), std::string::npos) << s.ToString();
  EXPECT_EQ(std::filesystem::file_size(dir.Path("db")), 0u);
}

}  // namespace
}  // namespace ltx
