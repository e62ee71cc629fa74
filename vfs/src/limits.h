// Limits both ends of the wire agree on (mockcloud/PROTOCOL.md), with one definition each.
// Header-only and dependency-free: the VFS, the CLI and litevfs-mockcloud include it as
// "vfs/src/limits.h" (CMake target litevfs_facts).
#pragma once

#include <cstddef>
#include <cstdint>

namespace litevfs {

// GET /db/page takes at most this many page numbers per request.
inline constexpr size_t kMaxPagesPerRequest = 4096;

// POST /lease: the lease durations the service grants, and the client's default.
inline constexpr int64_t kMinLeaseDurationMs = 1000;
inline constexpr int64_t kMaxLeaseDurationMs = 600000;
inline constexpr int64_t kDefaultLeaseDurationMs = 30000;

}  // namespace litevfs
