// `litevfs-mockcloud migrate`: copies every database of a local data directory into a
// distributed store (S3 + etcd), or the reverse, each as one snapshot that the destination
// verifies (header, page checksums, file checksum) and that must land on the source's exact
// position (txid and post-apply checksum). A database that already exists at the
// destination is refused, never overwritten.
#pragma once

#include <functional>
#include <string>

#include "../util.h"

namespace mockcloud::dist {

struct MigrateOptions {
  std::string from, to;  // one a data directory, the other s3://…
  std::string etcd;
  std::string aws_credentials_file;
  std::function<void(const std::string&)> out;  // one line per database copied
};

// Returns how many databases were copied.
Result<uint64_t> Migrate(const MigrateOptions& o);

}  // namespace mockcloud::dist
