// The VFS's own log: one line per event, "TIME LEVEL db=NAME pos=TXID/CHECKSUM message",
// appended with a single write() so concurrent lines never interleave. Destination is
// LITEVFS_LOG_FILE (appended) or stderr; level is LITEVFS_LOG_LEVEL
// (error|warn|info|debug|trace, default error). Configured once from the environment on
// first use; the logger object is deliberately never destroyed (background threads may log
// while the process exits).
#pragma once

#include <string>
#include <string_view>

#include "ltx/format.h"

namespace litevfs {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

// Parses "error|warn|info|debug|trace" (case-insensitive); false on anything else.
bool ParseLogLevel(std::string_view s, LogLevel* out);

bool LogEnabled(LogLevel level);
// Whether the log goes to stderr (no usable LITEVFS_LOG_FILE).
bool LogToStderr();
// `db` and `pos` may be empty / zero; they are printed as "-" then.
void LogLine(LogLevel level, std::string_view db, const ltx::Pos& pos, std::string_view msg);

}  // namespace litevfs

#define LITEVFS_LOG(level, db, pos, msg)                                      \
  do {                                                                        \
    if (::litevfs::LogEnabled(level)) ::litevfs::LogLine(level, db, pos, msg); \
  } while (0)
