// Picks the store ServerOptions ask for: the local one under data_dir, or the distributed
// one (store_url s3://…, etcd members) with data_dir (or a temporary directory) as its cache.
#pragma once

#include <memory>

#include "mockcloud/server.h"
#include "store.h"
#include "store_api.h"

namespace mockcloud {

Result<std::unique_ptr<StoreApi>> OpenStore(const ServerOptions& o, StoreOptions so);

}  // namespace mockcloud
