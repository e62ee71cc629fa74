// The plain (non-URI) name form of a remote database: `litevfs:NAME`, also found as the last
// path component, because some hosts turn every name into an absolute local path before
// SQLite sees it (PHP's SQLite3 and PDO make `litevfs:app` into `/srv/www/litevfs:app`).
// Hosts that can pass a URI use `file:NAME?vfs=litevfs` instead; both reach the same
// database. The cluster, host and token come from the environment (man/litevfs.7).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace litevfs {

inline constexpr std::string_view kPlainNamePrefix = "litevfs:";

// NAME when the last path component of `path` is `litevfs:NAME` (NAME not validated here),
// else nullopt. `litevfs:` alone gives an empty NAME, which the caller rejects as a name.
std::optional<std::string> RemoteNameOf(std::string_view path);

}  // namespace litevfs
