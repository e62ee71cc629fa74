// `litevfs import FILE DB`: upload a local SQLite database file.
//  - What is uploaded is exactly what SQLite would read from FILE (import_source.h: a hot
//    journal is rolled back and a WAL checkpointed on a private copy; a truncated file, a
//    directory or a non-database is refused; --check runs PRAGMA integrity_check first).
//  - DB does not exist: one snapshot LTX (min = max = 1). DB exists: one full-page
//    transaction on top of the current position (min = max = cur.txid + 1, pre-apply = cur
//    checksum, every page of the file, commit = the file's page count), so history is kept
//    and readers just sync.
//  - Uploads happen under a lease (import_lease.h), given back on every way out, Ctrl-C and
//    SIGTERM included.
// The LTX is encoded page by page into the request body as it is sent (import_stream.h: no
// temporary file, memory bounded whatever the database's size). With --compress it is
// encoded into a temporary file (in TMPDIR, else /tmp) first, removed on every way out.
// On a terminal, stderr shows a progress bar while the pages are encoded.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "common.h"
#include "import_lease.h"
#include "import_source.h"
#include "import_stream.h"
#include "interrupt.h"
#include "ltx/checksum.h"
#include "ltx/encoder.h"
#include "ltx/file.h"

namespace cli {
namespace {

struct ImportOptions {
  std::string file;
  std::string db;
  std::string lease_id;
  std::string lease_duration = "60s";
  bool compress = false;
  bool check = false;
  bool json = false;
};

// The temporary LTX file: created by mkstemp in temp_directory_path() (TMPDIR), unlinked
// when this goes out of scope, and also when a signal ends the process inside an
// InterruptScope (a large import's file is as large as the database).
class TempLtx {
 public:
  TempLtx() {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
    if (ec) {
      throw CliError("temporary directory" + TmpdirHint() + ": " + ec.message() +
                     "; set TMPDIR to a writable directory");
    }
    std::string tmpl = (dir / "litevfs-import-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    fd_ = ::mkstemp(buf.data());
    if (fd_ < 0) {
      throw CliError("create temporary file " + tmpl + ": " + std::strerror(errno) +
                     "; set TMPDIR to a writable directory");
    }
    path_ = buf.data();
    unlink_on_interrupt_ = std::make_unique<OnInterrupt>([p = path_] { ::unlink(p.c_str()); });
  }
  ~TempLtx() {
    unlink_on_interrupt_.reset();
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  TempLtx(const TempLtx&) = delete;
  TempLtx& operator=(const TempLtx&) = delete;

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  // Closes the descriptor (reporting a deferred write error) and returns the file's size.
  uint64_t Finish() {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw CliError("stat " + path_ + ": " + std::strerror(errno));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0)
      throw CliError(WriteError("close " + path_ + ": " + std::strerror(errno)));
    return static_cast<uint64_t>(st.st_size);
  }
  // `msg` plus what to do when the disk is full.
  static std::string WriteError(const std::string& msg) {
    if (msg.find(std::strerror(ENOSPC)) == std::string::npos &&
        msg.find(std::strerror(EDQUOT)) == std::string::npos) {
      return msg;
    }
    return msg + " (the temporary LTX file is about as large as the database; set TMPDIR to a " +
           "directory with more free space)";
  }

 private:
  static std::string TmpdirHint() {
    const char* t = std::getenv("TMPDIR");
    return t && *t ? std::string(" ") + t + " (TMPDIR)" : std::string();
  }
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<OnInterrupt> unlink_on_interrupt_;
};

// The header of a full-page transaction of a file on top of `cur` (a snapshot when cur is
// zero: min = max = 1, pre-apply 0).
ltx::Header ImportHeader(const DbFileInfo& fi, const ltx::Pos& cur) {
  ltx::Header h;
  h.page_size = fi.page_size;
  h.commit = fi.page_count;
  h.min_txid = h.max_txid = cur.txid + 1;
  h.timestamp = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  h.pre_apply_checksum = cur.post_apply_checksum;
  return h;
}

// Full-page transaction of `path` on top of `cur`, written to `sink`. Returns the post-apply
// checksum.
uint64_t EncodeFullPageTx(const std::string& path, const DbFileInfo& fi, const ltx::Pos& cur,
                          bool compress, bool progress, ltx::Sink* sink) {
  const ltx::Header h = ImportHeader(fi, cur);
  ltx::EncodeOptions eo;
  eo.version = ltx::Version::kV1;
  eo.compress = compress;

  auto enc = Unwrap(ltx::Encoder::Open(sink, h, eo), "encode " + path);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw CliError(path + ": " + std::strerror(errno));
  std::string page(fi.page_size, '\0');
  const uint32_t lock = ltx::LockPgno(fi.page_size);
  ltx::DatabaseChecksum sum;
  const bool encoder_sums = h.IsSnapshot() && h.HasChecksums();  // then in its CRC's pass
  Progress bar("import: encode", fi.page_count, progress);
  for (uint32_t pgno = 1; pgno <= fi.page_count; ++pgno) {
    if (std::fread(page.data(), 1, page.size(), f.get()) != page.size()) {
      throw CliError(path + ": short read at page " + std::to_string(pgno));
    }
    bar.Add(1, fi.page_size);
    if (pgno == lock) continue;
    std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(page.data()), page.size());
    if (!encoder_sums) sum.Toggle(ltx::PageChecksum(pgno, span));
    Check(enc->AddPage(pgno, span), "encode page " + std::to_string(pgno));
  }
  const uint64_t post = encoder_sums ? enc->snapshot_checksum() : sum.value();
  Check(enc->Finish(post), "encode " + path);
  return post;
}

// Encodes into `tmp`; a full disk gets the TMPDIR hint.
uint64_t EncodeInto(TempLtx& tmp, const ImportSource& src, const ltx::Pos& cur,
                    const ImportOptions& opt) {
  try {
    FdSink sink(tmp.fd(), tmp.path());
    return EncodeFullPageTx(src.path(), src.info(), cur, opt.compress, ProgressWanted(opt.json),
                            &sink);
  } catch (const CliError& e) {
    std::string msg = TempLtx::WriteError(e.what());
    if (msg == e.what()) throw;
    throw CliError(msg, e.exit_code());
  }
}

// The position the import goes on top of (zero: the database does not exist yet).
ltx::Pos CurrentPos(litevfs::Client& client, const std::string& db) {
  auto positions = Unwrap(client.GetPositions(), "list databases");
  auto it = positions.find(db);
  return it == positions.end() ? ltx::Pos{} : it->second;
}

// The upload's answer; a failure names the lease's renewal error when there was one.
ltx::Pos UploadResult(const ImportOptions& opt, const ImportLease& lease,
                      ltx::Result<ltx::Pos> uploaded) {
  if (!uploaded.ok() && !lease.RenewError().empty()) {
    throw CliError(Describe(uploaded.status(), opt.db + ": upload") + " (" + lease.RenewError() +
                   ")");
  }
  return Unwrap(std::move(uploaded), opt.db + ": upload");
}

// --compress: encoded into a temporary file first, then uploaded from it.
ltx::Pos UploadViaTempFile(litevfs::Client& client, const ImportOptions& opt,
                           const ImportSource& src, const ltx::Pos& cur, const ImportLease& lease,
                           uint64_t* post, uint64_t* bytes) {
  TempLtx tmp;
  *post = EncodeInto(tmp, src, cur, opt);
  *bytes = tmp.Finish();
  if (ProgressWanted(opt.json)) {
    std::fprintf(stderr, "import: upload %s...", FormatBytes(*bytes).c_str());
    std::fflush(stderr);
  }
  auto uploaded = client.UploadTxFile(opt.db, tmp.path(), lease.id());
  if (ProgressWanted(opt.json)) std::fputs("\r\033[K", stderr);
  return UploadResult(opt, lease, std::move(uploaded));
}

// The LTX encoded into the request body as it is sent (import_stream.h).
ltx::Pos UploadStreamed(litevfs::Client& client, const ImportOptions& opt,
                        const ImportSource& src, const ltx::Pos& cur, const ImportLease& lease,
                        uint64_t* post, uint64_t* bytes) {
  const DbFileInfo& fi = src.info();
  const ltx::Header h = ImportHeader(fi, cur);
  Progress bar("import: upload", fi.page_count, ProgressWanted(opt.json));
  ImportLtxStream body(src.path(), fi, h, &bar);
  *bytes = body.size();
  const litevfs::Client::BodyReader reader = [&body](uint64_t off, uint8_t* buf, size_t n) {
    return body.ReadAt(off, buf, n);
  };
  // end_pos() is complete once the body was read: the client reads it after the answer.
  auto uploaded = client.UploadTxStream(opt.db, body.end_pos(), body.size(), reader, lease.id());
  bar.Done();
  if (uploaded.ok() && !body.finished()) {
    throw CliError(opt.db + ": the service answered before the whole upload was sent");
  }
  *post = body.end_pos().post_apply_checksum;
  return UploadResult(opt, lease, std::move(uploaded));
}

void Report(const ImportOptions& opt, const ImportSource& src, const ltx::Pos& pos, bool snapshot,
            uint64_t upload_bytes) {
  const DbFileInfo& fi = src.info();
  if (opt.json) {
    PrintJson({{"db", opt.db},
               {"file", opt.file},
               {"snapshot", snapshot},
               {"pos", PosJson(pos)},
               {"pages", fi.page_count},
               {"pageSize", fi.page_size},
               {"uploadBytes", upload_bytes},
               {"applied", src.applied()}});
    return;
  }
  if (!src.applied().empty()) std::cout << opt.file << ": " << src.applied() << "\n";
  std::cout << "imported " << opt.file << " as " << opt.db << " at " << ltx::FormatPos(pos) << " ("
            << fi.page_count << " pages, " << FormatBytes(fi.file_size)
            << (snapshot ? ", new database" : ", on top of the existing history") << ")\n";
}

// The service names its body limit in every answer (Litevfs-Max-Body): a database over it is
// refused here, before minutes of upload, with the fix.
void CheckUploadFits(const litevfs::Client& client, const ImportOptions& opt, const DbFileInfo& fi) {
  const uint64_t limit = client.max_body_bytes();
  const uint64_t size = litevfs::LtxSize(fi.page_size, fi.page_count);
  if (limit == 0 || opt.compress || size <= limit) return;
  throw CliError(opt.file + ": the upload of this database is " + std::to_string(size) +
                 " bytes, over the service's limit of " + std::to_string(limit) +
                 " bytes per transaction; start litevfs-mockcloud with --max-body " +
                 std::to_string(size) + " or more (the default is 64 GiB)");
}

void run_import(const ImportOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  const int64_t lease_ms =
      ParseDurationFlag("--lease-duration", opt.lease_duration, litevfs::kMinLeaseDurationMs,
                        litevfs::kMaxLeaseDurationMs);
  InterruptScope interrupts;  // before any thread starts: they inherit the blocked signals
  const ImportSource src(opt.file, opt.check);
  auto client = MakeClient();
  const ImportLease lease(*client, opt.db, opt.lease_id, lease_ms);
  const ltx::Pos cur = CurrentPos(*client, opt.db);
  CheckUploadFits(*client, opt, src.info());

  uint64_t post = 0, upload_bytes = 0;
  const ltx::Pos pos = opt.compress
                           ? UploadViaTempFile(*client, opt, src, cur, lease, &post, &upload_bytes)
                           : UploadStreamed(*client, opt, src, cur, lease, &post, &upload_bytes);
  if (pos.post_apply_checksum != post) {
    throw CliError(opt.db + ": server reports checksum " +
                   ltx::FormatChecksum(pos.post_apply_checksum) + " after upload, expected " +
                   ltx::FormatChecksum(post));
  }
  Report(opt, src, pos, cur.IsZero(), upload_bytes);
}

}  // namespace

void setup_import(CLI::App& app) {
  auto opt = std::make_shared<ImportOptions>();
  CLI::App* sub =
      app.add_subcommand("import", "Upload a local SQLite database file as database DB");
  sub->add_option("FILE", opt->file, "Local SQLite database file")->required();
  sub->add_option("DB", opt->db, "Remote database name")->required();
  sub->add_option("--lease-id", opt->lease_id,
                  "Upload under this lease (default: acquire one, renewed while the import runs)");
  sub->add_option("--lease-duration", opt->lease_duration,
                  "Duration of the lease the import acquires, renewed every third of it (1s..10m; "
                  "30s, 2m; a number without a unit is ms); if the process is killed, others can "
                  "write after at most this long")
      ->capture_default_str();
  sub->add_flag("--compress", opt->compress, "LZ4-compress the uploaded LTX file");
  sub->add_flag("--check", opt->check,
                "Run PRAGMA integrity_check on FILE first; refuse on errors");
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_import(*opt); });
}

}  // namespace cli
