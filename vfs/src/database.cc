#include "database.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <system_error>
#include <thread>
#include <nlohmann/json.hpp>

#include "log.h"
#include "private_cache.h"
#include "commit_stream.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/encoder.h"
#include "ltx/io.h"

namespace litevfs {

// How often an upload whose answer was lost is settled (sync, maybe resend) before the
// commit is reported with an unknown outcome.
constexpr int kCommitSettleAttempts = 8;
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr long kLongPollWaitMs = 5000;          // per long poll; bounds how long a stopped
                                                // sync thread lingers after the last close
constexpr size_t kMaxTreeHints = 4u << 20;      // b-tree shape entries kept for prefetch
                                                // (~32 MiB at most: a 16 GiB database's)
constexpr size_t kMaxOldPageBytes = 32u << 20;  // pages kept for pins older than the cache
constexpr size_t kMaxPagesPerRequest = 4096;    // the server's cap on pgnos per /db/page
constexpr size_t kMaxWindowBytes = 4u << 20;      // a scan's read-ahead grows to this per request
constexpr size_t kBulkBatchBytes = 2u << 20;     // per request of a bulk fetch
constexpr size_t kBatchesInFlight = 2;          // bulk fetches (litevfs_cache_db, commit)
constexpr size_t kReadAheadsInFlight = 2;       // per database, during scans
constexpr int kMaxTreeDepth = 12;               // b-tree levels walked for scan order
constexpr auto kLeaseSafetyMargin = std::chrono::milliseconds(500);
// How long a writer's commits may leave the cache's stored position behind (a crash then
// re-syncs from the older one: more invalidation, never a stale page).
constexpr auto kPersistPeriod = std::chrono::milliseconds(1000);
constexpr const char* kMetaFile = "litevfs.meta";

struct Registry {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Database>> by_key;   // guarded by mu
  std::map<std::string, int> refs;                            // guarded by mu
  std::map<std::string, std::weak_ptr<Database>> by_path;     // guarded by mu
};
Registry* GetRegistry() {
  static Registry* r = new Registry();  // leaked: see the file-top comment in vfs.cc
  return r;
}

std::string Key(const VfsConfig& cfg, const std::string& name) {
  return cfg.client.host + "\n" + cfg.ClusterName() + "\n" + name;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint32_t ReadMetaPageSize(const std::string& dir) {
  std::ifstream in(dir + "/" + kMetaFile);
  std::string key;
  uint64_t v = 0;
  if (in >> key >> v && key == "page_size" && ltx::IsValidPageSize(uint32_t(v))) return uint32_t(v);
  return 0;
}

void WriteMetaPageSize(const std::string& dir, uint32_t page_size) {
  std::string tmp = dir + "/" + kMetaFile + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "page_size " << page_size << "\n";
    if (!out) return;  // only a hint: a missing file costs one page-1 fetch at the next open
  }
  std::error_code ec;
  fs::rename(tmp, dir + "/" + kMetaFile, ec);
  if (ec) fs::remove(tmp, ec);
}

// SQLite varint (1..9 bytes). Returns bytes consumed, 0 when out of bounds.
size_t GetVarint(const uint8_t* p, const uint8_t* end, uint64_t* v) {
  uint64_t x = 0;
  for (int i = 0; i < 9; i++) {
    if (p + i >= end) return 0;
    if (i == 8) {
      x = (x << 8) | p[i];
      *v = x;
      return 9;
    }
    x = (x << 7) | (p[i] & 0x7f);
    if ((p[i] & 0x80) == 0) {
      *v = x;
      return size_t(i) + 1;
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

Status OpenError(const Status& st, const VfsConfig& cfg, const std::string& name) {
  switch (st.code()) {
    case ltx::Code::kUnavailable:
      return Status(st.code(),
                    "litevfs: cannot reach the service at " + cfg.client.host_source + "=" +
                        cfg.client.host +
                        " (opening " + name + "): " + st.message(),
                    st.api_code());
    case ltx::Code::kPermissionDenied:
      return Status(st.code(),
                    "litevfs: the service at " + cfg.client.host +
                        " rejected " + cfg.client.token_source + " for cluster " +
                        cfg.ClusterName() + ": " +
                        st.message(),
                    st.api_code());
    default:
      return st.WithContext("litevfs: opening " + name + " at " + cfg.client.host);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// B-tree parsing for prefetch hints.

std::vector<uint32_t> BtreeChildren(uint32_t pgno, const std::string& page, uint32_t usable_size) {
  std::vector<uint32_t> out;
  const size_t hdr = pgno == 1 ? 100 : 0;
  const size_t n = std::min<size_t>(page.size(), usable_size);
  if (n < hdr + 8) return out;
  const auto* p = reinterpret_cast<const uint8_t*>(page.data());
  const uint8_t type = p[hdr];
  const uint32_t ncells = ltx::DecodeU16(p + hdr + 3);
  if (type == 0x02 || type == 0x05) {  // interior index / table page
    if (n < hdr + 12) return out;
    const size_t ptrs = hdr + 12;
    for (uint32_t i = 0; i < ncells; i++) {
      if (ptrs + 2 * i + 2 > n) break;
      size_t off = ltx::DecodeU16(p + ptrs + 2 * i);
      if (off < ptrs || off + 4 > n) continue;
      out.push_back(ltx::DecodeU32(p + off));
    }
    out.push_back(ltx::DecodeU32(p + hdr + 8));  // right-most child
  } else if (type == 0x0D && pgno == 1) {
    // Leaf sqlite_schema: each record is (type, name, tbl_name, rootpage, sql); queue the
    // root pages so the first query on any table does not miss on its root.
    const size_t ptrs = hdr + 8;
    const uint8_t* end = p + n;
    for (uint32_t i = 0; i < ncells; i++) {
      if (ptrs + 2 * i + 2 > n) break;
      size_t off = ltx::DecodeU16(p + ptrs + 2 * i);
      if (off < ptrs || off >= n) continue;
      const uint8_t* c = p + off;
      uint64_t payload = 0, rowid = 0, hsize = 0;
      size_t k = GetVarint(c, end, &payload);
      if (!k) continue;
      c += k;
      if (!(k = GetVarint(c, end, &rowid))) continue;
      c += k;
      const uint8_t* rec = c;
      if (!(k = GetVarint(c, end, &hsize))) continue;
      const uint8_t* h = c + k;
      const uint8_t* hend = rec + hsize;
      if (hend > end) continue;
      uint64_t types[4];
      int got = 0;
      while (got < 4 && h < hend) {
        if (!(k = GetVarint(h, hend, &types[got]))) break;
        h += k;
        got++;
      }
      if (got < 4 || types[3] < 1 || types[3] > 4) continue;  // rootpage is a 1..4 byte int
      const uint8_t* v = hend + SerialSize(types[0]) + SerialSize(types[1]) + SerialSize(types[2]);
      const uint64_t sz = SerialSize(types[3]);
      if (v + sz > end || uint64_t(v + sz - rec) > payload) continue;
      uint32_t root = 0;
      for (uint64_t b = 0; b < sz; b++) root = (root << 8) | v[b];
      if (root > 1) out.push_back(root);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Open / close.

Database::Database(const VfsConfig& cfg, std::string name, std::string full_path,
                   std::unique_ptr<Client> client)
    : cfg_(cfg), name_(std::move(name)), full_path_(std::move(full_path)), client_(std::move(client)) {}

Database::~Database() {
  if (sync_thread_.joinable()) sync_thread_.detach();
  if (lease_thread_.joinable()) lease_thread_.detach();
}

Result<std::shared_ptr<Database>> Database::Open(const VfsConfig& cfg, const std::string& name,
                                                 const std::string& full_path, bool create) {
  if (Status st = ValidateDatabaseName(name); !st.ok()) {
    return st.WithContext("litevfs: invalid database name '" + name + "'");
  }
  if (cfg.client.token.empty()) {
    return Status::PermissionDenied(
        "litevfs: LITEFS_CLOUD_TOKEN is not set: export the service's auth token to open " + name);
  }
  Registry* reg = GetRegistry();
  std::lock_guard<std::mutex> rlk(reg->mu);
  const std::string key = Key(cfg, name);
  if (auto it = reg->by_key.find(key); it != reg->by_key.end()) {
    std::shared_ptr<Database> db = it->second;
    {
      std::lock_guard<std::mutex> lk(db->mu_);
      if (db->latest_.pos.IsZero() && !create) {
        return Status::NotFound("litevfs: database " + name + " does not exist in cluster " +
                                cfg.ClusterName() + " at " + cfg.client.host);
      }
    }
    reg->refs[key]++;
    reg->by_path[full_path] = db;
    return db;
  }
  auto client = Client::Create(cfg.client);
  if (!client.ok()) return OpenError(client.status(), cfg, name);
  std::shared_ptr<Database> db(new Database(cfg, name, full_path, std::move(client).value()));
  if (Status st = db->Init(create); !st.ok()) {
    db->Shutdown();
    return st;
  }
  reg->by_key[key] = db;
  reg->refs[key] = 1;
  reg->by_path[full_path] = db;
  return db;
}

void Database::Close(std::shared_ptr<Database> db) {
  if (!db) return;
  Registry* reg = GetRegistry();
  std::lock_guard<std::mutex> rlk(reg->mu);
  const std::string key = Key(db->cfg_, db->name_);
  auto it = reg->refs.find(key);
  if (it == reg->refs.end() || --it->second > 0) return;
  reg->refs.erase(it);
  reg->by_key.erase(key);
  for (auto p = reg->by_path.begin(); p != reg->by_path.end();) {
    auto sp = p->second.lock();
    if (!sp || sp == db) p = reg->by_path.erase(p);
    else ++p;
  }
  // Shut down under the registry lock so a concurrent re-open of the same database finds
  // the cache directory unlocked again.
  db->Shutdown();
}

std::shared_ptr<Database> Database::FindByPath(const std::string& full_path) {
  Registry* reg = GetRegistry();
  std::lock_guard<std::mutex> rlk(reg->mu);
  auto it = reg->by_path.find(full_path);
  return it == reg->by_path.end() ? nullptr : it->second.lock();
}

Status Database::Init(bool create) {
  const std::string shared_dir = cfg_.cache_root + "/" + cfg_.ClusterName() + "/" + name_;
  bool cold = true;
  if (uint32_t hint = ReadMetaPageSize(shared_dir); hint != 0) {
    std::lock_guard<std::mutex> lk(mu_);
    LTX_RETURN_IF_ERROR(OpenCacheLocked(hint));
    latest_ = {cache_->pos(), 0};
    cold = cache_->page_count() == 0;
  }
  bool synced = false;
  if (cold && cfg_.client.use_extensions) {
    // Cold cache: one request. /db/interior at the current position answers with the
    // position, the size, the page size and the server's features (Litevfs-Features), and
    // holds page 1 and every interior page, so a lookup then misses only on its leaf.
    // kUnsupported (no extension) and kNotFound (no such database) take the sync path,
    // which handles both.
    auto b = client_->GetInterior(name_, Pos{});
    page_requests_++;
    if (b.ok() && !b->pos.IsZero() && b->commit > 0) {
      std::lock_guard<std::mutex> lk(mu_);
      if (page_size_ == 0 || page_size_ == b->page_size) {
        SyncResult res;
        res.pos = b->pos;
        res.all = true;
        res.commit = b->commit;
        res.page_size = b->page_size;
        if (Status st = ApplySyncLocked(latest_.pos, res, b->commit, b->page_size, b->pages); !st.ok()) {
          return OpenError(st, cfg_, name_);
        }
        prefetched_ += b->pages.size();
        synced = true;
      }
    } else if (!b.ok() && b.status().code() != ltx::Code::kUnsupported &&
               b.status().code() != ltx::Code::kNotFound) {
      return OpenError(b.status(), cfg_, name_);
    }
  }
  if (!synced) {
    if (Status st = SyncNow(client_.get(), 0); !st.ok()) return OpenError(st, cfg_, name_);
  }
  // Known from the Litevfs-Features header of the answer above; /info only for a server
  // that does not send it.
  auto wait = client_->HasFeature("sync-wait");
  if (!wait.ok()) return OpenError(wait.status(), cfg_, name_);
  auto interior = client_->HasFeature("interior");
  if (!interior.ok()) return OpenError(interior.status(), cfg_, name_);
  long_poll_ = *wait;
  has_interior_ = *interior;

  Snapshot latest;
  {
    std::lock_guard<std::mutex> lk(mu_);
    latest = latest_;
  }
  if (latest.pos.IsZero()) {
    if (!create) {
      return Status::NotFound("litevfs: database " + name_ + " does not exist in cluster " +
                              cfg_.ClusterName() + " at " + cfg_.client.host);
    }
    LITEVFS_LOG(LogLevel::kInfo, name_, latest.pos,
                "database does not exist on the service: opened empty; the first commit creates it");
  }
  if (long_poll_) {
    auto sc = Client::Create(cfg_.client);
    if (sc.ok()) {
      sync_client_ = std::move(sc).value();
      std::shared_ptr<Database> self = shared_from_this();
      sync_thread_ = std::thread([self] { self->SyncLoop(); });
    } else {
      long_poll_ = false;  // period-gated sync at transaction start instead
      LITEVFS_LOG(LogLevel::kWarn, name_, latest.pos, "no sync client: " + sc.status().ToString());
    }
  }
  LITEVFS_LOG(LogLevel::kInfo, name_, latest.pos,
              "opened (cache " + cache_dir_ + (long_poll_ ? ", long-poll sync)" : ", periodic sync)"));
  return Status::OK();
}

Status Database::OpenCacheLocked(uint32_t page_size) {
  const std::string cluster_dir = cfg_.cache_root + "/" + cfg_.ClusterName();
  const std::string shared_dir = cluster_dir + "/" + name_;
  if (size_t n = RemoveDeadPrivateCaches(cluster_dir, name_); n > 0) {
    LITEVFS_LOG(LogLevel::kInfo, name_, Pos{},
                "removed " + std::to_string(n) + " private cache director" + (n == 1 ? "y" : "ies") +
                    " of processes that no longer run");
  }
  CacheOptions o;
  o.dir = cache_dir_.empty() ? shared_dir : cache_dir_;
  o.page_size = page_size;
  o.max_pages = uint64_t(max_cached_pages_.load());
  o.min_available_bytes = uint64_t(min_available_space_.load());
  auto c = PageCache::Open(o);
  if (!c.ok() && c.status().code() == ltx::Code::kConflict && cache_dir_.empty()) {
    // Another process uses the shared directory: use a private one, removed at close.
    o.dir = PrivateCacheDir(cluster_dir, name_, ::getpid());
    std::error_code ec;
    fs::remove_all(o.dir, ec);
    c = PageCache::Open(o);
    private_cache_ = true;
    LITEVFS_LOG(LogLevel::kInfo, name_, Pos{}, "cache directory in use by another process; using " + o.dir);
  }
  if (!c.ok()) return c.status().WithContext("litevfs: opening the page cache in " + o.dir);
  cache_ = std::move(c).value();
  cache_dir_ = o.dir;
  page_size_ = page_size;
  if (!private_cache_) WriteMetaPageSize(o.dir, page_size);
  return Status::OK();
}

void Database::Shutdown() {
  StopLeaseThread();
  std::string id;
  {
    std::lock_guard<std::mutex> lk(mu_);
    id = lease_id_;
    lease_id_.clear();
  }
  if (!id.empty()) {
    Status st = client_->ReleaseLease(name_, id);
    if (!st.ok()) {
      LITEVFS_LOG(LogLevel::kWarn, name_, Pos{}, "releasing the lease at close: " + st.ToString());
    } else {
      LITEVFS_LOG(LogLevel::kInfo, name_, Pos{}, "lease released at close: " + id);
    }
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    if (cache_) {
      Status st = cache_->Flush();
      if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "cache flush: " + st.ToString());
      cache_.reset();
    }
    if (private_cache_) {
      std::error_code ec;
      fs::remove_all(cache_dir_, ec);
    }
  }
  cv_.notify_all();
  // The sync thread may be inside a long poll; it holds its own reference (and its own
  // client) and exits when the poll returns. Our client's idle connections close now.
  if (sync_thread_.joinable()) sync_thread_.detach();
  client_.reset();
}

// ---------------------------------------------------------------------------------------
// Sync.

Status Database::FetchCommitFromPage1(Client* client, const Pos& pos, uint32_t* commit) {
  auto b = client->GetPages(name_, pos, {1});
  page_requests_++;
  if (!b.ok()) return b.status();
  for (auto& [pg, data] : b->pages) {
    if (pg == 1 && data.size() >= 32) {
      *commit = ltx::DecodeU32(reinterpret_cast<const uint8_t*>(data.data()) + 28);
      return Status::OK();
    }
  }
  return Status::Corruption("litevfs: the service returned no page 1 for " + name_);
}

Status Database::SyncNow(Client* client, long wait_ms) {
  Pos since;
  uint32_t ps = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return Status::OK();
    since = latest_.pos;
    ps = page_size_;
  }
  auto r = client->Sync(name_, since, wait_ms);
  if (!r.ok()) {
    if (r.status().code() == ltx::Code::kNotFound) {  // no such database (yet)
      std::lock_guard<std::mutex> lk(mu_);
      last_sync_ = Clock::now();
      if (!latest_.pos.IsZero()) {
        LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "the service no longer has this database");
      }
      return Status::OK();
    }
    return r.status();
  }
  syncs_++;
  SyncResult res = std::move(r).value();
  if (res.pos.IsZero()) {
    std::lock_guard<std::mutex> lk(mu_);
    last_sync_ = Clock::now();
    return Status::OK();
  }
  std::vector<std::pair<uint32_t, std::string>> boot;
  if (ps == 0) {
    // First contact without a page-size hint: learn it (and warm the cache) in one request.
    auto b = has_interior_ ? client->GetInterior(name_, res.pos) : client->GetPages(name_, res.pos, {1});
    page_requests_++;
    if (!b.ok()) return b.status();
    ps = b->page_size;
    if (ps == 0 && !b->pages.empty()) ps = uint32_t(b->pages.front().second.size());
    if (!ltx::IsValidPageSize(ps)) {
      return Status::Corruption("litevfs: the service reported page size " + std::to_string(ps) + " for " + name_);
    }
    if (b->pos == res.pos) boot = std::move(b->pages);
  }
  uint32_t commit = res.commit;
  if (commit == 0) {
    bool found = false;
    for (auto& [pg, data] : boot) {
      if (pg == 1 && data.size() >= 32) {
        commit = ltx::DecodeU32(reinterpret_cast<const uint8_t*>(data.data()) + 28);
        found = true;
      }
    }
    if (!found) LTX_RETURN_IF_ERROR(FetchCommitFromPage1(client, res.pos, &commit));
  }

  std::lock_guard<std::mutex> lk(mu_);
  return ApplySyncLocked(since, res, commit, ps, boot);
}

Status Database::ApplySyncLocked(const Pos& since, const SyncResult& res, uint32_t commit,
                                 uint32_t ps, const std::vector<std::pair<uint32_t, std::string>>& boot) {
  last_sync_ = Clock::now();
  if (stopping_) return Status::OK();
  if (latest_.pos != since) return Status::OK();  // a commit or another sync got there first
  if (res.pos == since) {
    latest_.commit = commit;
    return Status::OK();
  }
  if (page_size_ == 0) LTX_RETURN_IF_ERROR(OpenCacheLocked(ps));
  if (cache_ && cache_->pos() != res.pos) {
    bool all = res.all || since.IsZero();
    if (res.pos.txid <= cache_->pos().txid) {
      // The service went backwards (restore): nothing cached can be trusted.
      LTX_RETURN_IF_ERROR(cache_->Clear());
      old_pages_.clear();
      old_order_.clear();
      all = true;
    }
    Status st = cache_->Advance(res.pos, all, res.pgnos, commit);
    if (!st.ok()) return st.WithContext("litevfs: recording the sync in the page cache");
  }
  LITEVFS_LOG(LogLevel::kInfo, name_, res.pos,
              (since.IsZero() ? "first sync: at " + ltx::FormatPos(res.pos)
                              : "sync advanced from " + ltx::FormatPos(since) + " to " + ltx::FormatPos(res.pos)) +
                  (res.all ? " (all pages changed)" : " (" + std::to_string(res.pgnos.size()) + " pages changed)"));
  latest_ = {res.pos, commit};
  if (res.all) {
    children_.clear();
    parent_.Clear();
    tree_hints_ = 0;
  }
  for (auto& [pg, data] : boot) {
    if (data.size() == page_size_) RecordChildrenLocked(pg, data, commit, true);
  }
  if (cache_) {
    for (auto& [pg, data] : boot) {
      if (data.size() != page_size_) continue;
      Status st = cache_->Put(pg, res.pos.txid,
                              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
      if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, res.pos, "cache put: " + st.ToString());
    }
  }
  return Status::OK();
}

void Database::PersistCachePositionLocked() {
  if (!cache_ || !cache_->position_behind() || Clock::now() - last_persist_ < kPersistPeriod) return;
  last_persist_ = Clock::now();
  Status st = cache_->PersistPosition();
  if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "storing the cache position: " + st.ToString());
}

void Database::MaybeSyncForTransaction() {
  if (long_poll_) return;  // the sync thread keeps latest_ current
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (Clock::now() - last_sync_ < std::chrono::milliseconds(sync_period_ms.load())) return;
  }
  Status st = SyncNow(client_.get(), 0);
  {
    std::lock_guard<std::mutex> lk(mu_);
    PersistCachePositionLocked();
  }
  if (!st.ok()) {
    // Serve the last known state: reads of cached pages keep working while the service is away.
    LITEVFS_LOG(LogLevel::kWarn, name_, Pos{}, "sync at transaction start failed: " + st.ToString());
  }
}

void Database::SyncLoop() {
  for (int failures = 0;;) {
    bool missing;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stopping_) return;
      missing = latest_.pos.IsZero();
    }
    auto t0 = Clock::now();
    Pos before;
    {
      std::lock_guard<std::mutex> lk(mu_);
      before = latest_.pos;
    }
    Status st = SyncNow(sync_client_.get(), missing ? 0 : kLongPollWaitMs);
    std::unique_lock<std::mutex> lk(mu_);
    if (stopping_) return;
    PersistCachePositionLocked();
    std::chrono::milliseconds pause{0};
    if (!st.ok()) {
      failures = std::min(failures + 1, 5);
      pause = std::chrono::milliseconds(200 << failures);  // bounded backoff, <= 6.4 s
      LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "background sync failed: " + st.ToString());
    } else {
      failures = 0;
      // Nothing to wait on (database missing) or a server that answered at once without
      // news: fall back to the sync period so this never spins.
      if (missing || (latest_.pos == before && Clock::now() - t0 < std::chrono::milliseconds(50))) {
        pause = std::chrono::milliseconds(std::max<int64_t>(sync_period_ms.load(), 200));
      }
    }
    if (pause.count() > 0) cv_.wait_for(lk, pause, [&] { return stopping_; });
  }
}

// ---------------------------------------------------------------------------------------
// Locks.

Result<LockResult> Database::Lock(Conn* c, int level) {
  if (level == kLockShared) {
    if (c->lock != kLockNone) return LockResult::kOk;
    MaybeSyncForTransaction();
    std::lock_guard<std::mutex> lk(mu_);
    if (pending_) return LockResult::kBusy;
    shared_count_++;
    c->lock = kLockShared;
    c->pin = latest_;
    c->pinned = true;
    c->requests = 0;
    c->window = 0;
    c->ahead.clear();
    c->ahead_total = 0;
    c->frontier = 0;
    return LockResult::kOk;
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (reserved_ && reserved_ != c) return LockResult::kBusy;
  if (level == kLockReserved || (level == kLockExclusive && reserved_ == nullptr)) {
    if (level == kLockReserved && !LeaseValidLocked()) {
      return Status::PermissionDenied("litevfs: no write lease on " + name_ +
                                      (lease_lost_ ? " (the lease was lost)" : "") +
                                      ": run PRAGMA litevfs_acquire_lease");
    }
    if (c->pin.pos != latest_.pos) {
      return Status::Conflict("litevfs: " + name_ + " changed since this transaction started (pinned at " +
                              ltx::FormatPos(c->pin.pos) + ", now " + ltx::FormatPos(latest_.pos) +
                              "): roll back and retry");
    }
    reserved_ = c;
    writer_ = Writer{};
    writer_.owner = c;
    writer_.size_pages = c->pin.commit;
    writer_.dirty->set_spill_dirs(SpillDirs(cache_dir_));  // spill: beside the cache
    c->lock = kLockReserved;
    if (level == kLockReserved) return LockResult::kOk;
  }
  // EXCLUSIVE: PENDING first (blocks new readers), then wait for the other readers to go.
  pending_ = true;
  if (c->lock < kLockPending) c->lock = kLockPending;
  if (shared_count_ > 1) return LockResult::kBusy;
  c->lock = kLockExclusive;
  return LockResult::kOk;
}

Status Database::Unlock(Conn* c, int level) {
  std::unique_lock<std::mutex> lk(mu_);
  Status result;
  if (c->lock >= kLockReserved && level < kLockReserved && reserved_ == c) {
    if (c->lock >= kLockExclusive && !writer_.rolled_back) {
      // Fallback commit point (synchronous=OFF with journal_mode=OFF or MEMORY).
      result = CommitLocked(lk, c, "unlock");
      if (!result.ok()) {
        LITEVFS_LOG(LogLevel::kError, name_, c->pin.pos, "commit at unlock failed, changes discarded: " + result.ToString());
      }
    }
    writer_ = Writer{};
    reserved_ = nullptr;
    pending_ = false;
  }
  if (level == kLockNone && c->lock >= kLockShared) {
    shared_count_--;
    c->pinned = false;
  }
  c->lock = level;
  return result;
}

bool Database::CheckReserved() {
  std::lock_guard<std::mutex> lk(mu_);
  return reserved_ != nullptr;
}

bool Database::HasWriter() { return CheckReserved(); }

bool Database::LeaseValidLocked() const {
  return !lease_id_.empty() && !lease_lost_ && Clock::now() + kLeaseSafetyMargin < lease_expires_;
}

// ---------------------------------------------------------------------------------------
// Reads.

void Database::RecordChildrenLocked(uint32_t pgno, const std::string& page, uint32_t commit,
                                    bool refresh) {
  if (!refresh && children_.count(pgno)) return;
  const uint32_t lock_pg = ltx::LockPgno(page_size_);
  std::vector<uint32_t> kids;
  for (uint32_t child : BtreeChildren(pgno, page, page_size_)) {
    if (child == 0 || child > commit || child == lock_pg || child == pgno) continue;
    kids.push_back(child);
  }
  if (kids.empty()) return;
  if (auto old = children_.find(pgno); old != children_.end()) tree_hints_ -= old->second.size();
  if (tree_hints_ + kids.size() > kMaxTreeHints ||
      parent_.allocated_bytes() > kMaxTreeHints * sizeof(uint32_t)) {
    // Bound the memory; the shape refills as pages are read.
    parent_.Clear();
    children_.clear();
    tree_hints_ = 0;
  }
  for (uint32_t k : kids) parent_.At(k) = pgno;
  tree_hints_ += kids.size();
  children_[pgno] = std::move(kids);
}

void Database::AppendFollowingLocked(uint32_t pgno, size_t max, std::vector<uint32_t>* order) {
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

std::vector<uint32_t> Database::PrefetchCandidatesLocked(uint32_t pgno, const Snapshot& pin, size_t max,
                                                         uint32_t* frontier) {
  std::vector<uint32_t> picked;
  *frontier = 0;
  if (max == 0) return picked;
  // Twice the window: some of the order is cached already or past commit.
  std::vector<uint32_t> order;
  AppendFollowingLocked(pgno, 2 * max + 8, &order);
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
    if (!seen.insert(p).second || !FetchableLocked(p, pin)) continue;
    picked.push_back(p);
    if (i < following) *frontier = p;  // the scan continues after this one
  }
  return picked;
}

size_t Database::PrefetchWindowLocked(Conn* c) {
  const size_t base = size_t(max_prefetch_pages.load());
  if (base == 0 || c == nullptr) return base;
  const size_t cap = std::max(base, std::min(kMaxPagesPerRequest - 1, kMaxWindowBytes / page_size_));
  const size_t used = c->ahead_total - std::min<size_t>(c->ahead_total, c->ahead.size());
  if (c->window == 0 || c->ahead_total == 0 || used * 2 < c->ahead_total) {
    c->window = uint32_t(base);  // a point read (or the first miss): the base window
  } else {
    c->window = uint32_t(std::min(cap, size_t(c->window) * 2));  // a scan: read further ahead
  }
  return c->window;
}

void Database::MaybeReadAheadLocked(Conn* c, const Snapshot& pin) {
  // Only in a scan (the window grew: the reader used what was prefetched). While the window
  // still grows, one read-ahead at a time, once the reader is half-way through the latest
  // batch (a range that ends soon costs at most one speculative batch). At full size, up to
  // kReadAheadsInFlight, keeping about one and a half windows ahead of the reader: the next
  // batch is on the wire while it works through the current one, so a long scan waits for
  // the network only at its start.
  const size_t base = size_t(max_prefetch_pages.load());
  if (c->frontier == 0 || base == 0 || c->window <= base || stopping_) return;
  const size_t cap = std::max(base, std::min(kMaxPagesPerRequest - 1, kMaxWindowBytes / page_size_));
  if (c->window < cap) {
    if (!readaheads_in_flight_.empty() || c->ahead.size() * 2 > c->ahead_total) return;
  } else {
    if (readaheads_in_flight_.size() >= kReadAheadsInFlight) return;
    if (c->ahead.size() > cap * 3 / 2) return;
  }
  const int64_t max_reqs = max_reqs_per_query.load();
  if (max_reqs != 0 && c->requests >= uint64_t(max_reqs)) return;
  const size_t n = std::min(cap, size_t(c->window) * 2);
  std::vector<uint32_t> order;
  AppendFollowingLocked(c->frontier, 2 * n + 8, &order);
  std::vector<uint32_t> next;
  uint32_t frontier = 0;
  for (uint32_t p : order) {
    if (next.size() >= n) break;
    if (!FetchableLocked(p, pin)) continue;
    next.push_back(p);
    frontier = p;
  }
  c->frontier = frontier;
  if (next.empty()) return;  // the end of the b-tree (or of what its shape tells)
  c->window = uint32_t(n);
  c->ahead.insert(next.begin(), next.end());
  c->ahead_total = uint32_t(next.size());
  c->requests++;
  auto ra = std::make_shared<ReadAhead>();
  ra->txid = pin.pos.txid;
  ra->pgnos = std::unordered_set<uint32_t>(next.begin(), next.end());
  auto done = std::make_shared<std::promise<void>>();
  ra->done = done->get_future().share();
  std::sort(next.begin(), next.end());
  std::thread worker;
  try {
    // Detached: it holds the Database and the Client alive, and only stores into the cache
    // (under mu_, unless the database was shut down meanwhile).
    worker = std::thread(&Database::RunReadAhead, shared_from_this(), client_, pin, std::move(next), ra, done);
  } catch (const std::system_error& e) {  // no thread to be had: the reader fetches on misses
    LITEVFS_LOG(LogLevel::kDebug, name_, pin.pos, std::string("read-ahead skipped: ") + e.what());
    return;
  }
  // Listed only once the thread exists (it waits for mu_, which we hold, before unlisting).
  readaheads_in_flight_.push_back(ra);
  worker.detach();
}

void Database::RunReadAhead(std::shared_ptr<Database> self, std::shared_ptr<Client> client, Snapshot pin,
                            std::vector<uint32_t> pgnos, std::shared_ptr<ReadAhead> ra,
                            std::shared_ptr<std::promise<void>> done) {
  const auto start = Clock::now();
  Result<PageBatch> b = Status::Unavailable("litevfs: read-ahead did not run");
  try {
    b = client->GetPages(self->name_, pin.pos, pgnos);
  } catch (const std::exception& e) {  // bad_alloc: readers waiting on it must not hang
    b = Status::ResourceExhausted(std::string("litevfs: read-ahead: ") + e.what());
  }
  {
    std::lock_guard<std::mutex> lk(self->mu_);
    self->page_requests_++;
    self->readaheads_++;
    if (!b.ok()) {
      // Speculative: the reader fetches what it still needs on its misses.
      LITEVFS_LOG(LogLevel::kDebug, self->name_, pin.pos,
                  "read-ahead of " + std::to_string(pgnos.size()) + " pages failed (fetched on demand): " +
                      b.status().ToString());
    } else if (!self->stopping_) {
      Status st = self->StoreFetchedLocked(pin, &b->pages);
      if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, self->name_, pin.pos, "read-ahead: " + st.ToString());
      self->prefetched_ += b->pages.size();
      LITEVFS_LOG(LogLevel::kDebug, self->name_, pin.pos,
                  "read ahead " + std::to_string(pgnos.size()) + " pages (" + std::to_string(pgnos.front()) +
                      ".." + std::to_string(pgnos.back()) + ") in " +
                      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()) +
                      " ms");
    }
    auto& v = self->readaheads_in_flight_;
    v.erase(std::remove(v.begin(), v.end(), ra), v.end());
  }
  done->set_value();
}

