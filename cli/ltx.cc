// `litevfs ltx`: the Go `ltx` tool's commands over local LTX and database files.
#include <CLI/CLI.hpp>

#include "commands.h"

namespace cli {

void setup_ltx(CLI::App& app) {
  CLI::App* ltx = app.add_subcommand("ltx", "Inspect, verify, encode and apply LTX files");
  ltx->require_subcommand(1);
  setup_ltx_dump(*ltx);
  setup_ltx_list(*ltx);
  setup_ltx_verify(*ltx);
  setup_ltx_checksum(*ltx);
  setup_ltx_encode_db(*ltx);
  setup_ltx_apply(*ltx);
}

}  // namespace cli
