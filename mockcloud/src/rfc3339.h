// RFC 3339 times as the time-travel routes take them (`GET /db/at?time=`): the inverse of
// FormatRfc3339Ms (util.h), plus numeric offsets and fractions of any length.
#pragma once

#include <cstdint>
#include <string_view>

#include "ltx/status.h"

namespace mockcloud {

// "2026-11-21T07:30:42Z", "…42.123Z", "…42+01:00" (also 't'/'z', ' ' for 'T') to Unix ms.
// InvalidArgument naming the expected form otherwise.
ltx::Result<int64_t> ParseRfc3339Ms(std::string_view s);

}  // namespace mockcloud