Status Database::StoreFetchedLocked(const Snapshot& pin, std::vector<std::pair<uint32_t, std::string>>* pages) {
  const bool old_pin = !cache_ || pin.pos.txid < cache_->pos().txid;
  for (auto& [pg, data] : *pages) {
    if (data.size() != page_size_) {
      return Status::Corruption("litevfs: the service sent a " + std::to_string(data.size()) +
                                "-byte page " + std::to_string(pg) + " for " + name_ +
                                " (page size " + std::to_string(page_size_) + ")");
    }
  }
  for (auto& [pg, data] : *pages) {
    if (old_pin) RememberOldPageLocked(pin.pos.txid, pg, data);
    if (cache_) {
      Status st = cache_->Put(pg, pin.pos.txid,
                              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
      if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, pin.pos, "cache put: " + st.ToString());
    }
  }
  return Status::OK();
}

void Database::RememberOldPageLocked(uint64_t txid, uint32_t pgno, const std::string& page) {
  if (!old_pages_.emplace(std::make_pair(txid, pgno), page).second) return;
  old_order_.emplace_back(txid, pgno);
  while (old_order_.size() * page_size_ > kMaxOldPageBytes) {
    old_pages_.erase(old_order_.front());
    old_order_.pop_front();
  }
}

Status Database::ReadStoredPage(Conn* c, const Snapshot& pin, uint32_t pgno, std::string* out,
                                bool allow_prefetch) {
  std::vector<uint32_t> want = {pgno};
  uint32_t ps;
  {
    std::unique_lock<std::mutex> lk(mu_);
    ps = page_size_;
    out->assign(ps, '\0');
    if (pgno == ltx::LockPgno(ps) || pgno > pin.commit) return Status::OK();  // zeros
    page_reads_++;
    for (;;) {
      if (cache_) {
        auto r = cache_->Get(pgno, pin.pos.txid,
                             std::span<uint8_t>(reinterpret_cast<uint8_t*>(out->data()), out->size()));
        if (r.ok() && *r) {
          cache_hits_++;
          RecordChildrenLocked(pgno, *out, pin.commit, false);
          if (c && c->ahead.erase(pgno)) MaybeReadAheadLocked(c, pin);
          return Status::OK();
        }
        if (!r.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, pin.pos, "cache read: " + r.status().ToString());
      }
      if (auto it = old_pages_.find({pin.pos.txid, pgno}); it != old_pages_.end()) {
        *out = it->second;
        cache_hits_++;
        if (c && c->ahead.erase(pgno)) MaybeReadAheadLocked(c, pin);
        return Status::OK();
      }
      // A read-ahead is fetching this page: wait for it rather than asking twice.
      auto ra = ReadAheadOfLocked(pin.pos.txid, pgno);
      if (!ra) break;
      std::shared_future<void> done = ra->done;
      ra.reset();
      lk.unlock();
      done.wait();
      lk.lock();
    }
    cache_misses_++;
    const int64_t max_reqs = max_reqs_per_query.load();
    if (allow_prefetch && (max_reqs == 0 || c == nullptr || c->requests < uint64_t(max_reqs))) {
      uint32_t frontier = 0;
      for (uint32_t p : PrefetchCandidatesLocked(pgno, pin, PrefetchWindowLocked(c), &frontier)) {
        want.push_back(p);
      }
      if (c) {
        c->ahead.clear();
        c->ahead.insert(want.begin() + 1, want.end());
        c->ahead_total = uint32_t(want.size() - 1);
        c->frontier = frontier;
      }
    }
  }
  std::sort(want.begin(), want.end());
  const auto fetch_start = Clock::now();  // for the log line only
  auto b = client_->GetPages(name_, pin.pos, want);
  page_requests_++;
  if (c) c->requests++;
  if (!b.ok()) {
    return Status(b.status().code(),
                  "litevfs: fetching page " + std::to_string(pgno) + " of " + name_ + " at " +
                      ltx::FormatPos(pin.pos) + ": " + b.status().message(),
                  b.status().api_code());
  }
  std::lock_guard<std::mutex> lk(mu_);
  LTX_RETURN_IF_ERROR(StoreFetchedLocked(pin, &b->pages));
  bool found = false;
  for (auto& [pg, data] : b->pages) {
    if (pg == pgno) {
      *out = std::move(data);
      found = true;
    } else {
      prefetched_++;
    }
  }
  if (!found) out->assign(ps, '\0');  // past commit at the pin
  RecordChildrenLocked(pgno, *out, pin.commit, true);
  LITEVFS_LOG(LogLevel::kDebug, name_, pin.pos,
              "fetched page " + std::to_string(pgno) + " (+" + std::to_string(want.size() - 1) +
                  " prefetched) in " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - fetch_start).count()) +
                  " ms");
  return Status::OK();
}

