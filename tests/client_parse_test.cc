// The client's pure parts: the exposed parsers (ParsePageFrames, ParseSyncJson,
// ParsePagesJson), the strict codecs behind them (base64, bounded zstd, header values,
// RFC 3339), and retry/stat accounting through a fake Transport.
#include <gtest/gtest.h>
#include <zstd.h>

#include <deque>
#include <mutex>

#include "client_codec.h"
#include "litevfs/client.h"
#include "ltx/coding.h"

namespace litevfs {
namespace {

using ltx::Code;

std::string Frame(uint32_t pgno, uint32_t size, char fill) {
  std::string s;
  ltx::AppendU32(&s, pgno);
  s.append(size, fill);
  return s;
}

// ---- ParsePageFrames ----

TEST(ParsePageFramesTest, ParsesAscendingFrames) {
  std::string body = Frame(1, 512, 'a') + Frame(3, 512, 'c');
  auto r = ParsePageFrames(body, 512, {1, 2, 3});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].first, 1u);
  EXPECT_EQ((*r)[0].second, std::string(512, 'a'));
  EXPECT_EQ((*r)[1].first, 3u);
  EXPECT_EQ((*r)[1].second, std::string(512, 'c'));
  // Empty want accepts any pgno; an empty body is zero pages.
  EXPECT_TRUE(ParsePageFrames(body, 512, {}).ok());
  auto e = ParsePageFrames("", 4096, {1});
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->empty());
  // An unsorted want list still works.
  EXPECT_TRUE(ParsePageFrames(body, 512, {3, 1}).ok());
}

// pages+sums frames: the sum after each pgno is returned beside the pages; the frame is 12
// bytes longer, so plain frames read as frames with sums (or the reverse) fail the size check.
TEST(ParsePageFramesTest, FramesWithSums) {
  std::string body;
  for (uint32_t p : {1u, 3u}) {
    ltx::AppendU32(&body, p);
    ltx::AppendU64(&body, 0xfeedface00000000ULL + p);
    body.append(512, char('a' + p));
  }
  std::vector<uint64_t> sums;
  auto r = ParsePageFrames(body, 512, {1, 3}, &sums);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].first, 3u);
  EXPECT_EQ((*r)[1].second, std::string(512, 'd'));
  EXPECT_EQ(sums, (std::vector<uint64_t>{0xfeedface00000001ULL, 0xfeedface00000003ULL}));
  auto plain = ParsePageFrames(body, 512, {1, 3});
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("not a multiple of the 516-byte frame"), std::string::npos)
      << plain.status().ToString();
  std::string p2 = Frame(1, 512, 'a') + Frame(3, 512, 'c') + Frame(4, 512, 'e');
  sums.clear();
  auto asums = ParsePageFrames(p2, 512, {}, &sums);
  ASSERT_FALSE(asums.ok());
  EXPECT_NE(asums.status().message().find("524-byte frame"), std::string::npos) << asums.status().ToString();
}

TEST(ParsePageFramesTest, ExactErrors) {
  struct Case {
    std::string body;
    uint32_t page_size;
    std::vector<uint32_t> want;
    std::string msg;
  };
  std::vector<Case> cases = {
      {Frame(1, 512, 'a'), 1000, {}, "page batch: page size 1000 is not a power of two in [512, 65536]"},
      {Frame(1, 512, 'a'), 256, {}, "page batch: page size 256 is not a power of two in [512, 65536]"},
      {Frame(1, 512, 'a'), 131072, {}, "page batch: page size 131072 is not a power of two in [512, 65536]"},
      {Frame(1, 512, 'a').substr(0, 515), 512, {},
       "page batch: body is 515 bytes, not a multiple of the 516-byte frame (truncated or wrong page size)"},
      {Frame(1, 512, 'a'), 1024, {},
       "page batch: body is 516 bytes, not a multiple of the 1028-byte frame (truncated or wrong page size)"},
      {Frame(2, 512, 'a') + Frame(1, 512, 'a'), 512, {}, "page batch: page 1 follows page 2"},
      {Frame(2, 512, 'a') + Frame(2, 512, 'a'), 512, {}, "page batch: page 2 appears twice"},
      {Frame(0, 512, 'a'), 512, {}, "page batch: frame 0 has page number 0"},
      {Frame(0x80000000u, 512, 'a'), 512, {}, "page batch: frame 0 has page number 2147483648"},
      {Frame(5, 512, 'a'), 512, {1, 2}, "page batch: page 5 was not asked for"},
      {Frame(1, 512, 'a') + Frame(2, 512, 'a'), 512, {1}, "page batch: 2 pages for 1 asked"},
  };
  for (const auto& k : cases) {
    auto r = ParsePageFrames(k.body, k.page_size, k.want);
    ASSERT_FALSE(r.ok()) << k.msg;
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_EQ(r.status().message(), k.msg);
  }
}

