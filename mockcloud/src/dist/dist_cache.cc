// DistStore's replica cache: measuring replicas and evicting the least recently used ones past
// --cache-memory (dist_store.h explains the cache; dist_metrics.cc reports it).
#include <sys/stat.h>

#include <cctype>
#include <filesystem>

#include "dist_store.h"

namespace mockcloud::dist {
namespace {

// Allocated bytes of the files under `dir` (0 when it does not exist).
uint64_t AllocatedBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (stat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
      total += uint64_t(st.st_blocks) * 512;
  }
  return total;
}

}  // namespace

Result<uint64_t> ParseCacheSize(std::string_view v) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < v.size() && isdigit(static_cast<unsigned char>(v[i])) && n < (1ull << 50))
    n = n * 10 + uint64_t(v[i++] - '0');
  const std::string_view unit = v.substr(i);
  int shift = -1;
  if (unit.empty()) shift = 0;
  if (unit == "K" || unit == "KiB") shift = 10;
  if (unit == "M" || unit == "MiB") shift = 20;
  if (unit == "G" || unit == "GiB") shift = 30;
  const std::string bad = "--cache-memory " + std::string(v) + ": ";
  if (i == 0 || shift < 0 || n >= (1ull << 50))
    return Status::InvalidArgument(bad + "not a size (use bytes or K/M/G, e.g. 256MiB)");
  if ((n << shift) < kMinCacheBytes)
    return Status::InvalidArgument(bad + "below the minimum of 1MiB");
  return n << shift;
}

void DistStore::Measure(const std::string& cluster, const std::string& name, Replica* r) {
  const uint64_t files = AllocatedBytes(replica_dir_ + "/clusters/" + cluster + "/" + name);
  const uint64_t page = r->db->page_size() ? r->db->page_size() : 4096;
  r->bytes = files + files / page * kIndexBytesPerPage;
}

uint64_t DistStore::CacheBytes() {
  std::lock_guard l(mu_);
  uint64_t total = 0;
  for (const auto& [k, r] : replicas_) total += r->bytes;
  return total;
}

std::map<std::pair<std::string, std::string>, std::shared_ptr<DistStore::Replica>>::iterator
DistStore::EvictionVictimLocked() {
  auto victim = replicas_.end();
  for (auto it = replicas_.begin(); it != replicas_.end(); ++it) {
    // Held by a request (a read, a long poll, a commit, a snapshot): never evicted. The
    // Database is held by the replica and by the local store's map when idle.
    const auto& r = it->second;
    if (r.use_count() > 1 || r->db.use_count() > 2 || !r->db->exists()) continue;
    if (victim == replicas_.end() || r->last_use < victim->second->last_use) victim = it;
  }
  return victim;
}

// Drops least recently used idle replicas until the total fits the bound. A replica in use
// is never dropped, so one database larger than the bound alone may exceed it while served.
void DistStore::EnforceBound() {
  std::lock_guard ev(evict_mu_);
  for (size_t round = 0; CacheBytes() > opts_.cache_bytes; round++) {
    std::lock_guard l(mu_);
    auto victim = EvictionVictimLocked();
    if (victim == replicas_.end() || round > replicas_.size()) return;
    const auto [cluster, name] = victim->first;
    DropReplicaLocked(cluster, name);
    evictions_++;
  }
}

void DistStore::DropReplicaLocked(const std::string& cluster, const std::string& name) {
  auto it = replicas_.find({cluster, name});
  if (it == replicas_.end()) return;
  const bool has_files = it->second->db->exists();
  replicas_.erase(it);
  // Under mu_: a Load of the same database waits, then starts from an empty replica.
  if (Status st = has_files ? local_->Delete(cluster, name) : Status::OK(); !st.ok())
    Warn("cache: dropping the replica of " + cluster + "/" + name + ": " + st.message());
}

}  // namespace mockcloud::dist
