#include "litevfs/process_config.h"

#include <cstdlib>
#include <mutex>

#include "config.h"

namespace litevfs {
namespace {

struct Registry {
  std::mutex mu;  // guards cfg
  ProcessConfig cfg;
};

Registry& TheRegistry() {
  static Registry* r = new Registry;  // never destroyed: opens may run during exit
  return *r;
}

void Overlay(const ProcessSetting& s, std::string* field, std::string* source) {
  if (s.value.empty()) return;
  *field = s.value;
  if (source && !s.source.empty()) *source = s.source;
}

}  // namespace

void SetProcessConfig(const ProcessConfig& cfg) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lk(r.mu);
  r.cfg = cfg;
}

ProcessConfig GetProcessConfig() {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lk(r.mu);
  return r.cfg;
}

void ApplyProcessConfig(VfsConfig* cfg) {
  const ProcessConfig p = GetProcessConfig();
  Overlay(p.host, &cfg->client.host, &cfg->client.host_source);
  Overlay(p.token, &cfg->client.token, &cfg->client.token_source);
  Overlay(p.cluster, &cfg->client.cluster, &cfg->client.cluster_source);
  Overlay(p.cache_dir, &cfg->cache_root, nullptr);
}

std::string ConfiguredCluster() {
  if (std::string c = GetProcessConfig().cluster.value; !c.empty()) return c;
  const char* c = std::getenv("LITEFS_CLOUD_CLUSTER");
  return c && *c ? c : "default";
}

}  // namespace litevfs
