// `litevfs restore DB --txid N | --time T`: makes a past state current as one new transaction,
// built by the service from only the pages that differ (PROTOCOL.md, POST /db/restore), under
// the write lease (taken here for the call, or the caller's --lease-id). Undo it by restoring
// the txid it prints as "before".
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "import_lease.h"
#include "litevfs/time_travel.h"
#include "past.h"

namespace cli {
namespace {

constexpr int64_t kRestoreLeaseMs = 30000;

struct RestoreOptions {
  std::string db;
  PastFlags past;
  std::string lease_id;
  bool json = false;
};

void run_restore(const RestoreOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  if (!opt.past.given()) throw UsageError("restore needs --txid N or --time T");
  auto client = MakeClient();
  const litevfs::HistoryEntry target = ResolvePast(*client, opt.db, opt.past);
  const ImportLease lease(*client, opt.db, opt.lease_id, kRestoreLeaseMs);
  const ltx::Pos before = Unwrap(client->Sync(opt.db, ltx::Pos{}), opt.db).pos;
  auto r = Unwrap(litevfs::RestoreDatabase(*client, opt.db, target.pos, lease.id()), opt.db + ": restore");
  if (opt.json) {
    PrintJson({{"db", opt.db}, {"restored", PosJson(r.restored)},
               {"restoredTimestamp", FormatRfc3339(target.timestamp_ms, true)},
               {"before", PosJson(before)}, {"pos", PosJson(r.pos)}, {"pages", r.pages}});
    return;
  }
  std::cout << opt.db << ": restored the state of " << DescribeState(target) << " as txid "
            << ltx::FormatTxid(r.pos.txid) << " (" << r.pos.txid << "), " << r.pages
            << " pages written\n"
            << "undo: litevfs restore " << opt.db << " --txid " << before.txid << "\n";
}

}  // namespace

void setup_restore(CLI::App& app) {
  auto opt = std::make_shared<RestoreOptions>();
  CLI::App* sub = app.add_subcommand(
      "restore", "Make a past state current (one new transaction of the pages that differ)");
  sub->add_option("DB", opt->db, "Database name")->required();
  AddPastFlags(sub, &opt->past);
  sub->add_option("--lease-id", opt->lease_id, "Restore under this lease (yours); default: take one for the call");
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_restore(*opt); });
}

}  // namespace cli
