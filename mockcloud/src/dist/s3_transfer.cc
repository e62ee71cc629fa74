// S3Client: the requests BuildS3Request describes, performed with libcurl (keep-alive handles
// reused from a pool).
#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "s3_client.h"

namespace mockcloud::dist {
namespace {

constexpr long kConnectTimeoutMs = 2000;
constexpr long kLowSpeedBytes = 1024;  // a transfer slower than this...
constexpr long kLowSpeedSecs = 10;     // ...for this long is abandoned
constexpr size_t kMaxErrorBody = 512;  // of an S3 error reply, quoted in messages

struct Upload {
  std::string_view mem;
  size_t off = 0;
  int fd = -1;
};

size_t ReadUpload(char* buf, size_t size, size_t n, void* arg) {
  auto* u = static_cast<Upload*>(arg);
  if (u->fd >= 0) {
    ssize_t got = read(u->fd, buf, size * n);
    return got < 0 ? CURL_READFUNC_ABORT : size_t(got);
  }
  size_t k = std::min(size * n, u->mem.size() - u->off);
  memcpy(buf, u->mem.data() + u->off, k);
  u->off += k;
  return k;
}

size_t Collect(char* p, size_t size, size_t n, void* arg) {
  static_cast<std::string*>(arg)->append(p, size * n);
  return size * n;
}

std::string EmptySha() { return Sha256Hex(""); }

}  // namespace

S3Client::S3Client(S3Location loc, AwsCredentials creds)
    : loc_(std::move(loc)), creds_(std::move(creds)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

S3Client::~S3Client() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

std::string S3Client::Key(const std::string& rel) const {
  return loc_.prefix.empty() ? rel : loc_.prefix + "/" + rel;
}

void* S3Client::TakeHandle() {
  {
    std::lock_guard l(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      curl_easy_reset(static_cast<CURL*>(h));
      return h;
    }
  }
  return curl_easy_init();
}

void S3Client::GiveHandle(void* h) {
  std::lock_guard l(mu_);
  idle_.push_back(h);
}

Result<S3Client::Reply> S3Client::Perform(const S3Request& rq, std::string_view body,
                                          const std::string& file) {
  CURL* c = static_cast<CURL*>(TakeHandle());
  if (!c) return Status::IOError("curl_easy_init failed");
  Upload up{body, 0, -1};
  if (!file.empty()) {
    up.fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (up.fd < 0) {
      GiveHandle(c);
      return Status::IOError(ErrnoText("open", file));
    }
  }
  Reply reply;
  curl_slist* hdrs = nullptr;
  for (const auto& h : rq.headers) hdrs = curl_slist_append(hdrs, h.c_str());
  curl_easy_setopt(c, CURLOPT_URL, rq.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, rq.sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERPWD, rq.userpwd.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytes);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, kLowSpeedSecs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  if (rq.method == "PUT") {
    curl_off_t size = curl_off_t(body.size());
    if (up.fd >= 0) size = curl_off_t(lseek(up.fd, 0, SEEK_END)), lseek(up.fd, 0, SEEK_SET);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, size);
  } else if (rq.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (rq.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq.method.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(hdrs);
  if (up.fd >= 0) close(up.fd);
  GiveHandle(c);
  if (rc != CURLE_OK)
    return Status::Unavailable("S3 " + rq.method + " " + rq.url + ": " + curl_easy_strerror(rc));
  return reply;
}

namespace {
Status S3Error(const std::string& what, const std::string& url, long status,
               const std::string& body) {
  return Status::IOError("S3 " + what + " " + url + ": HTTP " + std::to_string(status) + " " +
                         body.substr(0, kMaxErrorBody));
}
}  // namespace

const char* S3Client::KindName(Kind k) {
  static const char* const kNames[kNumKinds] = {"GET", "GET_RANGE", "PUT", "DELETE", "LIST", "HEAD"};
  return kNames[k];
}

Status S3Client::Put(const std::string& key, std::string_view body) {
  requests_[kPut]++;
  S3Request rq = BuildS3Request(loc_, creds_, "PUT", key, Sha256Hex(body), 0, 0);
  LTX_ASSIGN_OR_RETURN(Reply r, Perform(rq, body, ""));
  if (r.status != 200) return S3Error("PUT", rq.url, r.status, r.body);
  return Status::OK();
}

Status S3Client::PutFile(const std::string& key, const std::string& path) {
  LTX_ASSIGN_OR_RETURN(std::string sha, Sha256HexOfFile(path));
  requests_[kPut]++;
  S3Request rq = BuildS3Request(loc_, creds_, "PUT", key, sha, 0, 0);
  LTX_ASSIGN_OR_RETURN(Reply r, Perform(rq, "", path));
  if (r.status != 200) return S3Error("PUT", rq.url, r.status, r.body);
  return Status::OK();
}

Result<std::string> S3Client::GetRange(const std::string& key, uint64_t from, uint64_t len) {
  requests_[len > 0 ? kGetRange : kGet]++;
  S3Request rq = BuildS3Request(loc_, creds_, "GET", key, EmptySha(), from, len);
  LTX_ASSIGN_OR_RETURN(Reply r, Perform(rq, "", ""));
  if (r.status == 404) return Status::NotFound("S3 object " + key + " does not exist");
  if (r.status != 200 && r.status != 206) return S3Error("GET", rq.url, r.status, r.body);
  return std::move(r.body);
}

Result<std::string> S3Client::Get(const std::string& key) { return GetRange(key, 0, 0); }

Status S3Client::Delete(const std::string& key) {
  requests_[kDelete]++;
  S3Request rq = BuildS3Request(loc_, creds_, "DELETE", key, EmptySha(), 0, 0);
  LTX_ASSIGN_OR_RETURN(Reply r, Perform(rq, "", ""));
  if (r.status != 204 && r.status != 200 && r.status != 404)
    return S3Error("DELETE", rq.url, r.status, r.body);
  return Status::OK();
}

Status S3Client::CheckBucket() {
  requests_[kHead]++;
  S3Request rq = BuildS3Request(loc_, creds_, "HEAD", "", EmptySha(), 0, 0);
  auto r = Perform(rq, "", "");
  if (!r.ok())
    return Status::IOError("cannot reach S3 at " + loc_.endpoint + ": " + r.status().message());
  if (r->status != 200)
    return Status::InvalidArgument("S3 bucket " + loc_.bucket + " at " + loc_.endpoint +
                                   ": HTTP " + std::to_string(r->status) +
                                   " (does it exist? are the credentials right?)");
  return Status::OK();
}

}  // namespace mockcloud::dist
