// Whole-file operations: verify an LTX file, apply it to a SQLite database file, and encode
// a database file as a snapshot. All stream with bounded memory (one page or one chunk).
#include "ltx/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "internal.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/fd_io.h"

namespace ltx {

using internal::Fmt;

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status ErrnoStatus(int e, const std::string& what, const std::string& path) {
  std::string msg = "ltx: " + what + " " + path + ": " + std::strerror(e);
  if (e == ENOENT) return Status::NotFound(msg);
  if (e == ENOSPC) return Status::ResourceExhausted(msg);
  return Status::IOError(msg);
}

Status Errno(const std::string& what, const std::string& path) {
  return ErrnoStatus(errno, what, path);
}

// Reads up to n bytes at off; fewer only at end of file.
Result<size_t> PreadFull(int fd, void* buf, size_t n, uint64_t off, const std::string& path) {
  const ssize_t got = ltx::PreadFull(fd, buf, n, off);
  if (got < 0) return ErrnoStatus(int(-got), "read", path);
  return size_t(got);
}

Status PwriteFull(int fd, const void* buf, size_t n, uint64_t off, const std::string& path) {
  if (int e = ltx::PwriteFull(fd, buf, n, off); e != 0) return ErrnoStatus(e, "write", path);
  return Status::OK();
}

// Counts bytes on their way to another sink.
class CountingSink final : public Sink {
 public:
  explicit CountingSink(Sink* next) : next_(next) {}
  Status Write(const void* data, size_t n) override {
    LTX_RETURN_IF_ERROR(next_->Write(data, n));
    count_ += n;
    return Status::OK();
  }
  uint64_t count() const { return count_; }

 private:
  Sink* next_;
  uint64_t count_ = 0;
};

Status SyncParentDir(const std::string& path) {
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) {
    dir = slash == 0 ? "/" : path.substr(0, slash);
  }
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open directory", dir);
  Fd closer(fd);
  if (::fsync(fd) != 0) return Errno("fsync directory", dir);
  return Status::OK();
}

}  // namespace

Result<FileInfo> VerifySource(std::unique_ptr<Source> src, const DecodeOptions& opts) {
  if (!src) return Status::InvalidArgument("ltx: null source");
  std::optional<uint64_t> size = src->Size();
  LTX_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> dec, Decoder::Open(std::move(src), opts));
  PageFrame frame;
  for (;;) {
    LTX_ASSIGN_OR_RETURN(bool more, dec->Next(&frame));
    if (!more) break;
  }
  LTX_RETURN_IF_ERROR(dec->Finish());
  FileInfo info;
  info.version = dec->version();
  info.header = dec->header();
  info.trailer = dec->trailer();
  info.page_count = dec->page_count();
  info.file_size = size.value_or(dec->bytes_read());
  return info;
}

