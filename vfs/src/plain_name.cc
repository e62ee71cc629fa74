#include "plain_name.h"

namespace litevfs {

std::optional<std::string> RemoteNameOf(std::string_view path) {
  const size_t slash = path.rfind('/');
  std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (last.substr(0, kPlainNamePrefix.size()) != kPlainNamePrefix) return std::nullopt;
  return std::string(last.substr(kPlainNamePrefix.size()));
}

}  // namespace litevfs
