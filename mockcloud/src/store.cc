#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/decoder.h"
#include "ltx/encoder.h"
#include "ltx/io.h"
#include "btree_page.h"
#include "fd_cache.h"
#include "page_sums.h"
#include "quarantine.h"

namespace mockcloud {
namespace {

constexpr uint64_t kMaxUnwrittenGrowth = 65536;

// SEG2: strict segments (the header slot after the last record is zeros; see Segment::strict).
// SEG1: before.
constexpr char kSegMagic[8] = {'L', 'V', 'M', 'C', 'S', 'E', 'G', '2'};
constexpr char kSegMagicLegacy[8] = {'L', 'V', 'M', 'C', 'S', 'E', 'G', '1'};
// fold.pending: magic, target txid u64, target post-apply checksum u64, crc64 of [0,24).
constexpr char kFoldMagic[8] = {'L', 'V', 'M', 'C', 'F', 'O', 'L', 'D'};
constexpr size_t kFoldIntentSize = 32;
constexpr uint64_t kSegHeaderSize = 64;
constexpr uint32_t kRecMagic = 0x4C565243;  // "LVRC"
constexpr uint64_t kRecHeaderSize = 64;     // also the alignment of records
constexpr uint64_t kExtendMin = 64 << 10;   // zeros written ahead: from this...
constexpr uint64_t kExtendMax = 4 << 20;    // ...doubling up to this per extension
constexpr uint64_t kExtendSlack = 16 << 10; // extend when fewer zeros than this remain

uint64_t AlignRecord(uint64_t off) { return (off + kRecHeaderSize - 1) & ~(kRecHeaderSize - 1); }

uint64_t RecordCrc(uint64_t salt, const uint8_t* hdr) {
  uint8_t s[8];
  ltx::EncodeU64(s, salt);
  return ltx::Crc64Update(ltx::Crc64(s, sizeof s), hdr, kRecHeaderSize - 8);
}

// Record header: 0 magic u32 | 4 zero u32 | 8 len u64 | 16 recv_ms i64 | 24 the LTX file's
// checksum u64 (so bytes of another upload left at the same offset never pass for this
// record) | 32 zeros | 56 crc64 of salt ‖ bytes [0,56).
void EncodeRecordHeader(uint64_t salt, uint64_t len, int64_t recv_ms, uint64_t file_checksum,
                        uint8_t* hdr) {
  memset(hdr, 0, kRecHeaderSize);
  ltx::EncodeU32(&hdr[0], kRecMagic);
  ltx::EncodeU64(&hdr[8], len);
  ltx::EncodeU64(&hdr[16], uint64_t(recv_ms));
  ltx::EncodeU64(&hdr[24], file_checksum);
  ltx::EncodeU64(&hdr[kRecHeaderSize - 8], RecordCrc(salt, hdr));
}

bool RecordHeaderValid(uint64_t salt, const uint8_t* hdr) {
  return ltx::DecodeU32(&hdr[0]) == kRecMagic && ltx::DecodeU32(&hdr[4]) == 0 &&
         ltx::DecodeU64(&hdr[kRecHeaderSize - 8]) == RecordCrc(salt, hdr);
}

// Whether any 32-byte aligned slot of `fd` from `from` to `size` holds a valid record header
// (that is, whether stored transactions follow). Only run when a segment does not end cleanly.
Result<bool> RecordHeaderAfter(int fd, const std::string& path, uint64_t salt, uint64_t from,
                               uint64_t size) {
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t off = AlignRecord(from); off + kRecHeaderSize <= size; off += buf.size()) {
    const size_t n = size_t(std::min<uint64_t>(buf.size(), (size - off) / kRecHeaderSize * kRecHeaderSize));
    LTX_RETURN_IF_ERROR(PreadAll(fd, buf.data(), n, off).WithContext(path));
    for (size_t i = 0; i + kRecHeaderSize <= n; i += kRecHeaderSize) {
      if (RecordHeaderValid(salt, &buf[i])) return true;
    }
  }
  return false;
}

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

// "%016x.seg" exactly.
bool ParseSegName(const std::string& n, uint64_t* seq) {
  if (n.size() != 20 || n.substr(16) != ".seg") return false;
  auto a = ltx::ParseHex64(n.substr(0, 16));
  if (!a.ok()) return false;
  *seq = *a;
  return true;
}

std::string SegName(uint64_t seq) {
  char buf[32];
  snprintf(buf, sizeof buf, "%016" PRIx64 ".seg", seq);
  return buf;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "%016x-%016x.ltx" exactly.
bool ParseLtxName(const std::string& n, uint64_t* min, uint64_t* max) {
  if (n.size() != 37 || n[16] != '-' || n.substr(33) != ".ltx") return false;
  auto a = ltx::ParseHex64(n.substr(0, 16));
  auto b = ltx::ParseHex64(n.substr(17, 16));
  if (!a.ok() || !b.ok()) return false;
  *min = *a;
  *max = *b;
  return true;
}

// Opens `path` (O_CLOEXEC added); -1 when it does not exist.
Result<int> OpenIfExists(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT) return Status::IOError(ErrnoText("open", path));
  return fd;
}

int64_t FileMtimeMs(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return int64_t(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

// A buffered Sink writing at `off` onwards of a file descriptor the caller owns (pwrite, so
// the descriptor's file offset is left alone).
class PwriteSink : public ltx::Sink {
 public:
  PwriteSink(StoreIo* io, int fd, std::string path, uint64_t off)
      : io_(io), fd_(fd), path_(std::move(path)), off_(off) {}
  Status Write(const void* data, size_t n) override {
    buf_.append(static_cast<const char*>(data), n);
    if (buf_.size() >= (1 << 20)) return Flush();
    return Status::OK();
  }
  Status Flush() {
    Status st = IoPwriteAll(io_, fd_, buf_.data(), buf_.size(), off_, path_);
    if (st.ok()) off_ += buf_.size();
    buf_.clear();
    return st;
  }
  uint64_t offset() const { return off_; }  // end of what was flushed

 private:
  StoreIo* io_;
  int fd_;
  std::string path_;
  uint64_t off_;
  std::string buf_;
};

// `len` bytes at `start` of a descriptor the caller owns, as a Source.
class RangeSource : public ltx::Source {
 public:
  RangeSource(int fd, std::string path, uint64_t start, uint64_t len)
      : fd_(fd), path_(std::move(path)), start_(start), len_(len) {}
  Result<size_t> Read(void* buf, size_t n) override {
    LTX_ASSIGN_OR_RETURN(size_t got, ReadAt(pos_, buf, n));
    pos_ += got;
    return got;
  }
  std::optional<uint64_t> Size() const override { return len_; }
  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    if (offset >= len_) return size_t{0};
    n = size_t(std::min<uint64_t>(n, len_ - offset));
    for (;;) {
      ssize_t r = pread(fd_, buf, n, off_t(start_ + offset));
      if (r >= 0) return size_t(r);
      if (errno != EINTR) return Status::IOError(ErrnoText("read", path_));
    }
  }

 private:
  int fd_;
  std::string path_;
  uint64_t start_, len_, pos_ = 0;
};

}  // namespace

Database::~Database() {
  if (base_.fd >= 0) close(base_.fd);
  if (base_.sums_fd >= 0) close(base_.sums_fd);
  for (auto& seg : segs_) {
    if (seg.fd >= 0) close(seg.fd);
  }
}

void Database::Warn(const std::string& msg) const {
  if (opts_->warn) {
    opts_->warn(msg);
  } else {
    fprintf(stderr, "%s\n", msg.c_str());
  }
}

void Database::Error(const std::string& msg) const {
  if (opts_->error) {
    opts_->error(msg);
  } else {
    fprintf(stderr, "%s\n", msg.c_str());
  }
}

std::string Database::label() const {
  const size_t b = dir_.find_last_of('/');
  const size_t a = b == std::string::npos || b == 0 ? std::string::npos : dir_.find_last_of('/', b - 1);
  return a == std::string::npos ? dir_ : dir_.substr(a + 1);
}

Status Database::CheckSum(uint32_t pgno, const uint8_t* page, uint64_t want,
                          const std::string& file, uint64_t offset) const {
  const uint64_t got = PageSum(pgno, page, page_size_);
  if (got == want) return Status::OK();
  char buf[64];
  snprintf(buf, sizeof buf, "%016" PRIx64 ", stored %016" PRIx64, got, want);
  return Status(ltx::Code::kCorruption,
                "database " + label() + ": page " + std::to_string(pgno) + " in " + file +
                    " at offset " + std::to_string(offset) +
                    " does not match its checksum (read " + buf +
                    "): the stored bytes changed after they were written",
                kApiCorrupt);
}

Pos Database::CurrentLocked() const {
  if (!files_.empty()) return {files_.back().max_txid, files_.back().post};
  return base_.pos;
}

uint32_t Database::CommitLocked() const {
  return files_.empty() ? base_.commit : files_.back().commit;
}

Pos Database::pos() const {
  std::shared_lock l(mu_);
  return CurrentLocked();
}

uint32_t Database::page_size() const {
  std::shared_lock l(mu_);
  return page_size_;
}

size_t Database::FileCount() const {
  std::shared_lock l(mu_);
  return files_.size();
}

size_t Database::SegmentCount() const {
  std::lock_guard wl(write_mu_);
  return segs_.size();
}

const Database::TxFile* Database::FileByTxidLocked(uint64_t txid) const {
  auto it = std::lower_bound(files_.begin(), files_.end(), txid,
                             [](const TxFile& f, uint64_t t) { return f.max_txid < t; });
  if (it == files_.end() || it->max_txid != txid) return nullptr;
  return &*it;
}

bool Database::ResolveLocked(const Pos& at, View* v) const {
  if (at.IsZero() || at.txid < fold_floor_) return false;
  size_t end;
  if (base_.pos.txid != 0 && at == base_.pos) {
    end = 0;
    v->commit = base_.commit;
  } else {
    const TxFile* f = FileByTxidLocked(at.txid);
    if (!f || f->post != at.post_apply_checksum) return false;
    end = size_t(f - files_.data()) + 1;
    v->commit = f->commit;
  }
  v->txid = at.txid;
  v->file_end = end;
  v->shrinks.clear();
  uint32_t prev = base_.commit;
  for (size_t i = 0; i < end; i++) {
    if (files_[i].commit < prev) v->shrinks.emplace_back(files_[i].max_txid, files_[i].commit);
    prev = files_[i].commit;
  }
  return true;
}

Result<SyncInfo> Database::Sync(const Pos* since) const {
  std::shared_lock l(mu_);
  SyncInfo out;
  out.pos = CurrentLocked();
  if (out.pos.IsZero()) return Status::NotFound("no such database");
  out.commit = CommitLocked();
  out.page_size = page_size_;
  out.all = true;
  if (!since || since->IsZero() || since->txid > out.pos.txid || since->txid < fold_floor_) {
    return out;
  }
  if (*since == out.pos) {
    out.all = false;
    return out;
  }
  size_t start;
  if (base_.pos.txid != 0 && *since == base_.pos) {
    start = 0;
  } else {
    const TxFile* f = FileByTxidLocked(since->txid);
    if (!f || f->post != since->post_apply_checksum) return out;  // unknown or expired
    start = size_t(f - files_.data()) + 1;
  }
  std::vector<uint32_t> pg;
  for (size_t i = start; i < files_.size(); i++) {
    pg.insert(pg.end(), files_[i].pgnos.begin(), files_[i].pgnos.end());
  }
  pg.push_back(1);
  std::sort(pg.begin(), pg.end());
  pg.erase(std::unique(pg.begin(), pg.end()), pg.end());
  out.all = false;
  out.pgnos = std::move(pg);
  return out;
}

std::vector<HistoryItem> Database::History() const {
  std::shared_lock l(mu_);
  std::vector<HistoryItem> out;
  if (base_.pos.txid != 0 && base_.pos.txid >= fold_floor_) {
    out.push_back({base_.pos, base_.timestamp_ms ? base_.timestamp_ms : base_.recv_ms, base_.commit,
                   base_.page_count});
  }
  for (const auto& f : files_) {
    if (f.max_txid < fold_floor_) continue;
    out.push_back({{f.max_txid, f.post},
                   f.timestamp_ms ? f.timestamp_ms : f.recv_ms,
                   f.commit,
                   uint32_t(f.pgnos.size())});
  }
  return out;
}

void Database::PublishPos() {
  Pos p = pos();
  {
    std::lock_guard l(wait_mu_);
    published_ = p;
  }
  wait_cv_.notify_all();
}

void Database::WakeWaiters() {
  { std::lock_guard l(wait_mu_); }
  wait_cv_.notify_all();
}

void Database::WaitForChange(const Pos& p, std::chrono::steady_clock::time_point deadline,
                             const std::atomic<bool>& stop) {
  std::unique_lock l(wait_mu_);
  wait_cv_.wait_until(l, deadline, [&] { return stop.load() || !(published_ == p); });
}

Result<Database::Segment*> Database::SegmentForAppendLocked() {
  if (!segs_.empty() && segs_.back().fd >= 0 && segs_.back().strict &&
      segs_.back().end < opts_->segment_bytes) {
    return &segs_.back();
  }
  const std::string seg_dir = dir_ + "/seg";
  LTX_RETURN_IF_ERROR(MakeDirs(seg_dir));
  Segment seg;
  seg.seq = segs_.empty() ? 1 : segs_.back().seq + 1;
  seg.path = seg_dir + "/" + SegName(seg.seq);
  LTX_ASSIGN_OR_RETURN(std::string salt_hex, RandomHex(8));
  LTX_ASSIGN_OR_RETURN(seg.salt, ltx::ParseHex64(salt_hex));
  int fd = open(seg.path.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return WriteErrno("create", seg.path);
  uint8_t h[kSegHeaderSize] = {};
  memcpy(h, kSegMagic, 8);
  ltx::EncodeU64(&h[8], seg.seq);
  ltx::EncodeU64(&h[16], seg.salt);
  ltx::EncodeU64(&h[56], ltx::Crc64(h, 56));
  seg.fd = fd;
  seg.end = seg.size = kSegHeaderSize;
  Status st = IoPwriteAll(io(), fd, h, sizeof h, 0, seg.path);
  if (st.ok()) st = ExtendSegmentLocked(&seg, seg.end + kExtendMin);
  if (st.ok()) st = IoFsync(io(), fd, seg.path);
  if (st.ok()) st = FsyncPath(seg_dir);
  if (!st.ok()) {
    close(fd);
    unlink(seg.path.c_str());
    return st;
  }
  if (!segs_.empty() && segs_.back().fd >= 0) {
    close(segs_.back().fd);
    segs_.back().fd = -1;
  }
  segs_.push_back(std::move(seg));
  return &segs_.back();
}

Status Database::ExtendSegmentLocked(Segment* seg, uint64_t need) {
  if (seg->size >= need + kExtendSlack) return Status::OK();
  const uint64_t target = need + std::clamp(seg->size, kExtendMin, kExtendMax);
  static const std::vector<uint8_t> zeros(1 << 20, 0);
  for (uint64_t off = seg->size; off < target;) {
    const size_t n = size_t(std::min<uint64_t>(zeros.size(), target - off));
    LTX_RETURN_IF_ERROR(IoPwriteAll(io(), seg->fd, zeros.data(), n, off, seg->path));
    off += n;
    seg->size = off;
  }
  return Status::OK();
}

Result<ApplyResult> Database::Apply(std::unique_ptr<ltx::Source> upload,
                                    const std::function<Status()>& lease_check) {
  std::lock_guard wl(write_mu_);
  if (retired_) return Status::NotFound("no such database (deleted or renamed)");  // issue 18
  // write_mu_ makes us the only mutator: reading the state without mu_ is safe here.
  const Pos cur = CurrentLocked();
  const uint32_t old_commit = CommitLocked();

  ltx::DecodeOptions dopts;
  dopts.version = ltx::Version::kV1;
  auto dec_r = ltx::Decoder::Open(std::move(upload), dopts);
  if (!dec_r.ok()) return Status::InvalidArgument("bad LTX: " + dec_r.status().message());
  auto dec = std::move(dec_r).value();
  ltx::Header h = dec->header();
  if (Status st = h.Validate(); !st.ok())
    return Status::InvalidArgument("bad LTX header: " + st.message());
  if (!h.HasChecksums()) {
    return Status::InvalidArgument("LTX without checksums (flag 0x2) is not accepted");
  }
  if (h.IsSnapshot()) {
    if (!cur.IsZero()) {
      return PosMismatch("snapshot upload to an existing database (at " + ltx::FormatPos(cur) +
                         ")");
    }
  } else {
    if (cur.IsZero())
      return PosMismatch("database does not exist: the first upload must be a snapshot");
    if (h.min_txid != cur.txid + 1 || h.pre_apply_checksum != cur.post_apply_checksum) {
      return PosMismatch("upload applies at " + ltx::FormatPos(h.PreApplyPos()) +
                         " but the database is at " + ltx::FormatPos(cur));
    }
    if (h.page_size != page_size_) {
      return Status::InvalidArgument("page size " + std::to_string(h.page_size) +
                                     " differs from the database's " + std::to_string(page_size_));
    }
  }

  // A new database's first upload goes straight into base.db (store_first_base.cc).
  if (h.IsSnapshot() && base_.fd < 0 && files_.empty()) {
    return ApplyFirstBaseLocked(dec.get(), lease_check);
  }
  // The normalised file goes past the segment's end, its header (the commit) comes last: a
  // rejected upload leaves bytes there that no record header names, overwritten by the next.
  LTX_ASSIGN_OR_RETURN(Segment* seg, SegmentForAppendLocked());
  const uint64_t at = seg->end;
  PwriteSink sink(io(), seg->fd, seg->path, at + kRecHeaderSize);
  auto fail = [&](Status st) -> Status {
    seg->size = std::max(seg->size, sink.offset());
    return st;
  };
  ltx::Header nh = h;
  nh.flags &= ~ltx::kFlagCompressLZ4;
  auto enc_r = ltx::Encoder::Open(&sink, nh);
  if (!enc_r.ok()) return Status::InvalidArgument("bad LTX header: " + enc_r.status().message());
  auto enc = std::move(enc_r).value();

  TxFile tf;
  tf.min_txid = h.min_txid;
  tf.max_txid = h.max_txid;
  tf.pre = h.pre_apply_checksum;
  tf.commit = h.commit;
  tf.timestamp_ms = h.timestamp;
  tf.path = seg->path;
  tf.offset = at + kRecHeaderSize;
  tf.seg_seq = seg->seq;

  const uint32_t ps = h.page_size;
  const uint32_t lock = ltx::LockPgno(ps);
  ltx::DatabaseChecksum acc(cur.IsZero() ? ltx::kEmptyDatabaseChecksum : cur.post_apply_checksum);
  View curv;
  if (!cur.IsZero() && !ResolveLocked(cur, &curv)) {
    return Status::Corruption("current position does not resolve");
  }
  FdCache fds;
  std::vector<uint8_t> old(ps);
  while (true) {
    ltx::PageFrame fr;
    auto more = dec->Next(&fr);
    if (!more.ok()) return fail(Status::InvalidArgument("bad LTX: " + more.status().message()));
    if (!*more) break;
    if (fr.pgno <= old_commit) {
      if (Status st = ReadPageLocked(curv, fr.pgno, old.data(), &fds); !st.ok()) return fail(st);
      acc.Toggle(ltx::PageChecksum(fr.pgno, old));
    }
    acc.Toggle(fr.checksum);
    if (Status st = enc->AddPage(fr.pgno, fr.data); !st.ok()) {
      // The encoder writes the segment: a failed write (a full disk) is the service's error,
      // not the upload's, and must reach the client as such (507, "nothing was stored").
      if (st.code() == ltx::Code::kIOError || st.code() == ltx::Code::kResourceExhausted) return fail(st);
      return fail(Status::InvalidArgument("bad LTX: " + st.message()));
    }
    tf.pgnos.push_back(fr.pgno);
    tf.sums.push_back(PageSum(fr.pgno, fr.data.data(), ps));
    if (IsInteriorPage(fr.pgno, fr.data)) tf.interior.push_back(fr.pgno);
  }
  if (Status st = dec->Finish(); !st.ok())
    return fail(Status::InvalidArgument("bad LTX: " + st.message()));
  const uint64_t claimed = dec->trailer().post_apply_checksum;
  // Pages the transaction drops (shrink) leave the checksum; pages it adds without writing
  // them are zeros.
  for (uint64_t p = uint64_t(h.commit) + 1; p <= old_commit; p++) {
    if (p == lock) continue;
    if (Status st = ReadPageLocked(curv, uint32_t(p), old.data(), &fds); !st.ok()) return fail(st);
    acc.Toggle(ltx::PageChecksum(uint32_t(p), old));
  }
  if (h.commit > old_commit) {
    // Growth the transaction does not write is zeros; bound it so a header cannot make us
    // checksum billions of pages.
    const uint64_t unwritten = uint64_t(h.commit - old_commit) -
                               uint64_t(std::count_if(tf.pgnos.begin(), tf.pgnos.end(),
                                                      [&](uint32_t p) { return p > old_commit; }));
    if (unwritten > kMaxUnwrittenGrowth) {
      return fail(Status::InvalidArgument(
          "bad LTX: grows the database by " + std::to_string(unwritten) +
          " pages it does not write (max " + std::to_string(kMaxUnwrittenGrowth) + ")"));
    }
    std::vector<uint8_t> zero(ps, 0);
    for (uint64_t p = uint64_t(old_commit) + 1; p <= h.commit; p++) {
      if (p == lock || std::binary_search(tf.pgnos.begin(), tf.pgnos.end(), uint32_t(p))) continue;
      acc.Toggle(ltx::PageChecksum(uint32_t(p), zero));
    }
  }
  if (acc.value() != claimed) {
    return fail(Status::InvalidArgument("post-apply checksum mismatch: the file says " +
                                        ltx::FormatChecksum(claimed) + ", its pages give " +
                                        ltx::FormatChecksum(acc.value())));
  }
  tf.post = claimed;
  if (Status st = enc->Finish(claimed); !st.ok()) return fail(st);
  if (Status st = sink.Flush(); !st.ok()) return fail(st);
  const uint64_t len = sink.offset() - tf.offset;
  const uint64_t next = AlignRecord(sink.offset());
  if (Status st = FinishRecordBodyLocked(seg, &sink, next); !st.ok()) return fail(st);
  if (Status st = lease_check(); !st.ok()) return st;
  tf.recv_ms = NowUnixMs();
  if (Status st = WriteRecordHeaderLocked(seg, at, len, tf.recv_ms, enc->trailer().file_checksum);
      !st.ok()) {
    return st;
  }
  // Commit point.
  seg->end = next;
  seg->last_txid = tf.max_txid;

  ApplyResult res;
  res.pos = {tf.max_txid, tf.post};
  res.pages = tf.pgnos.size();
  {
    std::unique_lock l(mu_);
    page_size_ = ps;
    AddLoadedLocked(std::move(tf));
  }
  PublishPos();
  if (h.IsSnapshot()) {
    // Fold the snapshot into the base right away: its pages then cost no index memory. The
    // upload is durable already, so a failure here is only a warning (compaction retries).
    if (Status st = FoldLocked(files_.size() - 1); !st.ok())
      res.warning = "folding the snapshot: " + st.ToString();
  }
  return res;
}

Status Database::FinishRecordBodyLocked(Segment* seg, ltx::Sink* body, uint64_t next) {
  auto* sink = static_cast<PwriteSink*>(body);
  // Zeros up to and over the next header slot: after this record the log ends cleanly even
  // where a rejected upload left bytes (so a non-zero slot is never a torn write).
  static const uint8_t zeros[2 * kRecHeaderSize] = {};
  LTX_RETURN_IF_ERROR(sink->Write(zeros, size_t(next + kRecHeaderSize - sink->offset())));
  LTX_RETURN_IF_ERROR(sink->Flush());
  seg->size = std::max(seg->size, sink->offset());
  // No flush here: the header's fdatasync (the commit point) makes body, zeros and header
  // durable together. A second ordering point would halve commits/s (row 5: 0.67x against
  // 1.1x) and buy only a quieter log after a power loss (see LoadRecords).
  return ExtendSegmentLocked(seg, next + kRecHeaderSize);
}

Status Database::WriteRecordHeaderLocked(Segment* seg, uint64_t at, uint64_t len, int64_t recv_ms,
                                         uint64_t file_checksum) {
  uint8_t rec[kRecHeaderSize];
  EncodeRecordHeader(seg->salt, len, recv_ms, file_checksum, rec);
  LTX_RETURN_IF_ERROR(IoPwriteAll(io(), seg->fd, rec, sizeof rec, at, seg->path));
  // The commit point: one fdatasync for body, header and the zeroed slot after them.
  if (Status st = IoFdatasync(io(), seg->fd, seg->path); !st.ok()) {
    return UndoRecordHeaderLocked(seg, at, st);
  }
  return Status::OK();
}

// The commit flush failed, so nothing was acknowledged. Zero the header and flush again: if
// that lands, the record is provably absent and `why` stands (a full disk stays ENOSPACE,
// "nothing was stored"); if not, no one can say whether the header reached the disk.
Status Database::UndoRecordHeaderLocked(Segment* seg, uint64_t at, const Status& why) {
  static const uint8_t zeros[kRecHeaderSize] = {};
  Status undo = IoPwriteAll(io(), seg->fd, zeros, sizeof zeros, at, seg->path);
  if (undo.ok()) undo = IoFdatasync(io(), seg->fd, seg->path);
  if (undo.ok()) return why;
  return Status::IOError(why.message() + "; undoing the record failed too (" + undo.message() +
                         "): the transaction may or may not be stored");
}

Status Database::FoldLocked(size_t idx) {
  View v;
  if (!ResolveLocked({files_[idx].max_txid, files_[idx].post}, &v)) {
    return Status::Corruption("fold target does not resolve");
  }
  return base_.fd < 0 ? RewriteBaseLocked(idx, v) : FoldInPlaceLocked(idx, v);
}

std::vector<uint8_t> Database::EncodeBaseHeader(const TxFile& target, uint32_t commit,
                                                uint32_t page_size) {
  std::vector<uint8_t> hdr(page_size, 0);
  memcpy(hdr.data(), kBaseMagic, 8);
  ltx::EncodeU32(&hdr[8], page_size);
  ltx::EncodeU32(&hdr[12], commit);
  ltx::EncodeU64(&hdr[16], target.max_txid);
  ltx::EncodeU64(&hdr[24], target.post);
  ltx::EncodeU64(&hdr[32], uint64_t(target.timestamp_ms));
  ltx::EncodeU64(&hdr[40], uint64_t(target.recv_ms));
  ltx::EncodeU32(&hdr[48], uint32_t(target.pgnos.size()));
  ltx::EncodeU64(&hdr[56], ltx::Crc64(hdr.data(), 56));
  return hdr;
}

Status Database::FinishFoldLocked(size_t idx, uint32_t commit, std::vector<uint32_t> interior,
                                  std::vector<uint64_t> sums, int new_fd, int new_sums_fd) {
  const TxFile& target = files_[idx];
  std::vector<std::string> doomed;
  {
    std::unique_lock l(mu_);
    if (new_fd >= 0) {
      if (base_.fd >= 0) close(base_.fd);
      base_.fd = new_fd;
    }
    if (new_sums_fd >= 0) {
      if (base_.sums_fd >= 0) close(base_.sums_fd);
      base_.sums_fd = new_sums_fd;
    }
    base_.sums = std::move(sums);
    base_.pos = {target.max_txid, target.post};
    base_.commit = commit;
    base_.timestamp_ms = target.timestamp_ms;
    base_.recv_ms = target.recv_ms;
    base_.page_count = uint32_t(target.pgnos.size());
    base_.interior = std::move(interior);
    const uint64_t upto = base_.pos.txid;
    for (size_t i = 0; i <= idx; i++) {
      if (files_[i].seg_seq == 0) doomed.push_back(files_[i].path);
    }
    files_.erase(files_.begin(), files_.begin() + idx + 1);
    for (auto it = index_.begin(); it != index_.end();) {
      auto& vers = it->second;
      auto keep = std::upper_bound(vers.begin(), vers.end(), upto,
                                   [](uint64_t t, const Version& x) { return t < x.txid; });
      vers.erase(vers.begin(), keep);
      it = vers.empty() ? index_.erase(it) : ++it;
    }
    fold_floor_ = 0;
  }
  // Segments holding only folded transactions go too (the newest one included: the next
  // append starts a fresh segment). A crash before this is harmless: Load skips and deletes
  // what the base already holds.
  const uint64_t upto = base_.pos.txid;
  while (!segs_.empty() && segs_.front().last_txid != 0 && segs_.front().last_txid <= upto) {
    if (segs_.front().fd >= 0) close(segs_.front().fd);
    doomed.push_back(segs_.front().path);
    segs_.erase(segs_.begin());
  }
  for (const auto& p : doomed) {
    if (unlink(p.c_str()) != 0 && errno != ENOENT) {
      return Status::IOError(ErrnoText("unlink", p) + " (folded into the base; retried at startup)");
    }
  }
  return Status::OK();
}

std::vector<uint32_t> Database::FoldPagesLocked(size_t idx, const View& v) const {
  // The pages the base gets: every page written up to the target, and every page a shrink
  // on the way may have dropped (it is zeros now, or written again later).
  const uint32_t lock = ltx::LockPgno(page_size_);
  uint32_t low = base_.commit;
  std::vector<uint32_t> pages;
  for (size_t i = 0; i <= idx; i++) {
    low = std::min(low, files_[i].commit);
    pages.insert(pages.end(), files_[i].pgnos.begin(), files_[i].pgnos.end());
  }
  for (uint64_t p = uint64_t(low) + 1; p <= v.commit; p++) pages.push_back(uint32_t(p));
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  pages.erase(std::remove_if(pages.begin(), pages.end(),
                             [&](uint32_t p) { return p > v.commit || p == lock; }),
              pages.end());
  return pages;
}

Status Database::WriteFoldIntentLocked(const TxFile& target) {
  uint8_t rec[kFoldIntentSize] = {};
  memcpy(rec, kFoldMagic, 8);
  ltx::EncodeU64(&rec[8], target.max_txid);
  ltx::EncodeU64(&rec[16], target.post);
  ltx::EncodeU64(&rec[24], ltx::Crc64(rec, 24));
  const std::string tmp = dir_ + "/fold.tmp";
  int fd = open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return WriteErrno("create", tmp);
  Status st = IoPwriteAll(io(), fd, rec, sizeof rec, 0, tmp);
  if (st.ok()) st = IoFsync(io(), fd, tmp);
  close(fd);
  if (st.ok() && rename(tmp.c_str(), (dir_ + "/fold.pending").c_str()) != 0) {
    st = Status::IOError(ErrnoText("rename", tmp));
  }
  if (st.ok()) st = FsyncPath(dir_);
  if (!st.ok()) unlink(tmp.c_str());
  return st;
}

Status Database::FoldInPlaceLocked(size_t idx, const View& v) {
  // write_mu_ held: files_ and base_ only change here and in Apply.
  const TxFile& target = files_[idx];
  const uint32_t ps = page_size_;
  const std::string base_path = dir_ + "/base.db", sums_path = dir_ + "/base.sums";
  const std::vector<uint32_t> pages = FoldPagesLocked(idx, v);
  // The intent first: a crash from here on redoes the fold at startup.
  LTX_RETURN_IF_ERROR(WriteFoldIntentLocked(target));
  // Positions before the target are gone from now on: no reader can ask for the base's
  // version of a page that is about to change (a reader at or after the target finds those
  // pages in the transactions, or knows a shrink dropped them).
  {
    std::unique_lock l(mu_);
    fold_floor_ = target.max_txid;
  }
  std::unordered_set<uint32_t> interior(base_.interior.begin(), base_.interior.end());
  std::vector<uint64_t> sums = base_.sums;
  sums.resize(size_t(v.commit) + 1, 0);
  FdCache fds;
  std::vector<uint8_t> page(ps);
  Status st;
  for (uint32_t p : pages) {
    st = ReadPageLocked(v, p, page.data(), &fds);
    if (st.ok()) st = IoPwriteAll(io(), base_.fd, page.data(), ps, uint64_t(p) * ps, base_path);
    if (!st.ok()) break;
    sums[p] = PageSum(p, page.data(), ps);
    if (IsInteriorPage(p, {page.data(), ps})) {
      interior.insert(p);
    } else {
      interior.erase(p);
    }
  }
  if (st.ok()) st = WriteSumEntries(io(), base_.sums_fd, sums_path, pages, sums);
  if (st.ok()) st = IoFsync(io(), base_.sums_fd, sums_path);
  if (st.ok()) st = WriteBaseHeaderInPlaceLocked(target, v.commit);
  if (!st.ok()) {
    // The base is half-way; the intent stays, and startup finishes the fold. Until then
    // this process keeps serving positions from the target on (the floor stays).
    return st.WithContext("folding into base.db (finished at the next startup)");
  }
  // A stale intent (its txid at or below the base's) is ignored at startup.
  unlink((dir_ + "/fold.pending").c_str());
  std::vector<uint32_t> inter;
  for (uint32_t p : interior) {
    if (p <= v.commit) inter.push_back(p);
  }
  std::sort(inter.begin(), inter.end());
  return FinishFoldLocked(idx, v.commit, std::move(inter), std::move(sums), -1, -1);
}

Status Database::WriteBaseHeaderInPlaceLocked(const TxFile& target, uint32_t commit) {
  // The file only grows before the header says so (a shorter file than its header's size
  // would not load); it shrinks after, when nothing reads past the new size.
  const std::string path = dir_ + "/base.db";
  const uint64_t size = (uint64_t(commit) + 1) * page_size_;
  struct stat fst;
  if (fstat(base_.fd, &fst) != 0) return Status::IOError(ErrnoText("stat", path));
  if (uint64_t(fst.st_size) < size) LTX_RETURN_IF_ERROR(IoFtruncate(io(), base_.fd, size, path));
  LTX_RETURN_IF_ERROR(IoFsync(io(), base_.fd, path));
  const std::vector<uint8_t> hdr = EncodeBaseHeader(target, commit, page_size_);
  LTX_RETURN_IF_ERROR(IoPwriteAll(io(), base_.fd, hdr.data(), page_size_, 0, path));
  LTX_RETURN_IF_ERROR(IoFsync(io(), base_.fd, path));
  if (uint64_t(fst.st_size) > size) LTX_RETURN_IF_ERROR(IoFtruncate(io(), base_.fd, size, path));
  return Status::OK();
}

// Writes `sums` whole to base.sums.tmp and renames it over base.sums; returns its descriptor.
Result<int> Database::WriteSumsFileLocked(const std::vector<uint64_t>& sums, uint32_t page_size) {
  const std::string tmp = dir_ + "/base.sums.tmp", path = dir_ + "/base.sums";
  int fd = open(tmp.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return WriteErrno("create", tmp);
  Status st = WriteSumsWhole(io(), fd, tmp, page_size, sums);
  if (st.ok()) st = IoFsync(io(), fd, tmp);
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) st = Status::IOError(ErrnoText("rename", tmp));
  if (st.ok()) st = FsyncPath(dir_);
  if (!st.ok()) {
    close(fd);
    unlink(tmp.c_str());
    return st;
  }
  return fd;
}

Status Database::RewriteBaseLocked(size_t idx, const View& v) {
  // write_mu_ held: files_ and base_ only change here and in Apply.
  const TxFile& target = files_[idx];
  const uint32_t ps = page_size_;
  const std::string tmp = dir_ + "/base.tmp";
  int fd = open(tmp.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return WriteErrno("create", tmp);
  auto fail = [&](Status st) {
    close(fd);
    unlink(tmp.c_str());
    return st;
  };
  std::vector<uint32_t> interior;
  std::vector<uint64_t> sums(size_t(v.commit) + 1, 0);
  {
    FdCache fds;
    const uint32_t lock = ltx::LockPgno(ps);
    const uint32_t kBatch = 256;
    std::vector<uint8_t> buf(size_t(kBatch) * ps);
    for (uint64_t start = 1; start <= v.commit; start += kBatch) {
      uint32_t n = uint32_t(std::min<uint64_t>(kBatch, v.commit - start + 1));
      for (uint32_t i = 0; i < n; i++) {
        uint32_t p = uint32_t(start + i);
        uint8_t* page = buf.data() + size_t(i) * ps;
        if (p == lock) {
          memset(page, 0, ps);
          continue;
        }
        if (Status st = ReadPageLocked(v, p, page, &fds); !st.ok()) return fail(st);
        sums[p] = PageSum(p, page, ps);
        if (IsInteriorPage(p, {page, ps})) interior.push_back(p);
      }
      if (Status st = IoPwriteAll(io(), fd, buf.data(), size_t(n) * ps, uint64_t(start) * ps, tmp);
          !st.ok()) {
        return fail(st);
      }
    }
  }
  const std::vector<uint8_t> hdr = EncodeBaseHeader(target, v.commit, ps);
  if (Status st = IoPwriteAll(io(), fd, hdr.data(), ps, 0, tmp); !st.ok()) return fail(st);
  if (Status st = IoFtruncate(io(), fd, (uint64_t(v.commit) + 1) * ps, tmp); !st.ok()) return fail(st);
  if (Status st = IoFsync(io(), fd, tmp); !st.ok()) return fail(st);
  // base.sums before base.db: a base.sums without a base.db is removed at startup.
  auto sums_fd = WriteSumsFileLocked(sums, ps);
  if (!sums_fd.ok()) return fail(sums_fd.status());
  const std::string base_path = dir_ + "/base.db";
  if (rename(tmp.c_str(), base_path.c_str()) != 0) {
    close(*sums_fd);
    return fail(Status::IOError(ErrnoText("rename", tmp)));
  }
  // The new base is durable once its directory entry is; files up to idx are then redundant.
  if (Status st = FsyncPath(dir_); !st.ok()) {
    close(fd);
    close(*sums_fd);
    return st;
  }
  return FinishFoldLocked(idx, v.commit, std::move(interior), std::move(sums), fd, *sums_fd);
}

Status Database::Compact(int64_t now_ms) {
  std::lock_guard wl(write_mu_);
  if (retired_ || files_.empty()) return Status::OK();  // retired_: issue 18
  if (base_.pos.txid == 0 && files_[0].min_txid == 1) {
    // A snapshot that was not folded at upload time (crash, or an error then): folding it
    // loses no position.
    LTX_RETURN_IF_ERROR(FoldLocked(0));
    if (files_.empty()) return Status::OK();
  }
  const uint64_t cur = files_.back().max_txid;
  const uint64_t keep_n = std::max<uint64_t>(1, opts_->retain_txids);
  const uint64_t txid_floor = cur >= keep_n ? cur - keep_n + 1 : 0;
  const int64_t time_floor = now_ms - opts_->retention_ms;
  uint64_t pinned = UINT64_MAX;  // an open snapshot stream reads this position: keep it
  {
    std::shared_lock l(mu_);
    if (!pins_.empty()) pinned = *pins_.begin();
  }
  auto expired = [&](uint64_t txid, int64_t recv) {
    return txid < txid_floor && recv < time_floor && txid < pinned;
  };
  // Positions in order: base (if any), files_. Fold up to the first one still retained
  // (or the current one when everything expired); everything before it goes.
  if (base_.pos.txid != 0 && !expired(base_.pos.txid, base_.recv_ms)) return Status::OK();
  size_t first_kept = files_.size() - 1;
  for (size_t i = 0; i < files_.size(); i++) {
    if (!expired(files_[i].max_txid, files_[i].recv_ms)) {
      first_kept = i;
      break;
    }
  }
  if (first_kept == 0 && base_.pos.txid == 0) return Status::OK();  // nothing would go
  return FoldLocked(first_kept);
}

Status Database::LoadBase() {
  const std::string path = dir_ + "/base.db";
  LTX_ASSIGN_OR_RETURN(int fd, OpenIfExists(path, opts_->read_only ? O_RDONLY : O_RDWR));
  if (fd < 0) {
    // A base.sums without a base.db: the first base's write stopped between their renames.
    if (!opts_->read_only) unlink((dir_ + "/base.sums").c_str());
    return Status::OK();
  }
  uint8_t h[kBaseHeaderSize];
  if (Status st = PreadAll(fd, h, sizeof h, 0); !st.ok()) {
    close(fd);
    return Status::Corruption(path + ": short base header");
  }
  if (memcmp(h, kBaseMagic, 8) != 0 || ltx::DecodeU64(&h[56]) != ltx::Crc64(h, 56)) {
    close(fd);
    return Status::Corruption(path + ": bad base header (magic or checksum)");
  }
  base_.fd = fd;
  page_size_ = ltx::DecodeU32(&h[8]);
  base_.commit = ltx::DecodeU32(&h[12]);
  base_.pos = {ltx::DecodeU64(&h[16]), ltx::DecodeU64(&h[24])};
  base_.timestamp_ms = int64_t(ltx::DecodeU64(&h[32]));
  base_.recv_ms = int64_t(ltx::DecodeU64(&h[40]));
  base_.page_count = ltx::DecodeU32(&h[48]);
  if (!ltx::IsValidPageSize(page_size_) || base_.pos.txid == 0) {
    return Status::Corruption(path + ": bad base header fields");
  }
  LTX_RETURN_IF_ERROR(LoadBaseSums(dir_ + "/base.sums"));
  // Interior pages: one sequential pass over the type bytes.
  const uint32_t ps = page_size_;
  const uint32_t kBatch = std::max<uint32_t>(1, (1u << 20) / ps);
  std::vector<uint8_t> buf(size_t(kBatch) * ps);
  for (uint64_t start = 1; start <= base_.commit; start += kBatch) {
    uint32_t n = uint32_t(std::min<uint64_t>(kBatch, base_.commit - start + 1));
    LTX_RETURN_IF_ERROR(
        PreadAll(fd, buf.data(), size_t(n) * ps, uint64_t(start) * ps).WithContext(path));
    for (uint32_t i = 0; i < n; i++) {
      if (IsInteriorPage(uint32_t(start + i), {buf.data() + size_t(i) * ps, ps})) {
        base_.interior.push_back(uint32_t(start + i));
      }
    }
  }
  return Status::OK();
}

Status Database::LoadBaseSums(const std::string& path) {
  LTX_ASSIGN_OR_RETURN(int fd, OpenIfExists(path, opts_->read_only ? O_RDONLY : O_RDWR));
  if (fd >= 0) {
    auto sums = ReadSumsFile(fd, path, page_size_, base_.commit);
    if (!sums.ok()) {
      close(fd);
      return sums.status();
    }
    base_.sums_fd = fd;
    base_.sums = std::move(sums).value();
    return Status::OK();
  }
  // A base.db written before page checksums: take its pages as they are now.
  const uint32_t ps = page_size_;
  std::vector<uint8_t> page(ps);
  base_.sums.assign(size_t(base_.commit) + 1, 0);
  for (uint32_t p = 1; p <= base_.commit; p++) {
    if (p == ltx::LockPgno(ps)) continue;
    LTX_RETURN_IF_ERROR(PreadAll(base_.fd, page.data(), ps, uint64_t(p) * ps).WithContext(dir_ + "/base.db"));
    base_.sums[p] = PageSum(p, page.data(), ps);
  }
  if (opts_->read_only) {
    Warn(path + " is missing (a base.db from before page checksums): its pages cannot be checked");
    return Status::OK();
  }
  Warn(path + " is missing (a base.db from before page checksums): computing them from base.db as it is now");
  LTX_ASSIGN_OR_RETURN(base_.sums_fd, WriteSumsFileLocked(base_.sums, page_size_));
  return Status::OK();
}

Status Database::LoadTx(int fd, const std::string& path, uint64_t offset, uint64_t len, Pos prev,
                        const uint64_t* file_checksum, TxFile* tf) {
  ltx::DecodeOptions dopts;
  dopts.version = ltx::Version::kV1;
  LTX_ASSIGN_OR_RETURN(auto dec, ltx::Decoder::Open(std::make_unique<RangeSource>(fd, path, offset, len),
                                                    dopts));
  const ltx::Header& h = dec->header();
  tf->min_txid = h.min_txid;
  tf->max_txid = h.max_txid;
  if (h.max_txid <= base_.pos.txid) return Status::OK();  // folded: the caller skips it
  if (h.flags & ltx::kFlagCompressLZ4) return Status::Corruption("stored transaction is compressed");
  if (prev.IsZero()
          ? !h.IsSnapshot()
          : (h.min_txid != prev.txid + 1 || h.pre_apply_checksum != prev.post_apply_checksum)) {
    return Status::Corruption("transaction " + ltx::FormatTxid(h.min_txid) + "-" +
                              ltx::FormatTxid(h.max_txid) + " does not follow " +
                              ltx::FormatPos(prev));
  }
  if (page_size_ != 0 && h.page_size != page_size_) return Status::Corruption("page size differs");
  tf->pre = h.pre_apply_checksum;
  tf->commit = h.commit;
  tf->timestamp_ms = h.timestamp;
  tf->path = path;
  tf->offset = offset;
  while (true) {
    ltx::PageFrame fr;
    LTX_ASSIGN_OR_RETURN(bool more, dec->Next(&fr));
    if (!more) break;
    tf->pgnos.push_back(fr.pgno);
    tf->sums.push_back(PageSum(fr.pgno, fr.data.data(), fr.data.size()));
    if (IsInteriorPage(fr.pgno, fr.data)) tf->interior.push_back(fr.pgno);
  }
  LTX_RETURN_IF_ERROR(dec->Finish());
  if (dec->bytes_read() != len) {
    return Status::Corruption("the LTX file ends " + std::to_string(len - dec->bytes_read()) +
                              " bytes before its stored length");
  }
  if (file_checksum && dec->trailer().file_checksum != *file_checksum) {
    return Status::Corruption("the LTX file is not the one its record header names (file checksum " +
                              ltx::FormatChecksum(dec->trailer().file_checksum) + ", want " +
                              ltx::FormatChecksum(*file_checksum) + ")");
  }
  page_size_ = h.page_size;
  tf->post = dec->trailer().post_apply_checksum;
  return Status::OK();
}

void Database::AddLoadedLocked(TxFile tf) {
  for (size_t i = 0; i < tf.pgnos.size(); i++) {
    index_[tf.pgnos[i]].push_back({tf.max_txid, uint32_t(i), tf.sums[i]});
  }
  std::vector<uint64_t>().swap(tf.sums);
  files_.push_back(std::move(tf));
}

Status Database::LoadLegacyFiles(Pos* prev) {
  const std::string ltx_dir = dir_ + "/ltx";
  struct Named {
    uint64_t min, max;
    std::string path;
  };
  std::vector<Named> names;
  for (const auto& n : ListDir(ltx_dir)) {
    uint64_t a, b;
    if (EndsWith(n, ".tmp")) {
      if (!opts_->read_only) unlink((ltx_dir + "/" + n).c_str());
      continue;
    }
    if (!ParseLtxName(n, &a, &b)) continue;
    names.push_back({a, b, ltx_dir + "/" + n});
  }
  std::sort(names.begin(), names.end(),
            [](const Named& x, const Named& y) { return x.min < y.min; });
  for (const auto& n : names) {
    if (n.max <= base_.pos.txid) {  // folded into the base before a crash
      if (!opts_->read_only) unlink(n.path.c_str());
      continue;
    }
    int fd = open(n.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IOError(ErrnoText("open", n.path));
    struct stat st;
    TxFile tf;
    Status s = fstat(fd, &st) == 0 ? LoadTx(fd, n.path, 0, uint64_t(st.st_size), *prev, nullptr, &tf)
                                   : Status::IOError(ErrnoText("stat", n.path));
    close(fd);
    if (s.ok() && (tf.min_txid != n.min || tf.max_txid != n.max)) {
      s = Status::Corruption("header txids do not match the file name");
    }
    if (!s.ok()) return s.WithContext(n.path);
    tf.recv_ms = FileMtimeMs(n.path);
    *prev = {tf.max_txid, tf.post};
    AddLoadedLocked(std::move(tf));
  }
  return Status::OK();
}

Status Database::LoadSegments(Pos* prev) {
  const std::string seg_dir = dir_ + "/seg";
  std::vector<std::pair<uint64_t, std::string>> names;
  for (const auto& n : ListDir(seg_dir)) {
    uint64_t seq;
    if (ParseSegName(n, &seq)) names.emplace_back(seq, seg_dir + "/" + n);
  }
  std::sort(names.begin(), names.end());
  for (size_t i = 0; i < names.size(); i++) {
    const bool newest = i + 1 == names.size();
    Segment seg;
    seg.seq = names[i].first;
    seg.path = names[i].second;
    int fd = open(seg.path.c_str(), (opts_->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) return Status::IOError(ErrnoText("open", seg.path));
    struct Closer {
      int* fd;
      ~Closer() {
        if (*fd >= 0) close(*fd);
      }
    } closer{&fd};
    struct stat st;
    if (fstat(fd, &st) != 0) return Status::IOError(ErrnoText("stat", seg.path));
    seg.size = uint64_t(st.st_size);
    uint8_t h[kSegHeaderSize] = {};
    const bool short_header = seg.size < kSegHeaderSize;
    if (!short_header) LTX_RETURN_IF_ERROR(PreadAll(fd, h, sizeof h, 0).WithContext(seg.path));
    const bool legacy = memcmp(h, kSegMagicLegacy, 8) == 0;
    if (short_header || (!legacy && memcmp(h, kSegMagic, 8) != 0) ||
        ltx::DecodeU64(&h[56]) != ltx::Crc64(h, 56) || ltx::DecodeU64(&h[8]) != seg.seq) {
      if (newest && (short_header || AllZero(h, sizeof h))) {
        // Created, not yet synced, when the process died: it never held a record.
        Warn(seg.path + ": removing a segment whose creation did not finish");
        if (!opts_->read_only) unlink(seg.path.c_str());
        continue;
      }
      return Status::Corruption(seg.path + ": bad segment header");
    }
    seg.strict = !legacy;
    seg.salt = ltx::DecodeU64(&h[16]);
    LTX_RETURN_IF_ERROR(LoadRecords(fd, newest, &seg, prev));
    if (seg.last_txid != 0 && seg.last_txid <= base_.pos.txid) {
      if (!opts_->read_only) unlink(seg.path.c_str());  // everything in it is in the base
      continue;
    }
    if (newest && !opts_->read_only) std::swap(seg.fd, fd);
    segs_.push_back(std::move(seg));
  }
  return Status::OK();
}

// The log of a segment ends at an all-zero header slot: a header is written only after its
// body, and the upload is acknowledged only after the fdatasync that follows, so a process
// crash leaves either a complete record or a zero slot. In a strict segment anything else at
// a slot that does not load is damage, or (after a power loss, which may persist the header
// before the body) a torn write that cannot be told from damage: if records follow it,
// startup fails naming it; if not, it is quarantined (QuarantineRecord) and the log ends
// there. A legacy segment may also end at leftovers of rejected uploads (a slot without the
// record magic); its last record is quarantined the same way, never dropped.
Status Database::LoadRecords(int fd, bool newest, Segment* seg, Pos* prev) {
  uint64_t at = kSegHeaderSize;
  while (at + kRecHeaderSize <= seg->size) {
    uint8_t rec[kRecHeaderSize];
    LTX_RETURN_IF_ERROR(PreadAll(fd, rec, sizeof rec, at).WithContext(seg->path));
    if (AllZero(rec, sizeof rec)) break;  // the end
    const bool valid = RecordHeaderValid(seg->salt, rec);
    if (!valid && !seg->strict && ltx::DecodeU32(&rec[0]) != kRecMagic) break;  // leftovers
    const uint64_t room = seg->size - at - kRecHeaderSize;
    const uint64_t len = ltx::DecodeU64(&rec[8]);
    const uint64_t file_checksum = ltx::DecodeU64(&rec[24]);
    TxFile tf;
    Status bad = !valid      ? Status::Corruption("its header fails its checksum")
                 : len > room ? Status::Corruption("it runs past the end of the file")
                              : LoadTx(fd, seg->path, at + kRecHeaderSize, len, *prev,
                                       &file_checksum, &tf);
    if (!bad.ok()) {
      bool later = !newest;
      if (!later) {
        LTX_ASSIGN_OR_RETURN(later, RecordHeaderAfter(fd, seg->path, seg->salt, at + 1, seg->size));
      }
      if (later) {
        return Status(ltx::Code::kCorruption,
                      seg->path + ": the record at offset " + std::to_string(at) +
                          " will not load: " + bad.message() +
                          " (and stored transactions follow it; run litevfs-mockcloud scrub)",
                      kApiCorrupt);
      }
          LTX_RETURN_IF_ERROR(
          QuarantineRecord(fd, *seg, at, std::min(len, room), bad.message(), *prev));
      break;
    }
    seg->last_txid = tf.max_txid;
    at = AlignRecord(at + kRecHeaderSize + len);
    if (tf.max_txid <= base_.pos.txid) continue;  // folded
    tf.recv_ms = int64_t(ltx::DecodeU64(&rec[16]));
    tf.seg_seq = seg->seq;
    *prev = {tf.max_txid, tf.post};
    AddLoadedLocked(std::move(tf));
  }
  seg->end = std::min(at, seg->size);
  return Status::OK();
}

Status Database::QuarantineRecord(int fd, const Segment& seg, uint64_t at, uint64_t len,
                                  const std::string& why, const Pos& ends_at) {
  const std::string what = seg.path + ": the record at offset " + std::to_string(at) +
                           " will not load (" + why + ")";
  if (opts_->read_only) {
    Damage(what + "; nothing follows it, so the server moves it to quarantine/ when it starts");
    return Status::OK();
  }
  LTX_ASSIGN_OR_RETURN(std::string q, CopyToQuarantine(io(), fd, seg.path, at, kRecHeaderSize + len,
                                                       dir_ + "/quarantine"));
  Error("database " + label() + ": " + what + "; moved its bytes to " + q +
        "; the database now ends at " + ltx::FormatPos(ends_at) +
        " (a commit after that position, if it was acknowledged, is lost; the bytes are kept)");
  // The bytes are safe: the log now ends here, and the next append overwrites the slot.
  static const uint8_t zeros[kRecHeaderSize] = {};
  LTX_RETURN_IF_ERROR(IoPwriteAll(io(), fd, zeros, sizeof zeros, at, seg.path));
  return IoFdatasync(io(), fd, seg.path);
}

void Database::Damage(const std::string& msg) const {
  if (opts_->damage) {
    opts_->damage(msg);
  } else {
    Error(msg);
  }
}

Status Database::RedoFoldLocked() {
  const std::string intent = dir_ + "/fold.pending";
  LTX_ASSIGN_OR_RETURN(int fd, OpenIfExists(intent, O_RDONLY));
  if (fd < 0) return Status::OK();
  uint8_t rec[kFoldIntentSize + 1];
  ssize_t n = pread(fd, rec, sizeof rec, 0);
  close(fd);
  // Written to fold.tmp and renamed: a damaged one is corruption, not a torn write.
  if (n != ssize_t(kFoldIntentSize) || memcmp(rec, kFoldMagic, 8) != 0 ||
      ltx::DecodeU64(&rec[24]) != ltx::Crc64(rec, 24)) {
    return Status::Corruption(intent + ": damaged");
  }
  const Pos target{ltx::DecodeU64(&rec[8]), ltx::DecodeU64(&rec[16])};
  if (target.txid <= base_.pos.txid) {  // it finished; only the unlink was missing
    unlink(intent.c_str());
    return Status::OK();
  }
  const TxFile* f = FileByTxidLocked(target.txid);
  if (base_.fd < 0 || !f || f->post != target.post_apply_checksum) {
    return Status::Corruption(intent + ": the interrupted fold's target " + ltx::FormatPos(target) +
                              " is not among the stored transactions");
  }
  Warn(dir_ + ": finishing a fold into base.db that a crash interrupted (to " +
       ltx::FormatPos(target) + ")");
  return FoldLocked(size_t(f - files_.data()));
}

Result<uint64_t> Database::VerifyBase(const std::function<void(const std::string&)>& bad,
                                      uint64_t max_bad) const {
  std::shared_lock l(mu_);
  if (base_.fd < 0) return uint64_t{0};
  if (fold_pending_) {
    Warn(dir_ + "/base.db: not checked (a fold into it is pending)");
    return uint64_t{0};
  }
  const uint32_t ps = page_size_;
  const uint32_t kBatch = std::max<uint32_t>(1, (1u << 20) / ps);
  std::vector<uint8_t> buf(size_t(kBatch) * ps);
  uint64_t found = 0;
  for (uint64_t start = 1; start <= base_.commit; start += kBatch) {
    const uint32_t n = uint32_t(std::min<uint64_t>(kBatch, base_.commit - start + 1));
    const uint64_t off = start * ps;
    LTX_RETURN_IF_ERROR(PreadAll(base_.fd, buf.data(), size_t(n) * ps, off).WithContext(dir_ + "/base.db"));
    for (uint32_t i = 0; i < n; i++) {
      const uint32_t p = uint32_t(start + i);
      if (p == ltx::LockPgno(ps)) continue;
      Status st = CheckSum(p, buf.data() + size_t(i) * ps, base_.sums[p], dir_ + "/base.db",
                           uint64_t(p) * ps);
      if (!st.ok() && found++ < max_bad) bad(st.message());
    }
  }
  return found;
}

Status Database::VerifyAll() const {
  std::string first;
  LTX_ASSIGN_OR_RETURN(uint64_t n, VerifyBase([&](const std::string& m) { first = m; }, 1));
  if (n == 0) return Status::OK();
  return Status(ltx::Code::kCorruption,
                first + (n > 1 ? " (and " + std::to_string(n - 1) + " more pages)" : "") +
                    "; run litevfs-mockcloud scrub --data DIR for the full list",
                kApiCorrupt);
}

Status Database::Load() {
  std::lock_guard wl(write_mu_);
  std::unique_lock l(mu_);
  struct stat st;
  if (stat(dir_.c_str(), &st) != 0) return Status::OK();
  if (!opts_->read_only) {
    for (const char* tmp : {"/base.tmp", "/base.sums.tmp", "/fold.tmp", "/ltx/incoming.tmp"}) {
      unlink((dir_ + tmp).c_str());
    }
  }
  LTX_RETURN_IF_ERROR(LoadBase());
  Pos prev = base_.pos;
  LTX_RETURN_IF_ERROR(LoadLegacyFiles(&prev));
  LTX_RETURN_IF_ERROR(LoadSegments(&prev));
  if (opts_->read_only) {
    fold_pending_ = stat((dir_ + "/fold.pending").c_str(), &st) == 0;
    if (fold_pending_) Warn(dir_ + ": a fold into base.db is pending (the server finishes it at start)");
    return Status::OK();
  }
  l.unlock();  // nobody reads yet; the redo takes mu_ itself
  LTX_RETURN_IF_ERROR(RedoFoldLocked());
  l.lock();
  {
    std::lock_guard wlk(wait_mu_);
    published_ = CurrentLocked();
  }
  return Status::OK();
}

// ---- Store ----

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& opts) {
  if (opts.data_dir.empty()) return Status::InvalidArgument("--data is required");
  std::unique_ptr<Store> s(new Store(opts));
  LTX_RETURN_IF_ERROR(MakeDirs(opts.data_dir + "/tmp"));
  LTX_RETURN_IF_ERROR(MakeDirs(opts.data_dir + "/clusters"));
  for (const auto& n : ListDir(opts.data_dir + "/tmp"))
    unlink((opts.data_dir + "/tmp/" + n).c_str());
  s->EmptyTrash();  // issue 18: deletes a crash interrupted
  for (const auto& c : ListDir(opts.data_dir + "/clusters")) {
    if (!ValidateName(c, "cluster").ok()) continue;
    for (const auto& d : ListDir(opts.data_dir + "/clusters/" + c)) {
      if (!ValidateName(d, "db").ok()) continue;
      auto db = std::make_shared<Database>(s->DbDir(c, d), opts.data_dir + "/tmp", &s->opts_);
      LTX_RETURN_IF_ERROR(db->Load().WithContext("database " + c + "/" + d));
      if (opts.verify_on_start) LTX_RETURN_IF_ERROR(db->VerifyAll());
      s->dbs_[{c, d}] = std::move(db);
    }
  }
  return s;
}

std::string Store::DbDir(const std::string& cluster, const std::string& db) const {
  return opts_.data_dir + "/clusters/" + cluster + "/" + db;
}

Result<std::shared_ptr<Database>> Store::Get(const std::string& cluster, const std::string& db,
                                             bool create) {
  LTX_RETURN_IF_ERROR(ValidateName(cluster, "cluster"));
  LTX_RETURN_IF_ERROR(ValidateName(db, "db"));
  std::lock_guard l(mu_);
  auto it = dbs_.find({cluster, db});
  if (it != dbs_.end()) return it->second;
  if (!create) return std::shared_ptr<Database>();
  auto d = std::make_shared<Database>(DbDir(cluster, db), opts_.data_dir + "/tmp", &opts_);
  dbs_[{cluster, db}] = d;
  return d;
}

std::map<std::string, Pos> Store::Positions(const std::string& cluster) {
  std::vector<std::pair<std::string, std::shared_ptr<Database>>> list;
  {
    std::lock_guard l(mu_);
    for (auto it = dbs_.lower_bound({cluster, ""}); it != dbs_.end() && it->first.first == cluster;
         ++it) {
      list.emplace_back(it->first.second, it->second);
    }
  }
  std::map<std::string, Pos> out;
  for (auto& [name, db] : list) {
    Pos p = db->pos();
    if (!p.IsZero()) out[name] = p;
  }
  return out;
}

Status Store::CompactAll(int64_t now_ms) {
  std::vector<std::shared_ptr<Database>> list;
  {
    std::lock_guard l(mu_);
    for (auto& [_, db] : dbs_) list.push_back(db);
  }
  Status first;
  for (auto& db : list) {
    Status st = db->Compact(now_ms);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

void Store::WakeAll() {
  std::lock_guard l(mu_);
  for (auto& [_, db] : dbs_) db->WakeWaiters();
}

Result<std::string> Store::NewTempPath(const std::string& prefix) {
  LTX_ASSIGN_OR_RETURN(std::string r, RandomHex(8));
  return opts_.data_dir + "/tmp/" + prefix + "-" + r + ".tmp";
}

}  // namespace mockcloud
