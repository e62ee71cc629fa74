// `litevfs ltx apply --db DB FILE...`: apply LTX files in order to a database file (created
// for a snapshot). Each file is verified in full and its pre-apply checksum checked against
// the database before any byte changes; the post-apply checksum is checked after.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "ltx/checksum.h"
#include "ltx/file.h"

namespace cli {
namespace {

struct LtxApplyOptions {
  std::string db;
  std::vector<std::string> paths;
  std::string format = "auto";
  bool json = false;
};

void run_ltx_apply(const LtxApplyOptions& opt) {
  ltx::DecodeOptions dopts = DecodeOptionsFor(opt.format);
  nlohmann::json applied = nlohmann::json::array();
  for (const std::string& path : opt.paths) {
    Check(ltx::ApplyFile(opt.db, path, dopts), path);
    applied.push_back(path);
  }
  if (opt.json) {
    uint64_t sum = Unwrap(ltx::ChecksumDatabaseFile(opt.db), opt.db);
    PrintJson({{"db", opt.db}, {"applied", applied}, {"checksum", ltx::FormatChecksum(sum)}});
  }
}

}  // namespace

void setup_ltx_apply(CLI::App& ltx) {
  auto opt = std::make_shared<LtxApplyOptions>();
  CLI::App* sub = ltx.add_subcommand("apply", "Apply LTX files, in order, to a database file");
  sub->add_option("--db", opt->db, "Database file to apply to (created for a snapshot)")
      ->required();
  sub->add_option("PATH", opt->paths, "LTX files, applied in the order given")->required();
  sub->add_option("--format", opt->format, "LTX version to read: auto, v1 or v3")
      ->check(CLI::IsMember({"auto", "v1", "v3"}))
      ->capture_default_str();
  sub->add_flag("--json", opt->json, "Print the files applied and the resulting checksum as JSON");
  sub->callback([opt]() { run_ltx_apply(*opt); });
}

}  // namespace cli
