// `litevfs lease refresh DB --id ID [--duration D]`: extend a lease this client holds.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"

namespace cli {
namespace {

struct LeaseRefreshOptions {
  std::string db;
  std::string id;
  std::string duration = "30s";
  bool json = false;
};

void run_lease_refresh(const LeaseRefreshOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  const int64_t ms = ParseDurationFlag("--duration", opt.duration, litevfs::kMinLeaseDurationMs,
                                       litevfs::kMaxLeaseDurationMs);
  auto client = MakeClient();
  litevfs::Lease l =
      Unwrap(client->AcquireLease(opt.db, long(ms), opt.id), opt.db + ": refresh lease");
  if (opt.json) {
    PrintJson({{"db", opt.db}, {"id", l.id}, {"expires_at", l.expires_at}});
    return;
  }
  std::cout << "id:         " << l.id << "\n"
            << "expires_at: " << l.expires_at << "\n";
}

}  // namespace

void setup_lease_refresh(CLI::App& lease) {
  auto opt = std::make_shared<LeaseRefreshOptions>();
  CLI::App* sub = lease.add_subcommand("refresh", "Extend a lease you hold");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_option("--id", opt->id, "Lease id (from lease acquire)")->required();
  sub->add_option("--duration", opt->duration,
                  "New duration from now, 1s..10m (30s, 2m; a number without a unit is ms)")
      ->capture_default_str();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_lease_refresh(*opt); });
}

}  // namespace cli