// ---- ParseSyncJson ----

TEST(ParseSyncJsonTest, Fields) {
  auto r = ParseSyncJson(
      R"({"pos":{"txid":"000000000000000a","postApplyChecksum":"ABCDEF0123456789"},"pgnos":[1,2,70000],"all":false,"commit":70000,"pageSize":65536})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pos, (Pos{10, 0xabcdef0123456789ULL}));
  EXPECT_EQ(r->pgnos, (std::vector<uint32_t>{1, 2, 70000}));
  EXPECT_FALSE(r->all);
  EXPECT_EQ(r->commit, 70000u);
  EXPECT_EQ(r->page_size, 65536u);
  // Optional fields absent, pgnos null.
  r = ParseSyncJson(
      R"({"pos":{"txid":"0000000000000000","postApplyChecksum":"0000000000000000"},"pgnos":null,"all":true})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->all);
  EXPECT_TRUE(r->pos.IsZero());
  EXPECT_EQ(r->commit, 0u);
  EXPECT_EQ(r->page_size, 0u);
}

TEST(ParseSyncJsonTest, Rejects) {
  const std::string p = R"("pos":{"txid":"000000000000000a","postApplyChecksum":"0000000000000001"})";
  for (const std::string& b : {
           std::string(""), std::string("null"), std::string("[]"), std::string("{}"),
           "{" + p + R"(,"pgnos":[2,2]})", "{" + p + R"(,"pgnos":[1.5]})",
           "{" + p + R"(,"pgnos":[2147483648]})", "{" + p + R"(,"pgnos":{}})",
           "{" + p + R"(,"all":1})", "{" + p + R"(,"commit":-1})", "{" + p + R"(,"commit":"5"})",
           "{" + p + R"(,"pageSize":4097})",
           std::string(R"({"pos":{"txid":"a","postApplyChecksum":"0000000000000001"}})"),
           std::string(R"({"pos":{"txid":"000000000000000g","postApplyChecksum":"0000000000000001"}})"),
           std::string(R"({"pos":{"txid":"000000000000000a"}})"),
           std::string(R"({"pos":{"txid":10,"postApplyChecksum":"0000000000000001"}})"),
           std::string(R"({"pos":"000000000000000a/0000000000000001"})"),
           std::string(10000, '['),
       }) {
    auto r = ParseSyncJson(b);
    ASSERT_FALSE(r.ok()) << b.substr(0, 60);
    EXPECT_EQ(r.status().code(), Code::kCorruption) << b.substr(0, 60);
  }
}

// ---- ParsePagesJson ----

TEST(ParsePagesJsonTest, DecodesBase64Pages) {
  std::string page(1024, '\0');
  for (size_t i = 0; i < page.size(); i++) page[i] = char(i * 7);
  std::string body = R"({"pages":[{"pgno":4,"data":")" + internal::Base64Encode(page) + R"("}]})";
  auto r = ParsePagesJson(body, Pos{5, 6}, {4, 9});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pos, (Pos{5, 6}));
  EXPECT_EQ(r->page_size, 1024u);
  ASSERT_EQ(r->pages.size(), 1u);
  EXPECT_EQ(r->pages[0].first, 4u);
  EXPECT_EQ(r->pages[0].second, page);
  auto e = ParsePagesJson(R"({"pages":null})", Pos{5, 6}, {4});
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->pages.empty());
}

std::string Escaped(char c) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
  return buf;
}

