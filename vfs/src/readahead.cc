#include "readahead.h"

#include <algorithm>

#include "btree.h"
#include "ltx/format.h"
#include "litevfs/limits.h"

namespace litevfs {
namespace {

constexpr size_t kMaxTreeHints = 4u << 20;   // b-tree shape entries kept (~32 MiB at most:
                                             // a 16 GiB database's)
constexpr size_t kReadAheadsInFlight = 2;     // per database, during scans
constexpr int kMaxTreeDepth = 12;             // b-tree levels walked for scan order
// The share of a bounded cache read-ahead may fill: the rest holds the pages in use.
constexpr size_t kCacheRoomDivisor = 2;

}  // namespace

PrefetchLimits MakePrefetchLimits(int64_t max_prefetch_pages, uint32_t page_size, int64_t max_cached_pages) {
  PrefetchLimits lim;
  lim.base = size_t(std::max<int64_t>(0, max_prefetch_pages));
  const size_t by_bytes = page_size ? kMaxReadAheadWindowBytes / page_size : 0;
  lim.cap = std::max(lim.base, std::min(size_t(kMaxPgnosPerRequest) - 1, by_bytes));
  if (max_cached_pages > 0) {
    lim.cache_room = size_t(max_cached_pages) / kCacheRoomDivisor;
    lim.cap = std::min(lim.cap, std::max<size_t>(lim.cache_room, 1));
    lim.base = std::min(lim.base, lim.cap);
  }
  return lim;
}

void PrefetchPlanner::Clear() {
  children_.clear();
  parent_.Clear();
  hints_ = 0;
}

void PrefetchPlanner::Record(uint32_t pgno, std::span<const uint8_t> page, uint32_t page_size,
                             uint32_t commit, bool refresh) {
  if (!refresh && children_.count(pgno)) return;
  const uint32_t lock_pg = ltx::LockPgno(page_size);
  std::vector<uint32_t> kids = BtreeChildren(pgno, page, page_size);
  std::erase_if(kids, [&](uint32_t child) { return child == 0 || child > commit || child == lock_pg || child == pgno; });
  if (kids.empty()) return;
  kids.shrink_to_fit();  // kept for every interior page: 10 GiB has 7,555 of them (issue 19, 15c)
  if (auto old = children_.find(pgno); old != children_.end()) hints_ -= old->second.size();
  if (hints_ + kids.size() > kMaxTreeHints || parent_.allocated_bytes() > kMaxTreeHints * sizeof(uint32_t)) {
    Clear();  // bound the memory; the shape refills as pages are read
  }
  for (uint32_t k : kids) parent_.At(k) = pgno;
  hints_ += kids.size();
  children_[pgno] = std::move(kids);
}

void PrefetchPlanner::AppendFollowing(uint32_t pgno, size_t max, std::vector<uint32_t>* order) const {
  // Depth-first over the known shape: the pages `depth` levels below `node`, in order.
  // False when the shape is not known that far (the order would skip pages: stop there).
  size_t visits = 0;
  auto descend = [&](auto& self, uint32_t node, int depth) -> bool {
    if (order->size() >= max || ++visits > 4 * max + 64) return false;
    if (depth == 0) {
      order->push_back(node);
      return true;
    }
    auto cit = children_.find(node);
    if (cit == children_.end()) return false;
    for (uint32_t k : cit->second) {
      if (!self(self, k, depth - 1)) return false;
    }
    return true;
  };
  uint32_t node = pgno;
  for (int depth = 0; depth < kMaxTreeDepth && order->size() < max; depth++) {
    const uint32_t* pit = parent_.Find(node);
    if (!pit || *pit == 0) return;
    auto cit = children_.find(*pit);
    if (cit == children_.end()) return;
    const auto& kids = cit->second;
    auto at = std::find(kids.begin(), kids.end(), node);
    if (at == kids.end()) return;  // stale shape
    for (++at; at != kids.end(); ++at) {
      if (!descend(descend, *at, depth)) return;
    }
    node = *pit;
  }
}

std::vector<uint32_t> PrefetchPlanner::Candidates(uint32_t pgno, size_t max, const Fetchable& ok,
                                                  uint32_t* frontier) const {
  std::vector<uint32_t> picked;
  *frontier = 0;
  if (max == 0) return picked;
  std::vector<uint32_t> order;  // twice the window: some of it is cached or past commit
  AppendFollowing(pgno, 2 * max + 8, &order);
  const size_t following = order.size();
  if (const uint32_t* pit = parent_.Find(pgno); pit && *pit != 0) {
    if (auto cit = children_.find(*pit); cit != children_.end()) {
      const auto& kids = cit->second;
      size_t idx = size_t(std::find(kids.begin(), kids.end(), pgno) - kids.begin());
      for (size_t j = std::min(idx, kids.size()); j-- > 0;) order.push_back(kids[j]);
    }
  }
  if (auto cit = children_.find(pgno); cit != children_.end()) {
    order.insert(order.end(), cit->second.begin(), cit->second.end());
  }
  std::unordered_set<uint32_t> seen = {pgno};
  for (size_t i = 0; i < order.size() && picked.size() < max; i++) {
    const uint32_t p = order[i];
    if (!seen.insert(p).second || !ok(p)) continue;
    picked.push_back(p);
    if (i < following) *frontier = p;  // the scan continues after this one
  }
  return picked;
}

std::vector<uint32_t> PrefetchPlanner::Following(uint32_t from, size_t max, const Fetchable& ok,
                                                 uint32_t* frontier) const {
  std::vector<uint32_t> order, next;
  AppendFollowing(from, 2 * max + 8, &order);
  *frontier = 0;
  for (uint32_t p : order) {
    if (next.size() >= max) break;
    if (!ok(p)) continue;
    next.push_back(p);
    *frontier = p;
  }
  return next;
}

size_t PrefetchPlanner::MissWindow(ReadAheadState& st, const PrefetchLimits& lim) {
  if (lim.base == 0) return 0;
  const size_t used = st.ahead_total - std::min<size_t>(st.ahead_total, st.ahead.size());
  if (st.window == 0 || st.ahead_total == 0 || used * 2 < st.ahead_total) {
    st.window = uint32_t(lim.base);  // a point read (or the first miss): the base window
  } else {
    st.window = uint32_t(std::min(lim.cap, size_t(st.window) * 2));  // a scan: read further ahead
  }
  return st.window;
}

size_t PrefetchPlanner::ReadAheadSize(const ReadAheadState& st, const PrefetchLimits& lim, size_t in_flight) {
  // Only in a scan (the window grew: the reader used what was prefetched). While the window
  // still grows, one read-ahead at a time, once the reader is half-way through the latest
  // batch (a range that ends soon costs at most one speculative batch). At full size, up to
  // kReadAheadsInFlight still fetching, keeping one to two windows ahead of the reader (what
  // the reader's recent blocks hold: kRecentReadAheadBytes, database.h).
  if (st.frontier == 0 || lim.base == 0 || st.window <= lim.base) return 0;
  if (st.window < lim.cap) {
    if (in_flight > 0 || st.ahead.size() * 2 > st.ahead_total) return 0;
  } else {
    if (in_flight >= kReadAheadsInFlight) return 0;
    if (st.ahead.size() > lim.cap) return 0;
  }
  const size_t n = std::min(lim.cap, size_t(st.window) * 2);
  // Never more ahead of the reader than the cache bound holds: pages evicted before they
  // are read would be fetched twice.
  if (st.ahead.size() + n > lim.cache_room) return 0;
  return n;
}

}  // namespace litevfs
