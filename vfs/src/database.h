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
// Writer: dirty pages (in memory up to a bound, then in an unlinked spill file:
// dirty_pages.h), the new size. The commit point streams one v1 LTX (min = max =
// pin.txid + 1, incremental post-apply checksum over the old page versions) to the service
// under the lease, encoded as the upload reads it (commit_stream.h). On failure nothing is applied locally and the Writer
// enters the "rolled back" state, in which SQLite's own journal playback (writes, truncates,
// syncs) is ignored until the lock drops below RESERVED.
//
// Lifetime: Open() shares one Database per key; the last Close() shuts it down (releases
// the lease, closes the cache, removes a private cache dir). The background sync thread
// holds a shared_ptr and may outlive the shutdown by at most one long poll; it touches
// nothing but the Database (which it keeps alive) once stopped.
//
// Rooms (one file each): database.cc (registry, open, close, cache setup), database_sync.cc
// (following the service's position), database_read.cc (the read path: cache, old pages,
// fetching, read-ahead through readahead.h's planner), database_write.cc (locks, dirty
// pages, the commit: commit_stream.h plans and encodes, commit_upload.h uploads and settles),
// database_pragmas.cc (stats and pragmas); lease_keeper.h holds the lease.
//
// Threads: SQLite's connection threads do their own reads and commits; one sync thread per
// Database follows the position; the LeaseKeeper's thread refreshes a held lease; the
// process-wide worker pool (worker_pool.h) runs read-aheads and bulk fetch pipelines. All
// of a Database's shared state is GUARDED_BY(mu_), held only for bookkeeping, never across
// a request (lock order: Database::mu_, then LeaseKeeper::mu_, then PageCache's own).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cache.h"
#include "clock.h"
#include "commit_stream.h"
#include "commit_upload.h"
#include "config.h"
#include "dirty_pages.h"
#include "lease_keeper.h"
#include "litevfs/client.h"
#include "litevfs/time_travel.h"
#include "ltx/format.h"
#include "ltx/status.h"
#include "mutex.h"
#include "readahead.h"
#include "recent_pages.h"
#include "write_mode.h"

namespace litevfs {

// Bulk fetches (litevfs_cache_db, commit): kBatchesInFlight requests of kBulkBatchBytes of
// pages in flight (at most kMaxPgnosPerRequest pages each). Measured on a 1 GiB database,
// loopback (tests/bench/RESULTS.md, session 8): 3 of 1 MiB took 1.1-1.5 s where 2 of 2 MiB
// took 1.9-2.9 s: larger answers cost the client more in allocation than they save in
// requests. Used by database_read.cc; declared here so tests can size their batches.
inline constexpr size_t kBulkBatchBytes = 1u << 20;
inline constexpr size_t kBatchesInFlight = 3;
// A scan's latest read-ahead answers kept in memory for the reader (recent_pages.h): three
// full windows. A read-ahead starts only while at most one window of pages is ahead of the
// reader (readahead.cc), so the blocks holding unread pages span at most three: the block
// being read and up to two after it. With two windows kept and 1.5 ahead, a block was let
// go of while the reader was still in it, and the rest of its pages came back from the
// cache file (through its map: a hash per page, and more resident memory).
inline constexpr size_t kRecentReadAheadBytes = 3 * kMaxReadAheadWindowBytes;

// SQLite's lock levels (same numbers as SQLITE_LOCK_*).
enum LockLevel : int { kLockNone = 0, kLockShared = 1, kLockReserved = 2, kLockPending = 3,
                       kLockExclusive = 4 };

struct Snapshot {
  Pos pos;
  uint32_t commit = 0;  // database size in pages at pos
};

struct PastState;  // past_state.h (issue 18)

// Per-connection state (one per main-database sqlite3_file). Its fields are read and
// written by the Database under Database::mu_, and only in calls made for this connection
// (SQLite serialises those), so such a call may also read them without mu_ (Fetch does).
struct Conn {
  int lock = kLockNone;
  bool pinned = false;
  Snapshot pin;
  uint64_t requests = 0;  // service requests made for this transaction (max_reqs_per_query)
  ReadAheadState ra;      // this transaction's read-ahead
  // issue 18: set = this connection reads a past state (read-only, pinned there, no sync).
  std::shared_ptr<const PastState> past;
  WriteMode write_mode = kDefaultWriteMode;  // issue 17 (write_mode.h)
  bool auto_lease = false;  // this write transaction runs under an auto-taken lease use
  // issue 19 (xFetch): the cache this connection fetches pages in place from, learnt under
  // mu_ at its first fetch. The Database opens at most one cache and keeps it until it is
  // destroyed (a retired one too, Retire()d), so the pointer outlives the connection.
  PageCache* fetch_cache = nullptr;
  // Pages this connection read in place (only its own calls write it: no atomic add on the
  // hit path). The Database keeps a reference to sum them for litevfs_stats.
  std::shared_ptr<std::atomic<uint64_t>> fetched;
};

enum class LockResult { kOk, kBusy };

// A commit whose outcome could not be settled (the upload's answer and the checks were
// lost): settled at the next sync that answers.
struct UnsettledCommit {
  Pos pin;   // the service was here before it
  Pos want;  // the position it produces if applied
};

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
  Result<LockResult> Lock(Conn* c, int level) EXCLUDES(mu_);
  Status Unlock(Conn* c, int level) EXCLUDES(mu_);
  bool CheckReserved() EXCLUDES(mu_);
  bool HasWriter() EXCLUDES(mu_);  // some connection holds RESERVED or above

