// S3Client::List: ListObjectsV2, page by page, for the compactor's orphan sweep (never on the
// hot path), and the parsing of its XML reply.
#include <string_view>

#include "../rfc3339.h"
#include "s3_client.h"

namespace mockcloud::dist {
namespace {

constexpr int kMaxListPages = 100000;  // 1000 keys a page: far past any deployment here

// The text between <tag> and </tag> at or after `from` in `xml` (npos-safe); `at` is moved
// past it. False when there is none.
bool NextElement(std::string_view xml, std::string_view tag, size_t* at, std::string_view* out) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  size_t a = xml.find(open, *at);
  if (a == std::string_view::npos) return false;
  a += open.size();
  size_t b = xml.find(close, a);
  if (b == std::string_view::npos) return false;
  *out = xml.substr(a, b - a);
  *at = b + close.size();
  return true;
}

std::string XmlUnescape(std::string_view s) {
  static const std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool done = false;
    for (const auto& [e, c] : kEntities) {
      if (s.substr(i, e.size()) == e) {
        out += c;
        i += e.size();
        done = true;
        break;
      }
    }
    if (!done) out += s[i++];
  }
  return out;
}

// A query value: every byte but unreserved ones percent-encoded ('/' too, as SigV4 wants).
std::string QueryValue(std::string_view v) {
  std::string k = EncodeS3Key(v), out;
  for (char c : k) out += c == '/' ? std::string("%2F") : std::string(1, c);
  return out;
}

}  // namespace

Result<S3ListPage> ParseListObjectsV2(const std::string& xml) {
  if (xml.find("<ListBucketResult") == std::string::npos)
    return Status::IOError("S3 LIST reply is not a ListBucketResult: " + xml.substr(0, 200));
  S3ListPage page;
  size_t at = 0;
  std::string_view contents;
  while (NextElement(xml, "Contents", &at, &contents)) {
    size_t in = 0;
    std::string_view key, modified;
    if (!NextElement(contents, "Key", &in, &key)) return Status::IOError("S3 LIST: <Contents> without <Key>");
    in = 0;
    if (!NextElement(contents, "LastModified", &in, &modified))
      return Status::IOError("S3 LIST: <Contents> without <LastModified>");
    LTX_ASSIGN_OR_RETURN(int64_t ms, ParseRfc3339Ms(modified));
    page.objects.push_back({XmlUnescape(key), ms});
  }
  size_t t = 0;
  std::string_view truncated, token;
  if (NextElement(xml, "IsTruncated", &t, &truncated) && truncated == "true") {
    t = 0;
    if (!NextElement(xml, "NextContinuationToken", &t, &token) || token.empty())
      return Status::IOError("S3 LIST: truncated reply without <NextContinuationToken>");
    page.next_token = XmlUnescape(token);
  }
  return page;
}

Result<std::vector<S3Object>> S3Client::List(const std::string& prefix) {
  std::vector<S3Object> all;
  std::string token;
  for (int i = 0; i < kMaxListPages; i++) {
    requests_[kList]++;
    S3Request rq = BuildS3Request(loc_, creds_, "GET", "", Sha256Hex(""), 0, 0);
    // Parameters in sorted order: the order SigV4's canonical query string has.
    rq.url += "?";
    if (!token.empty()) rq.url += "continuation-token=" + QueryValue(token) + "&";
    rq.url += "list-type=2&prefix=" + QueryValue(prefix);
    LTX_ASSIGN_OR_RETURN(Reply r, Perform(rq, "", ""));
    if (r.status != 200)
      return Status::IOError("S3 LIST " + rq.url + ": HTTP " + std::to_string(r.status) + " " +
                             r.body.substr(0, 512));
    LTX_ASSIGN_OR_RETURN(S3ListPage page, ParseListObjectsV2(r.body));
    all.insert(all.end(), page.objects.begin(), page.objects.end());
    if (page.next_token.empty()) return all;
    token = page.next_token;
  }
  return Status::IOError("S3 LIST of " + prefix + ": more than " + std::to_string(kMaxListPages) + " pages");
}

}  // namespace mockcloud::dist
