// Write modes (issue 17): how a connection writes. Chosen per connection by PRAGMA
// litevfs_write_mode, else the URI parameter write_mode=, else the process setting
// (ProcessConfig::write_mode), else LITEVFS_WRITE_MODE, else auto.
//   auto        the VFS takes the lease when SQLite takes RESERVED, keeps it while writes
//               continue, releases it when idle or when another writer waits
//   lease       only under an explicit PRAGMA litevfs_acquire_lease (SQLITE_READONLY otherwise)
//   optimistic  no lease: the commit applies only if the database is still where the
//               transaction read it (SQLITE_BUSY_SNAPSHOT otherwise)
//   off         read-only
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ltx/status.h"

namespace litevfs {

enum class WriteMode { kAuto, kLease, kOptimistic, kOff };

inline constexpr WriteMode kDefaultWriteMode = WriteMode::kAuto;
inline constexpr const char* kWriteModeEnv = "LITEVFS_WRITE_MODE";
inline constexpr const char* kWriteModeUriParam = "write_mode";
// An auto-taken lease is released after this long without a write transaction.
inline constexpr int64_t kDefaultLeaseIdleMs = 200;
inline constexpr int64_t kMaxLeaseIdleMs = 60000;
// An auto-taken lease lasts this long (refreshed while held), so a writer that dies holding
// it blocks the others for at most this, unless PRAGMA litevfs_lease_duration says otherwise.
inline constexpr int64_t kAutoLeaseDurationMs = 5000;
// When another client holds the lease, the service keeps an auto acquire waiting up to this
// long (lease-wait; first come, first served) before SQLITE_BUSY, so a handoff is one round
// trip and no writer starves behind luckier pollers.
inline constexpr int64_t kAutoLeaseWaitMs = 2000;

// "auto", "lease", "optimistic", "off" (case-insensitive). The error names `what` (the
// pragma, URI parameter or variable) and the accepted values.
ltx::Result<WriteMode> ParseWriteMode(std::string_view what, std::string_view v);
const char* WriteModeName(WriteMode m);

// The mode a connection opens with: the URI parameter (null or empty: not given) over the
// process setting over the environment over kDefaultWriteMode.
ltx::Result<WriteMode> ConfiguredWriteMode(const char* uri_value);

}  // namespace litevfs
