// Bytes as `hexdump -C` prints them (ltx dump, the shell's page views).
#pragma once

#include <string>
#include <string_view>

namespace cli {

// `hexdump -C` layout, with "*" for runs of identical 16-byte lines.
std::string Hexdump(std::string_view data);

}  // namespace cli
