// `litevfs log DB`: the retained positions of a database, oldest first (needs the server's
// `history` extension).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "litevfs/time_travel.h"

namespace cli {
namespace {

struct LogOptions {
  std::string db;
  bool json = false;
};

void run_log(const LogOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  auto client = MakeClient();
  auto r = client->GetHistory(opt.db);
  if (!r.ok() && r.status().code() == ltx::Code::kUnsupported) {
    throw CliError(opt.db + ": the server does not offer the history extension");
  }
  auto history = Unwrap(std::move(r), opt.db);
  const auto points = Unwrap(litevfs::GetRestorePoints(*client, opt.db), opt.db + ": restore points");
  if (opt.json) {
    nlohmann::json rps = nlohmann::json::array();
    for (const auto& p : points) {
      rps.push_back({{"pos", PosJson(p.pos)}, {"timestamp", FormatRfc3339(p.timestamp_ms, true)},
                     {"takenAt", FormatRfc3339(p.taken_ms, true)}, {"commit", p.commit}});
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : history) {
      arr.push_back({{"pos", PosJson(e.pos)},
                     {"timestamp", e.timestamp_ms ? FormatRfc3339(e.timestamp_ms, true) : ""},
                     {"commit", e.commit},
                     {"pageCount", e.page_count}});
    }
    PrintJson({{"db", opt.db}, {"history", arr}, {"restorePoints", rps}});
    return;
  }
  TabWriter tw;
  tw.Row({"txid", "postapply", "timestamp", "commit", "pages"});
  for (const auto& e : history) {
    tw.Row({ltx::FormatTxid(e.pos.txid), ltx::FormatChecksum(e.pos.post_apply_checksum),
            e.timestamp_ms ? FormatRfc3339(e.timestamp_ms, true) : "", std::to_string(e.commit),
            std::to_string(e.page_count)});
  }
  for (const auto& p : points) {  // kept past retention: restore or branch them
    tw.Row({ltx::FormatTxid(p.pos.txid), ltx::FormatChecksum(p.pos.post_apply_checksum),
            FormatRfc3339(p.timestamp_ms, true), std::to_string(p.commit), "restore point"});
  }
  tw.Flush();
}

}  // namespace

void setup_log(CLI::App& app) {
  auto opt = std::make_shared<LogOptions>();
  CLI::App* sub = app.add_subcommand("log", "List a database's retained positions, oldest first");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_log(*opt); });
}

}  // namespace cli