  // ---- I/O on the main database file ----
  // Fills buf; *short_read when part of it lies past the end (zero-filled).
  Status Read(Conn* c, uint8_t* buf, size_t amt, int64_t off, bool* short_read) EXCLUDES(mu_);
  // xFetch/xUnfetch (issue 19, with PRAGMA mmap_size): page-aligned whole page `off` in
  // place in the cache's map, pinned until Unfetch, when the connection reads at its pin
  // (not the writer, not a past state) and the page is cached and mapped; else nullptr
  // (SQLite then calls Read).
  // The hit path takes no Database lock (database_read.cc says why that is safe); Unfetch
  // takes none at all.
  const uint8_t* Fetch(Conn* c, int64_t off, size_t amt) EXCLUDES(mu_);
  void Unfetch(Conn* c, int64_t off, const uint8_t* page) EXCLUDES(mu_);
  // SQLITE_FCNTL_MMAP_SIZE: the app's mmap_size, the RSS it accepts for the cache's map.
  void RaiseMapBudget(int64_t bytes) EXCLUDES(mu_);
  Status Write(Conn* c, const uint8_t* buf, size_t amt, int64_t off) EXCLUDES(mu_);
  Status Truncate(Conn* c, int64_t size) EXCLUDES(mu_);
  // The commit point (xSync of the main file): uploads the writer's changes, if any.
  Status Sync(Conn* c) EXCLUDES(mu_);
  // Fallback commit points (synchronous=OFF / journal_mode=OFF|MEMORY): journal finalised,
  // or the lock dropping from EXCLUSIVE with changes pending.
  Status CommitPending(const char* why) EXCLUDES(mu_);
  int64_t FileSize(Conn* c) EXCLUDES(mu_);

  // ---- pragmas (database_pragmas.cc) ----
  Result<std::string> AcquireLease(Conn* c) EXCLUDES(mu_);
  Result<std::string> ReleaseLease() EXCLUDES(mu_);  // the released id ("" when none was held)
  // issue 17: the connection's write mode (between write transactions only).
  Status SetWriteMode(Conn* c, WriteMode m) EXCLUDES(mu_);
  WriteMode GetWriteMode(Conn* c) EXCLUDES(mu_);
  Result<uint64_t> CacheAll(Conn* c) EXCLUDES(mu_);  // fetches every page not cached; the count
  std::string PositionString(Conn* c) EXCLUDES(mu_);
  // ---- time travel (past_state.cc; issue 18) ----
  // Moves connection c to the past state `ref` names (resolved on the service now), or back
  // to the present when ref.text is empty. Between transactions only.
  Status SetPast(Conn* c, const PastRef& ref) EXCLUDES(mu_);
  std::string PastString(Conn* c) EXCLUDES(mu_);  // PRAGMA litevfs_time's answer
  std::string StatsJson(Conn* c) EXCLUDES(mu_);
  Status SetMaxCachedPages(int64_t n) EXCLUDES(mu_);
  Status SetMinAvailableSpace(int64_t n) EXCLUDES(mu_);
  int64_t max_cached_pages() const { return max_cached_pages_.load(); }
  int64_t min_available_space() const { return min_available_space_.load(); }