TEST(ParsePagesJsonTest, CanonicalAndOtherShapesAgree) {
  // The scanner for the canonical shape and the general parser must agree on every
  // document: whitespace, key order, extra keys and escapes only change which one runs.
  const std::string a = internal::Base64Encode(std::string(512, 'a'));
  const std::string b = internal::Base64Encode(std::string(512, 'b'));
  for (const std::string& body : {
           R"({"pages":[{"pgno":1,"data":")" + a + R"("},{"pgno":3,"data":")" + b + R"("}]})",
           " {\n \"pages\" : [ {\"pgno\": 1 , \"data\":\"" + a +
               "\"} ,\r\n\t{\"pgno\":3,\"data\":\"" + b + "\"} ] } \n",
           R"({"pages":[{"data":")" + a + R"(","pgno":1},{"pgno":3,"data":")" + b + R"("}]})",
           R"({"x":1,"pages":[{"pgno":1,"data":")" + a + R"("},{"pgno":3,"data":")" + b +
               R"(","extra":true}]})",
           R"({"pages":[{"pgno":1,"data":")" + a.substr(0, 4) + Escaped(a[4]) + a.substr(5) +
               R"("},{"pgno":3,"data":")" + b + R"("}]})",
       }) {
    auto r = ParsePagesJson(body, Pos{1, 1}, {1, 2, 3});
    ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << body.substr(0, 80);
    ASSERT_EQ(r->pages.size(), 2u);
    EXPECT_EQ(r->pages[0].first, 1u);
    EXPECT_EQ(r->pages[0].second, std::string(512, 'a'));
    EXPECT_EQ(r->pages[1].first, 3u);
    EXPECT_EQ(r->pages[1].second, std::string(512, 'b'));
    EXPECT_EQ(r->page_size, 512u);
  }
  // Almost-canonical documents that are not JSON at all must still fail.
  for (const std::string& body : {
           R"({"pages":[{"pgno":1,"data":")" + a + R"("}])",
           R"({"pages":[{"pgno":1,"data":")" + a + R"("}]}x)",
           R"({"pages":[{"pgno":01,"data":")" + a + R"("}]})",
           R"({"pages":[{"pgno":1,"data":")" + a + R"("},]})",
       }) {
    auto r = ParsePagesJson(body, Pos{1, 1}, {1});
    EXPECT_FALSE(r.ok()) << body.substr(0, 60);
    EXPECT_EQ(r.status().code(), Code::kCorruption);
  }
}

TEST(ParsePagesJsonTest, ExactErrors) {
  const std::string p512 = internal::Base64Encode(std::string(512, 'x'));
  struct Case {
    std::string body, msg;
  };
  std::vector<Case> cases = {
      {R"({"pages":[{"pgno":3,"data":")" + p512 + R"("}]})", "pages: page 3 was not asked for"},
      {R"({"pages":[{"pgno":1,"data":"AAA"}]})",
       "pages: page 1: base64: length 3 is not a multiple of 4"},
      {R"({"pages":[{"pgno":1,"data":"AA=A"}]})", "pages: page 1: base64: misplaced padding at offset 0"},
      {R"({"pages":[{"pgno":1,"data":"AAAA"}]})",
       "pages: page 1 is 3 bytes, not a power of two in [512, 65536]"},
      {R"({"pages":[{"pgno":1,"data":")" + p512 + R"("},{"pgno":1,"data":")" + p512 + R"("}]})",
       "pages: page 1 appears twice"},
      {R"({"pages":[{"pgno":2,"data":")" + p512 + R"("},{"pgno":1,"data":")" + p512 + R"("}]})",
       "pages: page 1 follows page 2"},
      {R"({"pages":[{"pgno":0,"data":""}]})", "pages: entry has a bad pgno"},
      {R"({"pages":[7]})", "pages: entry is not an object"},
      {R"({"page":[]})", "pages: response has no \"pages\" array"},
  };
  for (const auto& k : cases) {
    auto r = ParsePagesJson(k.body, Pos{1, 1}, {1, 2});
    ASSERT_FALSE(r.ok()) << k.msg;
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_EQ(r.status().message(), k.msg);
  }
}

// ---- codecs ----

