// `litevfs ltx encode-db -o OUT DB`: encode a SQLite database file as one snapshot LTX
// (min_txid 1), v1 (optionally LZ4) or v3. Written to a temporary file, fsynced, renamed.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "ltx/file.h"

namespace cli {
namespace {

struct LtxEncodeDbOptions {
  std::string db;
  std::string out;
  std::string format = "v1";
  bool compress = false;
  uint64_t txid = 1;
  bool json = false;
};

void run_ltx_encode_db(const LtxEncodeDbOptions& opt) {
  if (opt.txid == 0) throw UsageError("--txid must be at least 1");
  if (SameFile(opt.db, opt.out)) throw UsageError("input and output files are the same");
  RequireNoWal(opt.db);
  ltx::EncodeDbOptions eopts;
  eopts.encode.version = opt.format == "v3" ? ltx::Version::kV3 : ltx::Version::kV1;
  eopts.encode.compress = opt.compress && eopts.encode.version == ltx::Version::kV1;
  eopts.txid = opt.txid;

  TempFile tmp(opt.out);
  FdSink sink(tmp.fd(), tmp.path());
  ltx::FileInfo info = Unwrap(ltx::EncodeDatabaseFile(opt.db, &sink, eopts), opt.db);
  tmp.Commit();
  if (opt.json) PrintJson(FileInfoJson(opt.out, info));
}

}  // namespace

void setup_ltx_encode_db(CLI::App& ltx) {
  auto opt = std::make_shared<LtxEncodeDbOptions>();
  CLI::App* sub =
      ltx.add_subcommand("encode-db", "Encode a SQLite database file as a snapshot LTX file");
  sub->add_option("DB", opt->db, "SQLite database file")->required();
  sub->add_option("-o,--output", opt->out, "Output LTX file")->required();
  sub->add_option("--format", opt->format, "LTX version to write: v1 or v3")
      ->check(CLI::IsMember({"v1", "v3"}))
      ->capture_default_str();
  sub->add_flag("--compress", opt->compress,
                "v1: compress the page block as one LZ4 frame (v3 always compresses)");
  sub->add_option("--txid", opt->txid, "Max TXID of the snapshot")->capture_default_str();
  sub->add_flag("--json", opt->json, "Print the written file's header and trailer as JSON");
  sub->callback([opt]() { run_ltx_encode_db(*opt); });
}

}  // namespace cli
