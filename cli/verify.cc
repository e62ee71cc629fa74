// `litevfs verify DB [--integrity]`: fetch every page of DB as of its current position,
// compute the LTX database checksum and compare it with the position's checksum (the
// server's pages and its bookkeeping agree). --integrity also opens DB through the VFS and
// runs PRAGMA integrity_check (SQLite agrees the pages form a valid database).
#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "page_fetcher.h"
#include "ltx/checksum.h"
#include "remote_db.h"

namespace cli {
namespace {

struct VerifyOptions {
  std::string db;
  bool integrity = false;
  unsigned parallel = 4;
  bool json = false;
};

void run_verify(const VerifyOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  auto client = MakeClient();
  RemoteState st = GetRemoteState(*client, opt.db);

  std::atomic<uint64_t> acc{0};
  FetchOptions fo;
  fo.parallel = opt.parallel;
  fo.progress = ProgressWanted(opt.json);
  fo.label = "verify";
  FetchStats fs = Unwrap(
      FetchAllPages(*client, opt.db, st.pos, st.commit, fo,
                    [&](uint32_t pgno, std::string_view data) {
                      acc.fetch_xor(ltx::PageChecksum(
                          pgno, {reinterpret_cast<const uint8_t*>(data.data()), data.size()}));
                      return ltx::Status::OK();
                    }),
      opt.db + ": fetch pages");
  const uint64_t sum = ltx::kChecksumFlag | acc.load();
  const bool checksum_ok = sum == st.pos.post_apply_checksum;

  std::string integrity = "skipped";
  if (opt.integrity && checksum_ok) {
    SqlitePtr db = OpenRemote(opt.db, /*read_only=*/true);
    auto rows = QueryRows(db.get(), "PRAGMA integrity_check");
    integrity.clear();
    for (const auto& r : rows)
      integrity += (integrity.empty() ? "" : "\n") + (r.empty() ? "" : r[0]);
  }
  const bool integrity_ok = !opt.integrity || integrity == "ok";

  if (opt.json) {
    PrintJson({{"db", opt.db},
               {"pos", PosJson(st.pos)},
               {"pages", fs.pages},
               {"pageSize", fs.page_size},
               {"checksum", ltx::FormatChecksum(sum)},
               {"checksumOk", checksum_ok},
               {"integrity", integrity},
               {"ok", checksum_ok && integrity_ok}});
    if (!checksum_ok || !integrity_ok) throw ExitRequest(kExitError);
    return;
  }
  if (!checksum_ok) {
    throw CliError(opt.db + ": checksum mismatch at txid " + ltx::FormatTxid(st.pos.txid) +
                   ": pages give " + ltx::FormatChecksum(sum) + ", position says " +
                   ltx::FormatChecksum(st.pos.post_apply_checksum));
  }
  if (!integrity_ok) {
    std::cout << integrity << "\n";
    throw CliError(opt.db + ": integrity_check failed");
  }
  std::cout << opt.db << ": ok at " << ltx::FormatPos(st.pos) << " (" << fs.pages << " pages, "
            << FormatBytes(fs.bytes) << (opt.integrity ? ", integrity_check ok" : "") << ")\n";
}

}  // namespace

void setup_verify(CLI::App& app) {
  auto opt = std::make_shared<VerifyOptions>();
  CLI::App* sub =
      app.add_subcommand("verify", "Check a database's pages against its position's checksum");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_flag("--integrity", opt->integrity,
                "Also open it through the VFS and run PRAGMA integrity_check");
  sub->add_option("--parallel", opt->parallel, "Concurrent page requests")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_verify(*opt); });
}

}  // namespace cli