TEST(ClientCodecTest, Base64RoundTripAndStrictness) {
  for (size_t n = 0; n < 70; n++) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i++) s[i] = char(i * 37 + n);
    std::string enc = internal::Base64Encode(s), dec;
    ASSERT_TRUE(internal::Base64Decode(enc, &dec).ok()) << n;
    EXPECT_EQ(dec, s);
  }
  std::string out;
  EXPECT_EQ(internal::Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(internal::Base64Encode("fo"), "Zm8=");
  EXPECT_TRUE(internal::Base64Decode("Zm8=", &out).ok());
  EXPECT_EQ(out, "fo");
  EXPECT_FALSE(internal::Base64Decode("Zm9=", &out).ok());   // non-canonical bits
  EXPECT_FALSE(internal::Base64Decode("Zm8", &out).ok());    // missing padding
  EXPECT_FALSE(internal::Base64Decode("Zm8=Zm8=", &out).ok());  // padding mid-stream
  EXPECT_FALSE(internal::Base64Decode("Zm 8", &out).ok());
  EXPECT_FALSE(internal::Base64Decode("Zm-_", &out).ok());  // URL alphabet is not ours
  EXPECT_FALSE(internal::Base64Decode("====", &out).ok());
}

std::string Compress(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 1);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A frame without a declared content size, as a streaming compressor writes it.
std::string CompressStreaming(const std::string& in) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  std::string out(ZSTD_compressBound(in.size()) + 64, '\0');
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  ZSTD_inBuffer i{in.data(), in.size(), 0};
  // Feeding with e_continue first keeps the size out of the frame header.
  EXPECT_FALSE(ZSTD_isError(ZSTD_compressStream2(c, &o, &i, ZSTD_e_continue)));
  ZSTD_inBuffer none{nullptr, 0, 0};
  size_t rem = ZSTD_compressStream2(c, &o, &none, ZSTD_e_end);
  EXPECT_EQ(rem, 0u);
  EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), o.pos), ZSTD_CONTENTSIZE_UNKNOWN);
  ZSTD_freeCCtx(c);
  out.resize(o.pos);
  return out;
}

TEST(ClientCodecTest, ZstdBounded) {
  std::string data(100000, 'z');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = char(i);
  std::string out;
  ASSERT_TRUE(internal::ZstdDecompressBounded(Compress(data), data.size(), &out).ok());
  EXPECT_EQ(out, data);
  // Declared size over the bound: refused before decompressing.
  auto st = internal::ZstdDecompressBounded(Compress(data), data.size() - 1, &out);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("declares 100000 bytes"), std::string::npos) << st.message();
  EXPECT_TRUE(out.empty());
  // Undeclared size: caught while streaming, never more than the bound kept.
  std::string streamed = CompressStreaming(data);
  ASSERT_TRUE(internal::ZstdDecompressBounded(streamed, data.size(), &out).ok());
  EXPECT_EQ(out, data);
  st = internal::ZstdDecompressBounded(streamed, 5000, &out);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("exceeds the 5000 bytes"), std::string::npos) << st.message();
  // Truncated and garbage input.
  std::string cut = Compress(data);
  cut.resize(cut.size() / 2);
  EXPECT_EQ(internal::ZstdDecompressBounded(cut, data.size(), &out).code(), Code::kCorruption);
  EXPECT_EQ(internal::ZstdDecompressBounded("hello", 100, &out).code(), Code::kCorruption);
  EXPECT_EQ(internal::ZstdDecompressBounded("", 100, &out).code(), Code::kCorruption);
  // Two concatenated frames.
  ASSERT_TRUE(internal::ZstdDecompressBounded(Compress("ab") + Compress("cd"), 4, &out).ok());
  EXPECT_EQ(out, "abcd");
}

