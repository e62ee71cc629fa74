// DistStore::Metrics: the distributed store's lines of GET /metrics (its replica cache,
// compaction and orphan sweep, S3 requests by kind).
#include <sstream>

#include "dist_store.h"

namespace mockcloud::dist {

std::string DistStore::Metrics() {
  std::ostringstream o;
  size_t n = 0;
  {
    std::lock_guard l(mu_);
    n = replicas_.size();
  }
  o << "# HELP mockcloud_cache_bytes Bytes this instance's replicas hold (files + page index).\n"
    << "# TYPE mockcloud_cache_bytes gauge\nmockcloud_cache_bytes " << CacheBytes() << "\n"
    << "# HELP mockcloud_cache_bound_bytes The bound (--cache-memory).\n"
    << "# TYPE mockcloud_cache_bound_bytes gauge\nmockcloud_cache_bound_bytes "
    << opts_.cache_bytes << "\n"
    << "# HELP mockcloud_cache_replicas Databases with a replica here.\n"
    << "# TYPE mockcloud_cache_replicas gauge\nmockcloud_cache_replicas " << n << "\n"
    << "# HELP mockcloud_cache_evictions_total Replicas dropped to stay within the bound.\n"
    << "# TYPE mockcloud_cache_evictions_total counter\nmockcloud_cache_evictions_total "
    << evictions_.load() << "\n"
    << "# HELP mockcloud_compactions_total Compaction runs this instance led (held the lock).\n"
    << "# TYPE mockcloud_compactions_total counter\nmockcloud_compactions_total "
    << compactions_led_.load() << "\n"
    << "# HELP mockcloud_orphans_deleted_total S3 objects no etcd key named, deleted.\n"
    << "# TYPE mockcloud_orphans_deleted_total counter\nmockcloud_orphans_deleted_total "
    << orphans_deleted_.load() << "\n"
    << "# HELP mockcloud_s3_requests_total Requests sent to S3 by kind.\n"
    << "# TYPE mockcloud_s3_requests_total counter\n";
  for (int k = 0; k < S3Client::kNumKinds; k++) {
    const auto kind = static_cast<S3Client::Kind>(k);
    o << "mockcloud_s3_requests_total{kind=\"" << S3Client::KindName(kind) << "\"} "
      << s3_->requests(kind) << "\n";
  }
  return o.str();
}

}  // namespace mockcloud::dist
