// `litevfs ltx verify PATH...`: decode every file completely (order, lock page, checksums).
// As the Go tool: a bad file prints "PATH: reason"; all good prints "ok"; otherwise the
// command fails with "N ok, M invalid" (exit 1).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "ltx/file.h"

namespace cli {
namespace {

struct LtxVerifyOptions {
  std::vector<std::string> paths;
  std::string format = "auto";
  bool json = false;
};

void run_ltx_verify(const LtxVerifyOptions& opt) {
  ltx::DecodeOptions dopts = DecodeOptionsFor(opt.format);
  int ok_n = 0, bad_n = 0;
  nlohmann::json files = nlohmann::json::array();
  for (const std::string& path : opt.paths) {
    auto r = ltx::VerifyFile(path, dopts);
    if (!r.ok()) {
      ++bad_n;
      if (opt.json) {
        files.push_back({{"path", path}, {"ok", false}, {"error", Describe(r.status(), path)}});
      } else {
        std::cout << Describe(r.status(), path) << "\n";
      }
      continue;
    }
    ++ok_n;
    if (opt.json) {
      nlohmann::json j = FileInfoJson(path, *r);
      j["ok"] = true;
      files.push_back(std::move(j));
    }
  }
  if (opt.json) {
    PrintJson({{"files", files}, {"ok", ok_n}, {"invalid", bad_n}});
    if (bad_n) throw ExitRequest(kExitError);
    return;
  }
  std::cout.flush();
  if (bad_n) throw CliError(std::to_string(ok_n) + " ok, " + std::to_string(bad_n) + " invalid");
  std::cout << "ok\n";
}

}  // namespace

void setup_ltx_verify(CLI::App& ltx) {
  auto opt = std::make_shared<LtxVerifyOptions>();
  CLI::App* sub =
      ltx.add_subcommand("verify", "Read LTX files completely and verify their checksums");
  sub->add_option("PATH", opt->paths, "LTX files")->required();
  sub->add_option("--format", opt->format, "LTX version to read: auto, v1 or v3")
      ->check(CLI::IsMember({"auto", "v1", "v3"}))
      ->capture_default_str();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_ltx_verify(*opt); });
}

}  // namespace cli
