#include "fd_limit.h"

#include <sys/resource.h>

#include <algorithm>

namespace mockcloud {

FdFit FitConnectionsToFdLimit(size_t needed) {
  FdFit fit;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return fit;
  fit.available = rl.rlim_cur == RLIM_INFINITY ? needed : size_t(rl.rlim_cur);
  if (fit.available >= needed) return fit;
  rlimit want = rl;
  want.rlim_cur = rl.rlim_max == RLIM_INFINITY ? rlim_t(needed) : std::min<rlim_t>(needed, rl.rlim_max);
  if (want.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) == 0) {
    fit.available = size_t(want.rlim_cur);
    fit.raised = true;
  }
  return fit;
}

}  // namespace mockcloud