  std::atomic<int64_t> max_prefetch_pages{kDefaultMaxPrefetchPages};
  std::atomic<int64_t> sync_period_ms{kDefaultSyncPeriodMs};
  std::atomic<int64_t> max_reqs_per_query{0};  // 0 = unlimited
  std::atomic<int64_t> lease_duration_ms{kDefaultLeaseDurationMs};
  std::atomic<int64_t> lease_idle_ms{kDefaultLeaseIdleMs};  // issue 17: auto mode's idle release
  std::atomic<bool> lease_duration_set{false};  // lease_duration_ms set by a pragma (auto uses it)

 private:
  struct Writer {
    Conn* owner = nullptr;
    // pgno -> page as SQLite wrote it; spills to disk past its memory bound (spill).
    std::unique_ptr<DirtyPages> dirty = std::make_unique<DirtyPages>();
    uint32_t size_pages = 0;                // the database size SQLite sees now
    bool rolled_back = false;               // a commit failed: ignore playback until unlock
  };
  // A background read-ahead (MaybeReadAheadLocked), listed until its pages are in the cache.
  // It arrives when its pages are in recent_ (or it failed): the reader goes on from there,
  // and the next read-ahead may start, while the pages are still being written to the cache
  // (in a VM where fresh page-cache memory is slow, that write took longer than the fetch).
  struct ReadAhead {
    uint64_t txid = 0;                    // the pin it fetches for
    std::unordered_set<uint32_t> pgnos;   // what it fetches
    bool arrived = false;                 // guarded by the Database's mu_
    std::promise<void> arrival_promise;   // set once, by the task, when it arrives
    std::promise<void> done_promise;      // set once, by the task, when stored (or failed)
    std::shared_future<void> arrival = arrival_promise.get_future().share();
    std::shared_future<void> done = done_promise.get_future().share();
  };

  Database(const VfsConfig& cfg, std::string name, std::string full_path,
           std::unique_ptr<Client> client);

  // ---- open, close, the cache (database.cc) ----
  Status Init(bool create) EXCLUDES(mu_);
  Status ColdOpen(const std::string& shared_dir, bool* synced) EXCLUDES(mu_);
  void StartSyncThread() EXCLUDES(mu_);
  Status OpenCacheLocked(uint32_t page_size) REQUIRES(mu_);
  // OpenCacheLocked, or memory-only caching with a warning when the directory cannot be
  // used (read-only, full): a cache is a speed-up, never a reason to fail.
  void OpenCacheOrRunWithoutLocked(uint32_t page_size) REQUIRES(mu_);
  Status ReopenCacheLocked() REQUIRES(mu_);
  void ReleaseLeaseAtClose() EXCLUDES(mu_);
  void Shutdown() EXCLUDES(mu_);

  // ---- following the service's position (database_sync.cc) ----
  // Syncs with the service (wait_ms > 0: long poll) and moves latest_.
  // `client`: client_ for callers on connection threads, sync_client_ on the sync thread.
  Status SyncNow(Client* client, long wait_ms) EXCLUDES(mu_);
  // Learns the page size and boot pages at first contact (no page-size hint).
  Status FirstContact(Client* client, const Pos& at, uint32_t* ps, PageBlock* boot) EXCLUDES(mu_);
  // Moves latest_ to res (fetched from `since`), advancing the cache; `boot`: pages as of
  // res.pos to record and cache (page 1, interior pages). A no-op when latest_ moved on.
  Status ApplySyncLocked(const Pos& since, const SyncResult& res, uint32_t commit, uint32_t ps,
                         const std::vector<PageView>& boot) REQUIRES(mu_);
  Status AdvanceCacheLocked(const Pos& since, const SyncResult& res, uint32_t commit) REQUIRES(mu_);
  void StoreBootPagesLocked(const Pos& at, uint32_t commit,
                            const std::vector<PageView>& boot) REQUIRES(mu_);
  // Settles an unknown commit outcome once the service's position is known again.
  void SettleUnknownLocked() REQUIRES(mu_);
  void MaybeSyncForTransaction() EXCLUDES(mu_);
  // Stores a position the writer's commits deferred (at most once per kPersistPeriod).
  void PersistCachePositionLocked() REQUIRES(mu_);
  void SyncLoop() EXCLUDES(mu_);
  Status FetchCommitFromPage1(Client* client, const Pos& pos, uint32_t* commit);