Status Database::ReadStoredPages(const Snapshot& pin, const std::vector<uint32_t>& pgnos,
                                 std::map<uint32_t, std::string>* out) {
  std::vector<uint32_t> missing;
  uint32_t ps;
  {
    std::lock_guard<std::mutex> lk(mu_);
    ps = page_size_;
    for (uint32_t pg : pgnos) {
      std::string page(ps, '\0');
      if (pg == ltx::LockPgno(ps) || pg > pin.commit) {
        if (out) (*out)[pg] = std::move(page);
        continue;
      }
      if (cache_) {
        auto r = cache_->Get(pg, pin.pos.txid, std::span<uint8_t>(reinterpret_cast<uint8_t*>(page.data()), ps));
        if (r.ok() && *r) {
          if (out) (*out)[pg] = std::move(page);
          continue;
        }
      }
      missing.push_back(pg);
    }
  }
  std::sort(missing.begin(), missing.end());
  // A pipeline: while one answer goes to the cache, the next kBatchesInFlight requests
  // run, so the server's work, the transfer and ours overlap. Answers are taken in order;
  // memory is bounded by kBatchesInFlight + 1 batches, not by the number of pages.
  const size_t per_req = std::max<size_t>(1, std::min(kMaxPagesPerRequest, kBulkBatchBytes / ps));
  std::shared_ptr<Client> client = client_;
  struct Pending {
    std::vector<uint32_t> chunk;
    Clock::time_point start;  // for the log line only
    std::future<Result<PageBatch>> answer;
  };
  std::deque<Pending> inflight;
  size_t next = 0;
  auto launch = [&] {
    Pending p;
    p.chunk.assign(missing.begin() + next, missing.begin() + std::min(missing.size(), next + per_req));
    next += p.chunk.size();
    p.start = Clock::now();
    // async|deferred: libstdc++ runs it on a thread, or (no thread to be had) at get().
    p.answer = std::async(std::launch::async | std::launch::deferred, [client, name = name_, pos = pin.pos, chunk = p.chunk] {
      return client->GetPages(name, pos, chunk);
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
    const std::vector<uint32_t>& chunk = p.chunk;
    LITEVFS_LOG(LogLevel::kDebug, name_, pin.pos,
                "fetched a batch of " + std::to_string(chunk.size()) + " pages (" +
                    std::to_string(chunk.front()) + ".." + std::to_string(chunk.back()) + ") in " +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - p.start).count()) +
                    " ms");
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (out) {
        for (uint32_t pg : chunk) (*out)[pg] = std::string(ps, '\0');
      }
      for (auto& [pg, data] : b->pages) {
        if (data.size() != ps) return Status::Corruption("litevfs: wrong page size from the service for " + name_);
        if (cache_) {
          Status st = cache_->Put(pg, pin.pos.txid, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), ps));
          if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, pin.pos, "cache put: " + st.ToString());
        }
        if (out) (*out)[pg] = std::move(data);
      }
    }

  }
  return Status::OK();
}

