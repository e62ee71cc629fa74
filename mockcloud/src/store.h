// The mockcloud's durable store.
//
// Layout under --data DIR:
//   tmp/                                  large request bodies being received (deleted at startup)
//   clusters/<cluster>/<db>/base.db       compacted snapshot: slot 0 = a base header (below),
//                                         page N at offset N*page_size (the lock page is a hole)
//   clusters/<cluster>/<db>/base.sums     a checksum of every base.db page (page_sums.h)
//   clusters/<cluster>/<db>/quarantine/   records recovery would not load, kept (below)
//   clusters/<cluster>/<db>/seg/%016x.seg append-only segments holding every retained
//                                         transaction after the base, in txid order (below)
//   clusters/<cluster>/<db>/ltx/%016x-%016x.ltx   one file per transaction: the layout before
//                                         segments; still loaded (and folded away), never written
//   *.tmp                                 half-written files: discarded at startup
//
// Segment file: a 64-byte header (kSegMagic, seq u64, salt u64, zeros, crc64 of bytes [0,56)
// at 56), then records at 64-byte aligned offsets, then zeros (the file is extended with
// written zeros ahead of need, so an append overwrites allocated blocks and its fdatasync
// flushes data only: no size, extent or directory change per commit). A record is a
// 64-byte header (magic "LVRC", 0 u32, len u64, recv_ms i64, the LTX's file checksum u64,
// zeros, crc64 of salt ‖ bytes [0,56) at 56) followed by `len` bytes of the transaction as an
// uncompressed v1 LTX file (so page P of frame i sits at a fixed offset and is served with
// one pread). The salt is random per segment, so no byte sequence a client uploads can pass
// for a record header; the file checksum ties the header to the bytes it was written with
// (an earlier rejected upload's bytes at the same offset never pass for them). A 64-byte
// aligned header never straddles a sector, so a damaged one is corruption, not a torn write.
//
// Write path (Database::Apply, one writer per database): the upload is decoded completely
// (header rules, page order, file checksum) while its normalised form is written past the
// segment's end; its position is checked against the current one, the post-apply checksum is
// recomputed incrementally from the current pages (so a lying or shrinking transaction is
// caught); the body and zeros over the next header slot are fdatasynced (first ordering
// point), the lease is checked, and only then the record header is written (last, so a
// rejected or half-written upload is never a record) and fdatasynced: the commit point.
// After that the in-memory index is updated and the reply says 200. So acknowledged ==
// durable. Every write goes through StoreOptions::io; a full disk is ENOSPACE (HTTP 507),
// always before the commit point.
//
// Recovery (Load): records are read back in order, each decoded and verified and required to
// follow the one before. The log ends at an all-zero header slot: a crash before a commit
// point leaves exactly that, so a torn write is never a record. Anything else that does not
// load is damage (LoadRecords): with records after it startup fails naming file and offset;
// as the last thing written it is copied to quarantine/ with an error line and its header
// zeroed (the rule is in litevfs-mockcloud(1), INTEGRITY).
//
// Integrity of reads: every page read from base.db or a segment is checked against its
// checksum (base.sums; Version::sum for segment frames); a mismatch is ECORRUPT naming
// database, page, file and offset, never the bytes.
//
// Read path: an in-memory index pgno -> [(txid, frame, sum)] over the retained transactions,
// rebuilt at startup. Page P at position T = the newest version of P with txid <= T, else the
// base; zeros when a shrink in between dropped it. Memory is proportional to the page
// versions in retained history, not the database size; the base is never loaded into memory.
//
// Compaction folds the transactions of expired positions into base.db, then deletes the
// segments (and old per-transaction files) that hold only folded transactions; positions
// older than the base answer EPOSMISMATCH. A new database's first upload (a snapshot) is
// written straight into base.tmp as it is decoded and renamed to base.db, the commit point
// (store_first_base.cc: no segment record, no fold). Later folds write only the pages that changed
// since the base, in place: first fold.pending (target position, crc; written to fold.tmp,
// fsynced, renamed) so a crash mid-way is finished at startup from the transactions, which
// are deleted only after the new base header is durable; then positions before the target
// stop being served (no reader can want a base page that is being overwritten), the pages,
// fsync, the header, fsync, unlink fold.pending. A new segment starts when the newest one
// passes StoreOptions::segment_bytes.
//
// Left out: leases are in memory only (a restart frees them); page sizes cannot change;
// v3 LTX and files without checksums (flag 0x2) are refused on upload; a multi-txid upload
// is one position (its max_txid), intermediate txids are not addressable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ltx/format.h"
#include "ltx/io.h"
#include "ltx/status.h"
#include "store_api.h"
#include "store_io.h"
#include "util.h"

