// Fuzzes BtreeChildren (vfs/src/btree.h) with pages a hostile server could send.
// Input layout: byte 0 = selector (bit 0: parse as page 1, with the 100-byte header first;
// bits 1-7: usable size trimmed by that many bytes), the rest = the page.
// Invariants: no out-of-bounds read, no out-of-range pointer (ASan/UBSan), at most one
// child per cell pointer plus the right-most child.
#include <cstddef>
#include <cstdint>
#include <span>

#include "../../vfs/src/btree.h"
#include "../../vfs/src/sqlite_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint32_t pgno = (data[0] & 1) ? 1 : 2;
  const std::span<const uint8_t> page(data + 1, size - 1);
  const size_t trim = data[0] >> 1;
  const uint32_t usable = uint32_t(page.size() > trim ? page.size() - trim : 0);
  const auto kids = litevfs::BtreeChildren(pgno, page, usable);
  const size_t hdr = litevfs::sqlite_format::BtreeHeaderOffset(pgno);
  const size_t max_kids = usable > hdr ? (usable - hdr) / 2 + 1 : 0;
  if (kids.size() > max_kids) __builtin_trap();
  return 0;
}
