// The distributed store's names: etcd keys and S3 object keys, and the JSON values of the
// etcd keys (one home for the layout documented in man/litevfs-mockcloud.1, DISTRIBUTED MODE).
//
// etcd, under ROOT = "litevfs/<bucket>/<prefix>/":
//   ROOT pos/<cluster>/<db>             the current position: {"txid","checksum","key"}
//   ROOT tx/<cluster>/<db>/<txid %016x>  one per retained commit: {"key","pre","post","ms"}
//   ROOT base/<cluster>/<db>            the newest compacted snapshot: {"key","txid","checksum"}
//   ROOT lease/<cluster>/<db>           the write lease: {"id","expires_ms"}; its mod_revision
//                                       is the fencing token a commit compares
//   ROOT lock/compact                   held (with an etcd lease) by the instance compacting
// S3, under PREFIX:
//   db/<cluster>/<db>/ltx/<txid %016x>-<random %016x>.ltx    the LTX a commit uploaded
//   db/<cluster>/<db>/snap/<txid %016x>-<random %016x>.ltx   a compacted snapshot (v1 LTX)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../util.h"
#include "etcd_client.h"

namespace mockcloud::dist {

struct PosValue {
  Pos pos;
  std::string key;  // the object of the commit that made it
};

struct TxValue {
  std::string key;  // the object
  uint64_t pre = 0, post = 0;
  int64_t ms = 0;  // when it was committed (Unix ms): retention
};

struct LeaseValue {
  std::string id;
  int64_t expires_ms = 0;
  std::string holder;  // issue 17: the acquiring client's Lfsc-Lease-Client ("" = none)
};

class DistKeys {
 public:
  // `bucket` and `prefix` name the deployment: two stores on the same etcd never collide.
  DistKeys(const std::string& bucket, const std::string& prefix);

  const std::string& root() const { return root_; }
  std::string Pos(const std::string& cluster, const std::string& db) const;
  std::string PosPrefix(const std::string& cluster) const;  // "" = every cluster
  std::string Tx(const std::string& cluster, const std::string& db, uint64_t txid) const;
  std::string TxPrefix(const std::string& cluster, const std::string& db) const;
  std::string TxRoot() const;  // what the watch follows
  std::string Base(const std::string& cluster, const std::string& db) const;
  std::string Lease(const std::string& lease_key) const;  // lease_key = "cluster/db"
  std::string CompactLock() const;
  // Splits a key from Tx(); false when it is not one.
  bool ParseTx(const std::string& key, std::string* cluster, std::string* db,
               uint64_t* txid) const;
  // Splits a key from Pos(); false when it is not one.
  bool ParsePos(const std::string& key, std::string* cluster, std::string* db) const;

  // Object keys (relative to the S3 prefix); `random` makes a loser's upload never collide.
  static std::string LtxObject(const std::string& cluster, const std::string& db, uint64_t txid,
                               const std::string& random);
  static std::string SnapObject(const std::string& cluster, const std::string& db,
                                uint64_t txid, const std::string& random);

 private:
  std::string root_;
};

std::string EncodePosValue(const PosValue& v);
Result<PosValue> DecodePosValue(const std::string& s);
// Whether `range` (an etcd range of a position or base key) holds `want`: the same position
// naming the same object. Object keys carry a random part, so only the txn that wrote `want`
// can have put it: a refused compare-and-swap that finds it was applied by an earlier attempt
// of the same txn whose answer was lost (EtcdClient then tries the next member).
bool HoldsPosValue(const std::vector<EtcdKv>& range, const PosValue& want);
std::string EncodeTxValue(const TxValue& v);
Result<TxValue> DecodeTxValue(const std::string& s);
std::string EncodeLeaseValue(const LeaseValue& v);
Result<LeaseValue> DecodeLeaseValue(const std::string& s);

}  // namespace mockcloud::dist
