// The read room: a page as of a connection's pin comes from the writer's dirty pages, the
// page cache, the old-pin pages, a read-ahead already fetching it, or the service (with the
// prefetch candidates the planner picks). Read-aheads and the bulk pipeline run on the
// worker pool (worker_pool.h).
#include <algorithm>
#include <bit>
#include <cstring>
#include <span>

#include "database.h"
#include "bytes.h"
#include "log.h"
#include "past_state.h"
#include "release_memory.h"
#include "sqlite_format.h"
#include "worker_pool.h"

namespace litevfs {
namespace {

constexpr size_t kMaxOldPageBytes = 32u << 20;  // pages kept for pins older than the cache

// A page's bytes into a page-sized buffer (zeros past a shorter page).
void CopyPage(std::string_view page, std::span<uint8_t> out) {
  const size_t n = std::min(page.size(), out.size());
  std::memcpy(out.data(), page.data(), n);
  std::fill(out.begin() + std::ptrdiff_t(n), out.end(), uint8_t{0});
}

// Whether a page read from the cache can teach the planner anything: only interior b-tree
// pages and page 1 (the schema's roots) have children (BtreeChildren). One byte, no parse:
// a leaf hit (most of them) skips the planner (issue 19: no b-tree work on a warm hit).
bool MayHaveChildren(uint32_t pgno, std::span<const uint8_t> page) {
  namespace fmt = sqlite_format;
  const size_t at = fmt::BtreeHeaderOffset(pgno) + fmt::kBtreeTypeOffset;
  return pgno == 1 || (at < page.size() && fmt::IsInteriorPage(page[at]));
}

// A fetched batch as PageCache::PutMany takes it (views into the batch's answer), with the
// server's sum of each page when it sent them (the cache then hashes nothing).
std::vector<PageCache::PageRef> PageRefs(const PageBlock& b) {
  std::vector<PageCache::PageRef> refs;
  refs.reserve(b.pages.size());
  const bool sums = b.sums.size() == b.pages.size();
  for (size_t i = 0; i < b.pages.size(); i++) {
    refs.push_back({b.pages[i].first, AsBytes(b.pages[i].second),
                    sums ? std::optional<uint64_t>(b.sums[i]) : std::nullopt});
  }
  return refs;
}

// A fetched batch into the cache, with a warning when the cache refused the server's sums
// (the first page did not match its sum: a server fault, or damage on the way).
Status PutBlockInCache(PageCache* cache, const Pos& pos, const PageBlock& b, bool wanted_soon,
                       const std::string& db) {
  const uint64_t refused = cache->stats().sums_refused.load();
  Status st = cache->PutMany(pos.txid, PageRefs(b), wanted_soon);
  if (cache->stats().sums_refused.load() != refused && !b.pages.empty()) {
    LITEVFS_LOG(LogLevel::kWarn, db, pos,
                "the server's sum of page " + std::to_string(b.pages.front().first) +
                    " does not match the page it sent: this batch is hashed here instead");
  }
  return st;
}

long MsSince(Clock::time_point t) {
  return long(std::chrono::duration_cast<std::chrono::milliseconds>(GetClock().Now() - t).count());
}

}  // namespace

int64_t Database::FileSize(Conn* c) {
  MutexLock lk(&mu_);
  if (reserved_ == c && writer_.owner == c) return int64_t(writer_.size_pages) * page_size_;
  const Snapshot& s = c->pinned ? c->pin : c->past ? c->past->snap : latest_;  // past: issue 18
  return int64_t(s.commit) * page_size_;
}

// One lock of mu_ per xRead on the warm path (issue 19): held from the snapshot through the
// cache hit; only a miss drops it, for the fetch.
Status Database::Read(Conn* c, uint8_t* buf, size_t amt, int64_t off, bool* short_read) {
  *short_read = false;
  MutexLock lk(&mu_);
  const Snapshot pin = c->pinned ? c->pin : latest_;
  const uint32_t ps = page_size_;
  const bool writer = reserved_ == c && writer_.owner == c;
  const int64_t size = ps == 0 ? 0 : writer ? int64_t(writer_.size_pages) * ps : int64_t(pin.commit) * ps;
  std::string page;  // a partial-page read only (the header at open)
  for (size_t done = 0; done < amt;) {
    const int64_t pos = off + int64_t(done);
    if (pos >= size) {
      std::memset(buf + done, 0, amt - done);
      *short_read = true;
      return Status::OK();
    }
    const uint32_t pgno = uint32_t(pos / ps) + 1;
    const size_t in = size_t(pos % ps);
    const size_t n = std::min<size_t>(ps - in, amt - done);
    bool have = false;
    if (writer) {
      auto r = writer_.dirty->Read(pgno, in, std::span<uint8_t>(buf + done, n));  // memory or spill file
      LTX_RETURN_IF_ERROR(r.status());
      have = *r;
    }
    if (!have) {
      // A whole-page read (SQLite's usual) lands in its buffer directly: no copy, no fill.
      const bool whole = in == 0 && n == ps;
      if (!whole) page.resize(ps);
      const std::span<uint8_t> dst = whole ? std::span<uint8_t>(buf + done, ps) : AsMutableBytes(page);
      LTX_RETURN_IF_ERROR(ReadStoredPageLocked(c, pin, pgno, dst, true));
      if (pgno == 1 && sqlite_format::IsWalHeader(dst)) {
        // WAL-mode database: SQLite sees a rollback-journal database (DESIGN.md §7).
        sqlite_format::SetJournalVersions(dst, sqlite_format::kVersionRollback);
      }
      if (!whole) std::memcpy(buf + done, page.data() + in, n);
    }
    done += n;
  }
  return Status::OK();
}

// xFetch's hit path (issue 19, row 1d) takes no Database lock: the Conn fields it reads are
// written only in this connection's own calls (database.h), and c->fetch_cache names the one
// cache this Database opens, which outlives the connection (a retired cache is kept, and
// Retire()d so it pins nothing newer). The cache checks the page's version for the pin (under
// its lock, or with one atomic add for a page it marked current: cache_pins.h). mu_ is taken only for the connection's first fetch, to teach the planner an
// interior page the first time this process reads its version, and to move a read-ahead on.
const uint8_t* Database::Fetch(Conn* c, int64_t off, size_t amt) {
  if (!c->pinned || c->past || c->lock >= kLockReserved) return nullptr;  // the writer reads its dirty pages
  PageCache* cache = c->fetch_cache ? c->fetch_cache : LearnFetchCache(c);
  if (!cache) return nullptr;
  const uint32_t ps = cache->page_size();  // a power of two: shifts, not divisions, here
  if (amt != ps || off < 0 || (uint64_t(off) & (ps - 1)) != 0) return nullptr;
  const uint32_t pgno = uint32_t(uint64_t(off) >> std::countr_zero(ps)) + 1;
  // Page 1 may need its journal versions patched (Read), which a mapped page cannot take.
  if (pgno == 1 || pgno > c->pin.commit || pgno == ltx::LockPgno(ps)) return nullptr;
  bool first = false;
  const uint8_t* p = cache->Pin(pgno, c->pin.pos.txid, &first);
  if (!p) return nullptr;
  c->fetched->store(c->fetched->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // A version read before in this process taught the planner then (here or in LookupLocked):
  // a hit skips it, leaf or interior (no b-tree work, no lock on a warm hit).
  const bool learn = first && MayHaveChildren(pgno, {p, ps});
  if (learn || !c->ra.ahead.empty()) {
    MutexLock lk(&mu_);
    NoteFetchedLocked(c, pgno, {p, ps}, learn);
  }
  return p;
}

PageCache* Database::LearnFetchCache(Conn* c) {
  MutexLock lk(&mu_);
  if (!c->fetched) {
    PagesFetchedLocked();  // folds closed connections' counts: the list stays as long as the open ones
    c->fetched = std::make_shared<std::atomic<uint64_t>>(0);
    fetch_counts_.push_back(c->fetched);
  }
  c->fetch_cache = cache_.get();
  return c->fetch_cache;
}

void Database::NoteFetchedLocked(Conn* c, uint32_t pgno, std::span<const uint8_t> page, bool learn) {
  if (learn) planner_.Record(pgno, page, uint32_t(page.size()), c->pin.commit, false);
  if (c->ra.ahead.erase(pgno)) MaybeReadAheadLocked(c, c->pin);
}

// No lock: every page c holds in place came from c->fetch_cache (Fetch set it first).
void Database::Unfetch(Conn* c, int64_t off, const uint8_t* page) {
  PageCache* cache = c->fetch_cache;
  if (cache && off >= 0) {
    const uint32_t pgno = uint32_t(uint64_t(off) >> std::countr_zero(cache->page_size())) + 1;
    if (cache->Unpin(pgno, page)) return;
  }
  LITEVFS_LOG(LogLevel::kWarn, name_, Pos{},
              "xUnfetch of a page this connection does not hold in place (offset " + std::to_string(off) +
                  "): ignored");
}

uint64_t Database::PagesFetchedLocked() {
  uint64_t n = 0;
  for (size_t i = 0; i < fetch_counts_.size();) {
    if (fetch_counts_[i].use_count() > 1) {
      n += fetch_counts_[i]->load(std::memory_order_relaxed);
      i++;
      continue;
    }
    // Its connection is gone: the fence orders its last count (before it released its
    // reference) before this read.
    std::atomic_thread_fence(std::memory_order_acquire);
    fetched_by_closed_ += fetch_counts_[i]->load(std::memory_order_relaxed);
    fetch_counts_[i] = std::move(fetch_counts_.back());
    fetch_counts_.pop_back();
  }
  return n + fetched_by_closed_;
}

void Database::RaiseMapBudget(int64_t bytes) {
  MutexLock lk(&mu_);
  if (cache_ && bytes > 0) cache_->RaiseMapBudget(uint64_t(bytes));
}

void Database::RetireCacheLocked() {
  if (!cache_) return;
  cache_->Retire();  // connections' fetch_cache may name it: no new pins from it
  retired_cache_ = std::move(cache_);  // at most one: a retired cache is never reopened
}

bool Database::LookupLocked(Conn* c, const Snapshot& pin, uint32_t pgno, std::span<uint8_t> out) {
  auto hit = [&] {
    mu_.AssertHeld();
    cache_hits_++;
    if (MayHaveChildren(pgno, out)) planner_.Record(pgno, out, page_size_, pin.commit, false);
    if (c && !c->ra.ahead.empty() && c->ra.ahead.erase(pgno)) MaybeReadAheadLocked(c, pin);
    return true;
  };
  for (;;) {
    // A scan's page that just arrived: from memory, not read back from the cache file.
    if (recent_.Copy(pin.pos, pgno, out)) return hit();
    if (cache_) {
      auto r = cache_->Get(pgno, pin.pos.txid, out);
      if (r.ok() && *r) return hit();
      if (!r.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, pin.pos, "cache read: " + r.status().ToString());
      if (c && c->past && ReuseCachedForPast(*c->past, cache_.get(), pgno, out)) {
        cache_hits_++;  // issue 18: a cached page the diff says is unchanged since the past
        return true;
      }
    }
    if (auto it = old_pages_.find({pin.pos.txid, pgno}); it != old_pages_.end()) {
      CopyPage(it->second, out);
      cache_hits_++;
      if (c && c->ra.ahead.erase(pgno)) MaybeReadAheadLocked(c, pin);
      return true;
    }
    // A read-ahead is fetching this page: wait for it rather than asking twice. Until it
    // arrives (then recent_ holds the page); a page recent_ has already let go of is in the
    // cache once the read-ahead is done.
    auto ra = ReadAheadOfLocked(pin.pos.txid, pgno);
    if (!ra) return false;
    std::shared_future<void> ready = ra->arrived ? ra->done : ra->arrival;
    ra.reset();
    mu_.Unlock();
    ready.wait();
    mu_.Lock();
  }
}

std::vector<uint32_t> Database::MissBatchLocked(Conn* c, const Snapshot& pin, uint32_t pgno, bool allow_prefetch) {
  std::vector<uint32_t> want = {pgno};
  const int64_t max_reqs = max_reqs_per_query.load();
  if (!allow_prefetch || (max_reqs != 0 && c != nullptr && c->requests >= uint64_t(max_reqs))) return want;
  const PrefetchLimits lim = LimitsLocked();
  ReadAheadState scratch;
  ReadAheadState& st = c ? c->ra : scratch;
  uint32_t frontier = 0;
  auto ok = [&](uint32_t p) {
    mu_.AssertHeld();
    return FetchableLocked(p, pin);
  };
  for (uint32_t p : planner_.Candidates(pgno, PrefetchPlanner::MissWindow(st, lim), ok, &frontier)) {
    want.push_back(p);
  }
  st.ahead.clear();
  st.ahead.insert(want.begin() + 1, want.end());
  st.ahead_total = uint32_t(want.size() - 1);
  st.frontier = frontier;
  return want;
}

Status Database::ReadStoredPage(Conn* c, const Snapshot& pin, uint32_t pgno, std::span<uint8_t> out,
                                bool allow_prefetch) {
  MutexLock lk(&mu_);
  return ReadStoredPageLocked(c, pin, pgno, out, allow_prefetch);
}

Status Database::ReadStoredPageLocked(Conn* c, const Snapshot& pin, uint32_t pgno, std::span<uint8_t> out,
                                      bool allow_prefetch) {
  if (pgno == ltx::LockPgno(page_size_) || pgno > pin.commit) {
    std::fill(out.begin(), out.end(), uint8_t{0});
    return Status::OK();
  }
  page_reads_++;
  if (LookupLocked(c, pin, pgno, out)) return Status::OK();
  cache_misses_++;
  std::vector<uint32_t> want = MissBatchLocked(c, pin, pgno, allow_prefetch);
  std::sort(want.begin(), want.end());
  const auto fetch_start = GetClock().Now();  // for the log line only
  std::shared_ptr<Client> client = client_;
  mu_.Unlock();  // never across a request
  Result<PageBlock> b = Status::Unavailable("litevfs: page fetch did not run");
  try {
    b = client->GetPageBlock(name_, pin.pos, want);
  } catch (...) {  // e.g. bad_alloc: the caller's lock expects mu_ held
    mu_.Lock();
    throw;
  }
  mu_.Lock();
  page_requests_++;
  if (c) c->requests++;
  if (!b.ok()) {
    return Status(b.status().code(),
                  "litevfs: fetching page " + std::to_string(pgno) + " of " + name_ + " at " +
                      ltx::FormatPos(pin.pos) + ": " + b.status().message(),
                  b.status().api_code());
  }
  LTX_RETURN_IF_ERROR(StoreFetchedLocked(pin, *b));
  bool found = false;
  for (auto& [pg, data] : b->pages) {
    if (pg != pgno) {
      prefetched_++;
      continue;
    }
    CopyPage(data, out);
    found = true;
  }
  if (!found) std::fill(out.begin(), out.end(), uint8_t{0});  // past commit at the pin
  planner_.Record(pgno, out, page_size_, pin.commit, true);
  LITEVFS_LOG(LogLevel::kDebug, name_, pin.pos,
              "fetched page " + std::to_string(pgno) + " (+" + std::to_string(want.size() - 1) +
                  " prefetched) in " + std::to_string(MsSince(fetch_start)) + " ms");
  return Status::OK();
}

std::vector<uint32_t> Database::MissingPagesLocked(const Snapshot& pin, const std::vector<uint32_t>& pgnos,
                                                   PageMap* out) {
  std::vector<uint32_t> missing;
  const uint32_t ps = page_size_;
  for (uint32_t pg : pgnos) {
    std::string page(ps, '\0');
    if (pg == ltx::LockPgno(ps) || pg > pin.commit) {
      if (out) (*out)[pg] = std::move(page);
      continue;
    }
    if (cache_) {
      auto r = cache_->Get(pg, pin.pos.txid, AsMutableBytes(page));
      if (r.ok() && *r) {
        if (out) (*out)[pg] = std::move(page);
        continue;
      }
    }
    missing.push_back(pg);
  }
  std::sort(missing.begin(), missing.end());
  return missing;
}

Status Database::StoreBatchLocked(const Snapshot& pin, const std::vector<uint32_t>& chunk, const PageBlock& b,
                                  PageMap* out) {
  const uint32_t ps = page_size_;
  if (out) {
    for (uint32_t pg : chunk) (*out)[pg] = std::string(ps, '\0');
  }
  for (const auto& [pg, data] : b.pages) {
    if (data.size() != ps) return Status::Corruption("litevfs: wrong page size from the service for " + name_);
  }
  PutManyInCacheLocked(pin, b, /*wanted_soon=*/false);  // bulk (issue 19)
  if (out) {
    for (const auto& [pg, data] : b.pages) (*out)[pg] = std::string(data);
  }
  return Status::OK();
}

Status Database::ReadStoredPages(const Snapshot& pin, const std::vector<uint32_t>& pgnos, PageMap* out) {
  std::vector<uint32_t> missing;
  size_t per_req;
  {
    MutexLock lk(&mu_);
    missing = MissingPagesLocked(pin, pgnos, out);
    per_req = std::max<size_t>(1, std::min(size_t(kMaxPgnosPerRequest), kBulkBatchBytes / page_size_));
  }
  // A pipeline on the worker pool: while one answer goes to the cache, the next
  // kBatchesInFlight requests run. Answers are taken in order; memory is bounded by
  // kBatchesInFlight + 1 batches, not by the number of pages.
  std::shared_ptr<Client> client = client_;
  struct Pending {
    std::vector<uint32_t> chunk;
    Clock::time_point start;  // for the log line only
    std::future<Result<PageBlock>> answer;
  };
  std::deque<Pending> inflight;
  size_t next = 0;
  auto launch = [&] {
    Pending p;
    p.chunk.assign(missing.begin() + next, missing.begin() + std::min(missing.size(), next + per_req));
    next += p.chunk.size();
    p.start = GetClock().Now();
    p.answer = RunForResult([client, name = name_, pos = pin.pos, chunk = p.chunk] {
      return client->GetPageBlock(name, pos, chunk);
    });
    inflight.push_back(std::move(p));
  };
  while (next < missing.size() && inflight.size() < kBatchesInFlight) launch();
  while (!inflight.empty()) {
    Pending p = std::move(inflight.front());
    inflight.pop_front();
    auto b = p.answer.get();
    page_requests_++;
    // On an error the remaining futures are waited for as `inflight` goes out of scope.
    if (!b.ok()) return b.status().WithContext("litevfs: fetching pages of " + name_);
    if (next < missing.size()) launch();  // the next batch travels while this one is stored
    LITEVFS_LOG(LogLevel::kDebug, name_, pin.pos,
                "fetched a batch of " + std::to_string(p.chunk.size()) + " pages (" +
                    std::to_string(p.chunk.front()) + ".." + std::to_string(p.chunk.back()) + ") in " +
                    std::to_string(MsSince(p.start)) + " ms");
    MutexLock lk(&mu_);
    LTX_RETURN_IF_ERROR(StoreBatchLocked(pin, p.chunk, *b, out));
  }
  return Status::OK();
}

bool Database::FetchableLocked(uint32_t p, const Snapshot& pin) const {
  if (p > pin.commit || p == ltx::LockPgno(page_size_)) return false;
  if (cache_ && cache_->Contains(p, pin.pos.txid)) return false;
  if (old_pages_.count({pin.pos.txid, p})) return false;
  if (ReadAheadOfLocked(pin.pos.txid, p)) return false;  // already coming
  return true;
}

std::shared_ptr<Database::ReadAhead> Database::ReadAheadOfLocked(uint64_t txid, uint32_t pgno) const {
  for (const auto& ra : readaheads_in_flight_) {
    if (ra->txid == txid && ra->pgnos.count(pgno)) return ra;
  }
  return nullptr;
}

PrefetchLimits Database::LimitsLocked() const {
  return MakePrefetchLimits(max_prefetch_pages.load(), page_size_, max_cached_pages_.load());
}

void Database::MaybeReadAheadLocked(Conn* c, const Snapshot& pin) {
  if (stopping_) return;
  const int64_t max_reqs = max_reqs_per_query.load();
  if (max_reqs != 0 && c->requests >= uint64_t(max_reqs)) return;
  const size_t n = PrefetchPlanner::ReadAheadSize(c->ra, LimitsLocked(), ReadAheadsFetchingLocked());
  if (n == 0) return;
  uint32_t frontier = 0;
  auto ok = [&](uint32_t p) {
    mu_.AssertHeld();
    return FetchableLocked(p, pin);
  };
  std::vector<uint32_t> next = planner_.Following(c->ra.frontier, n, ok, &frontier);
  c->ra.frontier = frontier;
  if (next.empty()) return;  // the end of the b-tree (or of what its shape tells)
  c->ra.window = uint32_t(n);
  c->ra.ahead.insert(next.begin(), next.end());
  c->ra.ahead_total = uint32_t(next.size());
  c->requests++;
  auto ra = std::make_shared<ReadAhead>();
  ra->txid = pin.pos.txid;
  ra->pgnos = std::unordered_set<uint32_t>(next.begin(), next.end());
  std::sort(next.begin(), next.end());
  readaheads_in_flight_.push_back(ra);
  // The task holds the Database and the Client alive; it only stores into the cache (under
  // mu_, unless the database was shut down meanwhile). It waits for mu_, held here, before
  // it unlists itself.
  RunInBackground([self = shared_from_this(), client = client_, pin, next = std::move(next), ra]() mutable {
    RunReadAhead(std::move(self), std::move(client), pin, std::move(next), std::move(ra));
  });
}

size_t Database::ReadAheadsFetchingLocked() const {
  return size_t(std::count_if(readaheads_in_flight_.begin(), readaheads_in_flight_.end(),
                              [](const std::shared_ptr<ReadAhead>& ra) { return !ra->arrived; }));
}

void Database::RunReadAhead(std::shared_ptr<Database> self, std::shared_ptr<Client> client, Snapshot pin,
                            std::vector<uint32_t> pgnos, std::shared_ptr<ReadAhead> ra) {
  const auto start = GetClock().Now();
  Result<PageBlock> b = Status::Unavailable("litevfs: read-ahead did not run");
  try {
    b = client->GetPageBlock(self->name_, pin.pos, pgnos);
  } catch (const std::exception& e) {  // bad_alloc: readers waiting on it must not hang
    b = Status::ResourceExhausted(std::string("litevfs: read-ahead: ") + e.what());
  }
  PageCache* cache = nullptr;  // set: this task counts in cache_writers_
  std::shared_ptr<const PageBlock> block;
  {
    MutexLock lk(&self->mu_);
    self->page_requests_++;
    self->readaheads_++;
    if (!b.ok()) {
      // Speculative: the reader fetches what it still needs on its misses.
      LITEVFS_LOG(LogLevel::kDebug, self->name_, pin.pos,
                  "read-ahead of " + std::to_string(pgnos.size()) + " pages failed (fetched on demand): " +
                      b.status().ToString());
    } else if (!self->stopping_) {
      Status st = self->CheckFetchedLocked(pin, b->pages);
      if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, self->name_, pin.pos, "read-ahead: " + st.ToString());
      self->prefetched_ += b->pages.size();
      if (st.ok()) {
        block = std::make_shared<const PageBlock>(std::move(b).value());
        self->recent_.Add(pin.pos, block);  // the reader may use them from now
        cache = self->cache_.get();
        if (cache) self->cache_writers_++;
      }
      LITEVFS_LOG(LogLevel::kDebug, self->name_, pin.pos,
                  "read ahead " + std::to_string(pgnos.size()) + " pages (" + std::to_string(pgnos.front()) +
                      ".." + std::to_string(pgnos.back()) + ") in " + std::to_string(MsSince(start)) + " ms");
    }
    ra->arrived = true;  // its pages are in recent_, or it failed: a reader waits no longer
    ra->arrival_promise.set_value();
  }
  // With mu_ released: the reader goes on (from recent_) while the pages are hashed and
  // written (issue 19: under mu_, every xRead of the scan waited for that). PageCache has its
  // own lock and drops a put older than its position.
  Status put = cache ? PutBlockInCache(cache, pin.pos, *block, /*wanted_soon=*/true, self->name_) : Status::OK();
  {
    MutexLock lk(&self->mu_);
    if (!put.ok()) LITEVFS_LOG(LogLevel::kWarn, self->name_, pin.pos, "cache put: " + put.ToString());
    if (cache && --self->cache_writers_ == 0) self->cv_.NotifyAll();
    auto& v = self->readaheads_in_flight_;  // unlisted once in the cache: no second fetch
    v.erase(std::remove(v.begin(), v.end(), ra), v.end());
  }
  ra->done_promise.set_value();
}

Status Database::StoreFetchedLocked(const Snapshot& pin, const PageBlock& b) {
  LTX_RETURN_IF_ERROR(CheckFetchedLocked(pin, b.pages));
  PutManyInCacheLocked(pin, b, /*wanted_soon=*/true);
  return Status::OK();
}

Status Database::CheckFetchedLocked(const Snapshot& pin, const std::vector<PageView>& pages) {
  const bool old_pin = !cache_ || pin.pos.txid < cache_->pos().txid;
  for (const auto& [pg, data] : pages) {
    if (data.size() != page_size_) {
      return Status::Corruption("litevfs: the service sent a " + std::to_string(data.size()) + "-byte page " +
                                std::to_string(pg) + " for " + name_ + " (page size " +
                                std::to_string(page_size_) + ")");
    }
  }
  for (const auto& [pg, data] : pages) {
    if (old_pin) RememberOldPageLocked(pin.pos.txid, pg, data);
  }
  return Status::OK();
}

// bulk (issue 19): a fetched batch goes to the cache with a system call per run of pages,
// not two per page. Batches come ascending from the client (ParsePageFrames).
void Database::PutManyInCacheLocked(const Snapshot& pin, const PageBlock& b, bool wanted_soon) {
  if (!cache_) return;
  Status st = PutBlockInCache(cache_.get(), pin.pos, b, wanted_soon, name_);
  if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, pin.pos, "cache put: " + st.ToString());
}

void Database::ReleaseScanMemory() {
  if (client_) client_->ReleaseIdleBuffers();
  ReleaseFreedMemory();
}

void Database::RememberOldPageLocked(uint64_t txid, uint32_t pgno, std::string_view page) {
  if (!old_pages_.emplace(std::make_pair(txid, pgno), page).second) return;
  old_order_.emplace_back(txid, pgno);
  while (old_order_.size() * page_size_ > kMaxOldPageBytes) {
    old_pages_.erase(old_order_.front());
    old_order_.pop_front();
  }
}

}  // namespace litevfs
