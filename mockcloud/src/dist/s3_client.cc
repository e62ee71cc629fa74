#include "s3_client.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace mockcloud::dist {
namespace {

constexpr size_t kHashChunk = 1 << 16;

std::string Hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string Env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

}  // namespace

Result<S3Location> ParseS3Url(std::string_view url) {
  const std::string_view scheme = "s3://";
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("--store " + std::string(url) + ": " + why +
                                   " (expected s3://BUCKET/PREFIX?endpoint=http://HOST:PORT)");
  };
  if (url.substr(0, scheme.size()) != scheme) return bad("not an s3:// URL");
  std::string_view rest = url.substr(scheme.size());
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  S3Location loc;
  size_t slash = rest.find('/');
  loc.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) loc.prefix = std::string(rest.substr(slash + 1));
  while (!loc.prefix.empty() && loc.prefix.back() == '/') loc.prefix.pop_back();
  if (loc.bucket.size() < 3 || loc.bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos)
    return bad("bucket name must be 3+ characters of [a-z0-9.-]");
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = kv.find('=');
    std::string k(kv.substr(0, eq)), v(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
    if (k == "endpoint") {
      loc.endpoint = v;
    } else if (k == "region") {
      loc.region = v;
    } else {
      return bad("unknown parameter '" + k + "' (endpoint and region are known)");
    }
  }
  while (!loc.endpoint.empty() && loc.endpoint.back() == '/') loc.endpoint.pop_back();
  if (loc.endpoint.rfind("http://", 0) != 0 && loc.endpoint.rfind("https://", 0) != 0)
    return bad("endpoint=http://HOST:PORT is required");
  return loc;
}

std::string FormatS3Url(const S3Location& loc) {
  std::string s = "s3://" + loc.bucket + "/" + loc.prefix + "?endpoint=" + loc.endpoint;
  if (!loc.region.empty()) s += "&region=" + loc.region;
  return s;
}

Result<AwsCredentials> LoadAwsCredentials(const std::string& file) {
  AwsCredentials c;
  if (file.empty()) {
    c.access_key = Env("AWS_ACCESS_KEY_ID");
    c.secret_key = Env("AWS_SECRET_ACCESS_KEY");
    c.region = Env("AWS_REGION");
    if (c.access_key.empty() || c.secret_key.empty())
      return Status::InvalidArgument(
          "S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give "
          "--aws-credentials-file");
    return c;
  }
  std::ifstream in(file);
  if (!in) return Status::InvalidArgument(ErrnoText("--aws-credentials-file: open", file));
  std::string line, section;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      section = Trim(line.substr(1, line.find(']') - 1));
      continue;
    }
    size_t eq = line.find('=');
    if (section != "default" || eq == std::string::npos) continue;
    std::string k = Trim(line.substr(0, eq)), v = Trim(line.substr(eq + 1));
    if (k == "aws_access_key_id") c.access_key = v;
    if (k == "aws_secret_access_key") c.secret_key = v;
    if (k == "region") c.region = v;
  }
  if (c.access_key.empty() || c.secret_key.empty())
    return Status::InvalidArgument("--aws-credentials-file " + file +
                                   ": section [default] needs aws_access_key_id and "
                                   "aws_secret_access_key");
  if (c.region.empty()) c.region = Env("AWS_REGION");
  return c;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return Hex(md, n);
}

Result<std::string> Sha256HexOfFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(ErrnoText("open", path));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::string buf(kHashChunk, '\0');
  ssize_t got;
  while ((got = read(fd, buf.data(), buf.size())) > 0) EVP_DigestUpdate(ctx, buf.data(), size_t(got));
  Status st = got < 0 ? Status::IOError(ErrnoText("read", path)) : Status::OK();
  close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  if (!st.ok()) return st;
  return Hex(md, n);
}

std::string EncodeS3Key(std::string_view key) {
  static const char* d = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += char(c);
    } else {
      out += '%';
      out += d[c >> 4];
      out += d[c & 15];
    }
  }
  return out;
}

S3Request BuildS3Request(const S3Location& loc, const AwsCredentials& creds,
                         const std::string& method, const std::string& key,
                         const std::string& payload_sha256, uint64_t range_from,
                         uint64_t range_len) {
  S3Request r;
  r.method = method;
  r.url = loc.endpoint + "/" + loc.bucket + (key.empty() ? "" : "/" + EncodeS3Key(key));
  const std::string region =
      !loc.region.empty() ? loc.region : !creds.region.empty() ? creds.region : kDefaultRegion;
  r.sigv4 = "aws:amz:" + region + ":s3";
  r.userpwd = creds.access_key + ":" + creds.secret_key;
  r.headers.push_back("x-amz-content-sha256: " + payload_sha256);
  if (range_len > 0) {
    r.headers.push_back("Range: bytes=" + std::to_string(range_from) + "-" +
                        std::to_string(range_from + range_len - 1));
  }
  if (method == "PUT") r.headers.push_back("Content-Type: application/octet-stream");
  r.headers.push_back("Expect:");  // no 100-continue round trip
  return r;
}

}  // namespace mockcloud::dist
