// Where the CLI's output goes: JSON on stdout, and whether each standard stream is a
// terminal (prompts, colours and progress bars only for a person).
#pragma once

#include <nlohmann/json.hpp>

namespace cli {

// Pretty-printed (indent 2) with a newline, flushed.
void PrintJson(const nlohmann::json& j);
bool StdoutIsTty();
bool StderrIsTty();
bool StdinIsTty();
// Whether a progress bar should be drawn: stderr is a terminal and output is not --json.
inline bool ProgressWanted(bool json) { return !json && StderrIsTty(); }

}  // namespace cli
