// Every subcommand of `litevfs` registers itself through one setup_x(CLI::App&) function
// (CLI11 examples/subcom_in_files). Each lives in its own .cc with its options struct and
// its run_x(const XOptions&); main() calls the setups and owns the only catch.
#pragma once

namespace CLI {
class App;
}

namespace cli {

// ltx: the Go `ltx` tool's commands over local files (ltx_*.cc)
void setup_ltx(CLI::App& app);
void setup_ltx_dump(CLI::App& ltx);
void setup_ltx_list(CLI::App& ltx);
void setup_ltx_verify(CLI::App& ltx);
void setup_ltx_checksum(CLI::App& ltx);
void setup_ltx_encode_db(CLI::App& ltx);
void setup_ltx_apply(CLI::App& ltx);

// commands over the cloud service
void setup_ls(CLI::App& app);
void setup_pos(CLI::App& app);
void setup_log(CLI::App& app);
void setup_import(CLI::App& app);
void setup_export(CLI::App& app);
void setup_prefetch(CLI::App& app);
void setup_verify(CLI::App& app);
void setup_lease(CLI::App& app);
void setup_lease_acquire(CLI::App& lease);
void setup_lease_refresh(CLI::App& lease);
void setup_lease_release(CLI::App& lease);
void setup_lease_status(CLI::App& lease);

// time travel and lifecycle (issue 18)
void setup_restore(CLI::App& app);
void setup_branch(CLI::App& app);
void setup_delete(CLI::App& app);
void setup_rename(CLI::App& app);

// the SQL shell over the VFS
void setup_shell(CLI::App& app);

}  // namespace cli