Result<FileInfo> VerifyFile(const std::string& path, const DecodeOptions& opts) {
  LTX_ASSIGN_OR_RETURN(std::unique_ptr<Source> src, OpenFileSource(path));
  auto r = VerifySource(std::move(src), opts);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

Status ApplyFile(const std::string& db_path, const std::string& ltx_path,
                 const DecodeOptions& opts) {
  // 1. The whole file must be valid before the database is touched.
  LTX_ASSIGN_OR_RETURN(FileInfo info, VerifyFile(ltx_path, opts));
  const Header& h = info.header;
  const uint32_t ps = h.page_size;
  const uint32_t lock = LockPgno(ps);

  // 2. Open the database (a snapshot may create it).
  int flags = O_RDWR | O_CLOEXEC | (h.IsSnapshot() ? O_CREAT : 0);
  int raw_fd = ::open(db_path.c_str(), flags, 0644);
  if (raw_fd < 0) {
    if (errno == ENOENT) {
      return Status::NotFound("ltx: database " + db_path +
                              " does not exist (only a snapshot can create it)");
    }
    return Errno("open", db_path);
  }
  Fd fd(raw_fd);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Errno("stat", db_path);
  const uint64_t old_size = uint64_t(st.st_size);

  // 3. Check the database is where the file applies (non-snapshots).
  DatabaseChecksum chk;  // the database checksum as pages change
  std::vector<uint8_t> old_page(ps), zero_page(ps, 0);
  uint64_t old_pages = 0;
  if (!h.IsSnapshot()) {
    if (old_size > 0) {
      uint8_t dbhdr[100];
      LTX_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), dbhdr, sizeof(dbhdr), 0, db_path));
      if (got == sizeof(dbhdr)) {
        uint32_t dps = DecodeU16(dbhdr + 16);
        if (dps == 1) dps = 65536;
        if (dps != ps) {
          return Status::InvalidArgument(
              Fmt("ltx: page size mismatch: database %s has %u, file has %u", db_path.c_str(), dps,
                  ps));
        }
      }
    }
    if (old_size % ps != 0) {
      return Status::Corruption(Fmt("ltx: database %s size %llu is not a multiple of page size %u",
                                    db_path.c_str(), (unsigned long long)old_size, ps));
    }
    old_pages = old_size / ps;
    if (h.HasChecksums()) {
      LTX_ASSIGN_OR_RETURN(uint64_t cur, ChecksumDatabaseFile(db_path, ps));
      if (cur != h.pre_apply_checksum) {
        return Status::Conflict(
            Fmt("ltx: pre-apply checksum mismatch: database has %016llx, file expects %016llx",
                (unsigned long long)cur, (unsigned long long)h.pre_apply_checksum));
      }
      chk = DatabaseChecksum(cur);
    }
  }
  const bool track = h.HasChecksums();

  // 4. Write the pages (second pass over the verified file), keeping the checksum current:
  //    replaced pages swap their old checksum for the new one; pages that appear between the
  //    old end and commit without a frame become zero pages.
  uint64_t fill_from = old_pages + 1;  // first page past the old end not yet accounted for
  auto account_zero_pages_until = [&](uint64_t end) {  // exclusive
    for (uint64_t p = fill_from; p < end; p++) {
      if (p != lock && track) chk.Toggle(PageChecksum(uint32_t(p), zero_page));
    }
    if (end > fill_from) fill_from = end;
  };
  {
    LTX_ASSIGN_OR_RETURN(std::unique_ptr<Source> src, OpenFileSource(ltx_path));
    DecodeOptions o = opts;
    o.version = info.version;
    LTX_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> dec, Decoder::Open(std::move(src), o));
    PageFrame f;
    for (;;) {
      auto more = dec->Next(&f);
      if (!more.ok()) return more.status().WithContext(ltx_path + " (changed during apply?)");
      if (!*more) break;
      if (track && !h.IsSnapshot()) {
        if (f.pgno <= old_pages) {
          LTX_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), old_page.data(), ps,
                                                     uint64_t(f.pgno - 1) * ps, db_path));
          if (got != ps)
            return Status::IOError("ltx: database " + db_path + " shrank during apply");
          chk.Toggle(PageChecksum(f.pgno, old_page));
        } else {
          account_zero_pages_until(f.pgno);
          fill_from = uint64_t(f.pgno) + 1;
        }
      }
      if (track) chk.Toggle(f.checksum);
      LTX_RETURN_IF_ERROR(
          PwriteFull(fd.get(), f.data.data(), ps, uint64_t(f.pgno - 1) * ps, db_path));
    }
    if (Status s = dec->Finish(); !s.ok())
      return s.WithContext(ltx_path + " (changed during apply?)");
  }

  // 5. Shrink or grow to commit pages.
  if (track && !h.IsSnapshot()) {
    if (h.commit < old_pages) {
      for (uint64_t p = uint64_t(h.commit) + 1; p <= old_pages; p++) {
        if (p == lock) continue;
        LTX_ASSIGN_OR_RETURN(size_t got,
                             PreadFull(fd.get(), old_page.data(), ps, (p - 1) * ps, db_path));
        if (got != ps) return Status::IOError("ltx: database " + db_path + " shrank during apply");
        chk.Toggle(PageChecksum(uint32_t(p), old_page));
      }
    } else {
      account_zero_pages_until(uint64_t(h.commit) + 1);
    }
  }
  if (::ftruncate(fd.get(), off_t(uint64_t(h.commit) * ps)) != 0) return Errno("truncate", db_path);

  // 6. The result must be what the file promised.
  if (track && chk.value() != info.trailer.post_apply_checksum) {
    return Status::Corruption(
        Fmt("ltx: post-apply checksum mismatch after applying %s: database has %016llx, file "
            "promises %016llx",
            ltx_path.c_str(), (unsigned long long)chk.value(),
            (unsigned long long)info.trailer.post_apply_checksum));
  }
  if (::fsync(fd.get()) != 0) return Errno("fsync", db_path);
  if (old_size == 0 && h.IsSnapshot()) LTX_RETURN_IF_ERROR(SyncParentDir(db_path));
  return Status::OK();
}

