// PageBlock and what keeps it cheap (issue 19): ParsePageFrames' views, the client's reused
// answer buffers (buffer_pool.h), and the read-ahead answers a scan reads from memory
// (recent_pages.h), which must answer only a reader at exactly their position.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "buffer_pool.h"
#include "litevfs/client.h"
#include "ltx/coding.h"
#include "recent_pages.h"

namespace litevfs {
namespace {

constexpr uint32_t kPs = 512;

// A block of pages `pgnos`, page p filled with byte p.
std::shared_ptr<const PageBlock> MakeBlock(const Pos& pos, const std::vector<uint32_t>& pgnos) {
  auto b = std::make_shared<PageBlock>();
  b->pos = pos;
  b->page_size = kPs;
  auto bytes = std::make_shared<std::string>();
  for (uint32_t p : pgnos) bytes->append(kPs, char(p));
  for (size_t i = 0; i < pgnos.size(); i++) {
    b->pages.emplace_back(pgnos[i], std::string_view(*bytes).substr(i * kPs, kPs));
  }
  b->buffers.push_back(bytes);
  return b;
}

TEST(ParsePageFramesTest, PagesAreViewsIntoTheBody) {
  std::string body;
  for (uint32_t p : {3u, 7u}) {
    uint8_t be[4];
    ltx::EncodeU32(be, p);
    body.append(reinterpret_cast<const char*>(be), 4);
    body.append(kPs, char(p));
  }
  auto r = ParsePageFrames(body, kPs, {3, 7});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].first, 7u);
  EXPECT_EQ((*r)[1].second.data(), body.data() + 4 + kPs + 4) << "copied instead of viewed";
  EXPECT_EQ((*r)[1].second, std::string(kPs, char(7)));
}

TEST(RecentPagesTest, AnswersOnlyAtTheExactPosition) {
  RecentPages recent(1 << 20);
  const Pos at{5, 0xabc}, restored{5, 0xdef}, later{6, 0x123};
  recent.Add(at, MakeBlock(at, {2, 3, 9}));
  std::vector<uint8_t> out(kPs);
  ASSERT_TRUE(recent.Copy(at, 9, out));
  EXPECT_EQ(out[0], 9);
  EXPECT_FALSE(recent.Copy(later, 9, out)) << "a page as of txid 5 served to a reader at 6";
  EXPECT_FALSE(recent.Copy(restored, 9, out)) << "same txid, another checksum (a restore)";
  EXPECT_FALSE(recent.Copy(at, 4, out)) << "a page the block does not hold";
  EXPECT_FALSE(recent.Copy(at, 10, out));
  std::vector<uint8_t> wrong_size(kPs * 2);
  EXPECT_FALSE(recent.Copy(at, 2, wrong_size));
}

TEST(RecentPagesTest, DropsTheOldestBlocksPastItsBound) {
  RecentPages recent(2 * 3 * kPs);  // two blocks of three pages
  const Pos at{1, 1};
  recent.Add(at, MakeBlock(at, {1, 2, 3}));
  recent.Add(at, MakeBlock(at, {4, 5, 6}));
  recent.Add(at, MakeBlock(at, {7, 8, 9}));
  std::vector<uint8_t> out(kPs);
  EXPECT_FALSE(recent.Copy(at, 2, out)) << "the oldest block outlived the bound";
  EXPECT_TRUE(recent.Copy(at, 5, out));
  EXPECT_TRUE(recent.Copy(at, 8, out));
  recent.Clear();
  EXPECT_FALSE(recent.Copy(at, 8, out));
  RecentPages off(0);
  off.Add(at, MakeBlock(at, {1}));
  EXPECT_FALSE(off.Copy(at, 1, out));
}

TEST(BufferPoolTest, ReusesLargeBuffersAndBoundsWhatItKeeps) {
  BufferPool pool;
  std::string big;
  big.reserve(1 << 20);
  const char* storage = big.data();
  { auto owned = pool.Own(std::move(big)); }
  EXPECT_EQ(pool.kept(), 1u);
  std::string again = pool.Take(512 << 10);
  EXPECT_EQ(again.data(), storage) << "the freed buffer was not reused";
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(pool.kept(), 0u);
  EXPECT_TRUE(pool.Take(2 << 20).empty()) << "nothing kept is large enough";

  std::string small(100, 'x');
  { auto owned = pool.Own(std::move(small)); }
  std::string huge;
  huge.reserve(BufferPool::kMaxKeptBytes + 1);
  { auto owned = pool.Own(std::move(huge)); }
  EXPECT_EQ(pool.kept(), 0u) << "small and huge buffers are freed, not kept";

  for (size_t i = 0; i < BufferPool::kKept + 3; i++) {
    std::string s;
    s.reserve(BufferPool::kMinKeptBytes);
    auto owned = pool.Own(std::move(s));
  }
  EXPECT_EQ(pool.kept(), BufferPool::kKept);
}

TEST(BufferPoolTest, ClearFreesWhatIsKeptButNotWhatIsInUse) {
  BufferPool pool;
  std::string a, b;
  a.reserve(BufferPool::kMinKeptBytes);
  b.reserve(BufferPool::kMinKeptBytes);
  { auto owned = pool.Own(std::move(a)); }
  auto in_use = pool.Own(std::move(b));
  EXPECT_EQ(pool.kept(), 1u);
  pool.Clear();  // a scan is over (Database::ReleaseScanMemory)
  EXPECT_EQ(pool.kept(), 0u);
  in_use.reset();  // an answer still held when the pool was cleared comes back later
  EXPECT_EQ(pool.kept(), 1u);
}

TEST(BufferPoolTest, ABufferOutlivesItsPool) {
  std::shared_ptr<const std::string> owned;
  {
    BufferPool pool;
    std::string s;
    s.reserve(BufferPool::kMinKeptBytes);
    s = "page bytes";
    owned = pool.Own(std::move(s));
  }
  EXPECT_EQ(*owned, "page bytes");
  owned.reset();  // returns to the pool's state, which the deleter keeps alive
}

}  // namespace
}  // namespace litevfs
