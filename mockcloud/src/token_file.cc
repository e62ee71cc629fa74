// --token-file / --admin-token-file: a secret read from a file, so it never appears on a
// command line (/proc/PID/cmdline is world-readable).
#include <fstream>
#include <sstream>

#include "mockcloud/server.h"

namespace mockcloud {

ltx::Result<std::string> LoadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ltx::Status::IOError("cannot read token file " + path);
  std::string token, line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (line.empty()) continue;
    if (!token.empty())
      return ltx::Status::InvalidArgument("token file " + path +
                                          " holds more than one line (want the token alone; "
                                          "use --tokens for a list)");
    token = line;
  }
  if (token.empty()) return ltx::Status::InvalidArgument("token file " + path + " is empty");
  return token;
}

}  // namespace mockcloud
