// `litevfs import FILE DB`: upload a local SQLite database file.
//  - DB does not exist: one snapshot LTX (ltx::EncodeDatabaseFile, min_txid = 1).
//  - DB exists: one full-page transaction on top of the current position
//    (min = max = cur.txid + 1, pre-apply = cur checksum, every page of the file,
//    commit = the file's page count), so history is kept and readers just sync.
// Uploads happen under a lease: --lease-id uses one the caller holds; otherwise the CLI
// acquires one (409 if another client holds it) for --lease-duration, renews it every third
// of that on a second connection while it encodes and uploads (however long a large upload
// takes), and releases it afterwards. If the process dies, others can write after at most
// --lease-duration.
// The LTX is encoded into a temporary file (in TMPDIR, else /tmp) and streamed from there, so
// memory stays bounded whatever the database's size; the file is removed on every way out.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
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
#include "ltx/checksum.h"
#include "ltx/encoder.h"
#include "ltx/file.h"

namespace cli {
namespace {

constexpr long kMaxLeaseMs = 600000;  // the longest lease the service grants (PROTOCOL.md)

struct ImportOptions {
  std::string file;
  std::string db;
  std::string lease_id;
  std::string lease_duration = "60s";
  bool compress = false;
  bool json = false;
};

// The temporary LTX file: created by mkstemp in temp_directory_path() (TMPDIR), unlinked
// when this goes out of scope, and also when SIGINT/SIGTERM/SIGHUP end the process before
// that (a large import's file is as large as the database).
char g_temp_ltx_path[4096];  // read by the signal handler; empty = nothing to remove

void RemoveTempLtxAndDie(int sig) {
  if (g_temp_ltx_path[0] != '\0') ::unlink(g_temp_ltx_path);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

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
    if (tmpl.size() >= sizeof(g_temp_ltx_path)) {
      throw CliError("temporary directory " + dir.string() + ": path too long");
    }
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    fd_ = ::mkstemp(buf.data());
    if (fd_ < 0) {
      throw CliError("create temporary file " + tmpl + ": " + std::strerror(errno) +
                     "; set TMPDIR to a writable directory");
    }
    path_ = buf.data();
    std::memcpy(g_temp_ltx_path, path_.c_str(), path_.size() + 1);
    struct sigaction sa {};
    sa.sa_handler = &RemoveTempLtxAndDie;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < kSignals.size(); i++) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~TempLtx() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
    for (size_t i = 0; i < kSignals.size(); i++) ::sigaction(kSignals[i], &old_[i], nullptr);
    g_temp_ltx_path[0] = '\0';
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
  static constexpr std::array<int, 3> kSignals{SIGINT, SIGTERM, SIGHUP};
  std::string path_;
  int fd_ = -1;
  std::array<struct sigaction, 3> old_{};
};

// Full-page transaction of `path` on top of `cur`, written to `sink`. Returns the post-apply
// checksum.
uint64_t EncodeFullPageTx(const std::string& path, const DbFileInfo& fi, const ltx::Pos& cur,
                          bool compress, ltx::Sink* sink) {
  ltx::Header h;
  h.page_size = fi.page_size;
  h.commit = fi.page_count;
  h.min_txid = h.max_txid = cur.txid + 1;
  h.timestamp = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  h.pre_apply_checksum = cur.post_apply_checksum;
  ltx::EncodeOptions eo;
  eo.version = ltx::Version::kV1;
  eo.compress = compress;

  auto enc = Unwrap(ltx::Encoder::Open(sink, h, eo), "encode " + path);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw CliError(path + ": " + std::strerror(errno));
  std::string page(fi.page_size, '\0');
  const uint32_t lock = ltx::LockPgno(fi.page_size);
  ltx::DatabaseChecksum sum;
  for (uint32_t pgno = 1; pgno <= fi.page_count; ++pgno) {
    if (std::fread(page.data(), 1, page.size(), f.get()) != page.size()) {
      throw CliError(path + ": short read at page " + std::to_string(pgno));
    }
    if (pgno == lock) continue;
    std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(page.data()), page.size());
    sum.Toggle(ltx::PageChecksum(pgno, span));
    Check(enc->AddPage(pgno, span), "encode page " + std::to_string(pgno));
  }
  Check(enc->Finish(sum.value()), "encode " + path);
  return sum.value();
}

// Renews a lease every third of its duration on its own connection until destroyed. A
// renewal that fails is retried each second while the lease may still be valid; error()
// then says why the upload's ELEASE happened.
class LeaseKeeper {
 public:
  LeaseKeeper(std::string db, std::string id, long ms)
      : db_(std::move(db)), id_(std::move(id)), ms_(ms), client_(MakeClient()) {
    thread_ = std::thread([this] { Run(); });
  }
  ~LeaseKeeper() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  std::string error() {
    std::lock_guard l(mu_);
    return error_;
  }

