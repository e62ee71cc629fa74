// Duration flags (--duration, --lease-duration, ...): litevfs/duration.h's grammar, which
// the VFS's pragmas and environment variables use too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cli {

// A duration flag's value in ms within [lo_ms, hi_ms]; else UsageError naming the flag,
// the accepted forms and the range.
int64_t ParseDurationFlag(std::string_view flag, const std::string& value, int64_t lo_ms,
                          int64_t hi_ms);

}  // namespace cli
