// Unit tests of the mockcloud's request parsing, names, fault specs and small helpers.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../mockcloud/src/body_pool.h"
#include "../mockcloud/src/faults.h"
#include "../mockcloud/src/page_runs.h"
#include "../mockcloud/src/util.h"

using namespace mockcloud;

TEST(MockcloudUtil, NamesFollowTheProtocolRule) {
  for (const char* ok : {"a", "db", "my-db_1.sqlite", "A.B-C_D", "a.b.c", "trailing."}) {
    EXPECT_TRUE(ValidateName(ok, "db").ok()) << ok;
  }
  EXPECT_TRUE(ValidateName(std::string(255, 'z'), "db").ok());
  const std::string bad[] = {"",
                             ".",
                             "..",
                             ".x",
                             "a..b",
                             "a/b",
                             "/abs",
                             std::string("a\0b", 3),
                             "a\nb",
                             "a b",
                             "caf\xc3\xa9",
                             "\xff",
                             std::string(256, 'z'),
                             "a\\b",
                             "a:b",
                             "*",
                             "a%2fb",
                             "~",
                             "a\x7f"};
  for (const auto& b : bad) {
    Status st = ValidateName(b, "db");
    EXPECT_FALSE(st.ok()) << b;
    EXPECT_EQ(st.code(), ltx::Code::kInvalidArgument);
    EXPECT_EQ(st.message().rfind("db name", 0), 0u) << st.message();
  }
}

TEST(MockcloudUtil, PositionsAreStrict) {
  auto p = ParsePosParam("0000000000000003/9c74a15b4e4f246c");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->txid, 3u);
  EXPECT_EQ(p->post_apply_checksum, 0x9c74a15b4e4f246cull);
  EXPECT_TRUE(ParsePosParam("0000000000000003/9C74A15B4E4F246C").ok());
  for (const char* bad : {"", "3/9c74a15b4e4f246c", "0000000000000003/9c74a15b4e4f246",
                          "0000000000000003-9c74a15b4e4f246c", "0000000000000003/9c74a15b4e4f246cc",
                          "000000000000000x/9c74a15b4e4f246c", " 000000000000003/9c74a15b4e4f246c",
                          "+000000000000003/9c74a15b4e4f246c"}) {
    EXPECT_FALSE(ParsePosParam(bad).ok()) << bad;
  }
}

TEST(MockcloudUtil, PageListsAreBoundedAndSorted) {
  auto l = ParsePgnoList("5,1,3,3", 4096);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, (std::vector<uint32_t>{1, 3, 5}));
  std::string s;
  for (int i = 1; i <= 4096; i++) s += (i > 1 ? "," : "") + std::to_string(i);
  EXPECT_TRUE(ParsePgnoList(s, 4096).ok());
  auto over = ParsePgnoList(s + ",4097", 4096);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("too many"), std::string::npos);
  for (const char* bad : {"", "0", "1,", ",1", "1,,2", "-1", "+1", "1 ", "a", "2147483648",
                          "4294967297", "99999999999999999999999"}) {
    EXPECT_FALSE(ParsePgnoList(bad, 4096).ok()) << bad;
  }
  EXPECT_TRUE(ParsePgnoList("2147483647", 4096).ok());
  // Ranges (pgno-ranges): every page in between, counted against the bound.
  auto r = ParsePgnoList("9,1-4,3-5", 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<uint32_t>{1, 2, 3, 4, 5, 9}));
  EXPECT_EQ(ParsePgnoList("1-4096", 4096)->size(), 4096u);
  EXPECT_EQ(ParsePgnoList("2147483645-2147483647", 4096)->size(), 3u);
  auto big = ParsePgnoList("1-4097", 4096);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("too many"), std::string::npos);
  EXPECT_FALSE(ParsePgnoList("1,2,3-4097", 4096).ok());  // 4,097 in all
  EXPECT_FALSE(ParsePgnoList("1-2147483647", 4096).ok());  // bounded before expanding
  for (const char* bad : {"5-3", "1-", "-", "1--2", "0-3", "3-2147483648", "a-b", "1-2-3"}) {
    EXPECT_FALSE(ParsePgnoList(bad, 4096).ok()) << bad;
  }
}

