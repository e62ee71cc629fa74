// Process-wide settings of this process's litevfs VFS, for a host that links the VFS
// statically and takes its settings as flags (the litevfs CLI: --host, --token, --cluster,
// --cache-dir), so it never has to write them into the environment with setenv.
//
// Precedence at each open: a URI parameter (host, cluster, ...) over a setting made here
// over the environment variable (LITEFS_CLOUD_HOST, LITEFS_CLOUD_TOKEN, LITEFS_CLOUD_CLUSTER,
// LITEVFS_CACHE_DIR) over the built-in default. A setting applies to databases opened after
// it is made; thread-safe.
#pragma once

#include <string>

namespace litevfs {

struct ProcessSetting {
  std::string value;   // empty: not set here (the environment's value applies)
  std::string source;  // how error messages name it, e.g. "--host"
};

struct ProcessConfig {
  ProcessSetting host;
  ProcessSetting token;
  ProcessSetting cluster;
  ProcessSetting cache_dir;
  ProcessSetting write_mode;  // issue 17: auto, lease, optimistic or off (LITEVFS_WRITE_MODE)
};

// Replaces the process's settings (all at once; empty values unset).
void SetProcessConfig(const ProcessConfig& cfg);
ProcessConfig GetProcessConfig();

}  // namespace litevfs