int64_t Database::FileSize(Conn* c) {
  std::lock_guard<std::mutex> lk(mu_);
  if (reserved_ == c && writer_.owner == c) return int64_t(writer_.size_pages) * page_size_;
  const Snapshot& s = c->pinned ? c->pin : latest_;
  return int64_t(s.commit) * page_size_;
}

Status Database::Read(Conn* c, uint8_t* buf, size_t amt, int64_t off, bool* short_read) {
  *short_read = false;
  Snapshot pin;
  uint32_t ps;
  int64_t size;
  bool writer;
  {
    std::lock_guard<std::mutex> lk(mu_);
    pin = c->pinned ? c->pin : latest_;
    ps = page_size_;
    writer = reserved_ == c && writer_.owner == c;
    size = writer ? int64_t(writer_.size_pages) * ps : int64_t(pin.commit) * ps;
  }
  if (ps == 0) size = 0;
  std::string page;
  size_t done = 0;
  while (done < amt) {
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
      std::lock_guard<std::mutex> lk(mu_);
      auto r = writer_.dirty->Read(pgno, in, std::span<uint8_t>(buf + done, n));
      LTX_RETURN_IF_ERROR(r.status());
      have = *r;
    }
    if (!have) {
      LTX_RETURN_IF_ERROR(ReadStoredPage(c, pin, pgno, &page, true));
      if (pgno == 1 && page.size() > 19 && page[18] == 2 && page[19] == 2) {
        // WAL-mode database: SQLite sees a rollback-journal database (DESIGN.md §7).
        page[18] = 1;
        page[19] = 1;
      }
      std::memcpy(buf + done, page.data() + in, n);
    }
    done += n;
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------
// Writes.

Status Database::Write(Conn* c, const uint8_t* buf, size_t amt, int64_t off) {
  std::unique_lock<std::mutex> lk(mu_);
  if (reserved_ != c) return Status::IOError("litevfs: write to " + name_ + " without a write lock");
  if (writer_.rolled_back) return Status::OK();  // SQLite's playback after a failed commit
  if (!LeaseValidLocked()) {
    return Status::PermissionDenied("litevfs: no write lease on " + name_ +
                                    (lease_lost_ ? " (the lease was lost)" : " (expired)") +
                                    ": run PRAGMA litevfs_acquire_lease");
  }
  if (page_size_ == 0) {
    // A new database: its first write is a whole page and gives the page size. It is page 1
    // unless SQLite spilled pages of a transaction bigger than its page cache first.
    if (!ltx::IsValidPageSize(uint32_t(amt)) || off % int64_t(amt) != 0) {
      return Status::IOError("litevfs: unexpected first write to new database " + name_ + " (" +
                             std::to_string(amt) + " bytes at " + std::to_string(off) + ")");
    }
    page_size_ = uint32_t(amt);
  }
  const uint32_t ps = page_size_;
  if (off == 0 && amt >= 18) {
    // Page 1's header carries the page size (1 means 65536): a VACUUM that changes it would
    // make every stored page the wrong size.
    uint32_t hdr_ps = ltx::DecodeU16(buf + 16);
    if (hdr_ps == 1) hdr_ps = 65536;
    if (hdr_ps != ps) {
      return Status::Unsupported("litevfs: changing the page size of " + name_ + " from " +
                                 std::to_string(ps) + " to " + std::to_string(hdr_ps) + " is not supported");
    }
  }
  const uint32_t lock_pg = ltx::LockPgno(ps);
  size_t done = 0;
  while (done < amt) {
    const int64_t pos = off + int64_t(done);
    const uint32_t pgno = uint32_t(pos / ps) + 1;
    const size_t in = size_t(pos % ps);
    const size_t n = std::min<size_t>(ps - in, amt - done);
    if (pgno != lock_pg) {
      DirtyPages& dirty = *writer_.dirty;
      const auto bytes = std::span<const uint8_t>(buf + done, n);
      if (dirty.Contains(pgno)) {
        LTX_RETURN_IF_ERROR(dirty.Patch(pgno, in, bytes));
      } else if (in == 0 && n == ps) {
        LTX_RETURN_IF_ERROR(CheckGrowthLocked(c, pgno));
        LTX_RETURN_IF_ERROR(dirty.Put(pgno, bytes));
      } else {
        std::string base;
        Snapshot pin = c->pin;
        lk.unlock();
        Status st = ReadStoredPage(c, pin, pgno, &base, false);
        lk.lock();
        LTX_RETURN_IF_ERROR(st);
        std::memcpy(base.data() + in, bytes.data(), n);
        LTX_RETURN_IF_ERROR(CheckGrowthLocked(c, pgno));
        LTX_RETURN_IF_ERROR(writer_.dirty->Put(pgno, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(base.data()), ps)));
      }
    }
    writer_.size_pages = std::max(writer_.size_pages, pgno);
    done += n;
  }
  return Status::OK();
}

