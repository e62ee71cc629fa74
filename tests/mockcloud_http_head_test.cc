// The request-head parser of the mockcloud's HTTP front (mockcloud/src/http_head.h):
// framing decisions and the 4xx for every malformed head, without sockets.
#include <gtest/gtest.h>

#include "../mockcloud/src/http_head.h"

namespace {

using mockcloud::BodyFraming;
using mockcloud::ParsedHead;

ParsedHead Parse(const std::string& head, httplib::Request* req = nullptr) {
  httplib::Request local;
  return mockcloud::ParseHead(head, req ? req : &local);
}

std::string Post(const std::string& fields) {
  return "POST /db/tx?db=x HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n";
}

TEST(MockcloudHttpHead, ParsesTargetParamsAndHeaders) {
  httplib::Request req;
  ParsedHead h = Parse("GET /db/page?db=a&pgno=1%2C2 HTTP/1.1\r\nAccept:  x/y \r\nX-A: 1\r\n\r\n", &req);
  ASSERT_EQ(h.status, 0) << h.error;
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.path, "/db/page");
  EXPECT_EQ(req.get_param_value("pgno"), "1,2");
  EXPECT_EQ(req.get_header_value("accept"), "x/y");  // names are case-insensitive
  EXPECT_EQ(h.framing, BodyFraming::kNone);
  EXPECT_TRUE(h.keep_alive);
}

TEST(MockcloudHttpHead, BadContentLengthIsA400NamingIt) {
  // Issue 13: these used to get their 400 after a 30 s read timeout.
  for (const char* v : {"1e20", "-1", "18446744073709551615", "99999999999999999999", "+5", "0x10",
                        "1 2", "", "1.0"}) {
    ParsedHead h = Parse(Post(std::string("Content-Length: ") + v + "\r\n"));
    EXPECT_EQ(h.status, 400) << v;
    EXPECT_NE(h.error.find("Content-Length"), std::string::npos) << h.error;
    EXPECT_FALSE(h.keep_alive);
  }
  EXPECT_EQ(Parse(Post("Content-Length: 5\r\nContent-Length: 6\r\n")).status, 400);
  EXPECT_EQ(Parse(Post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")).status, 400);
  ParsedHead big = Parse(Post("Content-Length: 999999999999999999\r\n"));  // 18 digits: a length
  EXPECT_EQ(big.status, 0);
  EXPECT_EQ(big.content_length, 999999999999999999ull);
}

TEST(MockcloudHttpHead, NoLengthMeansEmptyBody) {
  // `curl -X POST` sends neither Content-Length nor Transfer-Encoding: a legal empty body.
  ParsedHead h = Parse(Post(""));
  EXPECT_EQ(h.status, 0);
  EXPECT_EQ(h.framing, BodyFraming::kNone);
  EXPECT_EQ(Parse(Post("Content-Length: 0\r\n")).framing, BodyFraming::kNone);
  h = Parse(Post("Content-Length: 12\r\nExpect: 100-continue\r\n"));
  EXPECT_EQ(h.framing, BodyFraming::kLength);
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_TRUE(h.expect_continue);
  EXPECT_EQ(Parse(Post("Transfer-Encoding: Chunked\r\n")).framing, BodyFraming::kChunked);
  EXPECT_EQ(Parse(Post("Transfer-Encoding: gzip, chunked\r\n")).status, 501);
}

TEST(MockcloudHttpHead, ConnectionPersistence) {
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_TRUE(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
}

TEST(MockcloudHttpHead, MalformedHeads) {
  EXPECT_EQ(Parse("GET /\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET  / HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET / HTTP/2.0\r\n\r\n").status, 505);
  EXPECT_EQ(Parse("GET x HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("G(T / HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nBad Name: v\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET /a?b=1?c=2 HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET /" + std::string(mockcloud::kMaxRequestLine, 'a') + " HTTP/1.1\r\n\r\n").status,
            414);
}

TEST(MockcloudHttpHead, FindHeadEnd) {
  EXPECT_EQ(mockcloud::FindHeadEnd("GET / HTTP/1.1\r\n"), std::string::npos);
  EXPECT_EQ(mockcloud::FindHeadEnd("GET / HTTP/1.1\r\n\r\nbody"), 18u);
}

}  // namespace
