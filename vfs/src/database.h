// Database: the per-process state of one remote database (host, cluster, name), shared by
// every connection that opens it (DESIGN.md §3). It owns the Client, the PageCache, the
// latest synced position, the in-process lock table, the write lease, the writer's dirty
// pages and the prefetch hints (the b-tree shape seen so far). No SQLite types here: the
// VFS (vfs.cc) translates Status values into SQLite codes at the edge.
//
// Consistency: a connection (Conn) is pinned to a Snapshot when it takes SHARED; every page
// it reads is that page as of the pin (dirty pages of its own write transaction first, then
// the cache with the pin's txid, then the service as of the pin). Syncs move `latest` only;
// a pin moves only at the next transaction start (or after the connection's own commit).
//
// Writes: one connection at a time holds RESERVED or above (the lock table) and owns the
// Writer: dirty pages in memory, the new size. The commit point encodes one v1 LTX
// (min = max = pin.txid + 1, incremental post-apply checksum over the old page versions)
// and uploads it under the lease. On failure nothing is applied locally and the Writer
// enters the "rolled back" state, in which SQLite's own journal playback (writes, truncates,
// syncs) is ignored until the lock drops below RESERVED.
//
// Lifetime: Open() shares one Database per key; the last Close() shuts it down (releases
// the lease, closes the cache, removes a private cache dir). The background sync thread
// holds a shared_ptr and may outlive the shutdown by at most one long poll; it touches
// nothing but the Database (which it keeps alive) once stopped.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache.h"
#include "config.h"
#include "dirty_pages.h"
#include "pgno_map.h"
#include "litevfs/client.h"
#include "ltx/format.h"
#include "ltx/status.h"

namespace litevfs {

// SQLite's lock levels (same numbers as SQLITE_LOCK_*).
enum LockLevel : int { kLockNone = 0, kLockShared = 1, kLockReserved = 2, kLockPending = 3,
                       kLockExclusive = 4 };

struct Snapshot {
  Pos pos;
  uint32_t commit = 0;  // database size in pages at pos
};

// Per-connection state (one per main-database sqlite3_file).
struct Conn {
  int lock = kLockNone;
  bool pinned = false;
  Snapshot pin;
  uint64_t requests = 0;  // service requests made for this transaction (max_reqs_per_query)
  // Read-ahead of this transaction. A miss prefetches `window` pages; when the reader has
  // used at least half of what the previous miss prefetched (a scan), the window doubles,
  // else it falls back to litevfs_max_prefetch_pages. Reset at each transaction start.
  uint32_t window = 0;                  // 0: not yet set (the configured base)
  std::unordered_set<uint32_t> ahead;   // prefetched (or being read ahead), not read yet
  uint32_t ahead_total = 0;             // how many the latest batch prefetched
  uint32_t frontier = 0;                // the last page, in key order, prefetched so far
};

enum class LockResult { kOk, kBusy };

// Outcome classes the VFS maps to SQLite codes.
inline bool IsPositionError(const Status& st) { return st.api_code() == "EPOSMISMATCH"; }
inline bool IsLeaseError(const Status& st) {
  return st.code() == ltx::Code::kPermissionDenied || st.api_code() == "ELEASE";
}

class Database : public std::enable_shared_from_this<Database> {
 public:
  // Opens (or shares) the Database `name` for cfg. `create`: a database missing on the
  // service opens as an empty database (size 0); its first commit uploads a snapshot.
  // Without it a missing database is kNotFound. Errors name the environment variable to fix
  // (LITEFS_CLOUD_TOKEN, LITEFS_CLOUD_HOST).
  // `full_path` is the name xFullPathname gave SQLite (journals are found through it).
  static Result<std::shared_ptr<Database>> Open(const VfsConfig& cfg, const std::string& name,
                                                const std::string& full_path, bool create);
  // Called once per successful Open when the connection closes. The last one shuts down.
  static void Close(std::shared_ptr<Database> db);
  // The Database a journal path belongs to ("/litevfs/<cluster>/<name>-journal"), if open.
  static std::shared_ptr<Database> FindByPath(const std::string& full_path);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& name() const { return name_; }
  const std::string& full_path() const { return full_path_; }

  // ---- locks (SQLite semantics across the connections of this process) ----
  // kPermissionDenied (no lease) for RESERVED without a valid lease; kConflict when the
  // database changed since the connection's pin (it must restart its transaction).
  Result<LockResult> Lock(Conn* c, int level);
  Status Unlock(Conn* c, int level);
  bool CheckReserved();
  bool HasWriter();  // some connection holds RESERVED or above

