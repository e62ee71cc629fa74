// Time travel and lifecycle on the store (issue 18): which pages differ between two retained
// positions (from the in-memory index, no page reads), the position at a txid or a wall-clock
// time, restore (one new transaction built from only the differing pages, applied through the
// ordinary write path), branch (a past state copied into a new database on the server),
// delete and rename. Restore points (states kept longer than retention): store_points.cc.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "fd_cache.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/encoder.h"
#include "store.h"
#include "store_snapshot.h"

namespace mockcloud {
namespace {

// SQLite's database header on page 1: the file change counter and "version-valid-for".
constexpr size_t kChangeCounterOffset = 24;
constexpr size_t kVersionValidForOffset = 92;
constexpr char kTrashDir[] = "trash";

Status NotRetained(const std::string& what, const HistoryItem* oldest) {
  std::string msg = what + " is not retained";
  if (oldest) {
    msg += "; the oldest state kept is txid " + ltx::FormatTxid(oldest->pos.txid) + " (" +
           std::to_string(oldest->pos.txid) + ") written " + FormatRfc3339Ms(oldest->timestamp_ms);
  }
  return Status(ltx::Code::kConflict, msg, kApiNotRetained);
}

Status Exists(const std::string& name) {
  return Status(ltx::Code::kConflict, "database " + name + " already exists", kApiExists);
}

// An ltx::Source over a snapshot stream (Branch feeds it to the new database's Apply).
class SnapshotSource : public ltx::Source {
 public:
  explicit SnapshotSource(std::unique_ptr<Database::SnapshotStream> s) : s_(std::move(s)) {}
  Result<size_t> Read(void* buf, size_t n) override { return s_->Read(static_cast<char*>(buf), n); }
  std::optional<uint64_t> Size() const override { return s_->size(); }

 private:
  std::unique_ptr<Database::SnapshotStream> s_;
};

// Restores above this many page bytes are encoded to a file under tmp/, not memory.
constexpr uint64_t kRestoreMemoryBytes = 64ull << 20;

// A transaction being built by Restore: in memory, or in a file under tmp/ when large.
class RestoreBody {
 public:
  Status Open(const std::string& tmp_path, uint64_t bytes) {
    if (bytes <= kRestoreMemoryBytes) {
      sink_ = std::make_unique<ltx::StringSink>(&mem_);
      return Status::OK();
    }
    path_ = tmp_path;
    LTX_ASSIGN_OR_RETURN(auto f, ltx::FileSink::Create(path_));
    sink_ = std::move(f);
    return Status::OK();
  }
  ~RestoreBody() {
    sink_.reset();
    if (!path_.empty()) unlink(path_.c_str());
  }
  ltx::Sink* sink() { return sink_.get(); }
  Result<std::unique_ptr<ltx::Source>> Source() {
    if (path_.empty()) return ltx::MemorySource({reinterpret_cast<const uint8_t*>(mem_.data()), mem_.size()});
    sink_.reset();  // closes the file
    return ltx::OpenFileSource(path_);
  }

