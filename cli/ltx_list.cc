// `litevfs ltx list PATH...`: one row of header/trailer fields per file, as the Go tool's
// table (or --tsv, or --json). Every file is verified in full first; a bad file is
// reported on stderr and makes the exit code 1, the others are still listed.
#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "ltx/file.h"

namespace cli {
namespace {

struct LtxListOptions {
  std::vector<std::string> paths;
  std::string format = "auto";
  bool tsv = false;
  bool json = false;
};

void run_ltx_list(const LtxListOptions& opt) {
  ltx::DecodeOptions dopts = DecodeOptionsFor(opt.format);
  TabWriter tw;
  std::string tsv;
  nlohmann::json out = nlohmann::json::array();
  std::vector<std::string> header = {"min_txid", "max_txid",  "commit",    "pages",
                                     "preapply", "postapply", "timestamp", "wal_offset",
                                     "wal_size", "wal_salt"};
  if (opt.tsv) {
    for (size_t i = 0; i < header.size(); ++i)
      tsv += header[i] + (i + 1 < header.size() ? "\t" : "\n");
  } else {
    tw.Row(header);
  }
  int failed = 0;
  for (const std::string& path : opt.paths) {
    auto r = ltx::VerifyFile(path, dopts);
    if (!r.ok()) {
      ++failed;
      std::cerr << "litevfs: " << Describe(r.status(), path) << "\n";
      if (opt.json) out.push_back({{"path", path}, {"error", Describe(r.status())}});
      continue;
    }
    const ltx::FileInfo& fi = *r;
    if (opt.json) {
      out.push_back(FileInfoJson(path, fi));
      continue;
    }
    const ltx::Header& h = fi.header;
    char salt[20];
    std::snprintf(salt, sizeof(salt), "%08x %08x", h.wal_salt1, h.wal_salt2);
    std::vector<std::string> row = {ltx::FormatTxid(h.min_txid),
                                    ltx::FormatTxid(h.max_txid),
                                    std::to_string(h.commit),
                                    std::to_string(fi.page_count),
                                    ltx::FormatChecksum(h.pre_apply_checksum),
                                    ltx::FormatChecksum(fi.trailer.post_apply_checksum),
                                    h.timestamp == 0 ? "" : FormatRfc3339(h.timestamp, false),
                                    std::to_string(h.wal_offset),
                                    std::to_string(h.wal_size),
                                    salt};
    if (opt.tsv) {
      for (size_t i = 0; i < row.size(); ++i) tsv += row[i] + (i + 1 < row.size() ? "\t" : "\n");
    } else {
      tw.Row(std::move(row));
    }
  }
  if (opt.json) {
    PrintJson(out);
  } else if (opt.tsv) {
    std::cout << tsv << std::flush;
  } else {
    tw.Flush();
  }
  if (failed > 0) throw ExitRequest(kExitError);
}

}  // namespace

void setup_ltx_list(CLI::App& ltx) {
  auto opt = std::make_shared<LtxListOptions>();
  CLI::App* sub =
      ltx.add_subcommand("list", "List header and trailer fields of LTX files in a table");
  sub->add_option("PATH", opt->paths, "LTX files")->required();
  sub->add_flag("--tsv", opt->tsv, "Tab-separated values instead of an aligned table");
  sub->add_option("--format", opt->format, "LTX version to read: auto, v1 or v3")
      ->check(CLI::IsMember({"auto", "v1", "v3"}))
      ->capture_default_str();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->get_option("--json")->excludes("--tsv");
  sub->callback([opt]() { run_ltx_list(*opt); });
}

}  // namespace cli
