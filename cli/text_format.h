// How the CLI prints times and sizes: RFC 3339 timestamps as Go formats them, and byte
// counts in binary units.
#pragma once

#include <cstdint>
#include <string>

namespace cli {

// "2006-01-02T15:04:05Z" (RFC 3339 UTC, seconds) and the Nano variant with trailing zeros
// of the fraction trimmed, as Go formats them.
std::string FormatRfc3339(int64_t unix_ms, bool with_fraction);
// "512 B", "1.5 KiB", "12.3 MiB", "1.25 GiB".
std::string FormatBytes(uint64_t n);

}  // namespace cli
