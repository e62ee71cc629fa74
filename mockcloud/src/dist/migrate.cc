#include "migrate.h"

#include <unistd.h>

#include <filesystem>

#include "../store_snapshot.h"
#include "dist_store.h"

namespace mockcloud::dist {
namespace {

using DbList = std::vector<std::pair<std::string, std::string>>;

DbList LocalDatabases(Store& s, const std::string& dir) {
  DbList out;
  for (const auto& c : ListDir(dir + "/clusters")) {
    if (!ValidateName(c, "cluster").ok()) continue;
    for (const auto& [name, pos] : s.Positions(c)) out.emplace_back(c, name);
  }
  return out;
}

Result<DbList> DistDatabases(DistStore& s) {
  const std::string pre = s.keys().PosPrefix("");
  LTX_ASSIGN_OR_RETURN(auto kvs, s.etcd().Range(pre, PrefixEnd(pre), true));
  DbList out;
  for (const auto& kv : kvs) {
    std::string c, d;
    if (s.keys().ParsePos(kv.key, &c, &d)) out.emplace_back(c, d);
  }
  return out;
}

// One database: the source's snapshot, committed to the destination, which must end at the
// source's position.
Status CopyOne(StoreApi& from, StoreApi& to, const std::string& c, const std::string& d,
               const std::string& tmp, const MigrateOptions& o) {
  LTX_ASSIGN_OR_RETURN(auto src, from.Get(c, d, false));
  if (!src) return Status::NotFound("database " + c + "/" + d + " vanished at the source");
  LTX_ASSIGN_OR_RETURN(auto dst, to.Get(c, d, true));
  if (dst->exists())
    return Status::Conflict("database " + c + "/" + d + " already exists at the destination (at " +
                            ltx::FormatPos(dst->pos()) + "): not overwritten; delete it there first");
  LTX_ASSIGN_OR_RETURN(auto stream, src->OpenSnapshot(src));
  const Pos want = stream->pos();
  {
    auto sink = ltx::FileSink::Create(tmp);
    if (!sink.ok()) return sink.status();
    std::string buf(1 << 16, '\0');
    while (true) {
      LTX_ASSIGN_OR_RETURN(size_t n, stream->Read(buf.data(), buf.size()));
      if (n == 0) break;
      LTX_RETURN_IF_ERROR((*sink)->Write(buf.data(), n));
    }
  }
  auto r = to.Commit(c, d, dst, UploadBody{{}, tmp}, LeaseClaim{});
  unlink(tmp.c_str());
  if (!r.ok()) return r.status().WithContext("copying " + c + "/" + d);
  if (r->pos != want)
    return Status::Corruption("database " + c + "/" + d + " landed at " + ltx::FormatPos(r->pos) +
                              ", not at the source's " + ltx::FormatPos(want));
  if (o.out) o.out("copied " + c + "/" + d + " at " + ltx::FormatPos(want) + " (verified)");
  return Status::OK();
}

}  // namespace

Result<uint64_t> Migrate(const MigrateOptions& o) {
  const bool up = o.to.rfind("s3://", 0) == 0;
  if (up == (o.from.rfind("s3://", 0) == 0))
    return Status::InvalidArgument("migrate: exactly one of --from and --to must be s3://…");
  if (o.etcd.empty()) return Status::InvalidArgument("migrate: --etcd http://HOST:PORT[,…] is required");
  const std::string dir = up ? o.from : o.to;
  if (up && !std::filesystem::is_directory(dir + "/clusters"))
    return Status::InvalidArgument("migrate: " + dir + " is not a data directory (no clusters/)");
  StoreOptions lo;
  lo.data_dir = dir;
  LTX_ASSIGN_OR_RETURN(auto local, Store::Open(lo));
  DistOptions d;
  LTX_ASSIGN_OR_RETURN(d.s3, ParseS3Url(up ? o.to : o.from));
  LTX_ASSIGN_OR_RETURN(d.creds, LoadAwsCredentials(o.aws_credentials_file));
  LTX_ASSIGN_OR_RETURN(d.etcd, EtcdClient::ParseEndpoints(o.etcd));
  char cache[] = "/tmp/litevfs-migrate-XXXXXX";
  if (!mkdtemp(cache)) return Status::IOError(ErrnoText("mkdtemp", cache));
  d.cache_dir = cache;
  struct RemoveCache {
    std::string path;
    ~RemoveCache() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } remove_cache{cache};
  LTX_ASSIGN_OR_RETURN(auto dist, DistStore::Open(d));
  DbList dbs;
  if (up) {
    dbs = LocalDatabases(*local, dir);
  } else {
    LTX_ASSIGN_OR_RETURN(dbs, DistDatabases(*dist));
  }
  LTX_ASSIGN_OR_RETURN(std::string tmp, local->NewTempPath("migrate"));
  uint64_t n = 0;
  for (const auto& [c, name] : dbs) {
    LTX_RETURN_IF_ERROR(up ? CopyOne(*local, *dist, c, name, tmp, o)
                           : CopyOne(*dist, *local, c, name, tmp, o));
    n++;
  }
  return n;
}

}  // namespace mockcloud::dist
