// `litevfs lease acquire|refresh|release|status DB`: the database's write lease.
#include <CLI/CLI.hpp>

#include "commands.h"

namespace cli {

void setup_lease(CLI::App& app) {
  CLI::App* lease =
      app.add_subcommand("lease", "Acquire, refresh, release or inspect a database's write lease");
  lease->require_subcommand(1);
  setup_lease_acquire(*lease);
  setup_lease_refresh(*lease);
  setup_lease_release(*lease);
  setup_lease_status(*lease);
}

}  // namespace cli
