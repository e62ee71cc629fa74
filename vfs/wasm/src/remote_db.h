// One remote database as the browser build reads it: the pages of one position (pinned for
// the length of a read transaction, as natively), kept in memory up to a byte bound, and
// brought forward by a sync at each transaction start. The cold open is one request
// (/db/interior: page 1 and every interior page), so a rowid lookup then misses only on its
// leaf. A miss asks for more pages in the same request, picked as natively (the core's
// PrefetchPlanner: right siblings in key order, the window doubling while a scan uses what
// it fetched; litevfs_max_prefetch_pages' default). Single-threaded (a Worker), like everything in the browser build.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "litevfs/client.h"
#include "page_store.h"
#include "vfs/src/readahead.h"

namespace litevfs::wasm {

// Pages kept in memory, at most (a page past it evicts the oldest fetched).
inline constexpr uint64_t kDefaultMemoryBytes = 64ull << 20;
// Pages kept in the browser's persistent cache (OPFS), at most.
inline constexpr uint64_t kDefaultStoreBytes = 256ull << 20;
// A transaction starting within this long of the last sync reuses its position.
inline constexpr long kDefaultFreshMs = 250;

struct RemoteDbOptions {
  uint64_t memory_bytes = kDefaultMemoryBytes;
  long fresh_ms = kDefaultFreshMs;
};

class RemoteDb {
 public:
  // Opens `name` with one request: with a stored position, a sync from it (the pages it
  // names are dropped, the rest are reused); else /db/interior (a plain server: /db/sync +
  // page 1). `store` may be null (memory only).
  static Result<std::unique_ptr<RemoteDb>> Open(std::unique_ptr<Client> client,
                                                const std::string& name, RemoteDbOptions opts,
                                                std::unique_ptr<PageStore> store);
  // A read transaction starts: sync unless fresh, drop the pages that changed.
  Status BeginRead();
  // Copies n bytes at `offset` of the file at the pinned position into buf. Bytes past the
  // end are zeros and *short_read is set.
  Status Read(uint64_t offset, uint8_t* buf, size_t n, bool* short_read);
  uint64_t FileSize() const { return uint64_t(commit_) * page_size_; }
  const std::string& name() const { return name_; }
  const Client& client() const { return *client_; }
  Pos pos() const { return pos_; }
  uint64_t syncs() const { return syncs_; }
  uint64_t page_requests() const { return page_requests_; }
  size_t cached_pages() const { return pages_.size(); }
  uint64_t stored_pages() const { return store_ ? store_->stored_pages() : 0; }
  bool persistent() const { return store_ != nullptr; }
  // Why the persistent cache was given up (then memory only), or empty.
  const std::string& store_error() const { return store_error_; }

 private:
  RemoteDb(std::unique_ptr<Client> client, std::string name, RemoteDbOptions opts)
      : client_(std::move(client)), name_(std::move(name)), opts_(opts) {}
  Status ColdOpen();
  Status WarmOpen(const StoredState& st);
  void StoreFailed(const Status& st);
  Status Apply(const SyncResult& s);
  Status Keep(const PageBatch& b);
  Result<const std::string*> Page(uint32_t pgno);
  Status Fetch(uint32_t pgno);
  std::vector<uint32_t> MissBatch(uint32_t pgno);
  void Insert(uint32_t pgno, std::string page);

  std::unique_ptr<Client> client_;
  std::unique_ptr<PageStore> store_;  // null: memory only
  std::string store_error_;
  const std::string name_;
  const RemoteDbOptions opts_;
  Pos pos_;
  uint32_t commit_ = 0;
  uint32_t page_size_ = 0;
  std::unordered_map<uint32_t, std::string> pages_;  // as of pos_
  std::deque<uint32_t> order_;                       // fetch order, for eviction
  uint64_t bytes_ = 0;
  PrefetchPlanner planner_;  // the b-tree shape seen so far
  ReadAheadState ra_;        // this read transaction's prefetch window
  std::chrono::steady_clock::time_point synced_at_{};
  uint64_t syncs_ = 0;
  uint64_t page_requests_ = 0;
};

}  // namespace litevfs::wasm
