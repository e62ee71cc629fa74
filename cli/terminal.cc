#include "terminal.h"

#include <unistd.h>

#include <iostream>

namespace cli {

void PrintJson(const nlohmann::json& j) { std::cout << j.dump(2) << "\n" << std::flush; }

bool StdoutIsTty() { return ::isatty(STDOUT_FILENO) == 1; }
bool StdinIsTty() { return ::isatty(STDIN_FILENO) == 1; }
bool StderrIsTty() { return ::isatty(STDERR_FILENO) == 1; }

}  // namespace cli
