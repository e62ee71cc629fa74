#include "etcd_client.h"

#include <curl/curl.h>
#include <sys/socket.h>

namespace mockcloud::dist {
namespace {

constexpr long kConnectTimeoutMs = 500;
constexpr long kRequestTimeoutMs = 5000;

size_t Collect(char* p, size_t size, size_t n, void* arg) {
  static_cast<std::string*>(arg)->append(p, size * n);
  return size * n;
}

struct WatchState {
  const EtcdClient::EventFn* fn;
  const std::atomic<bool>* stop;
  std::string buf;
  Status status;
  bool compacted = false;
};

size_t WatchWrite(char* p, size_t size, size_t n, void* arg) {
  auto* w = static_cast<WatchState*>(arg);
  w->buf.append(p, size * n);
  size_t nl;
  while ((nl = w->buf.find('\n')) != std::string::npos) {
    std::string line = w->buf.substr(0, nl);
    w->buf.erase(0, nl + 1);
    if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      w->status = Status::Corruption("etcd watch: not JSON: " + line.substr(0, 200));
      return 0;
    }
    std::vector<EtcdEvent> events;
    int64_t rev = 0;
    Status st = DecodeWatchMessage(j, &events, &rev, &w->compacted);
    if (!st.ok() || w->compacted) {
      w->status = st.ok() ? Status::Unavailable("etcd watch: start revision compacted") : st;
      return 0;
    }
    if (!events.empty()) (*w->fn)(events, rev);
  }
  return w->stop->load() ? 0 : size * n;
}

int WatchProgress(void* arg, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<WatchState*>(arg)->stop->load() ? 1 : 0;
}

}  // namespace

EtcdClient::EtcdClient(std::vector<std::string> endpoints) : endpoints_(std::move(endpoints)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

Result<std::vector<std::string>> EtcdClient::ParseEndpoints(const std::string& flag) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= flag.size()) {
    size_t comma = flag.find(',', start);
    std::string e = flag.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!e.empty() && e.back() == '/') e.pop_back();
    if (!e.empty()) {
      if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0)
        return Status::InvalidArgument("--etcd: member '" + e +
                                       "' is not http://HOST:PORT (list them comma-separated)");
      out.push_back(e);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty())
    return Status::InvalidArgument("--etcd: no members (give http://HOST:PORT[,http://HOST:PORT…])");
  return out;
}

Result<json> EtcdClient::Post(const std::string& path, const json& body) {
  const std::string payload = body.dump();
  std::string errors;
  const size_t first = current_.load();
  for (size_t i = 0; i < endpoints_.size(); i++) {
    const size_t idx = (first + i) % endpoints_.size();
    const std::string url = endpoints_[idx] + path;
    CURL* c = curl_easy_init();
    if (!c) return Status::IOError("curl_easy_init failed");
    std::string out;
    curl_slist* hdrs = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, long(payload.size()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, kRequestTimeoutMs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK && status == 200) {
      current_ = idx;
      json j = json::parse(out, nullptr, false);
      if (j.is_discarded()) return Status::Corruption("etcd " + url + ": reply is not JSON");
      return j;
    }
    if (rc == CURLE_OK && status >= 400 && status < 500)  // the request itself is wrong
      return Status::InvalidArgument("etcd " + url + ": HTTP " + std::to_string(status) + " " + out);
    errors += "; " + url + ": " +
              (rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP " + std::to_string(status) + " " + out);
  }
  return Status::Unavailable("no etcd member answered" + errors);
}

Result<std::vector<EtcdKv>> EtcdClient::Range(const std::string& key, const std::string& range_end,
                                              bool keys_only, int64_t* revision) {
  LTX_ASSIGN_OR_RETURN(json j, Post("/v3/kv/range", EncodeRange(key, range_end, keys_only)));
  return DecodeRange(j, revision);
}

Result<EtcdTxnResult> EtcdClient::Txn(const std::vector<EtcdCompare>& cmp,
                                      const std::vector<EtcdOp>& success,
                                      const std::vector<EtcdOp>& failure) {
  LTX_ASSIGN_OR_RETURN(json j, Post("/v3/kv/txn", EncodeTxn(cmp, success, failure)));
  return DecodeTxn(j);
}

Result<int64_t> EtcdClient::GrantLease(int64_t ttl_s) {
  LTX_ASSIGN_OR_RETURN(json j, Post("/v3/lease/grant", {{"TTL", std::to_string(ttl_s)}}));
  if (!j.contains("ID")) return Status::Corruption("etcd lease grant without ID: " + j.dump());
  return j["ID"].is_string() ? std::stoll(j["ID"].get<std::string>()) : j["ID"].get<int64_t>();
}

Status EtcdClient::RevokeLease(int64_t id) {
  auto r = Post("/v3/lease/revoke", {{"ID", std::to_string(id)}});
  return r.ok() ? Status::OK() : r.status();
}

void EtcdClient::Interrupt() {
  std::lock_guard l(watch_mu_);
  if (watch_fd_ >= 0) shutdown(watch_fd_, SHUT_RDWR);
}

namespace {
curl_socket_t OpenWatchSocket(void* arg, curlsocktype, curl_sockaddr* a) {
  auto* fn = static_cast<std::function<void(int)>*>(arg);
  int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  (*fn)(fd);
  return fd;
}
}  // namespace

Status EtcdClient::Watch(const std::string& prefix, int64_t start_revision,
                         const EventFn& on_events, const std::atomic<bool>& stop) {
  const std::string url = endpoints_[current_.load() % endpoints_.size()] + "/v3/watch";
  const std::string payload = EncodeWatchCreate(prefix, start_revision).dump();
  WatchState w{&on_events, &stop, "", Status::OK(), false};
  std::function<void(int)> remember = [this](int fd) {
    std::lock_guard l(watch_mu_);
    watch_fd_ = fd;
  };
  CURL* c = curl_easy_init();
  if (!c) return Status::IOError("curl_easy_init failed");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WatchWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, WatchProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &w);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, OpenWatchSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &remember);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  CURLcode rc = curl_easy_perform(c);
  {
    std::lock_guard l(watch_mu_);
    watch_fd_ = -1;
  }
  curl_easy_cleanup(c);
  if (!w.status.ok()) return w.status;
  if (stop.load()) return Status::OK();
  // The member failed: the next attempt starts from the next one.
  current_ = (current_.load() + 1) % endpoints_.size();
  return Status::IOError("etcd watch " + url + " ended: " + curl_easy_strerror(rc));
}

}  // namespace mockcloud::dist
