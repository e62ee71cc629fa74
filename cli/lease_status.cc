// `litevfs lease status DB`: whether another client holds the write lease. The wire
// protocol has no read-only lease route, so this probes: it tries to acquire the lease for
// the minimum duration (1 s); 409 means held, success means free and the probe lease is
// released at once.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"

namespace cli {
namespace {

constexpr long kProbeMs = 1000;

struct LeaseStatusOptions {
  std::string db;
  bool json = false;
};

void run_lease_status(const LeaseStatusOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  auto client = MakeClient();
  auto r = client->AcquireLease(opt.db, kProbeMs);
  bool held;
  std::string detail;
  if (r.ok()) {
    held = false;
    Check(client->ReleaseLease(opt.db, r->id), opt.db + ": release probe lease");
  } else if (r.status().code() == ltx::Code::kConflict) {
    held = true;
    detail = Describe(r.status());
  } else {
    throw CliError(Describe(r.status(), opt.db + ": lease status"));
  }
  if (opt.json) {
    PrintJson({{"db", opt.db}, {"held", held}, {"detail", detail}});
    return;
  }
  if (held) {
    std::cout << opt.db << ": held (" << detail << ")\n";
  } else {
    std::cout << opt.db << ": free\n";
  }
}

}  // namespace

void setup_lease_status(CLI::App& lease) {
  auto opt = std::make_shared<LeaseStatusOptions>();
  CLI::App* sub = lease.add_subcommand("status", "Show whether another client holds the lease");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_lease_status(*opt); });
}

}  // namespace cli
