// Private cache directories. A process that finds a database's shared cache directory in use
// by another process keeps that database's pages in CLUSTER_DIR/.NAME.PID (a leading '.'
// never collides with a database name) and removes it at close. A process that was killed
// cannot; the next open of NAME removes every such directory whose PID no longer runs. A PID
// that runs again (reused) keeps its directory until that process is gone too.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace litevfs {

std::string PrivateCacheDir(const std::string& cluster_dir, const std::string& name, pid_t pid);

// Removes CLUSTER_DIR/.NAME.PID for each PID that is not running; returns how many went.
size_t RemoveDeadPrivateCaches(const std::string& cluster_dir, const std::string& name);

}  // namespace litevfs
