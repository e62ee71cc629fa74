// The server's open-file limit: every connection is a descriptor, so the soft
// RLIMIT_NOFILE is raised toward the hard limit as far as the configured capacity needs.
#pragma once

#include <cstddef>

namespace mockcloud {

struct FdFit {
  size_t available = 0;  // the soft limit now (after raising)
  bool raised = false;   // it was raised
};

// Raises the soft limit to min(needed, hard) if it is below needed. Never lowers it.
FdFit FitConnectionsToFdLimit(size_t needed);

}  // namespace mockcloud
