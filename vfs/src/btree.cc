#include "btree.h"

#include <algorithm>

#include "sqlite_format.h"

namespace litevfs {
namespace {

namespace fmt = sqlite_format;

// SQLite varint (1..9 bytes) at p[off]. Returns bytes consumed, 0 when it runs past p.
size_t GetVarint(std::span<const uint8_t> p, size_t off, uint64_t* v) {
  uint64_t x = 0;
  for (size_t i = 0; i < fmt::kMaxVarintSize; i++) {
    if (off >= p.size() || i >= p.size() - off) return 0;
    const uint8_t b = p[off + i];
    if (i == fmt::kMaxVarintSize - 1) {
      *v = (x << 8) | b;
      return fmt::kMaxVarintSize;
    }
    x = (x << 7) | (b & 0x7f);
    if ((b & 0x80) == 0) {
      *v = x;
      return i + 1;
    }
  }
  return 0;
}

// Bytes a record column of this serial type occupies.
uint64_t SerialSize(uint64_t t) {
  static const uint8_t kFixed[12] = {0, 1, 2, 3, 4, 6, 8, 8, 0, 0, 0, 0};
  if (t < 12) return kFixed[t];
  return (t - 12) / 2;
}

// Offset `i` of the cell pointer array starting at `ptrs`; 0 when outside the page.
size_t CellOffset(std::span<const uint8_t> p, size_t ptrs, uint32_t i) {
  const size_t at = ptrs + fmt::kCellPointerSize * size_t(i);
  if (at + fmt::kCellPointerSize > p.size()) return 0;
  return fmt::ReadU16(p, at);
}

void InteriorChildren(std::span<const uint8_t> p, size_t hdr, std::vector<uint32_t>* out) {
  if (p.size() < hdr + fmt::kBtreeInteriorHeaderSize) return;
  const uint32_t ncells = fmt::ReadU16(p, hdr + fmt::kBtreeCellCountOffset);
  const size_t ptrs = hdr + fmt::kBtreeInteriorHeaderSize;
  for (uint32_t i = 0; i < ncells; i++) {
    if (ptrs + fmt::kCellPointerSize * size_t(i) + fmt::kCellPointerSize > p.size()) break;
    const size_t off = CellOffset(p, ptrs, i);
    if (off < ptrs || off + fmt::kChildPointerSize > p.size()) continue;
    out->push_back(fmt::ReadU32(p, off));
  }
  out->push_back(fmt::ReadU32(p, hdr + fmt::kBtreeRightChildOffset));
}

// The rootpage column of one sqlite_schema leaf cell at `off`; 0 when it does not parse.
// Every bound is an offset compared with the page size (sizes from the page can be 2^64-1).
uint32_t SchemaRootPage(std::span<const uint8_t> p, size_t off) {
  uint64_t payload = 0, rowid = 0, hsize = 0;
  size_t k = GetVarint(p, off, &payload);
  if (!k) return 0;
  size_t at = off + k;
  if (!(k = GetVarint(p, at, &rowid))) return 0;
  at += k;
  const size_t rec = at;
  if (!(k = GetVarint(p, at, &hsize))) return 0;
  if (hsize > p.size() - rec) return 0;
  const size_t hend = rec + size_t(hsize);
  const std::span<const uint8_t> header = p.first(hend);
  uint64_t types[fmt::kSchemaRootpageColumn + 1];
  int got = 0;
  for (size_t h = rec + k; got <= fmt::kSchemaRootpageColumn && h < hend; got++) {
    if (!(k = GetVarint(header, h, &types[got]))) return 0;
    h += k;
  }
  const uint64_t rootpage_type = types[fmt::kSchemaRootpageColumn];
  if (got <= fmt::kSchemaRootpageColumn || rootpage_type < 1 || rootpage_type > 4) return 0;
  uint64_t skip = 0;  // the bytes of type, name and tbl_name; each at most 2^63
  for (int c = 0; c < fmt::kSchemaRootpageColumn; c++) {
    const uint64_t n = SerialSize(types[c]);
    if (n > p.size()) return 0;
    skip += n;
  }
  const uint64_t sz = SerialSize(rootpage_type);
  if (skip + sz > p.size() - hend || (hend - rec) + skip + sz > payload) return 0;
  const size_t v = hend + size_t(skip);
  uint32_t root = 0;
  for (uint64_t b = 0; b < sz; b++) root = (root << 8) | p[v + size_t(b)];
  return root;
}

void SchemaRoots(std::span<const uint8_t> p, size_t hdr, std::vector<uint32_t>* out) {
  const uint32_t ncells = fmt::ReadU16(p, hdr + fmt::kBtreeCellCountOffset);
  const size_t ptrs = hdr + fmt::kBtreeLeafHeaderSize;
  for (uint32_t i = 0; i < ncells; i++) {
    if (ptrs + fmt::kCellPointerSize * size_t(i) + fmt::kCellPointerSize > p.size()) break;
    const size_t off = CellOffset(p, ptrs, i);
    if (off < ptrs || off >= p.size()) continue;
    if (uint32_t root = SchemaRootPage(p, off); root > 1) out->push_back(root);
  }
}

}  // namespace

std::vector<uint32_t> BtreeChildren(uint32_t pgno, std::span<const uint8_t> page, uint32_t usable_size) {
  std::vector<uint32_t> out;
  const size_t hdr = fmt::BtreeHeaderOffset(pgno);
  const std::span<const uint8_t> p = page.first(std::min<size_t>(page.size(), usable_size));
  if (p.size() < hdr + fmt::kBtreeLeafHeaderSize) return out;
  const uint8_t type = p[hdr + fmt::kBtreeTypeOffset];
  if (fmt::IsInteriorPage(type)) {
    InteriorChildren(p, hdr, &out);
  } else if (type == fmt::kLeafTable && pgno == 1) {
    // Leaf sqlite_schema: queue the root pages so the first query on any table does not
    // miss on its root.
    SchemaRoots(p, hdr, &out);
  }
  return out;
}

}  // namespace litevfs
