#include "page_fetcher.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"
#include "ltx/format.h"

namespace cli {

// ---- fetching ----

ltx::Result<FetchStats> FetchAllPages(litevfs::Client& client, const std::string& db,
                                      const ltx::Pos& pos, uint32_t commit,
                                      const FetchOptions& opts, const PageSink& sink) {
  return FetchAllBatches(client, db, pos, commit, opts,
                         [&](const litevfs::PageBlock& b) -> ltx::Status {
                           for (const auto& [pgno, data] : b.pages) {
                             LTX_RETURN_IF_ERROR(sink(pgno, data));
                           }
                           return ltx::Status::OK();
                         });
}

ltx::Result<FetchStats> FetchAllBatches(litevfs::Client& client, const std::string& db,
                                        const ltx::Pos& pos, uint32_t commit,
                                        const FetchOptions& opts, const BatchSink& sink) {
  FetchStats stats;
  const int64_t start = NowMicros();
  if (commit == 0) return stats;
  const size_t batch = std::clamp<size_t>(opts.batch, 1, 4096);

  auto fetch_batch = [&](const std::vector<uint32_t>& want, uint32_t* page_size) -> ltx::Status {
    auto r = client.GetPageBlock(db, pos, want);
    if (!r.ok()) return r.status();
    const litevfs::PageBlock& b = *r;
    if (*page_size == 0) *page_size = b.page_size;
    if (b.page_size != *page_size) {
      return ltx::Status::Corruption("server changed page size from " + std::to_string(*page_size) +
                                     " to " + std::to_string(b.page_size));
    }
    if (b.pages.size() != want.size()) {
      return ltx::Status::Corruption("asked for " + std::to_string(want.size()) + " pages from " +
                                     std::to_string(want.front()) + ", server returned " +
                                     std::to_string(b.pages.size()));
    }
    for (size_t i = 0; i < want.size(); ++i) {
      if (b.pages[i].first != want[i] || b.pages[i].second.size() != *page_size) {
        return ltx::Status::Corruption("server returned a wrong page for pgno " +
                                       std::to_string(want[i]));
      }
    }
    return sink(b);
  };

  // The first batch (never containing the lock page, which is >= 16385) tells the page size.
  uint32_t page_size = 0;
  std::vector<uint32_t> first;
  for (uint32_t p = 1; p <= commit && first.size() < batch; ++p) first.push_back(p);
  Progress progress(opts.label, commit, opts.progress);
  LTX_RETURN_IF_ERROR(fetch_batch(first, &page_size));
  progress.Add(first.size(), uint64_t(first.size()) * page_size);
  stats.pages = first.size();

  const uint32_t lock = ltx::LockPgno(page_size);
  std::vector<std::vector<uint32_t>> batches;
  std::vector<uint32_t> cur;
  for (uint64_t p = uint64_t(first.size()) + 1; p <= commit; ++p) {
    if (p == lock) continue;
    cur.push_back(uint32_t(p));
    if (cur.size() == batch) {
      batches.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) batches.push_back(std::move(cur));

  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards first_error, progress, stats.pages
  ltx::Status first_error;
  auto worker = [&] {
    uint32_t ps = page_size;
    while (!stop.load()) {
      size_t i = next.fetch_add(1);
      if (i >= batches.size()) return;
      ltx::Status st = fetch_batch(batches[i], &ps);
      std::lock_guard<std::mutex> lock_mu(mu);
      if (!st.ok()) {
        if (first_error.ok()) first_error = st;
        stop.store(true);
        return;
      }
      stats.pages += batches[i].size();
      progress.Add(batches[i].size(), uint64_t(batches[i].size()) * ps);
    }
  };
  unsigned n = std::max(1u, std::min<unsigned>(opts.parallel, unsigned(batches.size())));
  std::vector<std::thread> threads;
  if (!batches.empty()) {
    for (unsigned t = 0; t < n; ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
  }
  if (!first_error.ok()) return first_error;
  progress.Done();
  stats.page_size = page_size;
  stats.bytes = stats.pages * page_size;
  stats.seconds = double(NowMicros() - start) / 1e6;
  return stats;
}

}  // namespace cli