TEST(ClientCodecTest, HeaderValues) {
  uint32_t v = 0;
  EXPECT_TRUE(internal::ParseDecimalU32("4096", &v));
  EXPECT_EQ(v, 4096u);
  EXPECT_TRUE(internal::ParseDecimalU32("0", &v));
  EXPECT_TRUE(internal::ParseDecimalU32("4294967295", &v));
  EXPECT_FALSE(internal::ParseDecimalU32("4294967296", &v));
  EXPECT_FALSE(internal::ParseDecimalU32("04096", &v));
  EXPECT_FALSE(internal::ParseDecimalU32("+1", &v));
  EXPECT_FALSE(internal::ParseDecimalU32(" 1", &v));
  EXPECT_FALSE(internal::ParseDecimalU32("", &v));
  uint64_t t = 0, c = 0;
  EXPECT_TRUE(internal::ParsePosText("0000000000000003/9c74a15b4e4f246c", &t, &c));
  EXPECT_EQ(t, 3u);
  EXPECT_EQ(c, 0x9c74a15b4e4f246cULL);
  EXPECT_FALSE(internal::ParsePosText("3/9c74a15b4e4f246c", &t, &c));
  EXPECT_FALSE(internal::ParsePosText("0000000000000003-9c74a15b4e4f246c", &t, &c));
  EXPECT_FALSE(internal::ParsePosText("0000000000000003/9c74a15b4e4f246c ", &t, &c));
  EXPECT_FALSE(internal::ParsePosText("000000000000000x/9c74a15b4e4f246c", &t, &c));
}

TEST(ClientCodecTest, Rfc3339) {
  int64_t ms = 0;
  ASSERT_TRUE(internal::ParseRfc3339Millis("1970-01-01T00:00:00Z", &ms));
  EXPECT_EQ(ms, 0);
  ASSERT_TRUE(internal::ParseRfc3339Millis("2026-11-21T08:00:00.25Z", &ms));
  EXPECT_EQ(ms, 1795248000250LL);
  ASSERT_TRUE(internal::ParseRfc3339Millis("2026-11-21T08:00:00.123456789Z", &ms));
  EXPECT_EQ(ms, 1795248000123LL);
  ASSERT_TRUE(internal::ParseRfc3339Millis("2026-11-21T03:30:00-04:30", &ms));
  EXPECT_EQ(ms, 1795248000000LL);
  ASSERT_TRUE(internal::ParseRfc3339Millis("2024-02-29T00:00:00Z", &ms));
  EXPECT_FALSE(internal::ParseRfc3339Millis("2023-02-29T00:00:00Z", &ms));
  EXPECT_FALSE(internal::ParseRfc3339Millis("2026-11-21 08:00:00Z", &ms));
  EXPECT_FALSE(internal::ParseRfc3339Millis("2026-11-21T08:00:00", &ms));
  EXPECT_FALSE(internal::ParseRfc3339Millis("2026-11-21T08:00:00.Z", &ms));
  EXPECT_FALSE(internal::ParseRfc3339Millis("2026-13-21T08:00:00Z", &ms));
  EXPECT_FALSE(internal::ParseRfc3339Millis("2026-11-21T08:00:00Zjunk", &ms));
}

TEST(ClientCodecTest, UrlEncodingAndBaseUrl) {
  EXPECT_EQ(internal::UrlEncodeQueryValue("1,2,3"), "1,2,3");
  EXPECT_EQ(internal::UrlEncodeQueryValue("0000000000000003/9c74a15b4e4f246c"),
            "0000000000000003/9c74a15b4e4f246c");
  EXPECT_EQ(internal::UrlEncodeQueryValue("a b&c=d+e#%"), "a%20b%26c%3Dd%2Be%23%25");
  EXPECT_EQ(internal::UrlEncodeQueryValue("\xff"), "%FF");
  EXPECT_EQ(*internal::NormalizeBaseUrl("h:1"), "http://h:1");
  EXPECT_EQ(*internal::NormalizeBaseUrl("http://h:1//"), "http://h:1");
  EXPECT_EQ(*internal::NormalizeBaseUrl(" https://h "), "https://h");
  EXPECT_FALSE(internal::NormalizeBaseUrl("").ok());
  EXPECT_FALSE(internal::NormalizeBaseUrl("http://").ok());
  EXPECT_FALSE(internal::NormalizeBaseUrl("gopher://h").ok());
  EXPECT_FALSE(internal::NormalizeBaseUrl("http://h/x?y").ok());
}

