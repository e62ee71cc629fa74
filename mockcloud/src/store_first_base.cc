// Database::Apply's path for the first upload of a new database (a snapshot, nothing stored
// yet; issue 19, `litevfs import`): the pages are written into base.tmp at their offsets as
// they are decoded, in runs of consecutive pages, with their checksums (base.sums), interior
// list and the post-apply checksum computed on the way. Once the trailer checks out, base.tmp
// gets its header and is fsynced, the lease is checked, base.sums is renamed into place and
// base.tmp is renamed to base.db: that rename (and the directory's fsync) is the commit
// point, so the reply still means durable. A rejected or interrupted upload leaves only
// base.tmp, removed here or at the next startup (Load). The end state is the one a record
// and an immediate fold gave before (base.db at the snapshot's position, no segment), at one
// write of the database instead of two writes and a read.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "btree_page.h"
#include "ltx/checksum.h"
#include "ltx/decoder.h"
#include "page_sums.h"
#include "store.h"

namespace mockcloud {
namespace {

constexpr size_t kRunBytes = 1 << 20;  // consecutive pages gathered into one pwrite

// Pages at their offsets (pgno * page_size), consecutive ones written together.
class RunWriter {
 public:
  RunWriter(StoreIo* io, int fd, const std::string& path, uint32_t page_size)
      : io_(io), fd_(fd), path_(path), page_size_(page_size) {
    buf_.reserve(kRunBytes);
  }
  Status Add(uint32_t pgno, std::span<const uint8_t> page) {
    if (!buf_.empty() && (pgno != next_ || buf_.size() + page.size() > kRunBytes)) {
      LTX_RETURN_IF_ERROR(Flush());
    }
    if (buf_.empty()) start_ = pgno;
    buf_.insert(buf_.end(), page.begin(), page.end());
    next_ = pgno + 1;
    return Status::OK();
  }
  Status Flush() {
    if (buf_.empty()) return Status::OK();
    const uint64_t off = uint64_t(start_) * page_size_;
    Status st = IoPwriteAll(io_, fd_, buf_.data(), buf_.size(), off, path_);
    // The disk starts on the run now, while the upload goes on, so the fsync at the end has
    // only the tail left (issue 19, row 11). A hint: the fsync is what makes the file
    // durable, and checks; a refusal here (a file system without it) changes nothing.
    if (st.ok()) {
      (void)::sync_file_range(fd_, off_t(off), off_t(buf_.size()), SYNC_FILE_RANGE_WRITE);
    }
    buf_.clear();
    return st;
  }

 private:
  StoreIo* io_;
  int fd_;
  const std::string& path_;
  const uint32_t page_size_;
  std::vector<uint8_t> buf_;
  uint32_t start_ = 0, next_ = 0;
};

Status BadLtx(const Status& st) { return Status::InvalidArgument("bad LTX: " + st.message()); }

}  // namespace

// Decodes every page into `fd` (base.tmp) and checks the trailer's post-apply checksum.
Status Database::WriteFirstBasePagesLocked(ltx::Decoder* dec, int fd, const std::string& path,
                                           TxFile* tf, std::vector<uint64_t>* sums,
                                           std::vector<uint32_t>* interior) {
  const ltx::Header& h = dec->header();
  const uint32_t ps = h.page_size;
  sums->assign(size_t(h.commit) + 1, 0);
  ltx::DatabaseChecksum acc(ltx::kEmptyDatabaseChecksum);
  RunWriter out(io(), fd, path, ps);
  for (;;) {
    ltx::PageFrame fr;
    auto more = dec->Next(&fr);
    if (!more.ok()) return BadLtx(more.status());
    if (!*more) break;
    acc.Toggle(fr.checksum);  // the decoder's, from the same pass as the file's CRC
    (*sums)[fr.pgno] = PageSum(fr.pgno, fr.data.data(), ps);
    if (IsInteriorPage(fr.pgno, fr.data)) interior->push_back(fr.pgno);
    tf->pgnos.push_back(fr.pgno);
    LTX_RETURN_IF_ERROR(out.Add(fr.pgno, fr.data));
  }
  if (Status st = dec->Finish(); !st.ok()) return BadLtx(st);
  LTX_RETURN_IF_ERROR(out.Flush());
  // The decoder refuses a snapshot that misses a page, so no page is left as zeros.
  const uint64_t claimed = dec->trailer().post_apply_checksum;
  if (acc.value() != claimed) {
    return Status::InvalidArgument("post-apply checksum mismatch: the file says " +
                                   ltx::FormatChecksum(claimed) + ", its pages give " +
                                   ltx::FormatChecksum(acc.value()));
  }
  tf->post = claimed;
  return Status::OK();
}

Result<ApplyResult> Database::ApplyFirstBaseLocked(ltx::Decoder* dec,
                                                   const std::function<Status()>& lease_check) {
  const ltx::Header h = dec->header();
  const uint32_t ps = h.page_size;
  LTX_RETURN_IF_ERROR(MakeDirs(dir_));
  const std::string tmp = dir_ + "/base.tmp";
  int fd = open(tmp.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return WriteErrno("create", tmp);
  TxFile tf;
  tf.min_txid = tf.max_txid = h.max_txid;
  tf.commit = h.commit;
  tf.timestamp_ms = h.timestamp;
  std::vector<uint64_t> sums;
  std::vector<uint32_t> interior;
  Status st = WriteFirstBasePagesLocked(dec, fd, tmp, &tf, &sums, &interior);
  tf.recv_ms = NowUnixMs();
  const std::vector<uint8_t> hdr = EncodeBaseHeader(tf, h.commit, ps);
  if (st.ok()) st = IoPwriteAll(io(), fd, hdr.data(), ps, 0, tmp);
  if (st.ok()) st = IoFtruncate(io(), fd, (uint64_t(h.commit) + 1) * ps, tmp);
  if (st.ok()) st = IoFsync(io(), fd, tmp);
  if (st.ok()) st = lease_check();
  // base.sums before base.db: a base.sums without a base.db is removed at startup.
  Result<int> sums_fd = st.ok() ? WriteSumsFileLocked(sums, ps) : Result<int>(st);
  if (sums_fd.ok() && rename(tmp.c_str(), (dir_ + "/base.db").c_str()) != 0) {
    close(*sums_fd);
    sums_fd = Status::IOError(ErrnoText("rename", tmp));
  }
  if (!sums_fd.ok()) {
    close(fd);
    unlink(tmp.c_str());
    return sums_fd.status();
  }
  // Commit point: the new base is there once its directory entry is durable.
  if (Status dst = FsyncPath(dir_); !dst.ok()) {
    close(fd);
    close(*sums_fd);
    return dst;
  }
  {
    std::unique_lock l(mu_);
    page_size_ = ps;
    base_ = Base{{tf.max_txid, tf.post}, h.commit, tf.timestamp_ms, tf.recv_ms,
                 uint32_t(tf.pgnos.size()), fd, *sums_fd, std::move(sums), std::move(interior)};
  }
  PublishPos();
  ApplyResult res;
  res.pos = base_.pos;
  res.pages = tf.pgnos.size();
  return res;
}

}  // namespace mockcloud