namespace ltx {
class Decoder;
}  // namespace ltx

namespace mockcloud {

class FdCache;

inline constexpr char kApiPosMismatch[] = "EPOSMISMATCH";
// A Conflict the API reports as EPOSMISMATCH.
inline Status PosMismatch(const std::string& msg) {
  return Status(ltx::Code::kConflict, msg, kApiPosMismatch);
}
inline constexpr char kApiLease[] = "ELEASE";
// A stored page (or record) whose bytes are not the ones written: HTTP 500 with this code.
inline constexpr char kApiCorrupt[] = "ECORRUPT";

// base.db header, in page slot 0 (all big-endian):
//   0 magic "LVMCBAS1" | 8 page_size u32 | 12 commit u32 | 16 txid u64 | 24 checksum u64
//   32 timestamp i64 (ms) | 40 recv_ms i64 | 48 page_count u32 | 52 reserved u32
//   56 crc64 of bytes [0,56) u64
inline constexpr size_t kBaseHeaderSize = 64;
inline constexpr char kBaseMagic[8] = {'L', 'V', 'M', 'C', 'B', 'A', 'S', '1'};

struct StoreOptions {
  std::string data_dir;
  int64_t retention_ms = 3600 * 1000;  // keep positions younger than this...
  uint64_t retain_txids = 1000;        // ...and always the last N txids (>= 1)
  uint64_t segment_bytes = 64ull << 20;  // start a new segment past this size
  std::function<void(const std::string&)> warn;   // recovery notices; nullptr = stderr
  std::function<void(const std::string&)> error;  // damage found (quarantine); nullptr = stderr
  std::shared_ptr<StoreIo> io;  // every write to the data dir; nullptr = the real calls
  bool verify_on_start = false;  // Open reads every base.db page against its checksum
  // Scrub: Load changes nothing on disk (no quarantine, no redo of a fold, no cleanup) and
  // reports damage to `damage` instead of failing or moving it aside.
  bool read_only = false;
  std::function<void(const std::string&)> damage;
  // Restore points (store_points.cc; issue 18): a full copy of the current state every
  // snapshots_every_ms (0 = none), each kept snapshots_keep_ms after it was taken.
  int64_t snapshots_every_ms = 0;
  int64_t snapshots_keep_ms = 30ll * 24 * 3600 * 1000;
};

// What a page batch says besides its pages.
struct PageSetHead {
  Pos pos;
  uint32_t page_size = 0;
  uint32_t commit = 0;
};

struct PageSet : PageSetHead {
  std::vector<std::pair<uint32_t, std::string>> pages;  // ascending
};

// Where Database::ReadPagesTo puts a batch (store_read.cc): the caller's memory, so a batch
// goes from the files to the response body with no copy in between.
class PageSink {
 public:
  virtual ~PageSink() = default;
  // Once, before any page: the batch's head and how many pages at most will follow.
  virtual Status Begin(const PageSetHead& head, size_t max_pages) = 0;
  // Where page `pgno` goes (head.page_size bytes); pages come in the order asked, those past
  // the commit skipped. `sum`: the page's stored PageSum (page_sums.h), which the bytes are
  // checked against once read (the read fails if they differ).
  virtual uint8_t* Slot(uint32_t pgno, uint64_t sum) = 0;
};

struct SyncInfo {
  Pos pos;
  bool all = true;
  std::vector<uint32_t> pgnos;
  uint32_t commit = 0;
  uint32_t page_size = 0;
};

struct HistoryItem {
  Pos pos;
  int64_t timestamp_ms = 0;
  uint32_t commit = 0;
  uint32_t page_count = 0;
};

// Pages that may differ between two retained positions (Database::Diff).
struct DiffInfo {
  Pos from, to;
  uint32_t from_commit = 0, to_commit = 0;
  uint32_t page_size = 0;
  std::vector<uint32_t> pgnos;  // ascending, each <= max(from_commit, to_commit)
};

// The API code of a past state asked for that is no longer (or not yet) kept: HTTP 409.
inline constexpr char kApiNotRetained[] = "ENOTRETAINED";
// The API code of a create (branch, rename) whose target name is taken: HTTP 409.
inline constexpr char kApiExists[] = "EEXISTS";

// A restore point: a state kept longer than retention, as a snapshot LTX file of its own.
struct RestorePoint {
  Pos pos;
  int64_t timestamp_ms = 0;  // the state's (its transaction's) timestamp
  int64_t taken_ms = 0;      // when the point was written
  uint32_t commit = 0;
  std::string path;
};

struct ApplyResult {
  Pos pos;
  uint64_t pages = 0;
  std::string warning;  // a problem after the commit point (the upload itself succeeded)
};

class Database {
 public:
  Database(std::string dir, std::string tmp_dir, const StoreOptions* opts)
      : dir_(std::move(dir)), base_path_(dir_ + "/base.db"), tmp_dir_(std::move(tmp_dir)), opts_(opts) {}
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Loads base.db and ltx/ (verifying every file); a missing directory is an empty db.
  Status Load();

