// Restore points (issue 18): states kept longer than --retention. Every --snapshots-every the
// compaction thread writes the current state of each database that moved since its newest
// point as a snapshot LTX file, clusters/<c>/<db>/points/%016x.ltx (txid; uncompressed v1,
// written to .tmp, fsynced, renamed, directory fsynced), and removes points taken more than
// --snapshots-keep ago. Cost: one full copy of the database per point (disk: database size
// × points kept). A point can be restored (every page that differs from the current state,
// found by reading both: O(database size) reads, writes only what differs) or branched (the
// file is the snapshot the new database is created from); it is not served page by page
// (/db/page), so a VFS cannot open it: restore or branch it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "fd_cache.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/decoder.h"
#include "ltx/encoder.h"
#include "store.h"
#include "store_snapshot.h"

namespace mockcloud {
namespace {

constexpr char kPointsDir[] = "points";
constexpr char kPointSuffix[] = ".ltx";
constexpr size_t kChangeCounterOffset = 24;    // SQLite header: file change counter
constexpr size_t kVersionValidForOffset = 92;  // SQLite header: version-valid-for

int64_t MtimeMs(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return int64_t(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

// Header and trailer of a point file (the body was verified when it was written).
Result<RestorePoint> ReadPoint(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(ErrnoText("open", path));
  uint8_t head[ltx::kHeaderSize], tail[ltx::kTrailerSize];
  struct stat st;
  Status s = fstat(fd, &st) == 0 ? PreadAll(fd, head, sizeof head, 0) : Status::IOError(ErrnoText("fstat", path));
  if (s.ok() && uint64_t(st.st_size) < sizeof head + sizeof tail) s = Status::Corruption(path + ": too short");
  if (s.ok()) s = PreadAll(fd, tail, sizeof tail, uint64_t(st.st_size) - sizeof tail);
  close(fd);
  LTX_RETURN_IF_ERROR(s);
  LTX_ASSIGN_OR_RETURN(ltx::Header h, ltx::Header::Decode(head));
  LTX_ASSIGN_OR_RETURN(ltx::Trailer t, ltx::Trailer::Decode(tail));
  RestorePoint rp;
  rp.pos = {h.max_txid, t.post_apply_checksum};
  rp.timestamp_ms = h.timestamp;
  rp.taken_ms = MtimeMs(path);
  rp.commit = h.commit;
  rp.path = path;
  return rp;
}

// Writes `stream` to `path` durably (tmp, fsync, rename, fsync dir).
Status WritePointFile(Database::SnapshotStream* stream, const std::string& dir, const std::string& path) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return WriteErrno("open", tmp);
  std::vector<char> buf(1 << 20);
  Status st;
  for (;;) {
    auto n = stream->Read(buf.data(), buf.size());
    if (!n.ok()) st = n.status();
    if (!n.ok() || *n == 0) break;
    st = WriteAll(fd, buf.data(), *n);
    if (!st.ok()) break;
  }
  if (st.ok() && fsync(fd) != 0) st = WriteErrno("fsync", tmp);
  close(fd);
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) st = WriteErrno("rename", tmp);
  if (st.ok()) st = FsyncPath(dir);
  if (!st.ok()) unlink(tmp.c_str());
  return st;
}

}  // namespace

void Database::LoadPointsLocked() const {
  if (points_loaded_) return;
  points_loaded_ = true;
  const std::string dir = dir_ + "/" + kPointsDir;
  for (const auto& n : ListDir(dir)) {
    if (n.size() <= strlen(kPointSuffix) || n.compare(n.size() - strlen(kPointSuffix), std::string::npos, kPointSuffix) != 0) {
      if (!opts_->read_only) unlink((dir + "/" + n).c_str());  // a .tmp a crash left
      continue;
    }
    auto rp = ReadPoint(dir + "/" + n);
    if (!rp.ok()) {
      Warn("restore point " + dir + "/" + n + " is unreadable and ignored: " + rp.status().ToString());
      continue;
    }
    points_.push_back(std::move(rp).value());
  }
  std::sort(points_.begin(), points_.end(),
            [](const RestorePoint& a, const RestorePoint& b) { return a.pos.txid < b.pos.txid; });
}

std::vector<RestorePoint> Database::RestorePoints() const {
  std::lock_guard l(points_mu_);
  LoadPointsLocked();
  return points_;
}

std::optional<RestorePoint> Database::RestorePointAt(const Pos& at) const {
  for (const auto& rp : RestorePoints()) {
    if (rp.pos == at) return rp;
  }
  return std::nullopt;
}

Status Database::MaintainRestorePoints(std::shared_ptr<const Database> self, int64_t now_ms) {
  if (opts_->snapshots_every_ms <= 0 || opts_->read_only) return Status::OK();
  std::vector<RestorePoint> pts = RestorePoints();
  for (const auto& rp : pts) {
    if (rp.taken_ms >= now_ms - opts_->snapshots_keep_ms) continue;
    if (unlink(rp.path.c_str()) != 0 && errno != ENOENT) return WriteErrno("unlink", rp.path);
    std::lock_guard l(points_mu_);
    points_.erase(std::remove_if(points_.begin(), points_.end(),
                                 [&](const RestorePoint& p) { return p.path == rp.path; }),
                  points_.end());
  }
  const Pos cur = pos();
  if (cur.IsZero()) return Status::OK();
  if (!pts.empty() && (pts.back().pos == cur || now_ms - pts.back().taken_ms < opts_->snapshots_every_ms))
    return Status::OK();
  const std::string dir = dir_ + "/" + kPointsDir;
  LTX_RETURN_IF_ERROR(MakeDirs(dir));
  LTX_ASSIGN_OR_RETURN(auto stream, OpenSnapshot(std::move(self)));
  const std::string path = dir + "/" + ltx::FormatTxid(stream->pos().txid) + kPointSuffix;
  LTX_RETURN_IF_ERROR(WritePointFile(stream.get(), dir, path));
  LTX_ASSIGN_OR_RETURN(RestorePoint rp, ReadPoint(path));
  std::lock_guard l(points_mu_);
  points_.push_back(std::move(rp));
  return Status::OK();
}

Result<ApplyResult> Database::RestoreFromPoint(const RestorePoint& rp,
                                               const std::function<Status()>& lease_check) {
  const Pos cur = pos();
  LTX_ASSIGN_OR_RETURN(auto src, ltx::OpenFileSource(rp.path));
  ltx::DecodeOptions dopts;
  dopts.version = ltx::Version::kV1;
  LTX_ASSIGN_OR_RETURN(auto dec, ltx::Decoder::Open(std::move(src), dopts));
  std::string body;
  ltx::StringSink sink(&body);
  {
    std::shared_lock l(mu_);
    View cv;
    if (!ResolveLocked(cur, &cv)) return Status(ltx::Code::kConflict, "the database moved on; retry", kApiPosMismatch);
    FdCache fds;
    std::vector<uint8_t> page(page_size_);
    uint32_t counter = 0;
    LTX_ASSIGN_OR_RETURN(ltx::Header h, RestoreHeaderLocked(cv, cur, rp.commit, &fds, &counter));
    LTX_ASSIGN_OR_RETURN(auto enc, ltx::Encoder::Open(&sink, h));
    ltx::DatabaseChecksum post(rp.pos.post_apply_checksum);
    ltx::PageFrame f;
    for (;;) {
      LTX_ASSIGN_OR_RETURN(bool more, dec->Next(&f));
      if (!more) break;
      LTX_RETURN_IF_ERROR(ReadPageLocked(cv, f.pgno, page.data(), &fds));
      const bool differs = f.pgno > cv.commit || memcmp(page.data(), f.data.data(), page.size()) != 0;
      if (f.pgno != 1 && !differs) continue;
      std::memcpy(page.data(), f.data.data(), page.size());
      if (f.pgno == 1) {
        post.Toggle(ltx::PageChecksum(1, page));
        ltx::EncodeU32(page.data() + kChangeCounterOffset, counter);
        ltx::EncodeU32(page.data() + kVersionValidForOffset, counter);
        post.Toggle(ltx::PageChecksum(1, page));
      }
      LTX_RETURN_IF_ERROR(enc->AddPage(f.pgno, page));
    }
    LTX_RETURN_IF_ERROR(dec->Finish());
    LTX_RETURN_IF_ERROR(enc->Finish(post.value()));
  }
  return Apply(ltx::MemorySource({reinterpret_cast<const uint8_t*>(body.data()), body.size()}), lease_check);
}

Status Store::RestorePointsAll(int64_t now_ms) {
  if (opts_.snapshots_every_ms <= 0) return Status::OK();
  std::vector<std::shared_ptr<Database>> list;
  {
    std::lock_guard l(mu_);
    for (auto& [_, db] : dbs_) list.push_back(db);
  }
  Status first;
  for (auto& db : list) {
    Status st = db->MaintainRestorePoints(db, now_ms);
    if (!st.ok() && first.ok()) first = st.WithContext(db->label() + ": restore point");
  }
  return first;
}

}  // namespace mockcloud
