// `litevfs-mockcloud scrub --data DIR`: checks a data directory offline, changing nothing.
// Every database is loaded read-only (each segment record decoded and checked against its
// file checksum and the one before it) and every base.db page is read against base.sums.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "util.h"

namespace mockcloud {

struct ScrubReport {
  uint64_t databases = 0;
  uint64_t damaged = 0;  // findings of damage (each names its file, and page or offset)
};

// `out` gets one line per finding, note and database checked. Fails only when the data
// directory cannot be read at all.
Result<ScrubReport> Scrub(const std::string& data_dir,
                          const std::function<void(const std::string&)>& out);

}  // namespace mockcloud
