// litevfs: one CLI over the LTX format, the cloud service and the VFS (DESIGN.md §4).
// Exit codes: 0 ok, 1 error, 2 usage. Errors go to stderr as "litevfs: <message>".
// This is the only place that catches: subcommands throw CliError/UsageError.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>

#include "commands.h"
#include "common.h"

namespace {
constexpr const char* kVersion = "0.1.0";

// After a failed parse: "unknown command 'x' (commands: a, b)" when the deepest command
// that was given wants a subcommand and got a word it does not know; else "".
std::string UnknownCommand(CLI::App& app) {
  CLI::App* cur = &app;
  for (;;) {
    auto subs = cur->get_subcommands();
    if (subs.empty()) break;
    cur = subs.front();
  }
  // A word the subcommand did not take falls through to the top level's leftovers.
  std::vector<std::string> rest = cur->remaining();
  if (rest.empty()) rest = app.remaining();
  if (rest.empty() || rest.front().empty() || rest.front()[0] == '-') return "";
  std::string names;
  for (const CLI::App* sub : cur->get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
  if (names.empty()) return "";
  const std::string where = cur == &app ? "" : " of '" + cur->get_name() + "'";
  return "unknown command '" + rest.front() + "'" + where + " (commands: " + names + ")";
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"litevfs: SQLite databases in a LiteFS-Cloud-style service, paged in on demand",
               "litevfs"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags are accepted after the subcommand too
  app.set_version_flag("--version", std::string("litevfs ") + kVersion);
  cli::SetupGlobalOptions(app);

  cli::setup_shell(app);
  cli::setup_ls(app);
  cli::setup_pos(app);
  cli::setup_log(app);
  cli::setup_import(app);
  cli::setup_export(app);
  cli::setup_prefetch(app);
  cli::setup_verify(app);
  cli::setup_lease(app);
  cli::setup_ltx(app);

  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    const std::string unknown = UnknownCommand(app);
    std::cerr << "litevfs: " << (unknown.empty() ? std::string(e.what()) : unknown) << "\n"
              << "Run with --help for more information.\n";
    return cli::kExitUsage;
  } catch (const cli::CliError& e) {
    std::cout.flush();
    if (e.what()[0] != '\0') std::cerr << "litevfs: " << cli::ErrorText(e.what()) << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "litevfs: " << cli::ErrorText(e.what()) << "\n";
    return cli::kExitError;
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "litevfs: error writing to stdout\n";
    return cli::kExitError;
  }
  return cli::kExitOk;
}
