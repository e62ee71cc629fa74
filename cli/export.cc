// `litevfs export DB FILE [--txid N]`: write a remote database to a local SQLite file.
// The current position (or a retained past one, --txid): every page fetched as of that
// position in parallel batches (page_fetcher.h) and written in place (direct I/O where the
// file system takes it: page_file_writer.h). The database checksum of the bytes written
// must equal the position's checksum before the file is renamed into place. (GET
// /db/snapshot was the old way: a temporary LTX file as large as the database, verified,
// applied and the result read back: four passes over the data instead of one.)
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "page_fetcher.h"
#include "page_file_writer.h"
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

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The batch's pages at their offsets: one write per run of consecutive page numbers.
ltx::Status WriteRuns(PageFileWriter& out, const litevfs::PageBlock& b) {
  std::vector<std::string_view> run;
  for (size_t i = 0; i < b.pages.size();) {
    size_t j = i;
    run.clear();
    while (j < b.pages.size() && b.pages[j].first == b.pages[i].first + (j - i)) {
      run.push_back(b.pages[j++].second);
    }
    LTX_RETURN_IF_ERROR(out.WriteRun(b.pages[i].first, run));
    i = j;
  }
  return ltx::Status::OK();
}

// The retained position of --txid and its size in pages.
RemoteState RetainedState(litevfs::Client& client, const ExportOptions& opt) {
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
  RemoteState st;
  st.pos = entry->pos;
  st.commit = entry->commit;
  return st;
}

// Every page as of `at`, fetched in parallel batches and written in place; the database
// checksum is accumulated from the very bytes written (once: the file is not read back)
// and must equal the position's.
Exported ExportAt(litevfs::Client& client, const ExportOptions& opt, const RemoteState& at,
                  TempFile& out) {
  const RemoteState* entry = &at;
  std::atomic<uint64_t> acc{0};
  const int fd = out.fd();
  const std::string path = out.path();
  PageFileWriter writer(fd, path);
  FetchOptions fo;
  fo.parallel = opt.parallel;
  fo.progress = ProgressWanted(opt.json);
  fo.label = "export";
  FetchStats fs = Unwrap(FetchAllBatches(client, opt.db, entry->pos, entry->commit, fo,
                                         [&](const litevfs::PageBlock& b) -> ltx::Status {
                                           uint64_t x = 0;
                                           for (const auto& [pgno, data] : b.pages) {
                                             x ^= ltx::PageChecksum(pgno, AsBytes(data));
                                           }
                                           acc.fetch_xor(x);
                                           return WriteRuns(writer, b);
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
  const RemoteState at = opt.txid ? RetainedState(*client, opt) : GetRemoteState(*client, opt.db);
  Exported e = ExportAt(*client, opt, at, out);
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
  sub->add_option("--parallel", opt->parallel, "Concurrent page requests")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_export(*opt); });
}

}  // namespace cli
