#include "duration_flag.h"

#include "errors.h"
#include "litevfs/duration.h"

namespace cli {

int64_t ParseDurationFlag(std::string_view flag, const std::string& value, int64_t lo_ms,
                          int64_t hi_ms) {
  auto ms = litevfs::ParseDurationInRange(flag, value, lo_ms, hi_ms);
  if (!ms.ok()) throw UsageError(ms.status().message());
  return *ms;
}

}  // namespace cli
