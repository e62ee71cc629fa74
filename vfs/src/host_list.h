// Several service hosts (LITEFS_CLOUD_HOST=http://a,http://b,…, the CLI's --host, the URI
// parameter host): the list's grammar, and a Transport that spreads one client's requests
// over per-host transports, failing over from a host that is down.
//
// The failover rule (litevfs(7), HOSTS):
//   * Requests go to the current host: the last one that answered (sticky), the first
//     listed at the start. A host that fails is left: the next request starts at the host
//     after it in list order.
//   * A request that never left (the connection could not be made: refused, unreachable,
//     connect timeout; kNotSentCode) is tried on the next host, whatever it is: no server
//     saw it.
//   * An idempotent request (GET, POST /sync, a lease refresh or release that names its
//     lease id) is also tried on the next host after a timeout, a dropped connection or a
//     502/503/504 answer. A streamed download is not once bytes may have reached its sink.
//   * Any other request (a commit upload POST /db/tx, a lease acquire) that may have
//     reached a server is never resent here: its error goes back to the caller, and the
//     current host moves on. A commit's caller settles the outcome by asking the
//     (now other) host for the database's position: the position the LTX produces means
//     applied, the pin it was built on means not applied and safe to send again (the
//     service's position check makes that idempotent), anything else is a definite failure
//     (vfs/src/database.cc, the commit's settle loop).
// Each move to another host is logged (warn) naming both hosts and the failure.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "litevfs/client.h"

namespace litevfs {

// Status::api_code() a Transport gives a request that never reached any server (the
// connection could not be made), so that it may be sent to another host.
inline constexpr char kNotSentCode[] = "ENOTSENT";
// A host list longer than this is refused (a typo, not a deployment).
inline constexpr size_t kMaxHosts = 32;

// "http://a, b:20202/" -> {"http://a", "http://b:20202"}: comma-separated, each item
// normalised like a single host (scheme http or https, default http, no trailing '/').
// An empty item, a bad URL or a host listed twice is kInvalidArgument naming the item.
Result<std::vector<std::string>> ParseHostList(std::string_view hosts);

// Whether a request may be sent again to another host after it may have reached one.
bool IsIdempotentRequest(const HttpRequest& req);

// A Transport over `hosts` (as ParseHostList returns them) and one transport per host, in
// the same order (borrowed by nothing: owned). Thread-safe when the per-host transports are.
class FailoverTransport final : public Transport {
 public:
  FailoverTransport(std::vector<std::string> hosts,
                    std::vector<std::unique_ptr<Transport>> transports);
  Result<HttpResponse> Do(const HttpRequest& req) override { return Run(req, nullptr); }
  Result<HttpResponse> DoStreaming(const HttpRequest& req, ltx::Sink* sink) override {
    return Run(req, sink);
  }
  // The index of the host the next request starts at.
  size_t current() const { return current_.load(std::memory_order_relaxed); }

 private:
  Result<HttpResponse> Run(const HttpRequest& req, ltx::Sink* sink);
  void LeaveHost(size_t failed);

  const std::vector<std::string> hosts_;
  const std::vector<std::unique_ptr<Transport>> transports_;
  std::atomic<size_t> current_{0};  // lock-free: the only shared state
};

// The transport for `hosts` (a list, ParseHostList's grammar, already validated): a plain
// curl transport for one host, a FailoverTransport over curl transports for several.
std::unique_ptr<Transport> MakeHostsTransport(const std::vector<std::string>& hosts,
                                              long connect_timeout_ms, long request_timeout_ms);

}  // namespace litevfs
