// Where a remote database stands: its current position and its size in pages.
#pragma once

#include <cstdint>
#include <string>

#include "litevfs/client.h"
#include "ltx/format.h"

namespace cli {

// The current position of `db` and its size in pages (sync from zero; falls back to page
// 1's header when the server does not say). Throws CliError when the database does not
// exist or the server cannot be asked.
struct RemoteState {
  ltx::Pos pos;
  uint32_t commit = 0;
};
RemoteState GetRemoteState(litevfs::Client& client, const std::string& db);

}  // namespace cli