  Pos pos() const;
  bool exists() const { return !pos().IsZero(); }
  uint32_t page_size() const;

  // Verifies the uploaded LTX (v1, plain or LZ4) against the current state, makes it
  // durable and applies it. `lease_check` runs last, under the writer lock, just before the
  // commit point. Errors: InvalidArgument/Corruption (bad LTX), Conflict with api_code
  // EPOSMISMATCH (position), whatever lease_check returns, IOError.
  Result<ApplyResult> Apply(std::unique_ptr<ltx::Source> upload,
                            const std::function<Status()>& lease_check);

  // Pages as of `at`. Conflict(EPOSMISMATCH) if `at` is not a retained position.
  Result<PageSet> ReadPages(const Pos& at, const std::vector<uint32_t>& pgnos) const;
  // The same pages into `sink`, read with one preadv per run of pages stored back to back.
  Status ReadPagesTo(const Pos& at, const std::vector<uint32_t>& pgnos, PageSink* sink) const;
  // Page 1 and every b-tree interior page at `at` (nullptr = current).
  Status ReadInteriorTo(const Pos* at, PageSink* sink) const;
  // Pages changed since `since` (nullptr / zero / unknown / ahead / expired = all).
  Result<SyncInfo> Sync(const Pos* since) const;
  std::vector<HistoryItem> History() const;
  // A v1 snapshot LTX of the current state, read page by page from the store (no copy) under
  // a pin that compaction respects. Defined in store_snapshot.cc.
  class SnapshotStream;
  Result<std::unique_ptr<SnapshotStream>> OpenSnapshot(std::shared_ptr<const Database> self) const;

  // Reads every page of base.db against its checksum; reports each bad one to `bad` (at most
  // `max_bad`) and returns how many there were. Never fails on damage, only on I/O errors.
  Result<uint64_t> VerifyBase(const std::function<void(const std::string&)>& bad,
                              uint64_t max_bad) const;
  // Every base.db page (segment records are verified whole by Load): Corruption/ECORRUPT
  // naming the first bad page, how many there were, and the scrub command.
  Status VerifyAll() const;
  // "cluster/db", for messages.
  std::string label() const;

