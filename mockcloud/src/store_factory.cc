#include "store_factory.h"

#include <stdlib.h>

#include "dist/dist_store.h"

namespace mockcloud {

Result<std::unique_ptr<StoreApi>> OpenStore(const ServerOptions& o, StoreOptions so) {
  if (o.store_url.empty()) {
    if (!o.etcd.empty()) return Status::InvalidArgument("--etcd needs --store s3://…");
    LTX_ASSIGN_OR_RETURN(auto s, Store::Open(so));
    return std::unique_ptr<StoreApi>(std::move(s));
  }
  if (o.etcd.empty())
    return Status::InvalidArgument("--store " + o.store_url +
                                   " needs --etcd http://HOST:PORT[,…] (the position authority)");
  dist::DistOptions d;
  LTX_ASSIGN_OR_RETURN(d.s3, dist::ParseS3Url(o.store_url));
  LTX_ASSIGN_OR_RETURN(d.creds, dist::LoadAwsCredentials(o.aws_credentials_file));
  LTX_ASSIGN_OR_RETURN(d.etcd, dist::EtcdClient::ParseEndpoints(o.etcd));
  d.cache_dir = so.data_dir;
  if (d.cache_dir.empty()) {
    const char* t = getenv("TMPDIR");
    d.cache_dir = std::string(t && *t ? t : "/tmp") + "/litevfs-mockcloud-cache";
  }
  d.cache_bytes = o.cache_memory_bytes;
  d.local = std::move(so);
  LTX_ASSIGN_OR_RETURN(auto s, dist::DistStore::Open(std::move(d)));
  return std::unique_ptr<StoreApi>(std::move(s));
}

}  // namespace mockcloud
