// `litevfs import FILE DB`: upload a local SQLite database file.
//  - DB does not exist: one snapshot LTX (ltx::EncodeDatabaseFile, min_txid = 1).
//  - DB exists: one full-page transaction on top of the current position
//    (min = max = cur.txid + 1, pre-apply = cur checksum, every page of the file,
//    commit = the file's page count), so history is kept and readers just sync.
// Uploads happen under a lease: --lease-id uses one the caller holds; otherwise a short
// lease is acquired for the upload and released afterwards (409 if another client holds it).
#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "ltx/checksum.h"
#include "ltx/encoder.h"
#include "ltx/file.h"

namespace cli {
namespace {

constexpr long kImportLeaseMs = 60000;

struct ImportOptions {
  std::string file;
  std::string db;
  std::string lease_id;
  bool compress = false;
  bool json = false;
};

// Full-page transaction of `path` on top of `cur`. Returns the LTX bytes and sets *post.
std::string EncodeFullPageTx(const std::string& path, const DbFileInfo& fi, const ltx::Pos& cur,
                             bool compress, uint64_t* post) {
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

  std::string out;
  ltx::StringSink sink(&out);
  auto enc = Unwrap(ltx::Encoder::Open(&sink, h, eo), "encode " + path);
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
  *post = sum.value();
  return out;
}

void run_import(const ImportOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  DbFileInfo fi = InspectDbFile(opt.file);
  RequireNoWal(opt.file);
  auto client = MakeClient();

  std::string lease_id = opt.lease_id;
  bool own_lease = false;
  if (lease_id.empty()) {
    auto lease = client->AcquireLease(opt.db, kImportLeaseMs);
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

  auto positions = Unwrap(client->GetPositions(), "list databases");
  auto it = positions.find(opt.db);
  const bool exists = it != positions.end() && !it->second.IsZero();

  std::string ltx_bytes;
  uint64_t post = 0;
  if (!exists) {
    ltx::StringSink sink(&ltx_bytes);
    ltx::EncodeDbOptions eo;
    eo.encode.version = ltx::Version::kV1;
    eo.encode.compress = opt.compress;
    eo.txid = 1;
    ltx::FileInfo info = Unwrap(ltx::EncodeDatabaseFile(opt.file, &sink, eo), opt.file);
    post = info.trailer.post_apply_checksum;
  } else {
    ltx_bytes = EncodeFullPageTx(opt.file, fi, it->second, opt.compress, &post);
  }

  ltx::Pos pos = Unwrap(client->UploadTx(opt.db, ltx_bytes, lease_id), opt.db + ": upload");
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
               {"uploadBytes", ltx_bytes.size()}});
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
                  "Upload under this lease (default: acquire one briefly)");
  sub->add_flag("--compress", opt->compress, "LZ4-compress the uploaded LTX file");
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_import(*opt); });
}

}  // namespace cli