  // Blocks until the position differs from `p`, the deadline passes or `stop` is set.
  void WaitForChange(const Pos& p, std::chrono::steady_clock::time_point deadline,
                     const std::atomic<bool>& stop);
  void WakeWaiters();

  // Folds the positions that retention lets go into the base. now_ms = wall clock.
  Status Compact(int64_t now_ms);
  // ---- time travel (store_history.cc; issue 18) ----
  // Pages written between two retained positions, either order, from the in-memory index
  // (no page reads), plus the pages a shrink in between may have zeroed. A superset of the
  // pages whose bytes differ. Conflict(EPOSMISMATCH) if either position is not retained.
  Result<DiffInfo> Diff(const Pos& from, const Pos& to) const;
  // The retained position with this txid / the newest retained one at or before unix_ms.
  // Conflict(ENOTRETAINED) naming the oldest state kept (and when it was written).
  // With `points`, a txid or time before retention resolves to a restore point too.
  Result<HistoryItem> AtTxid(uint64_t txid, bool points = false) const;
  Result<HistoryItem> AtTime(int64_t unix_ms, bool points = false) const;
  // Makes the state at `target` current as ONE new transaction (current txid + 1) built from
  // only the pages Diff names, applied through Apply (same checks, same durability, same
  // lease_check). Page 1's change counter moves forward (current + 1) so SQLite page caches
  // see a change; every other page equals the target's. Nothing crosses the network.
  Result<ApplyResult> Restore(const Pos& target, const std::function<Status()>& lease_check);
  // A snapshot stream of a retained position (pinned like OpenSnapshot's).
  Result<std::unique_ptr<SnapshotStream>> OpenSnapshotAt(std::shared_ptr<const Database> self,
                                                         const Pos& at) const;
  // ---- restore points (store_points.cc; issue 18) ----
  // Writes a restore point of the current state when the newest is older than
  // snapshots_every_ms (and the state moved); removes points older than snapshots_keep_ms.
  Status MaintainRestorePoints(std::shared_ptr<const Database> self, int64_t now_ms);
  std::vector<RestorePoint> RestorePoints() const;  // oldest first
  // The restore point at exactly `at`, if any.
  std::optional<RestorePoint> RestorePointAt(const Pos& at) const;

  // After Retire, Apply, Restore and Compact fail NotFound: the caller then moves or removes
  // the directory (Store::Delete, Store::Rename). Waits for a running mutation to end.
  void Retire();

  // Number of retained transactions after the base (tests).
  size_t FileCount() const;
  // Number of segment files (tests).
  size_t SegmentCount() const;

