// The bound on an instance's replicas (--cache-memory): the sizes it accepts and its default.
// The eviction itself is DistStore's (dist_cache.cc).
#pragma once

#include <cstdint>
#include <string_view>

#include "../util.h"

namespace mockcloud::dist {

inline constexpr uint64_t kDefaultCacheBytes = 256ull << 20;
// Below this a replica of even one small database would not fit.
inline constexpr uint64_t kMinCacheBytes = 1ull << 20;
// The in-memory page index a replica keeps per page it holds (checksum + version entry),
// counted with the page's bytes.
inline constexpr uint64_t kIndexBytesPerPage = 32;

// "268435456", "256MiB", "256M", "1GiB", "512KiB" (K/M/G and KiB/MiB/GiB are powers of 1024).
// The error names --cache-memory, the value and the accepted forms.
Result<uint64_t> ParseCacheSize(std::string_view v);

}  // namespace mockcloud::dist