// spill: a page past the pinned size that would make the LTX larger than the server takes
// is refused now, not after the upload (PlanCommit checks the exact size again). Only growth:
// a rollback's playback rewrites pages within the old size, and must never be refused.
Status Database::CheckGrowthLocked(Conn* c, uint32_t pgno) {
  if (pgno <= c->pin.commit || writer_.dirty->Contains(pgno)) return Status::OK();
  return CheckTxBodyLimit(client_->max_body_bytes(), page_size_, writer_.dirty->count() + 1, name_);
}

Status Database::Truncate(Conn* c, int64_t size) {
  std::lock_guard<std::mutex> lk(mu_);
  if (reserved_ != c) return Status::IOError("litevfs: truncate of " + name_ + " without a write lock");
  if (writer_.rolled_back) return Status::OK();
  if (page_size_ == 0) {
    if (size == 0) return Status::OK();
    return Status::IOError("litevfs: truncate of empty database " + name_ + " to " + std::to_string(size));
  }
  const uint32_t pages = uint32_t((size + page_size_ - 1) / page_size_);
  writer_.size_pages = pages;
  writer_.dirty->DropAbove(pages);
  return Status::OK();
}

Status Database::Sync(Conn* c) {
  std::unique_lock<std::mutex> lk(mu_);
  if (reserved_ != c || c->lock < kLockExclusive || writer_.rolled_back) return Status::OK();
  return CommitLocked(lk, c, "sync");
}

