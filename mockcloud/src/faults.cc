#include "faults.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "util.h"

namespace mockcloud {

static ltx::Result<double> ParseProb(std::string_view key, std::string_view v) {
  std::string s(v);
  if (s.empty()) return Status::InvalidArgument("fault " + std::string(key) + " has no value");
  char* end = nullptr;
  double d = strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !(d >= 0.0 && d <= 1.0)) {
    return Status::InvalidArgument("fault " + std::string(key) +
                                   " must be a probability in [0,1], got \"" + s + "\"");
  }
  return d;
}

ltx::Result<FaultSpec> ParseFaultSpec(std::string_view s) {
  FaultSpec f;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r'))
    s.remove_suffix(1);
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    std::string_view item = s.substr(start, comma == s.npos ? s.npos : comma - start);
    start = comma == s.npos ? s.size() : comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == item.npos) {
      return Status::InvalidArgument("fault spec item \"" + std::string(item) + "\" has no '='");
    }
    std::string_view key = item.substr(0, eq), val = item.substr(eq + 1);
    if (key == "latency" || key == "jitter") {
      auto d = ParseDurationMs(val);
      if (!d.ok())
        return Status::InvalidArgument("fault " + std::string(key) + ": " + d.status().message());
      (key == "latency" ? f.latency_ms : f.jitter_ms) = *d;
    } else if (key == "error" || key == "drop" || key == "truncate") {
      LTX_ASSIGN_OR_RETURN(double p, ParseProb(key, val));
      (key == "error" ? f.error : key == "drop" ? f.drop : f.truncate) = p;
    } else if (key == "seed") {
      LTX_ASSIGN_OR_RETURN(f.seed, ParseUint(val, "fault seed"));
    } else if (key == "routes") {
      size_t b = 0;
      while (b <= val.size()) {
        size_t bar = val.find('|', b);
        std::string_view r = val.substr(b, bar == val.npos ? val.npos : bar - b);
        if (r.empty() || r[0] != '/') {
          return Status::InvalidArgument("fault routes must be paths like /db/page, got \"" +
                                         std::string(r) + "\"");
        }
        f.routes.emplace_back(r);
        if (bar == val.npos) break;
        b = bar + 1;
      }
    } else {
      return Status::InvalidArgument(
          "unknown fault \"" + std::string(key) +
          "\" (want latency, jitter, error, drop, truncate, seed, routes)");
    }
  }
  return f;
}

std::string FormatFaultSpec(const FaultSpec& f) {
  if (!f.Active()) return "";
  char buf[256];
  snprintf(buf, sizeof buf, "latency=%lldms,jitter=%lldms,error=%g,drop=%g,truncate=%g,seed=%llu",
           (long long)f.latency_ms, (long long)f.jitter_ms, f.error, f.drop, f.truncate,
           (unsigned long long)f.seed);
  std::string out = buf;
  if (!f.routes.empty()) {
    out += ",routes=";
    for (size_t i = 0; i < f.routes.size(); i++) out += (i ? "|" : "") + f.routes[i];
  }
  return out;
}

void FaultInjector::Set(const FaultSpec& spec) {
  std::lock_guard l(mu_);
  spec_ = spec;
  state_ = spec.seed;
}

FaultSpec FaultInjector::Get() const {
  std::lock_guard l(mu_);
  return spec_;
}

double FaultInjector::NextUnit() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return double(z >> 11) * (1.0 / 9007199254740992.0);
}

FaultDecision FaultInjector::Decide(const std::string& path) {
  FaultDecision d;
  if (path == "/healthz" || path.rfind("/admin/", 0) == 0) return d;
  std::lock_guard l(mu_);
  if (!spec_.Active()) return d;
  if (!spec_.routes.empty() &&
      std::find(spec_.routes.begin(), spec_.routes.end(), path) == spec_.routes.end()) {
    return d;
  }
  double j = NextUnit(), e = NextUnit(), dr = NextUnit(), t = NextUnit();
  d.delay_ms = spec_.latency_ms;
  if (spec_.jitter_ms > 0) d.delay_ms += int64_t((j * 2 - 1) * double(spec_.jitter_ms));
  if (d.delay_ms < 0) d.delay_ms = 0;
  d.error = e < spec_.error;
  d.drop = !d.error && dr < spec_.drop;
  d.truncate = !d.error && !d.drop && t < spec_.truncate;
  return d;
}

}  // namespace mockcloud
