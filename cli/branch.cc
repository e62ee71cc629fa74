// `litevfs branch DB NEW [--txid N | --time T]`: creates NEW holding DB's state (current, or
// the past one named), copied by the service without passing through this client.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "litevfs/time_travel.h"
#include "past.h"

namespace cli {
namespace {

struct BranchOptions {
  std::string db, to;
  PastFlags past;
  bool json = false;
};

void run_branch(const BranchOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  Check(litevfs::ValidateDatabaseName(opt.to), "new database name");
  auto client = MakeClient();
  ltx::Pos at;
  std::string what = "its current state";
  if (opt.past.given()) {
    const litevfs::HistoryEntry e = ResolvePast(*client, opt.db, opt.past);
    at = e.pos;
    what = "the state of " + DescribeState(e);
  } else {
    at = Unwrap(client->Sync(opt.db, ltx::Pos{}), opt.db).pos;
  }
  const ltx::Pos pos = Unwrap(litevfs::BranchDatabase(*client, opt.db, at, opt.to), opt.db + ": branch");
  if (opt.json) {
    PrintJson({{"db", opt.db}, {"new", opt.to}, {"pos", PosJson(pos)}});
    return;
  }
  std::cout << opt.to << ": created from " << opt.db << ", " << what << "\n";
}

}  // namespace

void setup_branch(CLI::App& app) {
  auto opt = std::make_shared<BranchOptions>();
  CLI::App* sub = app.add_subcommand("branch", "Create a new database from a (past) state of another, on the service");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_option("NEW", opt->to, "Name of the database to create")->required();
  AddPastFlags(sub, &opt->past);
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_branch(*opt); });
}

}  // namespace cli