TEST(MockcloudUtil, DurationsListenAndNumbers) {
  EXPECT_EQ(*ParseDurationMs("1h"), 3600000);
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("20s"), 20000);
  EXPECT_EQ(*ParseDurationMs("5m"), 300000);
  EXPECT_EQ(*ParseDurationMs("1500"), 1500);
  EXPECT_EQ(*ParseDurationMs("2d"), 172800000);
  for (const char* bad : {"", "h", "1x", "-1s", "1.5s", "99999999999999999999d"})
    EXPECT_FALSE(ParseDurationMs(bad).ok()) << bad;
  std::string host;
  int port = -1;
  ASSERT_TRUE(ParseListen("127.0.0.1:20202", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 20202);
  ASSERT_TRUE(ParseListen("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  for (const char* bad : {"", "1234", ":80", "host:", "host:70000", "host:x"})
    EXPECT_FALSE(ParseListen(bad, &host, &port).ok()) << bad;
  EXPECT_FALSE(ParseUint("18446744073709551616", "n").ok());
}

TEST(MockcloudUtil, Base64TimeRandomAndCompare) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode(std::string("\xff\xfe\x00", 3)), "//4A");
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(1700000000123), "2023-11-14T22:13:20.123Z");
  auto a = RandomHex(16), b = RandomHex(16);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(MockcloudFaults, SpecParsesAndFormats) {
  auto f = ParseFaultSpec(
      "latency=20ms,jitter=5ms,error=0.05,drop=0.05,truncate=0.05,seed=1,routes=/db/page|/db/tx");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->latency_ms, 20);
  EXPECT_EQ(f->jitter_ms, 5);
  EXPECT_DOUBLE_EQ(f->error, 0.05);
  EXPECT_EQ(f->routes, (std::vector<std::string>{"/db/page", "/db/tx"}));
  auto again = ParseFaultSpec(FormatFaultSpec(*f));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FormatFaultSpec(*again), FormatFaultSpec(*f));
  EXPECT_FALSE(ParseFaultSpec("")->Active());
  for (const char* bad : {"error=2", "error=-0.1", "drop=x", "latency=fast", "nope=1", "error",
                          "routes=db", "seed=-1"}) {
    EXPECT_FALSE(ParseFaultSpec(bad).ok()) << bad;
  }
}

TEST(MockcloudFaults, DecisionsAreDeterministicPerSeed) {
  auto seq = [](uint64_t seed) {
    FaultInjector inj;
    FaultSpec s = *ParseFaultSpec("error=0.3,drop=0.3,truncate=0.3,jitter=10ms,latency=10ms");
    s.seed = seed;
    inj.Set(s);
    std::string out;
    for (int i = 0; i < 200; i++) {
      FaultDecision d = inj.Decide("/db/page");
      out += d.error ? 'E' : d.drop ? 'D' : d.truncate ? 'T' : '.';
      EXPECT_GE(d.delay_ms, 0);
      EXPECT_LE(d.delay_ms, 20);
    }
    EXPECT_FALSE(inj.Decide("/healthz").error);
    return out;
  };
  EXPECT_EQ(seq(1), seq(1));
  EXPECT_NE(seq(1), seq(2));
  std::string s = seq(3);
  for (char c : {'E', 'D', 'T', '.'}) EXPECT_NE(s.find(c), std::string::npos) << c;
}

namespace {

// A temporary file of `pages` pages of 64 bytes, page i filled with byte i.
struct RunFile {
  static constexpr size_t kPage = 64;
  std::string path;
  int fd = -1;
  explicit RunFile(size_t pages) {
    char tmpl[] = "/tmp/page_runs_XXXXXX";
    fd = mkstemp(tmpl);
    path = tmpl;
    for (size_t i = 0; i < pages; i++) {
      std::string page(kPage, char(i));
      EXPECT_EQ(pwrite(fd, page.data(), kPage, off_t(i * kPage)), ssize_t(kPage));
    }
  }
  ~RunFile() {
    close(fd);
    unlink(path.c_str());
  }
};

}  // namespace