Result<FileInfo> EncodeDatabaseFile(const std::string& db_path, Sink* out,
                                    const EncodeDbOptions& opts) {
  if (out == nullptr) return Status::InvalidArgument("ltx: null sink");
  if (opts.txid == 0) return Status::InvalidArgument("ltx: txid must be at least 1");
  int raw_fd = ::open(db_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw_fd < 0) return Errno("open", db_path);
  Fd fd(raw_fd);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Errno("stat", db_path);
  const uint64_t size = uint64_t(st.st_size);

  uint32_t ps = 4096;  // an empty database has no header; any valid size will do
  if (size > 0) {
    uint8_t dbhdr[100];
    LTX_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), dbhdr, sizeof(dbhdr), 0, db_path));
    if (got < sizeof(dbhdr)) {
      return Status::Corruption(
          Fmt("ltx: %s is too short for a SQLite header (%zu bytes)", db_path.c_str(), got));
    }
    if (std::memcmp(dbhdr, "SQLite format 3", 16) != 0) {
      return Status::Corruption("ltx: " + db_path + " is not a SQLite database (bad header)");
    }
    ps = DecodeU16(dbhdr + 16);
    if (ps == 1) ps = 65536;
    if (!IsValidPageSize(ps)) {
      return Status::Corruption(Fmt("ltx: %s has bad page size %u", db_path.c_str(), ps));
    }
    if (size % ps != 0) {
      return Status::Corruption(Fmt("ltx: %s size %llu is not a multiple of page size %u",
                                    db_path.c_str(), (unsigned long long)size, ps));
    }
  }
  if (size / ps > UINT32_MAX) {
    return Status::InvalidArgument("ltx: " + db_path + " has more pages than LTX can describe");
  }

  Header h;
  h.page_size = ps;
  h.commit = uint32_t(size / ps);
  h.min_txid = 1;
  h.max_txid = opts.txid;
  h.timestamp = opts.timestamp_ms != 0 ? opts.timestamp_ms
                                       : std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count();
  CountingSink counter(out);
  LTX_ASSIGN_OR_RETURN(std::unique_ptr<Encoder> enc, Encoder::Open(&counter, h, opts.encode));

  const uint32_t lock = LockPgno(ps);
  const size_t chunk_pages = std::max<size_t>(1, (1u << 20) / ps);
  std::vector<uint8_t> buf(chunk_pages * ps);
  uint64_t pages = 0;
  for (uint64_t off = 0; off < size;) {
    size_t want = size_t(std::min<uint64_t>(buf.size(), size - off));
    LTX_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), buf.data(), want, off, db_path));
    if (got != want) return Status::IOError("ltx: " + db_path + " shrank while encoding");
    for (size_t i = 0; i < got / ps; i++) {
      uint32_t pgno = uint32_t(off / ps + i + 1);
      if (pgno == lock) continue;
      std::span<const uint8_t> page(buf.data() + i * ps, ps);
      LTX_RETURN_IF_ERROR(enc->AddPage(pgno, page));
      pages++;
    }
    off += got;
  }
  // The encoder checksummed every page on the way in (a snapshot's post-apply checksum).
  LTX_RETURN_IF_ERROR(enc->Finish(enc->snapshot_checksum()));

  FileInfo info;
  info.version = opts.encode.version;
  info.header = h;
  if (opts.encode.version == Version::kV1 && opts.encode.compress)
    info.header.flags |= kFlagCompressLZ4;
  info.trailer = enc->trailer();
  info.page_count = pages;
  info.file_size = counter.count();
  return info;
}

}  // namespace ltx
