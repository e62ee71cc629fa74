// What the store needs to know of a SQLite page's contents: whether it is a b-tree interior
// page (served by GET /db/interior). Page 1 carries the 100-byte database header first.
#pragma once

#include <cstdint>
#include <span>

namespace mockcloud {

inline bool IsInteriorPage(uint32_t pgno, std::span<const uint8_t> page) {
  const size_t off = pgno == 1 ? 100 : 0;
  if (page.size() <= off) return false;
  return page[off] == 0x02 || page[off] == 0x05;
}

}  // namespace mockcloud
