// VFS configuration: the environment (LITEFS_CLOUD_TOKEN, LITEFS_CLOUD_CLUSTER,
// LITEFS_CLOUD_HOST through ClientConfig::FromEnv; LITEVFS_CACHE_DIR here), URI parameter
// overrides, and the parsers for tunable values set through pragmas. Parsers never clamp:
// a value outside its range is an error that names the range.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "litevfs/client.h"
#include "litevfs/duration.h"
#include "ltx/status.h"
#include "vfs/src/limits.h"

namespace litevfs {

struct VfsConfig {
  ClientConfig client;
  std::string cache_root;  // LITEVFS_CACHE_DIR, else $XDG_CACHE_HOME/litevfs, else ~/.cache/litevfs
  // The cluster name used in paths: client.cluster, or "default" when empty.
  std::string ClusterName() const { return client.cluster.empty() ? "default" : client.cluster; }
};

// Reads the environment. Does not check the token (the open does, with a clear message).
// LITEVFS_PLAIN_API=1 restricts the client to the plain LiteFS Cloud API (no extensions).
// LITEVFS_REQUEST_TIMEOUT / LITEVFS_CONNECT_TIMEOUT set the client's timeouts; a bad value
// is an error naming the variable and the range.
ltx::Result<VfsConfig> LoadConfigFromEnv();
// Sets a timeout from a duration string ("500ms", "2s"); null or empty leaves it alone.
// `what` names the setting in the error (an env var or a URI parameter).
ltx::Status SetTimeoutMs(std::string_view what, const char* value, long* out);
inline constexpr int64_t kMinTimeoutMs = 100;
inline constexpr int64_t kMaxTimeoutMs = 600000;
std::string DefaultCacheRoot();

// Tunables (defaults documented in man/litevfs.7).
inline constexpr int64_t kDefaultMaxPrefetchPages = 32;
// + the needed page = the server's cap per request.
inline constexpr int64_t kMaxPrefetchPagesLimit = int64_t(kMaxPagesPerRequest) - 1;
inline constexpr int64_t kDefaultSyncPeriodMs = 1000;
inline constexpr int64_t kMaxSyncPeriodMs = 3600000;
inline constexpr int64_t kMaxCachedPagesLimit = (int64_t{1} << 31) - 1;
inline constexpr int64_t kMaxMinAvailableSpace = int64_t{1} << 50;
inline constexpr int64_t kMaxReqsPerQueryLimit = 1000000;

// "123" within [lo, hi]. Error text: "litevfs_NAME: 'v' is not an integer in [lo, hi]".
ltx::Result<int64_t> ParseIntInRange(std::string_view pragma, std::string_view v, int64_t lo,
                                     int64_t hi);
// A duration (litevfs/duration.h: "250" = 250ms, "2s", "1m") within [lo_ms, hi_ms], in ms.
// The error names `pragma` (or the env var / URI parameter) and the range.
ltx::Result<int64_t> ParseDurationMs(std::string_view pragma, std::string_view v, int64_t lo_ms,
                                     int64_t hi_ms);
// A byte count: "1048576", "512KB", "10MB", "1GB" (also KiB/MiB/GiB, all powers of 1024).
ltx::Result<int64_t> ParseBytes(std::string_view pragma, std::string_view v, int64_t lo,
                                int64_t hi);

}  // namespace litevfs
