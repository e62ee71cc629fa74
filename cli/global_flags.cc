#include "global_flags.h"

#include <CLI/CLI.hpp>

#include "errors.h"
#include "litevfs/process_config.h"

namespace cli {
namespace {

constexpr char kHostFlag[] = "--host";
constexpr char kTokenFlag[] = "--token";
constexpr char kClusterFlag[] = "--cluster";
constexpr char kCacheDirFlag[] = "--cache-dir";

void Overlay(const std::string& flag_value, const char* flag, std::string* field,
             std::string* source) {
  if (flag_value.empty()) return;
  *field = flag_value;
  *source = flag;
}

}  // namespace

GlobalOptions& Globals() {
  static GlobalOptions g;
  return g;
}

void SetupGlobalOptions(CLI::App& app) {
  GlobalOptions& g = Globals();
  app.add_option(kHostFlag, g.host, "Cloud service URL (overrides LITEFS_CLOUD_HOST)");
  app.add_option(kTokenFlag, g.token, "Auth token (overrides LITEFS_CLOUD_TOKEN)");
  app.add_option(kClusterFlag, g.cluster, "Cluster name (overrides LITEFS_CLOUD_CLUSTER)");
  app.add_option(kCacheDirFlag, g.cache_dir,
                 "Local page cache directory (overrides LITEVFS_CACHE_DIR)");
}

litevfs::ClientConfig MakeClientConfig() {
  litevfs::ClientConfig cfg = litevfs::ClientConfig::FromEnv();
  const GlobalOptions& g = Globals();
  Overlay(g.host, kHostFlag, &cfg.host, &cfg.host_source);
  Overlay(g.token, kTokenFlag, &cfg.token, &cfg.token_source);
  Overlay(g.cluster, kClusterFlag, &cfg.cluster, &cfg.cluster_source);
  if (cfg.token.empty()) {
    throw CliError("no auth token: set LITEFS_CLOUD_TOKEN or pass --token");
  }
  return cfg;
}

std::unique_ptr<litevfs::Client> MakeClient() {
  return Unwrap(litevfs::Client::Create(MakeClientConfig()), "cloud client");
}

void ConfigureVfs() {
  const GlobalOptions& g = Globals();
  litevfs::ProcessConfig cfg;
  cfg.host = {g.host, kHostFlag};
  cfg.token = {g.token, kTokenFlag};
  cfg.cluster = {g.cluster, kClusterFlag};
  cfg.cache_dir = {g.cache_dir, kCacheDirFlag};
  litevfs::SetProcessConfig(cfg);
}

}  // namespace cli
