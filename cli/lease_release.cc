// `litevfs lease release DB --id ID`: give a lease back.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"

namespace cli {
namespace {

struct LeaseReleaseOptions {
  std::string db;
  std::string id;
  bool json = false;
};

void run_lease_release(const LeaseReleaseOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  auto client = MakeClient();
  Check(client->ReleaseLease(opt.db, opt.id), opt.db + ": release lease");
  if (opt.json) {
    PrintJson({{"db", opt.db}, {"id", opt.id}, {"released", true}});
    return;
  }
  std::cout << "released " << opt.id << "\n";
}

}  // namespace

void setup_lease_release(CLI::App& lease) {
  auto opt = std::make_shared<LeaseReleaseOptions>();
  CLI::App* sub = lease.add_subcommand("release", "Release a lease you hold");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_option("--id", opt->id, "Lease id (from lease acquire)")->required();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_lease_release(*opt); });
}

}  // namespace cli
