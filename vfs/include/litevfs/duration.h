// The one duration grammar of litevfs: CLI flags, environment variables, URI parameters and
// pragmas all parse durations here (man/litevfs.7, DURATIONS).
//
//   DURATION := TERM+ | INTEGER        TERM := NUMBER UNIT        UNIT := ms | s | m | h
//
// NUMBER may have a fraction ("1.5s"); terms add up ("1m30s"). A bare INTEGER, without a
// unit, is milliseconds everywhere (so "PRAGMA litevfs_cache_sync_period = 500" keeps its
// meaning, and "--duration 30" is 30 ms, which the lease range rejects with this rule named).
// Surrounding blanks and one pair of quotes are ignored (SQLite may keep pragma quotes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ltx/status.h"

namespace litevfs {

// Milliseconds, or InvalidArgument naming the accepted forms.
ltx::Result<int64_t> ParseDuration(std::string_view text);
// As ParseDuration, within [lo_ms, hi_ms]. Errors start with `what` (the flag, env var, URI
// parameter or pragma the value came from) and name the range in units ("1s to 10m").
ltx::Result<int64_t> ParseDurationInRange(std::string_view what, std::string_view text,
                                          int64_t lo_ms, int64_t hi_ms);
// The shortest exact spelling in this grammar: 1500 -> "1500ms", 30000 -> "30s", 0 -> "0".
std::string FormatDuration(int64_t ms);

}  // namespace litevfs