 private:
  void Run() {
    using Clock = std::chrono::steady_clock;
    const auto period = std::chrono::milliseconds(std::max<long>(ms_ / 3, 100));
    auto expires = Clock::now() + std::chrono::milliseconds(ms_);
    auto next = Clock::now() + period;
    std::unique_lock l(mu_);
    while (!cv_.wait_until(l, next, [&] { return stop_; })) {
      l.unlock();
      auto r = client_->AcquireLease(db_, ms_, id_);
      l.lock();
      if (r.ok()) {
        expires = Clock::now() + std::chrono::milliseconds(ms_);
        next = Clock::now() + period;
        error_.clear();
        continue;
      }
      error_ = Describe(r.status(), db_ + ": renew lease " + id_);
      if (r.status().code() != ltx::Code::kUnavailable || Clock::now() >= expires) return;
      next = Clock::now() + std::chrono::seconds(1);
    }
  }

  const std::string db_, id_;
  const long ms_;
  std::unique_ptr<litevfs::Client> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::string error_;
  std::thread thread_;
};

void run_import(const ImportOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  const auto lease_ms = ParseDurationMs(opt.lease_duration);
  if (!lease_ms || *lease_ms < 1000 || *lease_ms > kMaxLeaseMs) {
    throw UsageError("--lease-duration: '" + opt.lease_duration +
                     "' is not a duration from 1s to 10m (e.g. 30s, 2m)");
  }
  DbFileInfo fi = InspectDbFile(opt.file);
  RequireNoWal(opt.file);
  auto client = MakeClient();

  std::string lease_id = opt.lease_id;
  bool own_lease = false;
  if (lease_id.empty()) {
    auto lease = client->AcquireLease(opt.db, long(*lease_ms));
    if (!lease.ok()) {
      if (lease.status().code() == ltx::Code::kConflict) {
        throw CliError(opt.db + ": another client holds the lease (" + Describe(lease.status()) +
                       "); pass --lease-id if it is yours");
      }
      throw CliError(Describe(lease.status(), opt.db + ": acquire lease"));
    }
    lease_id = lease->id;
    own_lease = true;
  }
  // Release our lease on every path out of here.
  struct Releaser {
    litevfs::Client* c;
    const std::string* db;
    const std::string* id;
    bool active;
    ~Releaser() {
      if (!active) return;
      ltx::Status st = c->ReleaseLease(*db, *id);
      if (!st.ok())
        std::cerr << "litevfs: warning: " << Describe(st, *db + ": release lease") << "\n";
    }
  } releaser{client.get(), &opt.db, &lease_id, own_lease};
  // Declared after the releaser, so it stops renewing before the lease is released.
  std::unique_ptr<LeaseKeeper> keeper;
  if (own_lease) keeper = std::make_unique<LeaseKeeper>(opt.db, lease_id, long(*lease_ms));

  auto positions = Unwrap(client->GetPositions(), "list databases");
  auto it = positions.find(opt.db);
  const bool exists = it != positions.end() && !it->second.IsZero();

  TempLtx tmp;
  uint64_t post = 0;
  try {
    FdSink sink(tmp.fd(), tmp.path());
    if (!exists) {
      ltx::EncodeDbOptions eo;
      eo.encode.version = ltx::Version::kV1;
      eo.encode.compress = opt.compress;
      eo.txid = 1;
      ltx::FileInfo info = Unwrap(ltx::EncodeDatabaseFile(opt.file, &sink, eo), opt.file);
      post = info.trailer.post_apply_checksum;
    } else {
      post = EncodeFullPageTx(opt.file, fi, it->second, opt.compress, &sink);
    }
  } catch (const CliError& e) {
    std::string msg = TempLtx::WriteError(e.what());
    if (msg == e.what()) throw;
    throw CliError(msg, e.exit_code());
  }
  const uint64_t upload_bytes = tmp.Finish();

  auto uploaded = client->UploadTxFile(opt.db, tmp.path(), lease_id);
  if (!uploaded.ok() && keeper && !keeper->error().empty()) {
    throw CliError(Describe(uploaded.status(), opt.db + ": upload") + " (" + keeper->error() + ")");
  }
  ltx::Pos pos = Unwrap(std::move(uploaded), opt.db + ": upload");
  if (pos.post_apply_checksum != post) {
    throw CliError(opt.db + ": server reports checksum " +
                   ltx::FormatChecksum(pos.post_apply_checksum) + " after upload, expected " +
                   ltx::FormatChecksum(post));
  }
  if (opt.json) {
    PrintJson({{"db", opt.db},
               {"file", opt.file},
               {"snapshot", !exists},
               {"pos", PosJson(pos)},
               {"pages", fi.page_count},
               {"pageSize", fi.page_size},
               {"uploadBytes", upload_bytes}});
    return;
  }
  std::cout << "imported " << opt.file << " as " << opt.db << " at " << ltx::FormatPos(pos) << " ("
            << fi.page_count << " pages, " << FormatBytes(fi.file_size)
            << (exists ? ", on top of the existing history" : ", new database") << ")\n";
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
                  "Duration of the lease the import acquires, renewed every third of it (1s..10m); "
                  "if the process dies, others can write after at most this long")
      ->capture_default_str();
  sub->add_flag("--compress", opt->compress, "LZ4-compress the uploaded LTX file");
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_import(*opt); });
}

}  // namespace cli