Status Database::CommitPending(const char* why) {
  std::unique_lock<std::mutex> lk(mu_);
  if (!reserved_ || reserved_->lock < kLockExclusive || writer_.rolled_back) return Status::OK();
  return CommitLocked(lk, reserved_, why);
}

Status Database::CommitLocked(std::unique_lock<std::mutex>& lk, Conn* c, const char* why) {
  Writer& w = writer_;
  const Snapshot pin = c->pin;
  if (w.dirty->empty() && w.size_pages == pin.commit) return Status::OK();
  const auto commit_start = Clock::now();  // for the log line only
  const uint32_t ps = page_size_;
  const uint32_t new_commit = w.size_pages;
  // spill: the pages leave the Writer (a fresh store takes the next transaction's).
  std::unique_ptr<DirtyPages> dirty = std::move(w.dirty);
  w.dirty = std::make_unique<DirtyPages>();
  w.dirty->set_spill_dirs(SpillDirs(cache_dir_));
  auto fail = [&](Status st) {
    w.rolled_back = true;
    upload_failures_++;
    LITEVFS_LOG(LogLevel::kError, name_, pin.pos, std::string("commit (") + why + ") failed, transaction rolled back: " + st.ToString());
    return st;
  };
  if (ps == 0) return fail(Status::IOError("litevfs: commit without a page size"));
  if (!LeaseValidLocked()) {
    return fail(Status::PermissionDenied("litevfs: no write lease on " + name_ +
                                         (lease_lost_ ? " (the lease was lost)" : " (expired)") +
                                         ": the transaction was rolled back"));
  }
  const std::string lease = lease_id_;
  lk.unlock();

  // spill: two passes over the dirty pages (commit_stream.h), old pages in bounded batches,
  // the LTX encoded as the upload reads it.
  const bool snapshot = pin.pos.IsZero();
  CommitShape shape{ps, snapshot ? 0 : pin.commit, new_commit, pin.pos.post_apply_checksum, snapshot};
  auto planned = PlanCommit(shape, dirty.get(), [&](const std::vector<uint32_t>& pgnos, std::map<uint32_t, std::string>* out) {
    return ReadStoredPages(pin, pgnos, out);
  });
  if (!planned.ok()) {
    lk.lock();
    return fail(planned.status());
  }
  const CommitPlan& plan = *planned;
  if (plan.IsEmpty()) {
    lk.lock();
    return Status::OK();  // nothing changed
  }
  Status st = CheckTxBodyLimit(client_->max_body_bytes(), ps, plan.page_count, name_);
  if (!st.ok()) {
    lk.lock();
    return fail(st);
  }
  const ltx::Header h = CommitHeader(plan, pin.pos.txid + 1, NowMs());
  LtxBodyStream body(dirty.get(), &plan, h);
  const Client::BodyReader reader = [&body](uint64_t off, uint8_t* buf, size_t n) { return body.ReadAt(off, buf, n); };
  const ltx::DatabaseChecksum chk(plan.post_checksum);
  auto up = client_->UploadTxStream(name_, Pos{h.max_txid, chk.value()}, body.size(), reader, lease);
  // A kUnavailable upload lost its answer, not necessarily its effect. Settle the outcome
  // before reporting anything: ask where the service is; if it is at the position this
  // transaction produces, it was applied; if it is still at our pin, send the same LTX
  // again (the service's position check makes that idempotent); anything else is a
  // definite failure. Bounded: a few attempts with backoff, then "outcome unknown".
  const Pos want{h.max_txid, chk.value()};
  for (int attempt = 0; !up.ok() && up.status().code() == ltx::Code::kUnavailable; attempt++) {
    if (attempt == kCommitSettleAttempts) {
      up = Status(ltx::Code::kUnavailable,
                  "outcome unknown after " + std::to_string(attempt) + " attempts: " +
                      up.status().message() + " (the next transaction resyncs)");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25L << std::min(attempt, 5)));
    auto check = client_->Sync(name_, pin.pos, 0);
    if (!check.ok()) continue;  // still unreachable: try again
    if (check->pos == want) {
      LITEVFS_LOG(LogLevel::kWarn, name_, check->pos,
                  "upload reported " + up.status().ToString() + " but the service applied it");
      up = check->pos;
      break;
    }
    if (check->pos != pin.pos) break;  // someone else moved it: ours was not applied
    LITEVFS_LOG(LogLevel::kWarn, name_, pin.pos,
                "upload reported " + up.status().ToString() + "; the service does not have it, sending it again");
    up = client_->UploadTxStream(name_, want, body.size(), reader, lease);
    if (!up.ok() && up.status().api_code() == "EPOSMISMATCH") {
      // Raced with our own first attempt landing late: only `want` means it is ours.
      auto again = client_->Sync(name_, pin.pos, 0);
      if (again.ok() && again->pos == want) up = again->pos;
    }
  }
  lk.lock();
  if (!up.ok()) {
    if (up.status().api_code() == "ELEASE") {
      lease_lost_ = true;
      return fail(Status(ltx::Code::kPermissionDenied,
                         "litevfs: the write lease on " + name_ + " is no longer valid: " + up.status().message(),
                         up.status().api_code()));
    }
    return fail(up.status().WithContext("litevfs: uploading transaction " + ltx::FormatTxid(h.max_txid) + " of " + name_));
  }
  Pos np{h.max_txid, chk.value()};
  if (*up != np) {
    LITEVFS_LOG(LogLevel::kWarn, name_, np, "the service answered position " + ltx::FormatPos(*up) + " for our commit");
    if (!up->IsZero()) np = *up;
  }
  uploads_++;
  if (!cache_) {
    Status cst = OpenCacheLocked(ps);
    if (!cst.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, np, "no page cache: " + cst.ToString());
  }
  if (cache_) {
    const CarriedPages carried(dirty.get(), &plan);
    std::vector<uint32_t> changed;
    for (uint32_t pg = carried.Next(0); pg != 0; pg = carried.Next(pg)) changed.push_back(pg);
    changed.insert(changed.end(), plan.dropped.begin(), plan.dropped.end());
    std::sort(changed.begin(), changed.end());
    // Deferred durability: no index fdatasync on the commit's latency path; the sync thread
    // (or the close) stores the position within kPersistPeriod.
    Status cst = cache_->Advance(np, snapshot, changed, new_commit, /*defer_durability=*/true);
    std::vector<uint8_t> page(ps);
    for (uint32_t pg = carried.Next(0); pg != 0 && cst.ok(); pg = carried.Next(pg)) {
      cst = carried.Load(pg, page);
      if (cst.ok()) cst = cache_->Put(pg, np.txid, page);
    }
    if (!cst.ok()) {
      // Never serve a page the cache could not record as stale: run without it.
      LITEVFS_LOG(LogLevel::kError, name_, np, "page cache update after commit failed, cache disabled: " + cst.ToString());
      cache_.reset();
    }
  }
  latest_ = {np, new_commit};
  c->pin = latest_;
  w.size_pages = new_commit;
  LITEVFS_LOG(LogLevel::kInfo, name_, np,
              "commit uploaded: txid " + ltx::FormatTxid(np.txid) + ", " + std::to_string(plan.page_count) +
                  " pages, " + std::to_string(body.size()) + " bytes, database " + std::to_string(new_commit) +
                  " pages, " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - commit_start).count()) +
                  " ms (" + why + ")");
  return Status::OK();
}