TEST(ClientCodecTest, LoopbackBaseUrls) {
  for (const char* u : {"http://127.0.0.1:20202", "http://127.1.2.3", "https://localhost:8",
                        "http://LOCALHOST", "http://[::1]:80", "http://u@127.0.0.1:1/x"}) {
    EXPECT_TRUE(internal::IsLoopbackBaseUrl(u)) << u;
  }
  for (const char* u : {"http://10.0.0.1:20202", "https://example.com", "http://127.example.com",
                        "http://[::2]:80", "http://localhost.example", "http://1270.0.0.1"}) {
    EXPECT_FALSE(internal::IsLoopbackBaseUrl(u)) << u;
  }
}

// ---- retries and stats through a fake transport ----

class ScriptedTransport : public Transport {
 public:
  // Each Do() pops the next scripted answer; the last one repeats. A request whose body is
  // a file (body_path) is recorded and refused: this fake never reads it.
  void Push(Result<HttpResponse> r) { script_.push_back(std::move(r)); }
  Result<HttpResponse> Do(const HttpRequest& req) override {
    std::lock_guard<std::mutex> l(mu_);
    requests.push_back(req);
    if (!req.body_path.empty()) {
      return Status::Unsupported("ScriptedTransport: body_path " + req.body_path +
                                 " is not supported");
    }
    if (script_.size() > 1) {
      auto r = std::move(script_.front());
      script_.pop_front();
      return r;
    }
    return script_.front();
  }
  std::vector<HttpRequest> requests;

 private:
  std::mutex mu_;
  std::deque<Result<HttpResponse>> script_;
};

HttpResponse Resp(int status, std::string body, std::map<std::string, std::string> h = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(h);
  return r;
}

ClientConfig FakeConfig(int retries) {
  ClientConfig c;
  c.token = "tok";
  c.max_retries = retries;
  c.retry_backoff_ms = 1;
  return c;
}

TEST(ClientRetryTest, RetriesUnavailableGetsAndCountsThem) {
  auto t = std::make_unique<ScriptedTransport>();
  auto* tp = t.get();
  tp->Push(Status::Unavailable("boom 1"));
  tp->Push(Resp(503, R"({"code":"EUNAVAILABLE","error":"x"})"));
  tp->Push(Resp(200, "{}"));
  auto c = Client::CreateWithTransport(FakeConfig(3), std::move(t));
  auto r = c->GetPositions();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(c->stats().requests.load(), 3u);
  EXPECT_EQ(c->stats().retries.load(), 2u);
  EXPECT_EQ(tp->requests.size(), 3u);
  // bytes_received counts every body, the failed attempts' included.
  EXPECT_EQ(c->stats().bytes_received.load(),
            std::string(R"({"code":"EUNAVAILABLE","error":"x"})").size() + 2);
}

TEST(ClientRetryTest, GivesUpAfterMaxRetries) {
  auto t = std::make_unique<ScriptedTransport>();
  auto* tp = t.get();
  tp->Push(Status::Unavailable("still down"));
  auto c = Client::CreateWithTransport(FakeConfig(2), std::move(t));
  auto r = c->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().message(), "still down");
  EXPECT_EQ(tp->requests.size(), 3u);
  EXPECT_EQ(c->stats().retries.load(), 2u);
}

TEST(ClientRetryTest, ZeroRetriesMeansOneAttempt) {
  auto t = std::make_unique<ScriptedTransport>();
  auto* tp = t.get();
  tp->Push(Status::Unavailable("down"));
  auto c = Client::CreateWithTransport(FakeConfig(0), std::move(t));
  EXPECT_FALSE(c->GetPositions().ok());
  EXPECT_EQ(tp->requests.size(), 1u);
  EXPECT_EQ(c->stats().retries.load(), 0u);
}

