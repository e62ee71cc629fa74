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

// After a failed parse, when the deepest command given wants a subcommand: "unknown command
// 'x' of 'lease' (commands: a, b)" for a word it does not know, "'lease' needs a command
// (commands: a, b)" for none (`missing`: the parse failed on a requirement); else "".
std::string CommandProblem(CLI::App& app, bool missing) {
  CLI::App* cur = &app;
  while (!cur->get_subcommands().empty()) cur = cur->get_subcommands().front();
  std::string names;
  for (const CLI::App* sub : cur->get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  if (names.empty()) return "";
  // A word the subcommand did not take falls through to the top level's leftovers.
  std::vector<std::string> rest = cur->remaining();
  if (rest.empty()) rest = app.remaining();
  const std::string of = cur == &app ? "" : " of '" + cur->get_name() + "'";
  if (rest.empty()) {
    if (!missing) return "";
    const std::string what = cur == &app ? std::string("a command is required")
                                         : "'" + cur->get_name() + "' needs a command";
    return what + " (commands: " + names + ")";
  }
  if (rest.front().empty() || rest.front()[0] == '-') return "";
  return "unknown command '" + rest.front() + "'" + of + " (commands: " + names + ")";
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"litevfs: SQLite databases in a LiteFS-Cloud-style service, paged in on demand",
               "litevfs"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags are accepted after the subcommand too
  app.set_version_flag("--version", std::string("litevfs ") + LITEVFS_VERSION);
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
  cli::setup_restore(app);
  cli::setup_branch(app);
  cli::setup_delete(app);
  cli::setup_rename(app);
  cli::setup_ltx(app);

  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    const std::string unknown =
        CommandProblem(app, dynamic_cast<const CLI::RequiredError*>(&e) != nullptr);
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