// ---------------------------------------------------------------------------------------
// Leases.

Result<std::string> Database::AcquireLease(Conn* c) {
  (void)c;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (LeaseValidLocked()) return lease_id_;
  }
  const long dur = long(lease_duration_ms.load());
  auto l = client_->AcquireLease(name_, dur);
  if (!l.ok()) return l.status().WithContext("litevfs: acquiring the write lease on " + name_);
  {
    std::lock_guard<std::mutex> lk(mu_);
    lease_id_ = l->id;
    lease_expires_ = Clock::now() + std::chrono::milliseconds(dur);
    lease_lost_ = false;
  }
  // Sync after acquiring: any commit by the previous holder is now visible.
  if (Status st = SyncNow(client_.get(), 0); !st.ok()) {
    Status rel = client_->ReleaseLease(name_, l->id);
    (void)rel;  // best effort; the lease expires on its own
    std::lock_guard<std::mutex> lk(mu_);
    lease_id_.clear();
    return st.WithContext("litevfs: syncing " + name_ + " after acquiring the lease");
  }
  StopLeaseThread();
  lease_thread_ = std::thread([this] { LeaseLoop(); });
  if (LogEnabled(LogLevel::kInfo)) {
    Pos at;
    {
      std::lock_guard<std::mutex> lk(mu_);
      at = latest_.pos;
    }
    LogLine(LogLevel::kInfo, name_, at, "lease acquired: " + l->id);
  }
  return l->id;
}