  // ---- reads (database_read.cc) ----
  // A page as stored at pin (cache, then the service, batched with prefetch candidates).
  // out is one page; a whole-page read passes SQLite's own buffer.
  Status ReadStoredPage(Conn* c, const Snapshot& pin, uint32_t pgno, std::span<uint8_t> out,
                        bool allow_prefetch) EXCLUDES(mu_);
  // Gives up cache_ (it is null afterwards): Retire()d, kept in retired_cache_.
  void RetireCacheLocked() REQUIRES(mu_);
  // Fetch's first call for c: sets c->fetch_cache (nullptr while there is no cache) and
  // registers c->fetched.
  PageCache* LearnFetchCache(Conn* c) EXCLUDES(mu_);
  // Fetch: what the planner and the read-ahead learn from a page read in place.
  void NoteFetchedLocked(Conn* c, uint32_t pgno, std::span<const uint8_t> page, bool learn) REQUIRES(mu_);
  // Pages read in place (xFetch) by every connection (litevfs_stats' page_fetches); folds
  // the counts of closed connections.
  uint64_t PagesFetchedLocked() REQUIRES(mu_);
  // The same with mu_ held (released only around the request of a miss).
  Status ReadStoredPageLocked(Conn* c, const Snapshot& pin, uint32_t pgno, std::span<uint8_t> out,
                              bool allow_prefetch) REQUIRES(mu_);
  // Serves pgno from the cache or old_pages_, waiting for a read-ahead that brings it.
  // False: a miss (out's bytes are then unspecified; the fetch fills them).
  bool LookupLocked(Conn* c, const Snapshot& pin, uint32_t pgno, std::span<uint8_t> out) REQUIRES(mu_);
  // The pages to fetch with a miss on pgno (pgno first), updating c's read-ahead state.
  std::vector<uint32_t> MissBatchLocked(Conn* c, const Snapshot& pin, uint32_t pgno, bool allow_prefetch)
      REQUIRES(mu_);
  // Old versions of many pages at pin (for checksums at commit). `out` may be null: the
  // pages then only go to the cache (PRAGMA litevfs_cache_db keeps memory at one batch).
  Status ReadStoredPages(const Snapshot& pin, const std::vector<uint32_t>& pgnos, PageMap* out)
      EXCLUDES(mu_);
  std::vector<uint32_t> MissingPagesLocked(const Snapshot& pin, const std::vector<uint32_t>& pgnos,
                                           PageMap* out) REQUIRES(mu_);
  Status StoreBatchLocked(const Snapshot& pin, const std::vector<uint32_t>& chunk, const PageBlock& b,
                          PageMap* out) REQUIRES(mu_);
  // Whether page p is worth asking for at pin: within the database, not the lock page, not
  // cached, not already coming with the read-ahead.
  bool FetchableLocked(uint32_t p, const Snapshot& pin) const REQUIRES(mu_);
  PrefetchLimits LimitsLocked() const REQUIRES(mu_);
  // In a scan, once the reader is half-way through the latest batch: fetches the next
  // window in the background (worker pool), so the scan need not wait.
  void MaybeReadAheadLocked(Conn* c, const Snapshot& pin) REQUIRES(mu_);
  // A read-ahead's body on a worker: fetch, hand to recent_ (it arrives), store, unlist,
  // then it is done.
  static void RunReadAhead(std::shared_ptr<Database> self, std::shared_ptr<Client> client, Snapshot pin,
                           std::vector<uint32_t> pgnos, std::shared_ptr<ReadAhead> ra) EXCLUDES(self->mu_);
  // Read-aheads still fetching (not arrived): what MaybeReadAheadLocked bounds.
  size_t ReadAheadsFetchingLocked() const REQUIRES(mu_);
  // Puts fetched pages as of pin into the cache (or old_pages_ for a pin older than the
  // cache). kCorruption for a page of the wrong size (nothing stored then).
  Status StoreFetchedLocked(const Snapshot& pin, const PageBlock& b) REQUIRES(mu_);
  // StoreFetchedLocked's checks, and old_pages_ for a pin older than the cache; the cache put
  // is left to the caller.
  Status CheckFetchedLocked(const Snapshot& pin, const std::vector<PageView>& pages) REQUIRES(mu_);
  // bulk (issue 19): one PageCache::PutMany for a fetched batch (ascending pgnos), with the
  // server's page sums when the batch has them.
  void PutManyInCacheLocked(const Snapshot& pin, const PageBlock& b, bool wanted_soon) REQUIRES(mu_);
  void RememberOldPageLocked(uint64_t txid, uint32_t pgno, std::string_view page) REQUIRES(mu_);
  // After a scan's last transaction: the client's idle answer buffers and the freed heap
  // go back to the system (no lock held: malloc_trim may take a while).
  void ReleaseScanMemory() EXCLUDES(mu_);
  std::shared_ptr<ReadAhead> ReadAheadOfLocked(uint64_t txid, uint32_t pgno) const REQUIRES(mu_);

