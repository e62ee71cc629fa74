// How a `litevfs` subcommand fails.
//
// Error model: a run_x() function throws CliError (exit 1) or UsageError (exit 2); main()
// holds the only catch and prints "litevfs: <message>" on stderr. Library calls return
// ltx::Status / ltx::Result, which Check()/Unwrap() turn into CliError with a context prefix.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "ltx/status.h"

namespace cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// A run-time failure (exit 1). The message is printed after "litevfs: ".
class CliError : public std::runtime_error {
 public:
  explicit CliError(const std::string& msg, int exit_code = kExitError)
      : std::runtime_error(msg), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};
// A usage problem CLI11 cannot express (exit 2).
class UsageError : public CliError {
 public:
  explicit UsageError(const std::string& msg) : CliError(msg, kExitUsage) {}
};
// Exit with a code and no further message (the command already printed its report).
class ExitRequest : public CliError {
 public:
  explicit ExitRequest(int code) : CliError("", code) {}
};

// "context: message" (no code name: the message of our libraries is already precise).
std::string Describe(const ltx::Status& s, std::string_view context = {});
// The text main() prints after "litevfs: ": our libraries' own "litevfs: " prefixes removed
// (no "litevfs: litevfs:").
std::string ErrorText(std::string_view msg);
inline void Check(const ltx::Status& s, std::string_view context = {}) {
  if (!s.ok()) throw CliError(Describe(s, context));
}
template <typename T>
T Unwrap(ltx::Result<T> r, std::string_view context = {}) {
  if (!r.ok()) throw CliError(Describe(r.status(), context));
  return std::move(r).value();
}

}  // namespace cli
