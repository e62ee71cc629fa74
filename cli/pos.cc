// `litevfs pos DB`: the database's current position (TXID/post-apply checksum).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"

namespace cli {
namespace {

struct PosOptions {
  std::string db;
  bool json = false;
};

void run_pos(const PosOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  auto client = MakeClient();
  RemoteState st = GetRemoteState(*client, opt.db);
  if (opt.json) {
    PrintJson({{"db", opt.db}, {"pos", PosJson(st.pos)}, {"commit", st.commit}});
    return;
  }
  std::cout << ltx::FormatPos(st.pos) << "\n";
}

}  // namespace

void setup_pos(CLI::App& app) {
  auto opt = std::make_shared<PosOptions>();
  CLI::App* sub = app.add_subcommand("pos", "Print a database's current position (TXID/checksum)");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_flag("--json", opt->json, "Machine-readable output: position and size in pages");
  sub->callback([opt]() { run_pos(*opt); });
}

}  // namespace cli
