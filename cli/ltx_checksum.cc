// `litevfs ltx checksum DB`: the LTX database checksum of a SQLite file (%016x), i.e. the
// post-apply checksum an LTX file leaving that database behind would carry.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "ltx/checksum.h"

namespace cli {
namespace {

struct LtxChecksumOptions {
  std::string path;
  bool json = false;
};

void run_ltx_checksum(const LtxChecksumOptions& opt) {
  uint64_t sum = Unwrap(ltx::ChecksumDatabaseFile(opt.path), opt.path);
  if (opt.json) {
    PrintJson({{"path", opt.path}, {"checksum", ltx::FormatChecksum(sum)}});
    return;
  }
  std::cout << ltx::FormatChecksum(sum) << "\n";
}

}  // namespace

void setup_ltx_checksum(CLI::App& ltx) {
  auto opt = std::make_shared<LtxChecksumOptions>();
  CLI::App* sub =
      ltx.add_subcommand("checksum", "Compute the LTX checksum of a SQLite database file");
  sub->add_option("DB", opt->path, "SQLite database file")->required();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_ltx_checksum(*opt); });
}

}  // namespace cli