 private:
  std::string mem_;
  std::string path_;
  std::unique_ptr<ltx::Sink> sink_;
};

// Sets page 1's change counter and version-valid-for to `counter`.
void SetChangeCounter(uint8_t* page1, uint32_t counter) {
  ltx::EncodeU32(page1 + kChangeCounterOffset, counter);
  ltx::EncodeU32(page1 + kVersionValidForOffset, counter);
}

}  // namespace

Result<DiffInfo> Database::Diff(const Pos& from, const Pos& to) const {
  std::shared_lock l(mu_);
  View a, b;
  if (!ResolveLocked(from, &a)) return PosMismatch("position " + ltx::FormatPos(from) + " is not retained");
  if (!ResolveLocked(to, &b)) return PosMismatch("position " + ltx::FormatPos(to) + " is not retained");
  DiffInfo out;
  out.from = from;
  out.to = to;
  out.from_commit = a.commit;
  out.to_commit = b.commit;
  out.page_size = page_size_;
  const size_t lo = std::min(a.file_end, b.file_end), hi = std::max(a.file_end, b.file_end);
  const uint32_t top = std::max(a.commit, b.commit);
  uint32_t low_commit = std::min(a.commit, b.commit);
  std::vector<uint32_t> pg;
  for (size_t i = lo; i < hi; i++) {
    low_commit = std::min(low_commit, files_[i].commit);
    for (uint32_t p : files_[i].pgnos) {
      if (p <= top) pg.push_back(p);
    }
  }
  // A page above the smallest size in between was dropped (zeros) on one side at least.
  const uint32_t lock = ltx::LockPgno(page_size_);
  for (uint32_t p = low_commit + 1; p <= top; p++) {
    if (p != lock) pg.push_back(p);
  }
  std::sort(pg.begin(), pg.end());
  pg.erase(std::unique(pg.begin(), pg.end()), pg.end());
  out.pgnos = std::move(pg);
  return out;
}

Result<HistoryItem> Database::AtTxid(uint64_t txid, bool points) const {
  const std::vector<HistoryItem> h = History();
  if (h.empty()) return Status::NotFound("no such database");
  for (const auto& it : h) {
    if (it.pos.txid == txid) return it;
  }
  for (const auto& rp : points ? RestorePoints() : std::vector<RestorePoint>{}) {
    if (rp.pos.txid == txid) return HistoryItem{rp.pos, rp.timestamp_ms, rp.commit, 0};
  }
  if (txid > h.back().pos.txid) {
    return NotRetained("txid " + ltx::FormatTxid(txid) + " is past the current txid " +
                           ltx::FormatTxid(h.back().pos.txid) + " and",
                       nullptr);
  }
  return NotRetained("txid " + ltx::FormatTxid(txid) + " (" + std::to_string(txid) + ")", &h.front());
}

Result<HistoryItem> Database::AtTime(int64_t unix_ms, bool points) const {
  const std::vector<HistoryItem> h = History();
  if (h.empty()) return Status::NotFound("no such database");
  const HistoryItem* best = nullptr;
  for (const auto& it : h) {
    if (it.timestamp_ms <= unix_ms) best = &it;  // ascending txid: the newest at or before
  }
  std::optional<HistoryItem> point;
  for (const auto& rp : (points && !best) ? RestorePoints() : std::vector<RestorePoint>{}) {
    if (rp.timestamp_ms <= unix_ms) point = HistoryItem{rp.pos, rp.timestamp_ms, rp.commit, 0};
  }
  if (point) return *point;
  if (!best) return NotRetained("the state at " + FormatRfc3339Ms(unix_ms), &h.front());
  return *best;
}

void Database::Retire() {
  std::lock_guard wl(write_mu_);
  retired_ = true;
}

Result<std::unique_ptr<Database::SnapshotStream>> Database::OpenSnapshotAt(
    std::shared_ptr<const Database> self, const Pos& at) const {
  uint32_t commit;
  int64_t ts = 0;
  {
    std::unique_lock l(mu_);
    View v;
    if (!ResolveLocked(at, &v)) return PosMismatch("position " + ltx::FormatPos(at) + " is not retained");
    commit = v.commit;
    ts = v.file_end == 0 ? base_.timestamp_ms : files_[v.file_end - 1].timestamp_ms;
    pins_.insert(at.txid);
  }
  auto s = std::make_unique<SnapshotStream>(std::move(self), at, commit, ts);
  LTX_RETURN_IF_ERROR(s->Start());
  return s;
}

Result<ltx::Header> Database::RestoreHeaderLocked(const View& cv, const Pos& cur, uint32_t commit,
                                                  FdCache* fds, uint32_t* counter) const {
  std::vector<uint8_t> page1(page_size_);
  LTX_RETURN_IF_ERROR(ReadPageLocked(cv, 1, page1.data(), fds));
  *counter = ltx::DecodeU32(page1.data() + kChangeCounterOffset) + 1;
  ltx::Header h;
  h.page_size = page_size_;
  h.commit = commit;
  h.min_txid = h.max_txid = cur.txid + 1;
  h.timestamp = NowUnixMs();
  h.pre_apply_checksum = cur.post_apply_checksum;
  return h;
}

Result<ApplyResult> Database::Restore(const Pos& target,
                                      const std::function<Status()>& lease_check) {
  const Pos cur = pos();
  if (cur.IsZero()) return Status::NotFound("no such database");
  auto diff = Diff(cur, target);
  if (!diff.ok()) {  // not retained: a restore point, if one is at target
    if (auto rp = RestorePointAt(target)) return RestoreFromPoint(*rp, lease_check);
    return diff.status();
  }
  const DiffInfo& d = *diff;
  RestoreBody body;
  LTX_ASSIGN_OR_RETURN(std::string r, RandomHex(8));
  LTX_RETURN_IF_ERROR(body.Open(tmp_dir_ + "/restore-" + r + ".tmp",
                                uint64_t(d.pgnos.size() + 1) * (d.page_size + 4)));
  {
    std::shared_lock l(mu_);
    View cv, tv;
    if (!ResolveLocked(cur, &cv) || !ResolveLocked(target, &tv)) {
      return PosMismatch("the database moved on while the restore was planned; retry");
    }
    FdCache fds;
    std::vector<uint8_t> page(page_size_);
    uint32_t counter = 0;
    LTX_ASSIGN_OR_RETURN(ltx::Header h, RestoreHeaderLocked(cv, cur, tv.commit, &fds, &counter));
    LTX_ASSIGN_OR_RETURN(auto enc, ltx::Encoder::Open(body.sink(), h));
    ltx::DatabaseChecksum post(target.post_apply_checksum);
    std::vector<uint32_t> pgnos = d.pgnos;
    if (pgnos.empty() || pgnos.front() != 1) pgnos.insert(pgnos.begin(), 1);
    for (uint32_t p : pgnos) {
      if (p > tv.commit) break;
      LTX_RETURN_IF_ERROR(ReadPageLocked(tv, p, page.data(), &fds));
      if (p == 1) {
        post.Toggle(ltx::PageChecksum(1, page));
        SetChangeCounter(page.data(), counter);
        post.Toggle(ltx::PageChecksum(1, page));
      }
      LTX_RETURN_IF_ERROR(enc->AddPage(p, page));
    }
    LTX_RETURN_IF_ERROR(enc->Finish(post.value()));
  }
  LTX_ASSIGN_OR_RETURN(auto src, body.Source());
  return Apply(std::move(src), lease_check);
}

// ---- Store ----

void Store::EmptyTrash() {
  std::error_code ec;
  std::filesystem::remove_all(opts_.data_dir + "/" + kTrashDir, ec);
}

Status Store::Delete(const std::string& cluster, const std::string& db) {
  LTX_ASSIGN_OR_RETURN(std::shared_ptr<Database> d, Get(cluster, db, false));
  if (!d || !d->exists()) return Status::NotFound("no such database: " + db);
  d->Retire();  // no mutation runs or starts on it from here
  LTX_RETURN_IF_ERROR(MakeDirs(opts_.data_dir + "/" + kTrashDir));
  LTX_ASSIGN_OR_RETURN(std::string r, RandomHex(8));
  const std::string trash = opts_.data_dir + "/" + kTrashDir + "/" + cluster + "-" + db + "-" + r;
  {
    std::lock_guard l(mu_);
    if (rename(DbDir(cluster, db).c_str(), trash.c_str()) != 0)
      return Status::IOError(ErrnoText("rename to trash", DbDir(cluster, db)));
    dbs_.erase({cluster, db});
  }
  LTX_RETURN_IF_ERROR(FsyncPath(opts_.data_dir + "/clusters/" + cluster));
  d->WakeWaiters();
  std::error_code ec;
  std::filesystem::remove_all(trash, ec);
  if (ec) return Status::IOError("removing " + trash + ": " + ec.message());
  return Status::OK();
}

Status Store::Rename(const std::string& cluster, const std::string& from, const std::string& to) {
  LTX_RETURN_IF_ERROR(ValidateName(to, "to"));
  LTX_ASSIGN_OR_RETURN(std::shared_ptr<Database> d, Get(cluster, from, false));
  if (!d || !d->exists()) return Status::NotFound("no such database: " + from);
  if (from == to) return Exists(to);
  auto taken = [&] {
    auto it = dbs_.find({cluster, to});
    return (it != dbs_.end() && it->second->exists()) || access(DbDir(cluster, to).c_str(), F_OK) == 0;
  };
  {
    std::lock_guard l(mu_);
    if (taken()) return Exists(to);
  }
  d->Retire();  // waits for a running write; none starts on it from here
  std::lock_guard l(mu_);
  // The retired object is replaced whatever happens: by `to`, or by `from` loaded again.
  const bool moved = !taken() && rename(DbDir(cluster, from).c_str(), DbDir(cluster, to).c_str()) == 0;
  Status st = moved ? Status::OK()
              : taken() ? Exists(to)
                        : Status::IOError(ErrnoText("rename", DbDir(cluster, from)));
  if (moved) st = FsyncPath(opts_.data_dir + "/clusters/" + cluster);
  const std::string& name = moved ? to : from;
  auto nd = std::make_shared<Database>(DbDir(cluster, name), opts_.data_dir + "/tmp", &opts_);
  Status load = nd->Load().WithContext("database " + cluster + "/" + name);
  dbs_.erase({cluster, from});
  if (load.ok()) dbs_[{cluster, name}] = std::move(nd);
  d->WakeWaiters();
  return st.ok() ? load : st;
}

Result<ApplyResult> Store::Branch(const std::string& cluster, const std::string& db, const Pos& at,
                                  const std::string& to) {
  LTX_RETURN_IF_ERROR(ValidateName(to, "to"));
  LTX_ASSIGN_OR_RETURN(std::shared_ptr<Database> src, Get(cluster, db, false));
  if (!src || !src->exists()) return Status::NotFound("no such database: " + db);
  LTX_ASSIGN_OR_RETURN(std::shared_ptr<Database> dst, Get(cluster, to, true));
  if (dst->exists()) return Exists(to);
  std::unique_ptr<ltx::Source> state;
  if (auto stream = src->OpenSnapshotAt(src, at); stream.ok()) {
    state = std::make_unique<SnapshotSource>(std::move(stream).value());
  } else if (auto rp = src->RestorePointAt(at)) {  // a restore point is a snapshot file
    LTX_ASSIGN_OR_RETURN(state, ltx::OpenFileSource(rp->path));
  } else {
    return stream.status();
  }
  auto r = dst->Apply(std::move(state), [] { return Status::OK(); });
  if (!r.ok() && r.status().api_code() == kApiPosMismatch && dst->exists()) return Exists(to);
  return r;
}

}  // namespace mockcloud
