// `litevfs export DB FILE [--txid N]`: write a remote database to a local SQLite file.
// Current state: GET /db/snapshot, verified and applied with libltx. A retained past
// position (--txid): every page fetched as of that position. Either way the written file's
// database checksum must equal the position's checksum before it is renamed into place.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include "common.h"
#include "page_fetcher.h"
#include "ltx/checksum.h"
#include "ltx/file.h"

namespace cli {
namespace {

struct ExportOptions {
  std::string db;
  std::string file;
  std::optional<uint64_t> txid;
  bool force = false;
  unsigned parallel = 4;
  bool json = false;
};

struct Exported {
  ltx::Pos pos;
  uint64_t pages = 0;
  uint32_t page_size = 0;
};

Exported ExportSnapshot(litevfs::Client& client, const ExportOptions& opt, TempFile& out) {
  TempFile ltx_tmp(opt.file + ".ltx");
  FdSink file_sink(ltx_tmp.fd(), ltx_tmp.path());
  Progress bar("export", 0, ProgressWanted(opt.json));
  ProgressSink sink(&file_sink, &bar);
  Unwrap(client.GetSnapshot(opt.db, &sink), opt.db + ": download snapshot");
  bar.Done();
  ltx::FileInfo info = Unwrap(ltx::VerifyFile(ltx_tmp.path()), opt.db + ": snapshot");
  if (!info.header.IsSnapshot()) throw CliError(opt.db + ": server sent a non-snapshot LTX file");
  Check(ltx::ApplyFile(out.path(), ltx_tmp.path()), opt.db + ": apply snapshot");
  Exported e;
  e.pos = {info.header.max_txid, info.trailer.post_apply_checksum};
  e.pages = info.page_count;
  e.page_size = info.header.page_size;
  return e;
}

Exported ExportAtTxid(litevfs::Client& client, const ExportOptions& opt, TempFile& out) {
  auto history = Unwrap(client.GetHistory(opt.db), opt.db + ": history");
  const litevfs::HistoryEntry* entry = nullptr;
  for (const auto& h : history) {
    if (h.pos.txid == *opt.txid) entry = &h;
  }
  if (entry == nullptr) {
    std::string range = history.empty() ? "none"
                                        : std::to_string(history.front().pos.txid) + ".." +
                                              std::to_string(history.back().pos.txid);
    throw CliError(opt.db + ": txid " + std::to_string(*opt.txid) +
                   " is not retained by the server (retained: " + range + ")");
  }
  std::atomic<uint64_t> acc{0};
  const int fd = out.fd();
  const std::string path = out.path();
  FetchOptions fo;
  fo.parallel = opt.parallel;
  fo.progress = ProgressWanted(opt.json);
  fo.label = "export";
  FetchStats fs = Unwrap(
      FetchAllPages(
          client, opt.db, entry->pos, entry->commit, fo,
          [&](uint32_t pgno, std::string_view data) -> ltx::Status {
            std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(data.data()),
                                          data.size());
            acc.fetch_xor(ltx::PageChecksum(pgno, span));
            off_t off = off_t(pgno - 1) * off_t(data.size());
            size_t done = 0;
            while (done < data.size()) {
              ssize_t w = ::pwrite(fd, data.data() + done, data.size() - done, off + off_t(done));
              if (w < 0) {
                if (errno == EINTR) continue;
                return ltx::Status::IOError("write " + path + ": " + std::strerror(errno));
              }
              done += size_t(w);
            }
            return ltx::Status::OK();
          }),
      opt.db + ": fetch pages");
  // The lock page (if the database reaches it) is a hole; make the size exact.
  if (::ftruncate(fd, off_t(entry->commit) * off_t(fs.page_size)) != 0) {
    throw CliError("truncate " + path + ": " + std::strerror(errno));
  }
  uint64_t fetched = ltx::kChecksumFlag | acc.load();
  if (entry->commit == 0) fetched = ltx::kEmptyDatabaseChecksum;
  if (fetched != entry->pos.post_apply_checksum) {
    throw CliError(opt.db + ": pages served at txid " + ltx::FormatTxid(entry->pos.txid) +
                   " have checksum " + ltx::FormatChecksum(fetched) + ", position says " +
                   ltx::FormatChecksum(entry->pos.post_apply_checksum));
  }
  Exported e;
  e.pos = entry->pos;
  e.pages = fs.pages;
  e.page_size = fs.page_size;
  return e;
}

void run_export(const ExportOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  struct stat st {};
  if (!opt.force && ::stat(opt.file.c_str(), &st) == 0) {
    throw CliError(opt.file + ": already exists (use --force to replace it)");
  }
  auto client = MakeClient();
  TempFile out(opt.file);
  Exported e = opt.txid ? ExportAtTxid(*client, opt, out) : ExportSnapshot(*client, opt, out);

  // Whatever the path, the bytes on disk must be the database at the position.
  uint64_t sum =
      Unwrap(ltx::ChecksumDatabaseFile(out.path(), e.page_size), "checksum " + out.path());
  if (sum != e.pos.post_apply_checksum) {
    throw CliError(opt.file + ": written database has checksum " + ltx::FormatChecksum(sum) +
                   ", position " + ltx::FormatPos(e.pos) + " says " +
                   ltx::FormatChecksum(e.pos.post_apply_checksum));
  }
  out.Commit();
  if (opt.json) {
    PrintJson({{"db", opt.db},
               {"file", opt.file},
               {"pos", PosJson(e.pos)},
               {"pages", e.pages},
               {"pageSize", e.page_size}});
    return;
  }
  std::cout << "exported " << opt.db << " at " << ltx::FormatPos(e.pos) << " to " << opt.file
            << " (" << e.pages << " pages, " << FormatBytes(e.pages * e.page_size) << ")\n";
}

}  // namespace

void setup_export(CLI::App& app) {
  auto opt = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Write database DB to a local SQLite file");
  sub->add_option("DB", opt->db, "Remote database name")->required();
  sub->add_option("FILE", opt->file, "Local file to write")->required();
  sub->add_option("--txid", opt->txid, "Export the database as of this retained TXID (decimal)");
  sub->add_flag("-f,--force", opt->force, "Replace FILE if it exists");
  sub->add_option("--parallel", opt->parallel, "Concurrent page requests (with --txid)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_export(*opt); });
}

}  // namespace cli