void Database::LeaseLoop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_ && !lease_stop_ && !lease_id_.empty()) {
    const long dur = long(lease_duration_ms.load());
    if (cv_.wait_for(lk, std::chrono::milliseconds(dur / 3), [&] { return stopping_ || lease_stop_; })) break;
    const std::string id = lease_id_;
    if (id.empty()) break;
    lk.unlock();
    auto r = client_->AcquireLease(name_, dur, id);
    lk.lock();
    if (lease_id_ != id) break;
    if (r.ok()) {
      lease_expires_ = Clock::now() + std::chrono::milliseconds(dur);
    } else if (r.status().code() == ltx::Code::kConflict || r.status().code() == ltx::Code::kPermissionDenied) {
      lease_lost_ = true;
      LITEVFS_LOG(LogLevel::kError, name_, latest_.pos, "lost the write lease: " + r.status().ToString());
      break;
    } else {
      LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "lease refresh failed (will retry): " + r.status().ToString());
    }
  }
}

void Database::StopLeaseThread() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    lease_stop_ = true;
  }
  cv_.notify_all();
  if (lease_thread_.joinable()) lease_thread_.join();
  std::lock_guard<std::mutex> lk(mu_);
  lease_stop_ = false;
}

Result<std::string> Database::ReleaseLease() {
  StopLeaseThread();
  std::string id;
  {
    std::lock_guard<std::mutex> lk(mu_);
    id = lease_id_;
    lease_id_.clear();
    lease_lost_ = false;
  }
  if (id.empty()) return std::string();
  Status st = client_->ReleaseLease(name_, id);
  if (!st.ok()) return st.WithContext("litevfs: releasing the write lease on " + name_);
  if (LogEnabled(LogLevel::kInfo)) {
    Pos at;
    {
      std::lock_guard<std::mutex> lk(mu_);
      at = latest_.pos;
    }
    LogLine(LogLevel::kInfo, name_, at, "lease released: " + id);
  }
  return id;
}

// ---------------------------------------------------------------------------------------
// Pragmas.

Result<uint64_t> Database::CacheAll(Conn* c) {
  if (!c->pinned) LTX_RETURN_IF_ERROR(SyncNow(client_.get(), 0));
  Snapshot pin;
  std::vector<uint32_t> missing;
  {
    std::lock_guard<std::mutex> lk(mu_);
    pin = c->pinned ? c->pin : latest_;
    if (page_size_ == 0) return uint64_t{0};
    const uint32_t lock_pg = ltx::LockPgno(page_size_);
    for (uint32_t pg = 1; pg <= pin.commit; ++pg) {
      if (pg == lock_pg || (cache_ && cache_->Contains(pg, pin.pos.txid))) continue;
      missing.push_back(pg);
    }
  }
  // Pages go to the cache only (no output map): memory stays one batch, not the database.
  LTX_RETURN_IF_ERROR(ReadStoredPages(pin, missing, nullptr));
  prefetched_ += missing.size();
  return uint64_t(missing.size());
}

std::string Database::PositionString(Conn* c) {
  std::lock_guard<std::mutex> lk(mu_);
  return ltx::FormatPos(c->pinned ? c->pin.pos : latest_.pos);
}

std::string Database::StatsJson(Conn* c) {
  const ClientStats& cs = client_->stats();
  nlohmann::json j;
  std::lock_guard<std::mutex> lk(mu_);
  const Snapshot& pin = c->pinned ? c->pin : latest_;
  j["db"] = name_;
  j["position"] = ltx::FormatPos(latest_.pos);
  j["pinned_position"] = ltx::FormatPos(pin.pos);
  j["lag_txids"] = latest_.pos.txid - pin.pos.txid;
  j["last_sync_ms_ago"] = last_sync_ == Clock::time_point{} ? -1
      : std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_sync_).count();
  j["page_size"] = page_size_;
  j["commit"] = latest_.commit;
  j["page_reads"] = page_reads_.load();
  j["cache_hits"] = cache_hits_.load();
  j["cache_misses"] = cache_misses_.load();
  j["cache_pages"] = cache_ ? cache_->page_count() : 0;
  j["cache_dir"] = cache_dir_;
  j["prefetched_pages"] = prefetched_.load();
  j["readaheads"] = readaheads_.load();
  j["requests"] = cs.requests.load();
  j["page_requests"] = page_requests_.load();
  j["bytes_received"] = cs.bytes_received.load();
  j["bytes_sent"] = cs.bytes_sent.load();
  j["pages_fetched"] = cs.pages_fetched.load();
  j["retries"] = cs.retries.load();
  j["syncs"] = syncs_.load();
  j["uploads"] = uploads_.load();
  j["upload_failures"] = upload_failures_.load();
  j["lease"] = LeaseValidLocked() ? lease_id_ : std::string();
  j["long_poll"] = long_poll_;
  return j.dump();
}

Status Database::SetMaxCachedPages(int64_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  max_cached_pages_ = n;
  if (!cache_) return Status::OK();
  // The cache takes its bounds at open: reopen it (same directory, nothing lost).
  LTX_RETURN_IF_ERROR(cache_->Flush());
  cache_.reset();
  return OpenCacheLocked(page_size_);
}

Status Database::SetMinAvailableSpace(int64_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  min_available_space_ = n;
  if (!cache_) return Status::OK();
  LTX_RETURN_IF_ERROR(cache_->Flush());
  cache_.reset();
  return OpenCacheLocked(page_size_);
}

}  // namespace litevfs
