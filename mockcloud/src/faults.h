// Fault injection for tests: a spec like
//   latency=20ms,jitter=5ms,error=0.05,drop=0.05,truncate=0.05,seed=1,routes=/db/page|/db/tx
// and a seeded injector that turns it into one decision per request. The PRNG is
// splitmix64 and each faultable request draws exactly four numbers, so the sequence of
// decisions depends only on the seed and the order of requests.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ltx/status.h"

namespace mockcloud {

struct FaultSpec {
  int64_t latency_ms = 0;
  int64_t jitter_ms = 0;
  double error = 0;     // probability of 503 EUNAVAILABLE
  double drop = 0;      // probability of closing the connection without a response
  double truncate = 0;  // probability of sending half the body
  uint64_t seed = 1;
  std::vector<std::string> routes;  // empty = every route but /healthz and /admin/*
  bool Active() const {
    return latency_ms > 0 || jitter_ms > 0 || error > 0 || drop > 0 || truncate > 0;
  }
};

// Empty string = no faults. Unknown keys, bad numbers, probabilities outside [0,1] fail.
ltx::Result<FaultSpec> ParseFaultSpec(std::string_view s);
std::string FormatFaultSpec(const FaultSpec& f);

struct FaultDecision {
  int64_t delay_ms = 0;
  bool error = false;
  bool drop = false;
  bool truncate = false;
};

class FaultInjector {
 public:
  void Set(const FaultSpec& spec);
  FaultSpec Get() const;
  // One decision for a request to `path` (healthz/admin never fault).
  FaultDecision Decide(const std::string& path);

 private:
  double NextUnit();       // [0, 1)
  mutable std::mutex mu_;  // guards spec_ and state_
  FaultSpec spec_;
  uint64_t state_ = 1;
};

}  // namespace mockcloud
