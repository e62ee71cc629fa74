// BtreeChildren (vfs/src/btree.h): the children of real interior pages and the schema's root
// pages from a real page 1, and crafted pages from a hostile server that must yield nothing
// (no out-of-bounds read, no out-of-range pointer: the ASan/UBSan preset runs this).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "btree.h"
#include "ltx/coding.h"
#include "sqlite_format.h"

namespace {

namespace fs = std::filesystem;
constexpr uint32_t kPageSize = 4096;

std::vector<uint32_t> Children(uint32_t pgno, const std::vector<uint8_t>& page) {
  return litevfs::BtreeChildren(pgno, page, uint32_t(page.size()));
}

// A database with a few tables and indexes, its bytes, and the rootpages it declares.
struct RealDb {
  std::vector<uint8_t> bytes;
  std::set<uint32_t> roots;
};

RealDb MakeRealDb(int rows) {
  const fs::path path = fs::temp_directory_path() / ("btree_test_" + std::to_string(::getpid()) + ".db");
  fs::remove(path);
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string sql =
      "PRAGMA page_size=4096; CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT);"
      "CREATE TABLE b(x, y); CREATE INDEX bx ON b(x); CREATE TABLE c(k TEXT PRIMARY KEY) WITHOUT ROWID;"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<" + std::to_string(rows) +
      ") INSERT INTO a SELECT i, printf('%0200d', i) FROM n;";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  RealDb out;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT rootpage FROM sqlite_schema WHERE rootpage > 1", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) out.roots.insert(uint32_t(sqlite3_column_int(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::ifstream in(path, std::ios::binary);
  out.bytes.assign(std::istreambuf_iterator<char>(in), {});
  fs::remove(path);
  return out;
}

std::vector<uint8_t> PageOf(const RealDb& db, uint32_t pgno) {
  auto at = db.bytes.begin() + std::ptrdiff_t(pgno - 1) * kPageSize;
  return std::vector<uint8_t>(at, at + kPageSize);
}

TEST(BtreeTest, LeafPage1YieldsTheSchemasRootPages) {
  RealDb db = MakeRealDb(10);
  auto kids = Children(1, PageOf(db, 1));
  EXPECT_EQ(std::set<uint32_t>(kids.begin(), kids.end()), db.roots);
}

TEST(BtreeTest, InteriorPageYieldsEveryChildOnce) {
  RealDb db = MakeRealDb(3000);  // table a spans many leaves under an interior root
  const uint32_t pages = uint32_t(db.bytes.size() / kPageSize);
  size_t interiors = 0;
  std::set<uint32_t> seen;
  for (uint32_t pg = 2; pg <= pages; pg++) {
    auto page = PageOf(db, pg);
    if (!litevfs::sqlite_format::IsInteriorPage(page[0])) {
      EXPECT_TRUE(Children(pg, page).empty()) << pg;
      continue;
    }
    interiors++;
    auto kids = Children(pg, page);
    EXPECT_EQ(kids.size(), size_t(ltx::DecodeU16(page.data() + 3)) + 1) << pg;
    for (uint32_t k : kids) {
      EXPECT_TRUE(k >= 2 && k <= pages) << k;
      EXPECT_TRUE(seen.insert(k).second) << "child " << k << " twice";
    }
  }
  EXPECT_GE(interiors, 1u);
}

// Page 1 as a leaf table page with one cell at `cell_off` holding `cell`.
std::vector<uint8_t> CraftedPage1(const std::vector<uint8_t>& cell, size_t cell_off = 4000) {
  std::vector<uint8_t> p(kPageSize, 0);
  const size_t hdr = litevfs::sqlite_format::kHeaderSize;
  p[hdr] = litevfs::sqlite_format::kLeafTable;
  ltx::EncodeU16(p.data() + hdr + 3, 1);
  ltx::EncodeU16(p.data() + hdr + 8, uint16_t(cell_off));
  std::copy(cell.begin(), cell.end(), p.begin() + std::ptrdiff_t(cell_off));
  return p;
}

// The class of input UBSan reported as pointer-overflow at `rec + hsize`: a record header
// size near 2^64 (a 9-byte varint) wrapped the pointer back into the page.
TEST(BtreeTest, HugeRecordHeaderSizeYieldsNothing) {
  std::vector<uint8_t> cell = {0x10, 0x01};                  // payload 16, rowid 1
  for (int i = 0; i < 8; i++) cell.push_back(0xff);          // header size: 9-byte varint
  cell.push_back(0xf0);                                      // = 2^64 - 16
  cell.insert(cell.end(), {0x17, 0x15, 0x15, 0x01, 0x42});
  EXPECT_TRUE(Children(1, CraftedPage1(cell)).empty());
}

// Column sizes near 2^63 (serial types from 9-byte varints) must not move past the page.
TEST(BtreeTest, HugeColumnSizesYieldNothing) {
  std::vector<uint8_t> cell = {0x7f, 0x01, 0x1f};            // payload 127, rowid 1, hsize 31
  for (int c = 0; c < 3; c++) {
    for (int i = 0; i < 8; i++) cell.push_back(0xff);
    cell.push_back(0xfe);                                    // serial type 2^64 - 2
  }
  cell.insert(cell.end(), {0x01, 0x02, 0x03, 0x04});          // rootpage: 1-byte int, then data
  EXPECT_TRUE(Children(1, CraftedPage1(cell)).empty());
}

TEST(BtreeTest, CellsAndPointersOutsideThePageAreSkipped) {
  std::vector<uint8_t> p(kPageSize, 0);
  p[0] = litevfs::sqlite_format::kInteriorTable;
  ltx::EncodeU16(p.data() + 3, 0xffff);                      // far more cells than fit
  ltx::EncodeU32(p.data() + 8, 77);                          // right-most child
  ltx::EncodeU16(p.data() + 12, uint16_t(kPageSize - 2));    // child pointer past the end
  ltx::EncodeU16(p.data() + 14, 100);                        // a good one
  ltx::EncodeU32(p.data() + 100, 42);
  auto kids = Children(2, p);
  EXPECT_NE(std::find(kids.begin(), kids.end(), 42u), kids.end());
  EXPECT_EQ(kids.back(), 77u);
  // Truncated views: never read past them.
  for (size_t n : {0u, 7u, 8u, 11u, 13u}) {
    std::vector<uint8_t> cut(p.begin(), p.begin() + std::ptrdiff_t(n));
    EXPECT_LE(Children(2, cut).size(), 1u) << n;
  }
  EXPECT_TRUE(litevfs::BtreeChildren(2, p, 11).empty());     // usable size bounds it too
}

}  // namespace
