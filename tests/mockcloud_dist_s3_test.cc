// The S3 client's pure parts: --store URLs, credentials, SHA-256 and SigV4 request building.
#include <gtest/gtest.h>

#include <fstream>

#include "../mockcloud/src/dist/s3_client.h"
#include "mockcloud_test_util.h"

namespace mockcloud::dist {
namespace {

TEST(DistS3, ParsesStoreUrls) {
  auto l = ParseS3Url("s3://my-bucket/a/b/?endpoint=http://127.0.0.1:9000/&region=eu-west-1");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->bucket, "my-bucket");
  EXPECT_EQ(l->prefix, "a/b");
  EXPECT_EQ(l->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(l->region, "eu-west-1");
  auto n = ParseS3Url("s3://bkt?endpoint=http://h:1");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->prefix, "");
  EXPECT_EQ(n->region, "");
}

TEST(DistS3, RejectsBadStoreUrlsNamingTheProblem) {
  struct Case {
    const char* url;
    const char* says;
  } cases[] = {
      {"http://bucket/p?endpoint=http://h:1", "not an s3:// URL"},
      {"s3://bucket/p", "endpoint=http://HOST:PORT is required"},
      {"s3://bucket/p?endpoint=ftp://h", "endpoint=http://HOST:PORT is required"},
      {"s3://B/p?endpoint=http://h:1", "bucket name"},
      {"s3://bucket/p?endpoint=http://h:1&colour=blue", "unknown parameter 'colour'"},
  };
  for (const auto& c : cases) {
    auto r = ParseS3Url(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("s3://BUCKET/PREFIX?endpoint="), std::string::npos);
  }
}

TEST(DistS3, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  mctest::TempDir d;
  std::ofstream(d.path() + "/f") << "abc";
  auto f = Sha256HexOfFile(d.path() + "/f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, Sha256Hex("abc"));
  EXPECT_FALSE(Sha256HexOfFile(d.path() + "/missing").ok());
}

TEST(DistS3, BuildsSignedPathStyleRequests) {
  S3Location loc{"bkt", "pre", "http://127.0.0.1:9000", ""};
  AwsCredentials c{"AKID", "SECRET", ""};
  S3Request r = BuildS3Request(loc, c, "GET", "pre/db/x y+z.ltx", Sha256Hex(""), 100, 50);
  EXPECT_EQ(r.url, "http://127.0.0.1:9000/bkt/pre/db/x%20y%2Bz.ltx");
  EXPECT_EQ(r.sigv4, "aws:amz:us-east-1:s3");  // the default region
  EXPECT_EQ(r.userpwd, "AKID:SECRET");
  auto has = [&](const std::string& h) {
    return std::find(r.headers.begin(), r.headers.end(), h) != r.headers.end();
  };
  EXPECT_TRUE(has("x-amz-content-sha256: " + Sha256Hex("")));
  EXPECT_TRUE(has("Range: bytes=100-149"));
  // The region: the URL's, else the credentials' (AWS_REGION), else us-east-1.
  c.region = "ap-south-1";
  EXPECT_EQ(BuildS3Request(loc, c, "PUT", "k", Sha256Hex("b"), 0, 0).sigv4, "aws:amz:ap-south-1:s3");
  loc.region = "eu-central-1";
  S3Request put = BuildS3Request(loc, c, "PUT", "k", Sha256Hex("b"), 0, 0);
  EXPECT_EQ(put.sigv4, "aws:amz:eu-central-1:s3");
  for (const auto& h : put.headers) EXPECT_EQ(h.rfind("Range:", 0), std::string::npos);
}

TEST(DistS3, CredentialsFileNeedsBothKeys) {
  mctest::TempDir d;
  std::ofstream(d.path() + "/ok") << "[other]\naws_access_key_id = NO\n[default]\n"
                                     "aws_access_key_id = AK\naws_secret_access_key = SK\n"
                                     "region = r1\n";
  auto c = LoadAwsCredentials(d.path() + "/ok");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key, "AK");
  EXPECT_EQ(c->secret_key, "SK");
  EXPECT_EQ(c->region, "r1");
  std::ofstream(d.path() + "/half") << "[default]\naws_access_key_id = AK\n";
  auto h = LoadAwsCredentials(d.path() + "/half");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("aws_secret_access_key"), std::string::npos);
  EXPECT_FALSE(LoadAwsCredentials(d.path() + "/missing").ok());
}

TEST(DistS3, ParsesListObjectsV2Pages) {
  auto page = ParseListObjectsV2(
      "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>"
      "<Contents><Key>p/db/a&amp;b.ltx</Key><LastModified>2026-12-06T03:40:00.250Z</LastModified>"
      "<Size>3</Size></Contents><Contents><LastModified>2026-12-06T03:40:01Z</LastModified>"
      "<Key>p/db/c.ltx</Key></Contents><NextContinuationToken>t/1=</NextContinuationToken>"
      "</ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "p/db/a&b.ltx");
  EXPECT_EQ(page->objects[0].last_modified_ms, 1796528400250);
  EXPECT_EQ(page->objects[1].key, "p/db/c.ltx");
  EXPECT_EQ(page->objects[1].last_modified_ms, 1796528401000);
  EXPECT_EQ(page->next_token, "t/1=");
  auto last = ParseListObjectsV2("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->objects.empty());
  EXPECT_EQ(last->next_token, "");
  EXPECT_FALSE(ParseListObjectsV2("<Error><Code>AccessDenied</Code></Error>").ok());
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>").ok());
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>").ok());
}

}  // namespace
}  // namespace mockcloud::dist
