// Synchronous emscripten_fetch as a Transport (see fetch_transport.h).
#include "fetch_transport.h"

#include <emscripten/fetch.h>

#include <cctype>
#include <cstring>
#include <vector>

namespace litevfs::wasm {
namespace {

// Response headers as the XHR gives them ("Name: value\r\n" lines), names lower-cased.
std::map<std::string, std::string> ResponseHeaders(emscripten_fetch_t* f) {
  std::map<std::string, std::string> out;
  const size_t len = emscripten_fetch_get_response_headers_length(f);
  std::string raw(len + 1, '\0');
  emscripten_fetch_get_response_headers(f, raw.data(), raw.size());
  raw.resize(len);
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\n', start);
    if (end == std::string::npos) end = raw.size();
    std::string line = raw.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') v++;
    out[name] = line.substr(v);
  }
  return out;
}

class FetchTransport final : public Transport {
 public:
  FetchTransport(std::string base_url, long timeout_ms)
      : base_url_(std::move(base_url)), timeout_ms_(timeout_ms) {}

  Result<HttpResponse> Do(const HttpRequest& req) override {
    if (!req.body_path.empty() || req.body_reader) {
      return Status::Unsupported("litevfs (browser): cannot stream a request body from " +
                                 (req.body_path.empty() ? std::string("a reader") : req.body_path));
    }
    if (req.method.size() >= sizeof(emscripten_fetch_attr_t{}.requestMethod)) {
      return Status::InvalidArgument("litevfs (browser): bad HTTP method " + req.method);
    }
    emscripten_fetch_attr_t attr;
    emscripten_fetch_attr_init(&attr);
    std::strcpy(attr.requestMethod, req.method.c_str());
    attr.attributes = EMSCRIPTEN_FETCH_LOAD_TO_MEMORY | EMSCRIPTEN_FETCH_SYNCHRONOUS |
                      EMSCRIPTEN_FETCH_REPLACE;
    attr.timeoutMSecs = unsigned(req.timeout_ms > 0 ? req.timeout_ms : timeout_ms_);
    std::vector<const char*> headers;
    for (const auto& [k, v] : req.headers) {
      headers.push_back(k.c_str());
      headers.push_back(v.c_str());
    }
    headers.push_back(nullptr);
    attr.requestHeaders = headers.data();
    if (!req.body.empty()) {
      attr.requestData = req.body.data();
      attr.requestDataSize = req.body.size();
    }
    const std::string url = Url(req);
    emscripten_fetch_t* f = emscripten_fetch(&attr, url.c_str());
    if (f == nullptr) return Status::Unavailable("litevfs (browser): fetch of " + url + " did not start");
    HttpResponse res;
    res.status = f->status;
    if (res.status != 0) {
      res.headers = ResponseHeaders(f);
      // The browser negotiates Accept-Encoding itself (Chromium offers zstd) and hands over
      // the body decoded: the header describes the wire, not this body.
      res.headers.erase("content-encoding");
      res.body.assign(f->data ? f->data : "", size_t(f->numBytes));
    }
    emscripten_fetch_close(f);
    if (res.status == 0) {
      return Status::Unavailable("litevfs (browser): " + req.method + " " + url +
                                 " failed (network error, timeout, or blocked by CORS: serve the "
                                 "page from the server, or start it with --cors-origin)");
    }
    if (req.max_response_bytes != 0 && res.status / 100 == 2 &&
        res.body.size() > req.max_response_bytes) {
      return Status::Corruption("litevfs (browser): " + url + " answered " +
                                std::to_string(res.body.size()) + " bytes, over the bound of " +
                                std::to_string(req.max_response_bytes));
    }
    return res;
  }

 private:
  std::string Url(const HttpRequest& req) const {
    std::string url = base_url_ + req.path;
    char sep = '?';
    for (const auto& [k, v] : req.query) {
      url += sep + UrlEncode(k) + "=" + UrlEncode(v);
      sep = '&';
    }
    return url;
  }

  const std::string base_url_;
  const long timeout_ms_;
};

}  // namespace

std::string UrlEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(char(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::unique_ptr<Transport> MakeFetchTransport(const std::string& base_url, long request_timeout_ms) {
  return std::make_unique<FetchTransport>(base_url, request_timeout_ms);
}

}  // namespace litevfs::wasm
