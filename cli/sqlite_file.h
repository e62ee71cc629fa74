// Checks on local SQLite database files the CLI reads or replaces.
#pragma once

#include <string>

namespace cli {

// Fails if `path`-wal exists and is not empty (its pages would be silently missed).
void RequireNoWal(const std::string& path);
// True if both paths name the same existing file.
bool SameFile(const std::string& a, const std::string& b);

}  // namespace cli
