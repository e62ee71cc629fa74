// `litevfs delete DB [--yes] [--force]`: removes a database and its history from the service.
// Asks on a terminal unless --yes (and refuses without a terminal or --yes); the service
// refuses while a write lease is held unless --force.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "litevfs/time_travel.h"

namespace cli {
namespace {

struct DeleteOptions {
  std::string db;
  bool yes = false;
  bool force = false;
};

void Confirm(const std::string& db) {
  if (!StdinIsTty()) throw UsageError("delete " + db + ": pass --yes to delete without a terminal to confirm on");
  std::cerr << "Delete " << db << " and all its history from the service? Type its name to confirm: ";
  std::string line;
  std::getline(std::cin, line);
  if (line != db) throw CliError("delete " + db + ": not confirmed; nothing was deleted");
}

void run_delete(const DeleteOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  auto client = MakeClient();
  if (!opt.yes) Confirm(opt.db);
  ltx::Status st = litevfs::DeleteDatabase(*client, opt.db, opt.force);
  if (st.code() == ltx::Code::kConflict && st.api_code() == "ELEASE") {
    throw CliError(opt.db + ": a client holds the write lease; nothing was deleted (release it, or pass --force)");
  }
  Check(st, opt.db + ": delete");
  std::cout << opt.db << ": deleted\n";
}

}  // namespace

void setup_delete(CLI::App& app) {
  auto opt = std::make_shared<DeleteOptions>();
  CLI::App* sub = app.add_subcommand("delete", "Delete a database and its history from the service");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_flag("--yes,-y", opt->yes, "Do not ask for confirmation");
  sub->add_flag("--force", opt->force, "Delete even while a client holds the write lease");
  sub->callback([opt]() { run_delete(*opt); });
}

}  // namespace cli
