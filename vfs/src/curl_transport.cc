// The libcurl Transport. Each request borrows an easy handle from a small LIFO pool, so a
// thread issuing requests back to back always gets the handle (and so the kept-alive
// connection) it used last, concurrent threads never share a handle, and the number of
// handles equals the peak concurrency, not the number of threads that ever made a request.
// Content decoding is left to the caller (the client decodes zstd itself, with a bound).
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "client_codec.h"
#include "host_list.h"
#include "litevfs/client.h"

namespace litevfs {

namespace {

constexpr size_t kMaxIdleHandles = 16;
constexpr size_t kMaxUrlInMessage = 160;
constexpr size_t kMaxReserve = 64u << 20;  // never pre-allocate more than this on a header's word
constexpr size_t kMaxErrorBody = 64u << 10;  // non-2xx bodies are kept up to about this much

void GlobalInitOnce() {
  static std::once_flag once;
  // Never paired with curl_global_cleanup: the module stays loaded for the process lifetime
  // and other threads may still hold handles at exit.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// State shared with the libcurl callbacks of one transfer.
struct Transfer {
  HttpResponse* resp = nullptr;
  ltx::Sink* sink = nullptr;          // 2xx bodies go here when set
  uint64_t max_bytes = 0;             // 0 = unbounded
  const std::function<std::string(uint64_t)>* storage = nullptr;  // HttpRequest::body_storage
  uint64_t received = 0;
  bool too_large = false;
  ltx::Status sink_error;
};

// A request body streamed from a file (HttpRequest::body_path): read with pread at `offset`,
// so curl can rewind (CURLOPT_SEEKFUNCTION) when it resends on a fresh connection.
struct FileBody {
  int fd = -1;
  std::string path;
  std::string where;    // "POST URL", for messages
  uint64_t size = 0;    // Content-Length, from fstat when the transfer starts
  uint64_t offset = 0;  // next byte to send
  ltx::Status error;    // why the read callback aborted the transfer
  // Instead of fd: HttpRequest::body_reader (borrowed for the transfer).
  const std::function<ltx::Result<size_t>(uint64_t, uint8_t*, size_t)>* reader = nullptr;
  // Stall detection (OnUploadProgress): the transfer fails when nothing moves for stall_ms,
  // except while the server works on the complete body (verifying and storing a large file
  // takes a while): then it gets answer_ms.
  long stall_ms = 0;
  long answer_ms = 0;
  curl_off_t seen_up = -1, seen_down = -1;
  std::chrono::steady_clock::time_point moved;
  std::string stalled;  // why the progress callback aborted the transfer
  ~FileBody() {
    if (fd >= 0) ::close(fd);
  }
};

// OnReadBody for a body_reader: its error or an early end aborts the transfer.
size_t ReadFromReader(FileBody* b, char* buf, size_t want) {
  auto r = (*b->reader)(b->offset, reinterpret_cast<uint8_t*>(buf), want);
  if (!r.ok()) {
    b->error = r.status();
    return CURL_READFUNC_ABORT;
  }
  if (*r == 0 || *r > want) {
    b->error = ltx::Status::IOError("litevfs: the request body ended at " + std::to_string(b->offset) +
                                    " of " + std::to_string(b->size) + " bytes (" + b->where + ")");
    return CURL_READFUNC_ABORT;
  }
  b->offset += *r;
  return *r;
}

size_t OnReadBody(char* buf, size_t size, size_t nitems, void* userdata) {
  auto* b = static_cast<FileBody*>(userdata);
  const uint64_t left = b->size - std::min(b->offset, b->size);
  const size_t want = static_cast<size_t>(std::min<uint64_t>(uint64_t(size) * nitems, left));
  if (want == 0) return 0;
  if (b->reader) return ReadFromReader(b, buf, want);
  for (;;) {
    ssize_t r = ::pread(b->fd, buf, want, static_cast<off_t>(b->offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      b->error = ltx::Status::IOError("litevfs: read " + b->path + ": " + std::strerror(errno) +
                                      " (request body of " + b->where + ")");
      return CURL_READFUNC_ABORT;
    }
    if (r == 0) {
      b->error =
          ltx::Status::IOError("litevfs: " + b->path + " shrank to " + std::to_string(b->offset) +
                               " bytes while it was sent (Content-Length " +
                               std::to_string(b->size) + ", " + b->where + ")");
      return CURL_READFUNC_ABORT;
    }
    b->offset += uint64_t(r);
    return size_t(r);
  }
}

int OnUploadProgress(void* userdata, curl_off_t, curl_off_t dlnow, curl_off_t ultotal,
                     curl_off_t ulnow) {
  auto* b = static_cast<FileBody*>(userdata);
  const auto now = std::chrono::steady_clock::now();
  if (ulnow != b->seen_up || dlnow != b->seen_down) {
    b->seen_up = ulnow;
    b->seen_down = dlnow;
    b->moved = now;
    return 0;
  }
  const bool answering = ultotal > 0 && ulnow >= ultotal && dlnow == 0;
  const long limit = answering ? b->answer_ms : b->stall_ms;
  if (now - b->moved < std::chrono::milliseconds(limit)) return 0;
  const std::string secs = std::to_string((limit + 500) / 1000);
  b->stalled = answering ? "no answer " + secs +
                               " s after the whole body (" + std::to_string(b->size) +
                               " bytes) was sent"
                         : "the upload made no progress for " + secs +
                               " s (" + std::to_string(ulnow) + " of " + std::to_string(b->size) +
                               " bytes sent)";
  return 1;
}

int OnSeekBody(void* userdata, curl_off_t offset, int origin) {
  auto* b = static_cast<FileBody*>(userdata);
  curl_off_t base = 0;
  switch (origin) {
    case SEEK_SET:
      break;
    case SEEK_CUR:
      base = static_cast<curl_off_t>(b->offset);
      break;
    case SEEK_END:
      base = static_cast<curl_off_t>(b->size);
      break;
    default:
      return CURL_SEEKFUNC_CANTSEEK;
  }
  const curl_off_t to = base + offset;
  if (to < 0 || static_cast<uint64_t>(to) > b->size) return CURL_SEEKFUNC_FAIL;
  b->offset = static_cast<uint64_t>(to);
  return CURL_SEEKFUNC_OK;
}

bool IsSuccess(int status) { return status >= 200 && status < 300; }

size_t OnHeader(char* data, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const size_t n = size * nitems;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after 1xx, or the real one): start its headers afresh.
    t->resp->headers.clear();
    t->resp->status = 0;
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos && line.size() >= sp + 4) {
      int code = 0;
      bool ok = true;
      for (size_t i = sp + 1; i < sp + 4; i++) {
        if (!std::isdigit(static_cast<unsigned char>(line[i]))) ok = false;
        else code = code * 10 + (line[i] - '0');
      }
      if (ok) t->resp->status = code;
    }
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;  // blank line or junk
  std::string name(line.substr(0, colon));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  auto [it, inserted] = t->resp->headers.try_emplace(std::move(name), value);
  if (!inserted) {
    it->second += ", ";
    it->second += value;
  }
  if (it->first == "content-length" && !(t->sink && IsSuccess(t->resp->status))) {
    uint32_t len = 0;
    if (internal::ParseDecimalU32(value, &len)) {
      uint64_t want = len;
      if (t->max_bytes) want = std::min<uint64_t>(want, t->max_bytes);
      if (!IsSuccess(t->resp->status)) want = std::min<uint64_t>(want, kMaxErrorBody);
      if (IsSuccess(t->resp->status) && t->storage && *t->storage && t->resp->body.empty()) {
        t->resp->body = (*t->storage)(want);
        t->resp->body.clear();
      }
      t->resp->body.reserve(static_cast<size_t>(std::min<uint64_t>(want, kMaxReserve)));
    }
  }
  return n;
}

size_t OnBody(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const size_t n = size * nmemb;
  if (!IsSuccess(t->resp->status)) {
    // Error bodies only feed a message: keep the start, read and drop the rest.
    if (t->resp->body.size() < kMaxErrorBody) t->resp->body.append(data, n);
    return n;
  }
  t->received += n;
  if (t->max_bytes && t->received > t->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  if (t->sink) {
    t->sink_error = t->sink->Write(data, n);
    if (!t->sink_error.ok()) return 0;
  } else {
    t->resp->body.append(data, n);
  }
  return n;
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

class CurlTransport final : public Transport {
 public:
  CurlTransport(std::string base_url, long connect_timeout_ms, long request_timeout_ms)
      : base_url_(std::move(base_url)),
        connect_timeout_ms_(connect_timeout_ms),
        request_timeout_ms_(request_timeout_ms) {}
  ~CurlTransport() override {
    std::lock_guard<std::mutex> l(mu_);
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<HttpResponse> Do(const HttpRequest& req) override { return Run(req, nullptr); }
  Result<HttpResponse> DoStreaming(const HttpRequest& req, ltx::Sink* sink) override {
    return Run(req, sink);
  }

 private:
  // Borrowed handle, returned to the pool (LIFO) on destruction.
  class Lease {
   public:
    explicit Lease(CurlTransport* t) : t_(t) {
      {
        std::lock_guard<std::mutex> l(t_->mu_);
        if (!t_->idle_.empty()) {
          h_ = t_->idle_.back();
          t_->idle_.pop_back();
        }
      }
      if (!h_) h_ = curl_easy_init();
    }
    ~Lease() {
      if (!h_) return;
      std::lock_guard<std::mutex> l(t_->mu_);
      if (t_->idle_.size() < kMaxIdleHandles) {
        t_->idle_.push_back(h_);
      } else {
        curl_easy_cleanup(h_);
      }
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    CURL* get() const { return h_; }

   private:
    CurlTransport* t_;
    CURL* h_ = nullptr;
  };

  std::string BuildUrl(const HttpRequest& req) const {
    std::string url = base_url_ + req.path;
    char sep = '?';
    for (const auto& [k, v] : req.query) {
      url.push_back(sep);
      sep = '&';
      url += internal::UrlEncodeQueryValue(k);
      url.push_back('=');
      url += internal::UrlEncodeQueryValue(v);
    }
    return url;
  }

  static std::string ShortUrl(const std::string& url) {
    if (url.size() <= kMaxUrlInMessage) return url;
    return url.substr(0, kMaxUrlInMessage) + "...";
  }

  Result<HttpResponse> Run(const HttpRequest& req, ltx::Sink* sink) {
    GlobalInitOnce();
    const std::string url = BuildUrl(req);
    const std::string where = req.method + " " + ShortUrl(url);
    if (req.path.empty() || req.path[0] != '/' || HasCrLf(url)) {
      return Status::InvalidArgument("litevfs: bad request path for " + where);
    }

    curl_slist* raw_headers = nullptr;
    std::unique_ptr<curl_slist, CurlSlistDeleter> headers;
    auto add_header = [&](const std::string& line) -> bool {
      curl_slist* n = curl_slist_append(raw_headers, line.c_str());
      if (!n) return false;
      raw_headers = n;
      headers.release();
      headers.reset(raw_headers);
      return true;
    };
    for (const auto& [k, v] : req.headers) {
      if (k.empty() || HasCrLf(k) || HasCrLf(v) || k.find(':') != std::string::npos) {
        return Status::InvalidArgument("litevfs: header \"" + internal::BodyExcerpt(k, 40) +
                                       "\" has a name or value that cannot be sent (" + where +
                                       ")");
      }
      // "Name;" is curl's way to send a header with an empty value.
      if (!add_header(v.empty() ? k + ";" : k + ": " + v)) {
        return Status::ResourceExhausted("litevfs: out of memory building headers");
      }
    }
    // Never wait for "100 Continue" before sending a body: one round trip saved per upload.
    if (!add_header("Expect:")) return Status::ResourceExhausted("litevfs: out of memory");

    const bool is_upload = req.method == "POST" || req.method == "PUT";
    FileBody file_body;
    if (!req.body_path.empty()) {
      if (!req.body.empty()) {
        return Status::InvalidArgument("litevfs: request has both a body and a body file (" +
                                       where + ")");
      }
      if (!is_upload) {
        return Status::InvalidArgument("litevfs: a body file needs POST or PUT (" + where + ")");
      }
      file_body.path = req.body_path;
      file_body.where = where;
      file_body.fd = ::open(req.body_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (file_body.fd < 0) {
        const int e = errno;
        std::string msg = "litevfs: open " + req.body_path + ": " + std::strerror(e) +
                          " (request body of " + where + ")";
        return e == ENOENT ? Status::NotFound(std::move(msg)) : Status::IOError(std::move(msg));
      }
      struct stat st;
      if (::fstat(file_body.fd, &st) != 0) {
        return Status::IOError("litevfs: fstat " + req.body_path + ": " + std::strerror(errno) +
                               " (request body of " + where + ")");
      }
      if (!S_ISREG(st.st_mode)) {
        return Status::InvalidArgument("litevfs: " + req.body_path +
                                       " is not a regular file (request body of " + where + ")");
      }
      file_body.size = static_cast<uint64_t>(st.st_size);
    }
    if (req.body_reader) {
      if (!req.body.empty() || !req.body_path.empty() || !is_upload) {
        return Status::InvalidArgument("litevfs: a body reader needs POST or PUT and no other body (" +
                                       where + ")");
      }
      file_body.reader = &req.body_reader;
      file_body.path = "the request body";
      file_body.where = where;
      file_body.size = req.body_reader_size;
    }
    const bool streams_body = file_body.fd >= 0 || file_body.reader != nullptr;

    Lease lease(this);
    CURL* h = lease.get();
    if (!h) return Status::ResourceExhausted("litevfs: curl_easy_init failed");
    // Reset options but keep the connection cache: that is the keep-alive.
    curl_easy_reset(h);

    HttpResponse resp;
    Transfer t;
    t.resp = &resp;
    t.sink = sink;
    t.max_bytes = req.max_response_bytes;
    t.storage = &req.body_storage;
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';

    long timeout_ms = req.timeout_ms > 0 ? req.timeout_ms : request_timeout_ms_;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms_);
    if (streams_body && req.timeout_ms <= 0) {
      // A streamed upload (a file body) may legitimately take longer than any fixed bound;
      // fail it when it stalls instead. Once the body is sent, the server verifies and
      // stores it before answering: allow for that at 10 MB/s on top of the usual wait.
      file_body.stall_ms = std::max(1000L, request_timeout_ms_);
      file_body.answer_ms = file_body.stall_ms + long(std::min<uint64_t>(file_body.size / 10000, 1u << 30));
      file_body.moved = std::chrono::steady_clock::now();
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &OnUploadProgress);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, &file_body);
    } else if (sink && req.timeout_ms <= 0) {
      // A streamed download (a snapshot) may legitimately take longer than any fixed bound;
      // fail it when it stalls instead.
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, std::max(1L, request_timeout_ms_ / 1000));
    } else {
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    }
    curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 128L * 1024);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "litevfs/0.1");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);

