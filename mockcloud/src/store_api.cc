// The local Store's side of StoreApi (the rest of Store is in store.cc).
#include "store_api.h"

#include "local_leases.h"
#include "store.h"

namespace mockcloud {

Result<std::unique_ptr<ltx::Source>> UploadBody::Open() const {
  if (path.empty())
    return ltx::MemorySource({reinterpret_cast<const uint8_t*>(mem.data()), mem.size()});
  return ltx::OpenFileSource(path);
}

Result<ApplyResult> StoreApi::Branch(const std::string&, const std::string&, const Pos&,
                                     const std::string&) {
  return Unsupported("branch");
}

Result<ApplyResult> StoreApi::CommitStream(const std::string&, const std::string&,
                                           const std::shared_ptr<Database>&,
                                           std::unique_ptr<ltx::Source>, const LeaseClaim&) {
  return Status::Unsupported("this store cannot apply an upload as it arrives");
}

Result<ApplyResult> StoreApi::Restore(const std::string&, const std::string&,
                                      const std::shared_ptr<Database>&, const Pos&,
                                      const LeaseClaim&) {
  return Unsupported("restore");
}

Result<ApplyResult> Store::Restore(const std::string& cluster, const std::string& name,
                                   const std::shared_ptr<Database>& db, const Pos& at,
                                   const LeaseClaim& claim) {
  const std::string key = cluster + "/" + name;
  return db->Restore(at, [&] { return leases_->Check(key, claim); });
}

Result<ApplyResult> Store::Commit(const std::string& cluster, const std::string& name,
                                  const std::shared_ptr<Database>& db, const UploadBody& body,
                                  const LeaseClaim& claim) {
  LTX_ASSIGN_OR_RETURN(auto src, body.Open());
  const std::string key = cluster + "/" + name;
  return db->Apply(std::move(src), [&] { return leases_->Check(key, claim); });
}

Result<ApplyResult> Store::CommitStream(const std::string& cluster, const std::string& name,
                                        const std::shared_ptr<Database>& db,
                                        std::unique_ptr<ltx::Source> body, const LeaseClaim& claim) {
  const std::string key = cluster + "/" + name;
  return db->Apply(std::move(body), [&] { return leases_->Check(key, claim); });
}

Status Store::CatchUp(const std::string&, const std::string&, const std::shared_ptr<Database>&,
                      const Pos&) {
  return Status::OK();
}

Store::Store(StoreOptions opts) : opts_(std::move(opts)), leases_(std::make_unique<LocalLeases>()) {}
Store::~Store() = default;

Leases& Store::leases() { return *leases_; }

}  // namespace mockcloud