  // ---- writes and the commit (database_write.cc) ----
  // RESERVED (or EXCLUSIVE straight from SHARED): the write mode's checks, then the Writer.
  Result<LockResult> LockWriteLocked(Conn* c) REQUIRES(mu_);
  // auto mode: takes (or keeps) the lease with mu_ dropped; syncs when newly taken.
  // kBusy when another client holds it.
  Result<LockResult> TakeAutoLeaseLocked(Conn* c) REQUIRES(mu_);
  Status StaleReadLocked(Conn* c) REQUIRES(mu_);
  // A new lease's grant position: whether latest_ reaches it, waiting a little for the sync
  // thread's long poll (told of the commit that freed the lease at the same moment).
  bool FollowsGrantLocked(const Pos& granted_at) REQUIRES(mu_);
  // The pages other writers changed since this process last took the lease, in one request
  // (a new holder's transaction would fetch them one by one). Best effort: a failure is logged.
  void PrefetchChangedByOthers() EXCLUDES(mu_);
  // The sync room notes the pages a sync found changed (up to kMaxChangedByOthers).
  void NoteChangedByOthersLocked(const SyncResult& res) REQUIRES(mu_);
  void BeginWriterLocked(Conn* c) REQUIRES(mu_);
  // The lease id a commit carries (none for an optimistic commit without our lease).
  Result<std::string> CommitLeaseLocked(Conn* c, const Snapshot& pin, const char* why) REQUIRES(mu_);
  Status CheckWritableLocked(Conn* c, size_t amt, int64_t off, const uint8_t* buf) REQUIRES(mu_);
  Status CommitLocked(Conn* c, const char* why) REQUIRES(mu_);
  Status CommitFailedLocked(const Snapshot& pin, const char* why, Status st) REQUIRES(mu_);
  // The body limit for a page past the pinned size (spill: refused now, not at the upload).
  Status CheckGrowthLocked(Conn* c, uint32_t pgno) REQUIRES(mu_);
  // A fresh store for the writer's dirty pages, spilling beside the cache.
  std::unique_ptr<DirtyPages> NewDirtyPagesLocked() const REQUIRES(mu_);
  Status UploadOutcomeLocked(Conn* c, const char* why, const Pos& want, const Snapshot& pin,
                             const UploadResult& up) REQUIRES(mu_);
  Status OptimisticLostLocked(const Snapshot& pin, const char* why, const Status& refused) REQUIRES(mu_);
  void ApplyCommitLocked(Conn* c, const CommitPlan& plan, const DirtyPages& dirty, Pos np) REQUIRES(mu_);
  bool LeaseValidLocked() REQUIRES(mu_);
  std::string NoLeaseMessageLocked(const char* consequence) REQUIRES(mu_);

  const VfsConfig cfg_;
  const std::string name_;
  const std::string full_path_;
  std::shared_ptr<Client> client_;       // connections' requests; reset at shutdown
  std::shared_ptr<Client> sync_client_;  // the sync thread's own (its long poll may outlive
                                         // the shutdown; client_'s idle connections must not)
  bool long_poll_ = false;               // set once by Init, before any other thread runs
  bool has_interior_ = false;            // set once by Init
  LeaseKeeper lease_;                    // the write lease (its own mutex)