    if (req.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (is_upload) {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      if (streams_body) {
        // No POSTFIELDS: curl pulls the body through the read callback, Content-Length set.
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(file_body.size));
        curl_easy_setopt(h, CURLOPT_READFUNCTION, &OnReadBody);
        curl_easy_setopt(h, CURLOPT_READDATA, &file_body);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &OnSeekBody);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &file_body);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
      } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      }
      if (req.method == "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    } else if (req.method == "DELETE") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
      return Status::InvalidArgument("litevfs: unsupported HTTP method \"" + req.method + "\"");
    }

    CURLcode rc = curl_easy_perform(h);
    // Drop pointers into this stack frame before the handle goes back to the pool.
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    if (streams_body) {
      curl_easy_setopt(h, CURLOPT_READFUNCTION, nullptr);
      curl_easy_setopt(h, CURLOPT_READDATA, nullptr);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, nullptr);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, nullptr);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, nullptr);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, nullptr);
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
    }

    if (t.too_large) {
      return Status::Corruption("litevfs: response body from " + where + " exceeds " +
                                std::to_string(t.max_bytes) + " bytes");
    }
    if (!t.sink_error.ok()) return t.sink_error;
    if (!file_body.error.ok()) return file_body.error;
    if (rc == CURLE_ABORTED_BY_CALLBACK && !file_body.stalled.empty()) {
      return Status::Unavailable("litevfs: " + where + ": " + file_body.stalled);
    }
    if (rc != CURLE_OK) {
      std::string msg = curl_easy_strerror(rc);
      if (errbuf[0] != '\0') msg += std::string(": ") + errbuf;
      // No connection, so no server saw it: any request may go to another host (host_list.h).
      long sent = 0;
      curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
      const bool not_sent = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                            (rc == CURLE_OPERATION_TIMEDOUT && sent == 0);
      return Status(ltx::Code::kUnavailable, "litevfs: " + where + ": " + msg,
                    not_sent ? kNotSentCode : "");
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    resp.status = static_cast<int>(code);
    return resp;
  }

  const std::string base_url_;
  const long connect_timeout_ms_;
  const long request_timeout_ms_;
  std::mutex mu_;
  std::vector<CURL*> idle_;  // guarded by mu_; most recently used last
};

}  // namespace

std::unique_ptr<Transport> MakeCurlTransport(const std::string& base_url, long connect_timeout_ms,
                                             long request_timeout_ms) {
  GlobalInitOnce();
  auto normalized = internal::NormalizeBaseUrl(base_url);
  // An unusable URL still yields a transport: every request then fails with curl's own
  // message naming the URL, which is the clearest place to report it.
  return std::make_unique<CurlTransport>(normalized.ok() ? normalized.value() : base_url,
                                         connect_timeout_ms, request_timeout_ms);
}

}  // namespace litevfs
