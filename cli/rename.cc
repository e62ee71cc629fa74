// `litevfs rename DB NEW`: renames a database (with its history) on the service. Refused
// while a write lease is held or when NEW exists.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "litevfs/time_travel.h"

namespace cli {
namespace {

struct RenameOptions {
  std::string db, to;
};

void run_rename(const RenameOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  Check(litevfs::ValidateDatabaseName(opt.to), "new database name");
  auto client = MakeClient();
  Check(litevfs::RenameDatabase(*client, opt.db, opt.to), opt.db + ": rename to " + opt.to);
  std::cout << opt.db << ": renamed to " << opt.to << "\n";
}

}  // namespace

void setup_rename(CLI::App& app) {
  auto opt = std::make_shared<RenameOptions>();
  CLI::App* sub = app.add_subcommand("rename", "Rename a database (with its history) on the service");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_option("NEW", opt->to, "New name")->required();
  sub->callback([opt]() { run_rename(*opt); });
}

}  // namespace cli