 private:
  struct TxFile {
    uint64_t min_txid = 0, max_txid = 0;
    uint64_t pre = 0, post = 0;
    uint32_t commit = 0;
    int64_t timestamp_ms = 0;
    int64_t recv_ms = 0;
    std::string path;      // the segment (or, before segments, the transaction's own file)
    uint64_t offset = 0;   // where the LTX file starts in `path`
    uint64_t seg_seq = 0;  // 0 = its own file (deleted when folded)
    std::vector<uint32_t> pgnos;     // ascending; frame i holds pgnos[i]
    std::vector<uint32_t> interior;  // the subset of pgnos that are b-tree interior pages
    std::vector<uint64_t> sums;      // PageSum of frame i; moved into index_ when added
  };
  struct Base {
    Pos pos;
    uint32_t commit = 0;
    int64_t timestamp_ms = 0;
    int64_t recv_ms = 0;
    uint32_t page_count = 0;
    int fd = -1;
    int sums_fd = -1;                // base.sums
    std::vector<uint64_t> sums;      // PageSum of page P at [P], P <= commit
    std::vector<uint32_t> interior;  // ascending
  };
  struct Version {
    uint64_t txid;
    uint32_t frame;
    uint64_t sum;  // PageSum of the frame's page, checked on every read
  };
  // A retained position resolved for reading.
  struct View {
    uint64_t txid = 0;
    uint32_t commit = 0;
    size_t file_end = 0;  // files_[0, file_end) are at or before txid
    std::vector<std::pair<uint64_t, uint32_t>> shrinks;  // (txid, commit) where the db shrank
  };
  struct Segment {
    uint64_t seq = 0;
    std::string path;
    uint64_t salt = 0;
    uint64_t end = 0;        // where the next record goes
    uint64_t size = 0;       // file size; [end, size) is zeros or leftovers of rejected uploads
    uint64_t last_txid = 0;  // 0 = no records
    int fd = -1;             // read-write; open for the newest segment only
    // Each record is written body first, then zeros over the next header slot, then its
    // header, then one fdatasync (the commit point). An all-zero slot is the end of the log
    // (a write no one was told of); whatever else sits at a header slot and does not load is
    // kept as evidence, never dropped. Segments from before (magic ...SEG1) are never
    // appended to.
    bool strict = true;
  };

  // All need mu_ held (shared is enough) or write_mu_ (no one else mutates then).
  bool ResolveLocked(const Pos& at, View* view) const;
  // The header of a restore transaction on top of `cur` (view `cv`) leaving `commit` pages,
  // and in *counter page 1's change counter moved forward (store_history.cc).
  Result<ltx::Header> RestoreHeaderLocked(const View& cv, const Pos& cur, uint32_t commit,
                                          FdCache* fds, uint32_t* counter) const;
  Status ReadPageLocked(const View& v, uint32_t pgno, uint8_t* out, FdCache* fds) const;
  const TxFile* FileByTxidLocked(uint64_t txid) const;
  Pos CurrentLocked() const;
  uint32_t CommitLocked() const;
  Status ReadPagesLocked(const View& v, const std::vector<uint32_t>& pgnos, PageSink* sink) const;
  Result<PageSet> ReadPageSetLocked(const View& v, const std::vector<uint32_t>& pgnos) const;
  // Where page `pgno` at `v` is stored: *fd/*file/*off/*sum, or *fd = -1 for zeros (past a
  // shrink, grown without being written, the lock page).
  Status LocateLocked(const View& v, uint32_t pgno, FdCache* fds, int* fd, const std::string** file,
                      uint64_t* off, uint64_t* sum) const;

