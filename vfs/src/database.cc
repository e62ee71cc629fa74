// Database, the registry and the open/close room: one Database per (host, cluster, name)
// per process, its Init (the cold open is one /db/interior request), the page cache's
// directory (shared, private, or none: memory-only), and the shutdown.
#include "database.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "log.h"
#include "release_memory.h"
#include "private_cache.h"

namespace litevfs {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMetaFile = "litevfs.meta";

struct Registry {
  std::mutex mu;  // guards the three maps
  std::map<std::string, std::shared_ptr<Database>> by_key;
  std::map<std::string, int> refs;
  std::map<std::string, std::weak_ptr<Database>> by_path;
};
Registry* GetRegistry() {
  static Registry* r = new Registry();  // leaked: see the file-top comment in vfs.cc
  return r;
}

std::string Key(const VfsConfig& cfg, const std::string& name) {
  return cfg.client.host + "\n" + cfg.ClusterName() + "\n" + name;
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

Status OpenError(const Status& st, const VfsConfig& cfg, const std::string& name) {
  switch (st.code()) {
    case ltx::Code::kUnavailable:
      return Status(st.code(),
                    "litevfs: cannot reach the service at " + cfg.client.host_source + "=" +
                        cfg.client.host + " (opening " + name + "): " + st.message(),
                    st.api_code());
    case ltx::Code::kPermissionDenied:
      return Status(st.code(),
                    "litevfs: the service at " + cfg.client.host + " rejected " + cfg.client.token_source +
                        " for cluster " + cfg.ClusterName() + ": " + st.message(),
                    st.api_code());
    default:
      return st.WithContext("litevfs: opening " + name + " at " + cfg.client.host);
  }
}

Status NoSuchDatabase(const VfsConfig& cfg, const std::string& name) {
  return Status::NotFound("litevfs: database " + name + " does not exist in cluster " + cfg.ClusterName() +
                          " at " + cfg.client.host);
}

}  // namespace

Database::Database(const VfsConfig& cfg, std::string name, std::string full_path,
                   std::unique_ptr<Client> client)
    : cfg_(cfg),
      name_(std::move(name)),
      full_path_(std::move(full_path)),
      client_(std::move(client)),
      lease_(name_, client_) {}

Database::~Database() {
  if (sync_thread_.joinable()) sync_thread_.detach();
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
      MutexLock lk(&db->mu_);
      if (db->latest_.pos.IsZero() && !create) return NoSuchDatabase(cfg, name);
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

Status Database::ColdOpen(const std::string& shared_dir, bool* synced) {
  bool cold = true;
  uint32_t known_ps = 0;
  if (uint32_t hint = ReadMetaPageSize(shared_dir); hint != 0) {
    MutexLock lk(&mu_);
    OpenCacheOrRunWithoutLocked(hint);
    if (cache_) latest_ = {cache_->pos(), 0};
    cold = !cache_ || cache_->page_count() == 0;
    known_ps = page_size_;
  }
  *synced = false;
  if (!cold || !cfg_.client.use_extensions) return Status::OK();
  // Cold cache: one request. /db/interior at the current position answers with the
  // position, the size, the page size and the server's features (Litevfs-Features), and
  // holds page 1 and every interior page, so a lookup then misses only on its leaf.
  // kUnsupported (no extension) and kNotFound (no such database) take the sync path.
  // The batch (every interior page: 30 MB for a 10 GiB database) is freed on the way out,
  // in between the b-tree shape kept for prefetching: give that memory back to the system.
  struct TrimOnExit {
    ~TrimOnExit() { ReleaseFreedMemory(); }
  } trim;  // before b: destroyed after it
  auto b = client_->GetInteriorBlock(name_, Pos{});
  page_requests_++;
  if (b.ok() && !b->pos.IsZero() && b->commit > 0) {
    if (known_ps != 0 && known_ps != b->page_size) return Status::OK();
    SyncResult res;
    res.pos = b->pos;
    res.all = true;
    res.commit = b->commit;
    res.page_size = b->page_size;
    MutexLock lk(&mu_);
    LTX_RETURN_IF_ERROR(ApplySyncLocked(latest_.pos, res, b->commit, b->page_size, b->pages));
    prefetched_ += b->pages.size();
    *synced = true;
  } else if (!b.ok() && b.status().code() != ltx::Code::kUnsupported &&
             b.status().code() != ltx::Code::kNotFound) {
    return b.status();
  }
  return Status::OK();
}

Status Database::Init(bool create) {
  const std::string shared_dir = cfg_.cache_root + "/" + cfg_.ClusterName() + "/" + name_;
  bool synced = false;
  if (Status st = ColdOpen(shared_dir, &synced); !st.ok()) return OpenError(st, cfg_, name_);
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
  std::string dir;
  {
    MutexLock lk(&mu_);
    latest = latest_;
    dir = memory_only_ ? "none: memory only" : cache_dir_;
  }
  if (latest.pos.IsZero()) {
    if (!create) return NoSuchDatabase(cfg_, name_);
    LITEVFS_LOG(LogLevel::kInfo, name_, latest.pos,
                "database does not exist on the service: opened empty; the first commit creates it");
  }
  StartSyncThread();
  LITEVFS_LOG(LogLevel::kInfo, name_, latest.pos,
              "opened (cache " + dir + (long_poll_ ? ", long-poll sync)" : ", periodic sync)"));
  return Status::OK();
}

void Database::StartSyncThread() {
  if (!long_poll_) return;
  auto sc = Client::Create(cfg_.client);
  if (sc.ok()) {
    sync_client_ = std::move(sc).value();
    std::shared_ptr<Database> self = shared_from_this();
    sync_thread_ = std::thread([self] { self->SyncLoop(); });
  } else {
    long_poll_ = false;  // period-gated sync at transaction start instead
    LITEVFS_LOG(LogLevel::kWarn, name_, Pos{}, "no sync client: " + sc.status().ToString());
  }
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

void Database::OpenCacheOrRunWithoutLocked(uint32_t page_size) {
  if (memory_only_) {
    page_size_ = page_size;
    return;
  }
  Status st = OpenCacheLocked(page_size);
  if (st.ok()) return;
  memory_only_ = true;
  page_size_ = page_size;
  cache_.reset();
  LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos,
              "no page cache, caching in memory only: " + st.ToString() +
                  " (set LITEVFS_CACHE_DIR to a writable directory)");
}

Status Database::ReopenCacheLocked() {
  if (!cache_) return Status::OK();
  // New bounds, applied to the open cache (not a reopen: SQLite may hold pages of its map
  // in place, xFetch).
  cache_->SetLimits(uint64_t(max_cached_pages_.load()), uint64_t(min_available_space_.load()));
  return Status::OK();
}

void Database::ReleaseLeaseAtClose() {
  // Bounded by the connect timeout: a frozen service must not hold the close for a whole
  // request timeout (the lease expires on its own).
  ClientConfig quick = cfg_.client;
  quick.request_timeout_ms = cfg_.client.connect_timeout_ms;
  quick.max_retries = 0;
  auto rc = Client::Create(quick);
  if (!rc.ok()) {
    lease_.Stop();
    LITEVFS_LOG(LogLevel::kWarn, name_, Pos{}, "releasing the lease at close: " + rc.status().ToString());
    return;
  }
  auto r = lease_.Release(**rc);
  if (!r.ok()) {
    LITEVFS_LOG(LogLevel::kWarn, name_, Pos{},
                "releasing the lease at close: " + r.status().ToString() + " (it expires on its own)");
  } else if (!r->empty()) {
    LITEVFS_LOG(LogLevel::kInfo, name_, Pos{}, "lease released at close: " + *r);
  }
}

void Database::Shutdown() {
  ReleaseLeaseAtClose();
  {
    MutexLock lk(&mu_);
    stopping_ = true;
    while (cache_writers_ > 0) cv_.Wait();  // read-aheads writing into cache_ (database_read.cc)
    if (cache_) {
      // The position is made durable; the pages are not waited for (cache.cc: a page lost
      // to a power cut fails its hash and is fetched again). An fdatasync of the pages made
      // closing after a 1 GiB cold scan take 0.9 s more (issue 19).
      Status st = cache_->PersistPosition();
      if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "cache position at close: " + st.ToString());
      cache_.reset();
    }
    if (private_cache_) {
      std::error_code ec;
      fs::remove_all(cache_dir_, ec);
    }
  }
  cv_.NotifyAll();
  // The sync thread may be inside a long poll; it holds its own reference (and its own
  // client) and exits when the poll returns. Our client's idle connections close now.
  if (sync_thread_.joinable()) sync_thread_.detach();
  client_.reset();
}

}  // namespace litevfs
