// The write lease `litevfs import` uploads under: the caller's (--lease-id, left alone), or one
// acquired here for `ms`, renewed every third of that on a connection of its own however long
// the upload takes, and released when this is destroyed, and also when SIGINT, SIGTERM or
// SIGHUP ends the process (inside an InterruptScope), so nobody waits out a lease whose id
// they never saw. A lease held by another client is reported with the time it expires.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "interrupt.h"
#include "litevfs/client.h"

namespace cli {

class LeaseKeeper;

class ImportLease {
 public:
  ImportLease(litevfs::Client& client, const std::string& db, const std::string& given_id,
              int64_t ms);
  ~ImportLease();
  ImportLease(const ImportLease&) = delete;
  ImportLease& operator=(const ImportLease&) = delete;

  const std::string& id() const { return id_; }
  // Why the latest renewal failed ("" if none): the likely cause of an upload's ELEASE.
  std::string RenewError() const;

 private:
  litevfs::Client& client_;
  const std::string db_;
  std::string id_;
  bool own_ = false;
  std::unique_ptr<OnInterrupt> release_on_interrupt_;
  std::unique_ptr<LeaseKeeper> keeper_;
};

}  // namespace cli