  Status LoadBase();
  // Decodes one stored transaction: `len` bytes at `offset` of `fd` (named `path`), which must
  // follow `prev` and, when given, have this file checksum. Fills everything but recv_ms,
  // seg_seq.
  Status LoadTx(int fd, const std::string& path, uint64_t offset, uint64_t len, Pos prev,
                const uint64_t* file_checksum, TxFile* out);
  Status LoadLegacyFiles(Pos* prev);
  Status LoadSegments(Pos* prev);
  // Loads the records of one opened segment (LoadSegments). `fd` is read-write.
  Status LoadRecords(int fd, bool newest, Segment* seg, Pos* prev);
  // A record at `at` of `seg` that will not load and has nothing after it: its bytes are
  // copied to quarantine/ (fsynced), an error is logged naming both, and its header slot is
  // zeroed so the log ends before it. Read-only: only reported.
  Status QuarantineRecord(int fd, const Segment& seg, uint64_t at, uint64_t len,
                          const std::string& why, const Pos& ends_at);
  void Damage(const std::string& msg) const;  // read-only (scrub): a finding
  Status LoadBaseSums(const std::string& path);
  // A page read from base.db (or a segment frame) against its checksum.
  Status CheckSum(uint32_t pgno, const uint8_t* page, uint64_t want, const std::string& file,
                  uint64_t offset) const;
  StoreIo* io() const { return opts_->io ? opts_->io.get() : RealStoreIo(); }
  void Error(const std::string& msg) const;
  void AddLoadedLocked(TxFile tf);
  // The newest segment, with room for a record (a new one past segment_bytes). write_mu_.
  Result<Segment*> SegmentForAppendLocked();
  // Zeros ahead of `need`, so appends overwrite allocated blocks. write_mu_.
  Status ExtendSegmentLocked(Segment* seg, uint64_t need);
  // Apply's two ordering points. The body (already in `body`, a PwriteSink) gets zeros up to
  // and over the header slot at `next`, then is fdatasynced; the header is written and
  // fdatasynced (the commit point). write_mu_.
  Status FinishRecordBodyLocked(Segment* seg, ltx::Sink* body, uint64_t next);
  Status WriteRecordHeaderLocked(Segment* seg, uint64_t at, uint64_t len, int64_t recv_ms,
                                 uint64_t file_checksum);
  Status UndoRecordHeaderLocked(Segment* seg, uint64_t at, const Status& why);
  void Warn(const std::string& msg) const;
  // Makes files_[idx] the base. write_mu_ held. The first base is written whole
  // (RewriteBaseLocked: base.tmp, renamed); after that only the pages that changed are
  // written in place (FoldInPlaceLocked), under an intent file that startup redoes.
  Status FoldLocked(size_t idx);
  Status RewriteBaseLocked(size_t idx, const View& target);
  Status FoldInPlaceLocked(size_t idx, const View& target);
  std::vector<uint32_t> FoldPagesLocked(size_t idx, const View& target) const;
  Status WriteFoldIntentLocked(const TxFile& target);
  Status WriteBaseHeaderInPlaceLocked(const TxFile& target, uint32_t commit);
  Result<int> WriteSumsFileLocked(const std::vector<uint64_t>& sums, uint32_t page_size);
  // The in-memory side of a fold whose base is durable; deletes what it made redundant.
  // new_fd / new_sums_fd >= 0 replace the descriptors of base.db / base.sums.
  Status FinishFoldLocked(size_t idx, uint32_t commit, std::vector<uint32_t> interior,
                          std::vector<uint64_t> sums, int new_fd, int new_sums_fd);
  static std::vector<uint8_t> EncodeBaseHeader(const TxFile& target, uint32_t commit,
                                               uint32_t page_size);
  // Apply of a new database's first upload (a snapshot; store_first_base.cc): the pages go
  // into base.tmp at their offsets as they are decoded, which is renamed to base.db (the
  // commit point) — one write of the database instead of a record, then a fold.
  Result<ApplyResult> ApplyFirstBaseLocked(ltx::Decoder* dec,
                                           const std::function<Status()>& lease_check);
  Status WriteFirstBasePagesLocked(ltx::Decoder* dec, int fd, const std::string& path,
                                   TxFile* tf, std::vector<uint64_t>* sums,
                                   std::vector<uint32_t>* interior);
  // Finishes a fold that a crash interrupted (fold.pending). write_mu_ and mu_ held.
  Status RedoFoldLocked();
  void PublishPos();

  const std::string dir_;
  const std::string base_path_;  // dir_/base.db
  const std::string tmp_dir_;
  const StoreOptions* opts_;

  mutable std::mutex write_mu_;  // serialises Apply and Compact (the only mutators)
  bool retired_ = false;          // guarded by write_mu_: deleted or renamed (Retire)
  // Restore from a point (store_points.cc): every page that differs from the current state.
  Result<ApplyResult> RestoreFromPoint(const RestorePoint& rp,
                                       const std::function<Status()>& lease_check);
  void LoadPointsLocked() const;
  mutable std::mutex points_mu_;  // guards points_, points_loaded_
  mutable std::vector<RestorePoint> points_;  // oldest first; loaded from points/ on first use
  mutable bool points_loaded_ = false;

