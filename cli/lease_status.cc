// `litevfs lease status DB`: whether a client holds the database's write lease, and until
// when. Read-only (GET /lease, PROTOCOL.md): it never takes the lease, so polling it cannot
// get in a writer's way. A database that neither exists nor is leased is an error (exit 1).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"

namespace cli {
namespace {

struct LeaseStatusOptions {
  std::string db;
  bool json = false;
};

void run_lease_status(const LeaseStatusOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  auto client = MakeClient();
  auto r = client->GetLeaseStatus(opt.db);
  if (!r.ok() && r.status().code() == ltx::Code::kNotFound) {
    throw CliError(opt.db + ": no such database (and no lease on that name)");
  }
  const litevfs::LeaseStatus st = Unwrap(std::move(r), opt.db + ": lease status");
  if (opt.json) {
    PrintJson(
        {{"db", opt.db}, {"exists", st.exists}, {"held", st.held}, {"expires_at", st.expires_at}});
    return;
  }
  std::cout << opt.db << ": " << (st.held ? "held until " + st.expires_at : std::string("free"))
            << (st.exists ? "" : " (the database is being created)") << "\n";
}

}  // namespace

void setup_lease_status(CLI::App& lease) {
  auto opt = std::make_shared<LeaseStatusOptions>();
  CLI::App* sub = lease.add_subcommand(
      "status", "Show whether a client holds the lease and until when (read-only)");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_lease_status(*opt); });
}

}  // namespace cli
