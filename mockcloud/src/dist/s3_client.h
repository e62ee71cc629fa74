// A small S3 client for the distributed store: path-style URLs, SigV4 signing by libcurl
// (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"), the payload's SHA-256 (OpenSSL libcrypto) sent as
// x-amz-content-sha256 (libcurl signs that header but does not compute it). Only PUT, GET
// (whole or one byte range) and DELETE of single objects on the hot path, which never LISTs;
// List (ListObjectsV2) only for the compactor's orphan sweep (s3_list.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "../util.h"

namespace mockcloud::dist {

inline constexpr char kDefaultRegion[] = "us-east-1";

// Where the objects live: --store s3://BUCKET/PREFIX?endpoint=http://HOST:PORT[&region=R].
struct S3Location {
  std::string bucket;
  std::string prefix;    // no leading or trailing '/'; may be empty
  std::string endpoint;  // "http://host:port", no trailing '/'
  std::string region;    // empty = from the credentials (AWS_REGION) or us-east-1
};
Result<S3Location> ParseS3Url(std::string_view url);
// "s3://BUCKET/PREFIX?endpoint=…": the inverse of ParseS3Url, for messages.
std::string FormatS3Url(const S3Location& loc);

struct AwsCredentials {
  std::string access_key;
  std::string secret_key;
  std::string region;  // empty = unset
};
// From `file` (ini like ~/.aws/credentials, section [default]: aws_access_key_id,
// aws_secret_access_key, optional region) or, when `file` is empty, from AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_REGION. Missing keys are an error naming what to set.
Result<AwsCredentials> LoadAwsCredentials(const std::string& file);

// Lowercase hex SHA-256 of `data` (x-amz-content-sha256).
std::string Sha256Hex(std::string_view data);
Result<std::string> Sha256HexOfFile(const std::string& path);

// One request as handed to libcurl (pure: unit-tested without a server).
struct S3Request {
  std::string method;
  std::string url;     // endpoint/bucket/key, key percent-encoded except '/'
  std::string sigv4;   // CURLOPT_AWS_SIGV4
  std::string userpwd; // CURLOPT_USERPWD: ACCESS:SECRET
  std::vector<std::string> headers;
};
// range_len 0 = the whole object.
S3Request BuildS3Request(const S3Location& loc, const AwsCredentials& creds,
                         const std::string& method, const std::string& key,
                         const std::string& payload_sha256, uint64_t range_from,
                         uint64_t range_len);
// RFC 3986 percent-encoding of an object key, '/' kept.
std::string EncodeS3Key(std::string_view key);

struct S3Object {
  std::string key;
  int64_t last_modified_ms = 0;  // Unix ms
};
// The objects and continuation of one ListObjectsV2 reply (pure: unit-tested).
struct S3ListPage {
  std::vector<S3Object> objects;
  std::string next_token;  // empty = the last page
};
Result<S3ListPage> ParseListObjectsV2(const std::string& xml);

class S3Client {
 public:
  S3Client(S3Location loc, AwsCredentials creds);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Location& location() const { return loc_; }
  // The object key for `rel` under the prefix.
  std::string Key(const std::string& rel) const;

  Status Put(const std::string& key, std::string_view body);
  Status PutFile(const std::string& key, const std::string& path);
  // NotFound when the object does not exist.
  Result<std::string> Get(const std::string& key);
  Result<std::string> GetRange(const std::string& key, uint64_t from, uint64_t len);
  Status Delete(const std::string& key);
  // Every object whose key starts with `prefix` (all pages; one LIST request each).
  Result<std::vector<S3Object>> List(const std::string& prefix);
  // Fails with a message naming the endpoint and bucket when the bucket cannot be reached.
  Status CheckBucket();

  // Requests sent so far, by kind (the metrics route; tests assert the hot path never LISTs).
  enum Kind { kGet, kGetRange, kPut, kDelete, kList, kHead, kNumKinds };
  static const char* KindName(Kind k);
  uint64_t requests(Kind k) const { return requests_[k].load(); }

 private:
  struct Reply {
    long status = 0;
    std::string body;
  };
  Result<Reply> Perform(const S3Request& rq, std::string_view body, const std::string& file);
  void* TakeHandle();
  void GiveHandle(void* h);

  const S3Location loc_;
  const AwsCredentials creds_;
  std::mutex mu_;  // guards idle_
  std::vector<void*> idle_;  // CURL* kept for keep-alive
  std::atomic<uint64_t> requests_[kNumKinds] = {};
};

}  // namespace mockcloud::dist
