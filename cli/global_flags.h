// The global cloud flags (--host, --token, --cluster, --cache-dir), which override the
// environment (LITEFS_CLOUD_HOST, LITEFS_CLOUD_TOKEN, LITEFS_CLOUD_CLUSTER,
// LITEVFS_CACHE_DIR) for the cloud client and for the VFS alike.
#pragma once

#include <memory>
#include <string>

#include "litevfs/client.h"

namespace CLI {
class App;
}

namespace cli {

struct GlobalOptions {
  std::string host;
  std::string token;
  std::string cluster;
  std::string cache_dir;
};
GlobalOptions& Globals();
void SetupGlobalOptions(CLI::App& app);
// ClientConfig::FromEnv() overlaid with the flags; fails without a token.
litevfs::ClientConfig MakeClientConfig();
std::unique_ptr<litevfs::Client> MakeClient();
// Hands the flags to this process's VFS (litevfs/process_config.h), so it sees the same
// settings as the client and names the flags in its messages. Call before opening a
// litevfs database.
void ConfigureVfs();

}  // namespace cli