  // ---- I/O on the main database file ----
  // Fills buf; *short_read when part of it lies past the end (zero-filled).
  Status Read(Conn* c, uint8_t* buf, size_t amt, int64_t off, bool* short_read);
  Status Write(Conn* c, const uint8_t* buf, size_t amt, int64_t off);
  Status Truncate(Conn* c, int64_t size);
  // The commit point (xSync of the main file): uploads the writer's changes, if any.
  Status Sync(Conn* c);
  // Fallback commit points (synchronous=OFF / journal_mode=OFF|MEMORY): journal finalised,
  // or the lock dropping from EXCLUSIVE with changes pending.
  Status CommitPending(const char* why);
  int64_t FileSize(Conn* c);

  // ---- pragmas ----
  Result<std::string> AcquireLease(Conn* c);
  Result<std::string> ReleaseLease();  // returns the released id ("" when none was held)
  Result<uint64_t> CacheAll(Conn* c);  // fetches every page not cached; returns the count
  std::string PositionString(Conn* c);
  std::string StatsJson(Conn* c);
  Status SetMaxCachedPages(int64_t n);
  Status SetMinAvailableSpace(int64_t n);
  int64_t max_cached_pages() const { return max_cached_pages_.load(); }
  int64_t min_available_space() const { return min_available_space_.load(); }

  std::atomic<int64_t> max_prefetch_pages{kDefaultMaxPrefetchPages};
  std::atomic<int64_t> sync_period_ms{kDefaultSyncPeriodMs};
  std::atomic<int64_t> max_reqs_per_query{0};  // 0 = unlimited
  std::atomic<int64_t> lease_duration_ms{kDefaultLeaseDurationMs};

 private:
  struct Writer {
    Conn* owner = nullptr;
    // pgno -> page as SQLite wrote it; spills to disk past its memory bound (spill lane).
    std::unique_ptr<DirtyPages> dirty = std::make_unique<DirtyPages>();
    uint32_t size_pages = 0;                // the database size SQLite sees now
    bool rolled_back = false;               // a commit failed: ignore playback until unlock
  };

  Database(const VfsConfig& cfg, std::string name, std::string full_path,
           std::unique_ptr<Client> client);
  Status Init(bool create);
  Status OpenCacheLocked(uint32_t page_size);
  // Syncs with the service (wait_ms > 0: long poll) and moves latest_.
  // `client`: client_ for callers on connection threads, sync_client_ on the sync thread.
  Status SyncNow(Client* client, long wait_ms);
  // Moves latest_ to res (fetched from `since`), advancing the cache; `boot`: pages as of
  // res.pos to record and cache (page 1, interior pages). A no-op when latest_ moved on.
  Status ApplySyncLocked(const Pos& since, const SyncResult& res, uint32_t commit, uint32_t ps,
                         const std::vector<std::pair<uint32_t, std::string>>& boot);
  void MaybeSyncForTransaction();
  // Stores a position the writer's commits deferred (at most once per kPersistPeriod).
  void PersistCachePositionLocked();
  void SyncLoop();
  void LeaseLoop();
  void StopLeaseThread();
  Status FetchCommitFromPage1(Client* client, const Pos& pos, uint32_t* commit);

  // A page as stored at pin (cache, then the service, batched with prefetch candidates).
  Status ReadStoredPage(Conn* c, const Snapshot& pin, uint32_t pgno, std::string* out,
                        bool allow_prefetch);
  // Old versions of many pages at pin (for checksums at commit). `out` may be null: the
  // pages then only go to the cache (PRAGMA litevfs_cache_db keeps memory at one batch).
  Status ReadStoredPages(const Snapshot& pin, const std::vector<uint32_t>& pgnos,
                         std::map<uint32_t, std::string>* out);
  // Records the b-tree shape seen in `page` (children of an interior page, or the schema's
  // roots on page 1). `refresh`: parse even if the page is known (a newly fetched version).
  void RecordChildrenLocked(uint32_t pgno, const std::string& page, uint32_t commit, bool refresh);
  // Prefetch candidates for a miss on pgno: the pages after it at its depth in key order
  // (right siblings, then the next subtrees' pages as far as the shape is known: a scan's
  // next pages), then its left siblings, then its own children; none cached for the pin.
  // *frontier: the last picked page of the key-order part (where a read-ahead continues).
  std::vector<uint32_t> PrefetchCandidatesLocked(uint32_t pgno, const Snapshot& pin, size_t max,
                                                 uint32_t* frontier);
  // Whether page p is worth asking for at pin: within the database, not the lock page, not
  // cached, not already coming with the read-ahead.
  bool FetchableLocked(uint32_t p, const Snapshot& pin) const;
  // In a scan, once the reader is half-way through the latest batch: fetches the next
  // window (twice as large, up to 4 MiB) in the background, so the scan need not wait.
  void MaybeReadAheadLocked(Conn* c, const Snapshot& pin);
  struct ReadAhead;
  // The read-ahead thread's body: fetch, store, unlist, then fulfil `done`.
  static void RunReadAhead(std::shared_ptr<Database> self, std::shared_ptr<Client> client, Snapshot pin,
                           std::vector<uint32_t> pgnos, std::shared_ptr<ReadAhead> ra,
                           std::shared_ptr<std::promise<void>> done);
  // Puts fetched pages as of pin into the cache (or old_pages_ for a pin older than the
  // cache). kCorruption for a page of the wrong size (nothing stored then).
  Status StoreFetchedLocked(const Snapshot& pin, std::vector<std::pair<uint32_t, std::string>>* pages);
  // Appends the pages after `pgno` at its depth, in key order, until `order` holds `max`.
  void AppendFollowingLocked(uint32_t pgno, size_t max, std::vector<uint32_t>* order);
  // The number of prefetch candidates for a miss of connection c (the read-ahead window).
  size_t PrefetchWindowLocked(Conn* c);
  void RememberOldPageLocked(uint64_t txid, uint32_t pgno, const std::string& page);
  Status CommitLocked(std::unique_lock<std::mutex>& lk, Conn* c, const char* why);
  Status CheckGrowthLocked(Conn* c, uint32_t pgno);  // spill: the server's body limit
  bool LeaseValidLocked() const;
  void Shutdown();