TEST(ClientRetryTest, NonIdempotentAndNonRetryableAreNotRetried) {
  auto t = std::make_unique<ScriptedTransport>();
  auto* tp = t.get();
  tp->Push(Status::Unavailable("down"));
  auto c = Client::CreateWithTransport(FakeConfig(3), std::move(t));
  EXPECT_EQ(c->ReleaseLease("db", "id").code(), Code::kUnavailable);
  EXPECT_EQ(tp->requests.size(), 1u);
  EXPECT_EQ(c->stats().retries.load(), 0u);
  // An acquire carries the client's token (Lfsc-Lease-Client), so the service answers a
  // repeat with the same lease: it is retried like an idempotent request (issue 17).
  EXPECT_EQ(c->AcquireLease("db", 5000).status().code(), Code::kUnavailable);
  EXPECT_EQ(tp->requests.size(), 1u + 4u);
  EXPECT_EQ(c->stats().retries.load(), 3u);

  auto t2 = std::make_unique<ScriptedTransport>();
  auto* tp2 = t2.get();
  tp2->Push(Resp(404, R"({"code":"ENOTFOUND","error":"no such database"})"));
  auto c2 = Client::CreateWithTransport(FakeConfig(3), std::move(t2));
  auto r = c2->Sync("db", Pos{});
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().api_code(), "ENOTFOUND");
  EXPECT_EQ(r.status().message(), "litevfs: server: ENOTFOUND: no such database (GET /db/sync db=db)");
  EXPECT_EQ(tp2->requests.size(), 1u);
}

TEST(ClientRetryTest, CommonHeadersAndInstanceEcho) {
  auto t = std::make_unique<ScriptedTransport>();
  auto* tp = t.get();
  tp->Push(Resp(200, "{}", {{"lfsc-instance-id", "i-1"}}));
  tp->Push(Resp(200, "{}", {{"lfsc-instance-id", "i-2"}}));
  tp->Push(Resp(200, "{}"));
  ClientConfig cfg = FakeConfig(0);
  cfg.cluster = "c1";
  auto c = Client::CreateWithTransport(cfg, std::move(t));
  for (int i = 0; i < 3; i++) ASSERT_TRUE(c->GetPositions().ok());
  auto header = [](const HttpRequest& r, const std::string& k) {
    for (const auto& [n, v] : r.headers)
      if (n == k) return v;
    return std::string("<absent>");
  };
  auto query = [](const HttpRequest& r, const std::string& k) {
    for (const auto& [n, v] : r.query)
      if (n == k) return v;
    return std::string("<absent>");
  };
  ASSERT_EQ(tp->requests.size(), 3u);
  EXPECT_EQ(header(tp->requests[0], "fly-force-instance-id"), "<absent>");
  EXPECT_EQ(header(tp->requests[1], "fly-force-instance-id"), "i-1");
  EXPECT_EQ(header(tp->requests[2], "fly-force-instance-id"), "i-2");
  for (const auto& r : tp->requests) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.path, "/pos");
    EXPECT_EQ(header(r, "Authorization"), "tok");
    EXPECT_EQ(query(r, "cluster"), "c1");
    EXPECT_EQ(header(r, "Litefs-Cluster-Id").size(), 20u);
  }
}

TEST(ClientRetryTest, SnapshotRetriedOnlyBeforeAnyByteReachedTheSink) {
  // The fake transport buffers, so the default DoStreaming writes after a full success:
  // a failure before it is safely retried.
  auto t = std::make_unique<ScriptedTransport>();
  auto* tp = t.get();
  tp->Push(Status::Unavailable("reset"));
  std::string snap(ltx::kHeaderSize + ltx::kTrailerSize + 4, '\0');
  {
    ltx::Header h;
    h.page_size = 4096;
    h.min_txid = 1;
    h.max_txid = 1;
    h.EncodeTo(reinterpret_cast<uint8_t*>(snap.data()));
  }
  tp->Push(Resp(200, snap));
  auto c = Client::CreateWithTransport(FakeConfig(3), std::move(t));
  std::string got;
  ltx::StringSink sink(&got);
  auto r = c->GetSnapshot("db", &sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(got, snap);
  EXPECT_EQ(*r, snap.size());
  EXPECT_EQ(c->stats().retries.load(), 1u);
}

// A stats-only check of the cache-hit contract: nothing but an explicit call makes a request.
TEST(ClientRetryTest, NoRequestWithoutACall) {
  auto t = std::make_unique<ScriptedTransport>();
  t->Push(Resp(200, "{}"));
  auto c = Client::CreateWithTransport(FakeConfig(0), std::move(t));
  EXPECT_EQ(c->stats().requests.load(), 0u);
  EXPECT_EQ(c->stats().bytes_received.load(), 0u);
}

}  // namespace
}  // namespace litevfs
