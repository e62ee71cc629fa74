// B-tree page parsing for prefetch hints: a pure function over a bounded view of bytes that
// came from the service. Every position is an offset checked against the view's size before
// it is used; no pointer is ever formed outside the page (crafted pages must not make UBSan's
// pointer-overflow check fire, let alone read out of bounds).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace litevfs {

// The child page numbers of b-tree page `pgno` (interior pages 0x02/0x05: each cell's left
// child, then the right-most child; page 1's b-tree header starts after the 100-byte
// database header). A leaf page 1 (a small sqlite_schema) yields the root pages of the
// schema's tables and indexes. Only the first `usable_size` bytes of `page` are read. Cells
// that do not parse are skipped; a malformed page yields fewer (or no) children, never an
// error. The caller filters numbers beyond the database.
std::vector<uint32_t> BtreeChildren(uint32_t pgno, std::span<const uint8_t> page, uint32_t usable_size);

}  // namespace litevfs