  const VfsConfig cfg_;
  const std::string name_;
  const std::string full_path_;
  std::shared_ptr<Client> client_;       // connections' requests; reset at shutdown
  std::shared_ptr<Client> sync_client_;  // the sync thread's own (its long poll may outlive
                                         // the shutdown; client_'s idle connections must not)
  bool long_poll_ = false;
  bool has_interior_ = false;
  std::string cache_dir_;           // the directory in use (shared or private)
  bool private_cache_ = false;

  mutable std::mutex mu_;
  // Everything below is guarded by mu_.
  std::unique_ptr<PageCache> cache_;
  uint32_t page_size_ = 0;          // 0 until known (new, empty database)
  Snapshot latest_;
  std::chrono::steady_clock::time_point last_sync_{};
  std::chrono::steady_clock::time_point last_persist_{};
  int shared_count_ = 0;            // connections holding SHARED or above
  Conn* reserved_ = nullptr;        // the connection holding RESERVED/PENDING/EXCLUSIVE
  bool pending_ = false;            // reserved_ asked for EXCLUSIVE (blocks new SHARED)
  Writer writer_;
  // The b-tree shape seen so far (prefetch hints; may be stale, which only wastes a prefetch).
  std::unordered_map<uint32_t, std::vector<uint32_t>> children_;  // interior pgno -> children
  PgnoMap<uint32_t> parent_;                                      // child -> interior pgno (0: none)
  size_t tree_hints_ = 0;                                         // entries in children_
  // Pages fetched for pins older than the cache's position (the cache will not take them),
  // so a long read transaction does not refetch its prefetched pages. FIFO, bounded.
  std::map<std::pair<uint64_t, uint32_t>, std::string> old_pages_;
  std::deque<std::pair<uint64_t, uint32_t>> old_order_;
  // Background read-aheads in flight (MaybeReadAheadLocked), at most kReadAheadsInFlight.
  struct ReadAhead {
    uint64_t txid = 0;                    // the pin it fetches for
    std::unordered_set<uint32_t> pgnos;   // what it fetches
    std::shared_future<void> done;        // ready once stored (or failed)
  };
  std::vector<std::shared_ptr<ReadAhead>> readaheads_in_flight_;
  // The read-ahead fetching page pgno at txid, if any.
  std::shared_ptr<ReadAhead> ReadAheadOfLocked(uint64_t txid, uint32_t pgno) const;
  std::string lease_id_;
  std::chrono::steady_clock::time_point lease_expires_{};
  bool lease_lost_ = false;
  bool lease_stop_ = false;         // asks the lease thread to exit
  int refs_ = 0;
  bool stopping_ = false;
  std::atomic<int64_t> max_cached_pages_{0};
  std::atomic<int64_t> min_available_space_{0};

  std::condition_variable cv_;      // wakes the sync and lease threads on stop
  std::thread sync_thread_;         // detached at shutdown (may be inside a long poll)
  std::thread lease_thread_;        // joined at release/shutdown

  // Counters for litevfs_stats.
  std::atomic<uint64_t> page_reads_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> cache_misses_{0};
  std::atomic<uint64_t> prefetched_{0};
  std::atomic<uint64_t> readaheads_{0};
  std::atomic<uint64_t> page_requests_{0};  // page fetches (GetPages/GetInterior), not syncs
  std::atomic<uint64_t> uploads_{0};
  std::atomic<uint64_t> upload_failures_{0};
  std::atomic<uint64_t> syncs_{0};
};

// Parses a b-tree page and returns its child page numbers (interior pages, 0x02/0x05;
// page 1's header starts at offset 100). A leaf page 1 (small schema) yields the root
// pages of the schema's tables and indexes. Defensive: never reads out of bounds.
std::vector<uint32_t> BtreeChildren(uint32_t pgno, const std::string& page, uint32_t usable_size);

}  // namespace litevfs
