// Several service hosts: the list's grammar and the failover transport (rule: host_list.h).
#include "host_list.h"

#include <algorithm>

#include "client_codec.h"
#include "log.h"

namespace litevfs {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// 502/503/504: a proxy or the server says "not now", not "no": worth another host.
bool IsGatewayFailure(int status) { return status == 502 || status == 503 || status == 504; }

std::string Describe(const Result<HttpResponse>& r) {
  if (!r.ok()) return r.status().message();
  return "HTTP " + std::to_string(r->status);
}

}  // namespace

Result<std::vector<std::string>> ParseHostList(std::string_view hosts) {
  std::vector<std::string_view> items;
  size_t start = 0;
  for (;;) {
    const size_t comma = hosts.find(',', start);
    items.push_back(hosts.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (items.size() > kMaxHosts) {
    return Status::InvalidArgument("lists " + std::to_string(items.size()) +
                                   " hosts, at most " + std::to_string(kMaxHosts));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < items.size(); i++) {
    std::string_view item = items[i];
    while (!item.empty() && IsSpace(item.front())) item.remove_prefix(1);
    while (!item.empty() && IsSpace(item.back())) item.remove_suffix(1);
    const std::string which = items.size() == 1 ? std::string("the host")
                                                : "host " + std::to_string(i + 1) + " of " +
                                                      std::to_string(items.size());
    if (item.empty()) {
      return Status::InvalidArgument(
          which + " is empty (several hosts are separated by commas: http://a:20202,http://b:20202)");
    }
    auto url = internal::NormalizeBaseUrl(item);
    if (!url.ok()) {  // one host: the caller's "LITEFS_CLOUD_HOST: " already says which
      return Status::InvalidArgument(items.size() == 1 ? url.status().message()
                                                       : which + ": " + url.status().message());
    }
    if (std::find(out.begin(), out.end(), *url) != out.end()) {
      return Status::InvalidArgument(which + " (" + *url + ") is listed twice");
    }
    out.push_back(std::move(url).value());
  }
  return out;
}

bool IsIdempotentRequest(const HttpRequest& req) {
  if (req.method == "GET") return true;
  const bool names_lease =
      std::any_of(req.query.begin(), req.query.end(), [](const auto& kv) { return kv.first == "id"; });
  // issue 17: an acquire naming its client (Lfsc-Lease-Client) is answered with the lease
  // that client holds, so it may be resent too.
  const bool names_holder =
      std::any_of(req.headers.begin(), req.headers.end(), [](const auto& kv) { return kv.first == "Lfsc-Lease-Client"; });
  if (req.path == "/lease") return req.method == "DELETE" || names_lease || names_holder;  // refresh / release
  return req.method == "POST" && req.path == "/sync";  // a read of many positions
}

FailoverTransport::FailoverTransport(std::vector<std::string> hosts,
                                     std::vector<std::unique_ptr<Transport>> transports)
    : hosts_(std::move(hosts)), transports_(std::move(transports)) {}

void FailoverTransport::LeaveHost(size_t failed) {
  // Only the request that saw `failed` as current moves it on: concurrent failures of the
  // same host move it once, not once each.
  size_t expected = failed;
  current_.compare_exchange_strong(expected, (failed + 1) % hosts_.size(),
                                   std::memory_order_relaxed);
}

Result<HttpResponse> FailoverTransport::Run(const HttpRequest& req, ltx::Sink* sink) {
  const size_t n = transports_.size();
  const size_t first = current_.load(std::memory_order_relaxed);
  const bool idempotent = IsIdempotentRequest(req);
  Result<HttpResponse> r = Status::Unavailable("litevfs: no hosts");
  std::string tried;
  for (size_t k = 0; k < n; k++) {
    const size_t i = (first + k) % n;
    r = sink ? transports_[i]->DoStreaming(req, sink) : transports_[i]->Do(req);
    const bool not_sent = !r.ok() && r.status().api_code() == kNotSentCode;
    const bool host_failed = not_sent || (!r.ok() && r.status().code() == ltx::Code::kUnavailable) ||
                             (r.ok() && IsGatewayFailure(r->status));
    if (!host_failed) {
      current_.store(i, std::memory_order_relaxed);  // sticky: the last host that answered
      return r;
    }
    LeaveHost(i);
    tried += (tried.empty() ? "" : ", ") + hosts_[i];
    // Bytes of a failed 2xx body may have reached the sink: only the caller can reset it.
    const bool sink_clean = !sink || not_sent || r.ok();
    const bool may_resend = not_sent || (idempotent && sink_clean);
    if (!may_resend || k + 1 == n) break;
    LITEVFS_LOG(LogLevel::kWarn, "", Pos{},
                req.method + " " + req.path + " on " + hosts_[i] + " failed (" + Describe(r) +
                    "); trying " + hosts_[(i + 1) % n]);
  }
  if (r.ok()) return r;  // a 502/503/504 answer: the caller reads it as usual
  return Status(r.status().code(),
                r.status().message() + " (hosts tried: " + tried + "; of " + std::to_string(n) +
                    " listed, the next request starts at " + hosts_[current()] + ")",
                r.status().api_code());
}

std::unique_ptr<Transport> MakeHostsTransport(const std::vector<std::string>& hosts,
                                              long connect_timeout_ms, long request_timeout_ms) {
  if (hosts.size() == 1) return MakeCurlTransport(hosts[0], connect_timeout_ms, request_timeout_ms);
  std::vector<std::unique_ptr<Transport>> ts;
  for (const auto& h : hosts) ts.push_back(MakeCurlTransport(h, connect_timeout_ms, request_timeout_ms));
  return std::make_unique<FailoverTransport>(hosts, std::move(ts));
}

}  // namespace litevfs