  mutable Mutex mu_;  // guards every field below, and the Conn fields of every connection
  CondVar cv_{&mu_};  // wakes the sync thread on stop, and Shutdown when cache_writers_ ends
  CondVar latest_cv_{&mu_};  // the sync thread moved latest_ (a new lease holder waits for it)
  std::set<uint32_t> changed_by_others_ GUARDED_BY(mu_);  // issue 17: PrefetchChangedByOthers
  bool changed_overflow_ GUARDED_BY(mu_) = false;          // more than it keeps changed
  std::string cache_dir_ GUARDED_BY(mu_);  // the directory in use (shared or private)
  bool private_cache_ GUARDED_BY(mu_) = false;
  bool memory_only_ GUARDED_BY(mu_) = false;  // the cache directory could not be used
  std::unique_ptr<PageCache> cache_ GUARDED_BY(mu_);
  // A cache given up (RetireCacheLocked): kept, mapped, until the Database is destroyed, as
  // connections' fetch_cache and pages SQLite holds in place (xFetch) may name it. At most
  // one: a retired cache is never reopened.
  std::unique_ptr<PageCache> retired_cache_ GUARDED_BY(mu_);
  // issue 19: the connections' Conn::fetched (their own count, read here), and the sum of
  // those of connections closed since.
  std::vector<std::shared_ptr<std::atomic<uint64_t>>> fetch_counts_ GUARDED_BY(mu_);
  uint64_t fetched_by_closed_ GUARDED_BY(mu_) = 0;
  uint32_t page_size_ GUARDED_BY(mu_) = 0;  // 0 until known (new, empty database)
  Snapshot latest_ GUARDED_BY(mu_);
  Clock::time_point last_sync_ GUARDED_BY(mu_){};
  Clock::time_point last_persist_ GUARDED_BY(mu_){};
  int shared_count_ GUARDED_BY(mu_) = 0;     // connections holding SHARED or above
  Conn* reserved_ GUARDED_BY(mu_) = nullptr;  // the connection holding RESERVED and above
  bool pending_ GUARDED_BY(mu_) = false;     // reserved_ asked for EXCLUSIVE (blocks SHARED)
  Writer writer_ GUARDED_BY(mu_);
  PrefetchPlanner planner_ GUARDED_BY(mu_);  // the b-tree shape seen so far
  // Pages fetched for pins older than the cache's position (the cache will not take them),
  // so a long read transaction does not refetch its prefetched pages. FIFO, bounded.
  std::map<std::pair<uint64_t, uint32_t>, std::string> old_pages_ GUARDED_BY(mu_);
  std::deque<std::pair<uint64_t, uint32_t>> old_order_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<ReadAhead>> readaheads_in_flight_ GUARDED_BY(mu_);
  RecentPages recent_ GUARDED_BY(mu_){kRecentReadAheadBytes};  // the latest read-aheads' pages
  std::optional<UnsettledCommit> unsettled_ GUARDED_BY(mu_);
  std::string last_settlement_ GUARDED_BY(mu_);  // how the latest unknown outcome resolved
  bool needs_sync_ GUARDED_BY(mu_) = false;  // an optimistic commit lost: sync at the next start
  int refs_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  // Read-aheads writing into cache_ with mu_ released (the reader is not held up by the write
  // and the hashing). cache_ is not destroyed while there are any: Shutdown waits (cv_).
  int cache_writers_ GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> max_cached_pages_{0};
  std::atomic<int64_t> min_available_space_{0};
  std::thread sync_thread_;  // started by Init, detached at shutdown (may be in a long poll)

  // Counters for litevfs_stats.
  std::atomic<uint64_t> page_reads_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> cache_misses_{0};
  std::atomic<uint64_t> prefetched_{0};
  std::atomic<uint64_t> readaheads_{0};
  std::atomic<uint64_t> page_requests_{0};  // page fetches (GetPages/GetInterior), not syncs
  std::atomic<uint64_t> uploads_{0};
  std::atomic<uint64_t> upload_failures_{0};
  std::atomic<uint64_t> outcomes_unknown_{0};       // commits reported as outcome unknown
  std::atomic<uint64_t> unknown_settled_applied_{0};   // ... later found applied
  std::atomic<uint64_t> unknown_settled_missing_{0};   // ... later found not applied
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> stale_reads_{0};  // issue 17: transactions answered SQLITE_BUSY_SNAPSHOT
  std::atomic<uint64_t> lease_busy_{0};   // issue 17: auto-mode locks answered SQLITE_BUSY
};

}  // namespace litevfs
