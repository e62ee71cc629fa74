// `litevfs ls`: every database of the cluster and its position.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "commands.h"
#include "common.h"

namespace cli {
namespace {

struct LsOptions {
  bool json = false;
};

void run_ls(const LsOptions& opt) {
  auto client = MakeClient();
  auto positions = Unwrap(client->GetPositions(), "list databases");
  if (opt.json) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, pos] : positions) j[name] = PosJson(pos);
    PrintJson(j);
    return;
  }
  TabWriter tw;
  tw.Row({"name", "txid", "postapply"});
  for (const auto& [name, pos] : positions) {
    tw.Row({name, ltx::FormatTxid(pos.txid), ltx::FormatChecksum(pos.post_apply_checksum)});
  }
  tw.Flush();
}

}  // namespace

void setup_ls(CLI::App& app) {
  auto opt = std::make_shared<LsOptions>();
  CLI::App* sub = app.add_subcommand("ls", "List the cluster's databases and their positions");
  sub->add_flag("--json", opt->json, "Machine-readable output: {NAME: {txid, postApplyChecksum}}");
  sub->callback([opt]() { run_ls(*opt); });
}

}  // namespace cli
