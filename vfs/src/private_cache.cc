#include "private_cache.h"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <system_error>

namespace litevfs {
namespace {

namespace fs = std::filesystem;

bool Running(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

std::string PrivateCacheDir(const std::string& cluster_dir, const std::string& name, pid_t pid) {
  return cluster_dir + "/." + name + "." + std::to_string(pid);
}

size_t RemoveDeadPrivateCaches(const std::string& cluster_dir, const std::string& name) {
  const std::string prefix = "." + name + ".";
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(cluster_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.size() <= prefix.size() || n.compare(0, prefix.size(), prefix) != 0) continue;
    const char* first = n.data() + prefix.size();
    const char* last = n.data() + n.size();
    pid_t pid = 0;
    auto [ptr, err] = std::from_chars(first, last, pid);
    if (err != std::errc() || ptr != last || pid <= 0 || Running(pid)) continue;
    std::error_code rm;
    if (fs::remove_all(it->path(), rm) != static_cast<std::uintmax_t>(-1) && !rm) removed++;
  }
  return removed;
}

}  // namespace litevfs
