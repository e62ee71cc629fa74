// `litevfs ltx dump PATH`: header, every page frame (hexdump), trailer — the Go tool's
// layout. Header fields are printed before the pages are decoded, so a file that fails
// half-way still shows what was readable before the error.
#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"
#include "ltx/checksum.h"
#include "ltx/decoder.h"
#include "ltx/io.h"

namespace cli {
namespace {

struct LtxDumpOptions {
  std::string path;
  std::string format = "auto";
  bool json = false;
  bool no_data = false;
};

void PrintHeader(const ltx::Header& h, ltx::Version v) {
  std::printf("# HEADER\n");
  std::printf("Version:   %s\n", VersionNumber(v));
  std::printf("Flags:     0x%08x\n", h.flags);
  std::printf("Page size: %u\n", h.page_size);
  std::printf("Commit:    %u\n", h.commit);
  std::printf("Min TXID:  %s (%" PRIu64 ")\n", ltx::FormatTxid(h.min_txid).c_str(), h.min_txid);
  std::printf("Max TXID:  %s (%" PRIu64 ")\n", ltx::FormatTxid(h.max_txid).c_str(), h.max_txid);
  std::printf("Timestamp: %s (%" PRId64 ")\n", FormatRfc3339(h.timestamp, true).c_str(),
              h.timestamp);
  std::printf("Pre-apply: %s\n", ltx::FormatChecksum(h.pre_apply_checksum).c_str());
  std::printf("WAL offset: %" PRId64 "\n", h.wal_offset);
  std::printf("WAL size:   %" PRId64 "\n", h.wal_size);
  std::printf("WAL salt:   %08x %08x\n", h.wal_salt1, h.wal_salt2);
  std::printf("\n");
}

void run_ltx_dump(const LtxDumpOptions& opt) {
  ltx::DecodeOptions dopts = DecodeOptionsFor(opt.format);
  auto src = Unwrap(ltx::OpenFileSource(opt.path), opt.path);
  auto dec = Unwrap(ltx::Decoder::Open(std::move(src), dopts), opt.path);
  const ltx::Header& h = dec->header();

  nlohmann::json pages = nlohmann::json::array();
  if (!opt.json) {
    PrintHeader(h, dec->version());
    std::printf("# PAGE DATA\n");
  }
  ltx::PageFrame frame;
  for (int i = 0;; ++i) {
    auto more = dec->Next(&frame);
    if (!more.ok()) {
      std::fflush(stdout);
      throw CliError(
          Describe(more.status(), opt.path + ": decode page frame " + std::to_string(i)));
    }
    if (!*more) break;
    if (opt.json) {
      pages.push_back(
          {{"pgno", frame.pgno},
           {"checksum", ltx::FormatChecksum(frame.checksum)}});
      continue;
    }
    std::printf("Frame #%d: pgno=%u\n", i, frame.pgno);
    if (!opt.no_data) {
      std::string dump = Hexdump(
          std::string_view(reinterpret_cast<const char*>(frame.data.data()), frame.data.size()));
      std::fwrite(dump.data(), 1, dump.size(), stdout);
      std::printf("\n");
    }
  }
  if (!opt.json) std::printf("\n");

  ltx::Status st = dec->Finish();
  if (opt.json) {
    Check(st, opt.path);
    PrintJson({{"path", opt.path},
               {"version", ltx::VersionName(dec->version())},
               {"header", HeaderJson(h)},
               {"pages", pages},
               {"trailer", TrailerJson(dec->trailer())}});
    return;
  }
  if (st.ok()) {
    const ltx::Trailer& t = dec->trailer();
    std::printf("# TRAILER\n");
    std::printf("Post-apply:    %s\n", ltx::FormatChecksum(t.post_apply_checksum).c_str());
    std::printf("File Checksum: %s\n", ltx::FormatChecksum(t.file_checksum).c_str());
    std::printf("\n");
  }
  std::fflush(stdout);
  Check(st, opt.path);
}

}  // namespace

void setup_ltx_dump(CLI::App& ltx) {
  auto opt = std::make_shared<LtxDumpOptions>();
  CLI::App* sub =
      ltx.add_subcommand("dump", "Print the header, every page and the trailer of an LTX file");
  sub->add_option("PATH", opt->path, "LTX file")->required();
  sub->add_option("--format", opt->format, "LTX version to read: auto, v1 or v3")
      ->check(CLI::IsMember({"auto", "v1", "v3"}))
      ->capture_default_str();
  sub->add_flag("--no-data", opt->no_data, "Print frame headers only, no hexdump of the pages");
  sub->add_flag("--json", opt->json, "Machine-readable output (page checksums instead of data)");
  sub->callback([opt]() { run_ltx_dump(*opt); });
}

}  // namespace cli
