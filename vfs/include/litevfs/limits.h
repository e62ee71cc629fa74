// Limits of the wire protocol (mockcloud/PROTOCOL.md) that the client, the CLI and the
// server each enforce: one home for each, so the three cannot drift apart. Header-only and
// free of VFS code, so the server (which never links the VFS) includes it too.
#pragma once

#include <chrono>
#include <cstdint>

namespace litevfs {

// GET /db/page takes at most this many pgnos per request.
inline constexpr uint32_t kMaxPgnosPerRequest = 4096;

// POST /lease grants durations in this range.
inline constexpr std::chrono::milliseconds kMinLeaseDuration{1000};
inline constexpr std::chrono::milliseconds kMaxLeaseDuration{600000};
// The same range in ms, for the duration parsers (which speak ms).
inline constexpr int64_t kMinLeaseDurationMs = kMinLeaseDuration.count();
inline constexpr int64_t kMaxLeaseDurationMs = kMaxLeaseDuration.count();

}  // namespace litevfs