  mutable std::shared_mutex mu_;  // guards everything below; readers shared
  uint32_t page_size_ = 0;
  Base base_;
  std::vector<TxFile> files_;  // ascending txid, contiguous after base_
  std::vector<Segment> segs_;  // ascending seq; appends go to the last. write_mu_ only
  uint64_t fold_floor_ = 0;    // during an in-place fold: positions below are not served
  bool fold_pending_ = false;  // read-only Load found fold.pending (base pages may mismatch)
  mutable std::multiset<uint64_t> pins_;  // txids open snapshot streams read: compaction folds no further
  std::unordered_map<uint32_t, std::vector<Version>> index_;  // versions ascending by txid

  std::mutex wait_mu_;  // guards published_; waiters sleep on wait_cv_
  std::condition_variable wait_cv_;
  Pos published_;
};

class Store : public StoreApi {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& opts);
  ~Store() override;

  // The database, or nullptr when it does not exist and !create. Names must be valid.
  Result<std::shared_ptr<Database>> Get(const std::string& cluster, const std::string& db,
                                        bool create) override;
  // Every existing database of the cluster and its position.
  std::map<std::string, Pos> Positions(const std::string& cluster);
  Result<std::map<std::string, Pos>> ListPositions(const std::string& cluster) override {
    return Positions(cluster);
  }
  Status CompactAll(int64_t now_ms) override;
  // MaintainRestorePoints on every database (store_points.cc).
  Status RestorePointsAll(int64_t now_ms) override;
  // ---- lifecycle (store_history.cc; issue 18) ----
  // Removes a database and its history: NotFound if it does not exist. Durable when it
  // returns (the directory is renamed into trash/ first, then removed; Open empties trash/).
  Status Delete(const std::string& cluster, const std::string& db) override;
  // Renames a database with its history. Conflict(EEXISTS) if `to` exists.
  Status Rename(const std::string& cluster, const std::string& from,
                const std::string& to) override;
  // Creates database `to` holding the state of `db` at `at` (a retained position) as a new
  // database whose history starts there: the state is streamed page by page from the store
  // into `to`'s store (cost: reads and writes every page once on the server's disk: the
  // snapshot goes straight into base.db; nothing crosses the network).
  // Conflict(EEXISTS) if `to` exists.
  Result<ApplyResult> Branch(const std::string& cluster, const std::string& db, const Pos& at,
                             const std::string& to) override;
  Result<ApplyResult> Restore(const std::string& cluster, const std::string& name,
                              const std::shared_ptr<Database>& db, const Pos& at,
                              const LeaseClaim& claim) override;
  void WakeAll() override;
  // A fresh path under tmp/ for a request body.
  Result<std::string> NewTempPath(const std::string& prefix) override;
  const StoreOptions& options() const { return opts_; }
  // StoreApi (store_api.cc): leases in memory, commits straight to Database::Apply.
  Leases& leases() override;
  Result<ApplyResult> Commit(const std::string& cluster, const std::string& name,
                             const std::shared_ptr<Database>& db, const UploadBody& body,
                             const LeaseClaim& claim) override;
  Status CatchUp(const std::string& cluster, const std::string& name,
                 const std::shared_ptr<Database>& db, const Pos& at) override;
  bool CommitsStreamed() const override { return true; }
  Result<ApplyResult> CommitStream(const std::string& cluster, const std::string& name,
                                   const std::shared_ptr<Database>& db,
                                   std::unique_ptr<ltx::Source> body,
                                   const LeaseClaim& claim) override;

 private:
  explicit Store(StoreOptions opts);
  std::string DbDir(const std::string& cluster, const std::string& db) const;
  void EmptyTrash();  // store_history.cc: what a Delete interrupted by a crash left

  StoreOptions opts_;
  std::unique_ptr<Leases> leases_;
  std::mutex mu_;  // guards dbs_
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Database>> dbs_;
};

}  // namespace mockcloud