TEST(MockcloudPageRuns, RunsAndSinglePagesLandInTheirSlotsAndAreEachChecked) {
  RunFile f(10);
  std::vector<std::string> out(6, std::string(RunFile::kPage, '?'));
  std::vector<std::pair<uint32_t, uint64_t>> checked;  // (pgno, offset)
  PageRuns runs(RunFile::kPage, [&](uint32_t pgno, const uint8_t* page, uint64_t sum, const std::string& file,
                                    uint64_t off) {
    EXPECT_EQ(file, f.path);
    EXPECT_EQ(sum, uint64_t(pgno) * 10);
    EXPECT_EQ(page[0], uint8_t(off / RunFile::kPage));
    checked.emplace_back(pgno, off);
    return Status::OK();
  });
  // File pages 2,3,4 (a run), 7, then 8,9 (a run after a gap), then 1 (backwards).
  const size_t at[] = {2, 3, 4, 7, 8, 1};
  for (size_t i = 0; i < 6; i++) {
    const uint32_t pgno = uint32_t(100 + i);
    ASSERT_TRUE(runs.Add(f.fd, f.path, at[i] * RunFile::kPage, pgno, uint64_t(pgno) * 10,
                         reinterpret_cast<uint8_t*>(out[i].data()))
                    .ok());
  }
  ASSERT_TRUE(runs.Flush().ok());
  for (size_t i = 0; i < 6; i++) EXPECT_EQ(out[i], std::string(RunFile::kPage, char(at[i]))) << i;
  ASSERT_EQ(checked.size(), 6u);
  for (size_t i = 0; i < 6; i++) {
    EXPECT_EQ(checked[i].first, 100 + i);
    EXPECT_EQ(checked[i].second, at[i] * RunFile::kPage);
  }
}

TEST(MockcloudPageRuns, AShortFileAndABadPageAreErrorsNamingFileAndOffset) {
  RunFile f(3);
  std::string a(RunFile::kPage, 0), b(RunFile::kPage, 0);
  PageRuns ok_check(RunFile::kPage, [](uint32_t, const uint8_t*, uint64_t, const std::string&, uint64_t) {
    return Status::OK();
  });
  ASSERT_TRUE(ok_check.Add(f.fd, f.path, 2 * RunFile::kPage, 1, 0, reinterpret_cast<uint8_t*>(a.data())).ok());
  ASSERT_TRUE(ok_check.Add(f.fd, f.path, 3 * RunFile::kPage, 2, 0, reinterpret_cast<uint8_t*>(b.data())).ok());
  Status st = ok_check.Flush();  // page 2 is past the end of the file
  EXPECT_EQ(st.code(), ltx::Code::kCorruption);
  EXPECT_NE(st.message().find(f.path + ": short read at offset 192"), std::string::npos) << st.ToString();

  PageRuns bad_check(RunFile::kPage, [](uint32_t pgno, const uint8_t*, uint64_t, const std::string&, uint64_t off) {
    return pgno == 2 ? Status::Corruption("page 2 at " + std::to_string(off)) : Status::OK();
  });
  for (uint32_t p = 1; p <= 3; p++) {
    ASSERT_TRUE(bad_check.Add(f.fd, f.path, (p - 1) * RunFile::kPage, p, 0, reinterpret_cast<uint8_t*>(a.data())).ok());
  }
  st = bad_check.Flush();
  EXPECT_EQ(st.code(), ltx::Code::kCorruption);
  EXPECT_EQ(st.message(), "page 2 at 64");
}

TEST(MockcloudBodyPool, FreedBodiesAreReusedUpToTheBound) {
  BodyPool pool;
  uint8_t* first;
  {
    auto b = pool.Take(1000);
    first = b->data.get();
    b->size = 1000;
  }
  auto again = pool.Take(900);  // fits in the freed body: the same memory, emptied
  EXPECT_EQ(again->data.get(), first);
  EXPECT_EQ(again->size, 0u);
  EXPECT_GE(again->capacity, 1000u);
  EXPECT_EQ(pool.kept(), 0u);  // `again` holds the only one
  pool.Take(BodyPool::kMaxKeptBytes + 1).reset();  // too large to keep
  EXPECT_EQ(pool.kept(), 0u);
  std::vector<std::shared_ptr<BodyPool::Body>> held;
  std::vector<uint8_t*> ptrs;
  for (size_t i = 0; i < BodyPool::kKept + 2; i++) {
    held.push_back(pool.Take(100));
    ptrs.push_back(held.back()->data.get());
  }
  held.clear();
  EXPECT_EQ(pool.kept(), BodyPool::kKept);
  size_t reused = 0;
  for (size_t i = 0; i < BodyPool::kKept + 2; i++) {
    held.push_back(pool.Take(100));
    for (uint8_t* p : ptrs) reused += held.back()->data.get() == p;
  }
  EXPECT_GE(reused, BodyPool::kKept);
}
