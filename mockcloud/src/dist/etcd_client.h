// etcd v3 through its JSON gateway (/v3/kv/range, /v3/kv/txn, /v3/lease/*, /v3/watch): keys
// and values base64, 64-bit numbers as decimal strings. No gRPC dependency: libcurl + nlohmann
// JSON. The encoders/decoders are pure functions (tests/mockcloud_dist_etcd_test.cc); the
// client tries each member in turn, starting from the one that answered last.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../util.h"

namespace mockcloud::dist {

using json = nlohmann::json;

struct EtcdKv {
  std::string key, value;
  int64_t create_revision = 0, mod_revision = 0, version = 0;
};

struct EtcdCompare {
  enum class Target { kMod, kVersion, kValue };
  std::string key;
  Target target = Target::kMod;
  int64_t number = 0;  // kMod / kVersion (0 = the key does not exist)
  std::string value;   // kValue
};

struct EtcdOp {
  enum class Kind { kPut, kRange, kDelete };
  Kind kind = Kind::kPut;
  std::string key, value, range_end;  // range_end empty = the key alone
  int64_t lease = 0;                  // kPut: attach to this etcd lease
};

struct EtcdTxnResult {
  bool succeeded = false;
  int64_t revision = 0;                   // the store's revision after the txn
  std::vector<std::vector<EtcdKv>> kvs;   // per op of the branch taken (empty for non-ranges)
};

struct EtcdEvent {
  bool is_delete = false;
  EtcdKv kv;
};

std::string Base64Decode(std::string_view in);  // invalid input decodes to what it can
// The end of the range of every key starting with `prefix` (etcd's prefix convention).
std::string PrefixEnd(const std::string& prefix);

json EncodeRange(const std::string& key, const std::string& range_end, bool keys_only);
json EncodeTxn(const std::vector<EtcdCompare>& cmp, const std::vector<EtcdOp>& success,
               const std::vector<EtcdOp>& failure);
json EncodeWatchCreate(const std::string& prefix, int64_t start_revision);
Result<EtcdKv> DecodeKv(const json& j);
// A range reply: the kvs and the header's revision.
Result<std::vector<EtcdKv>> DecodeRange(const json& j, int64_t* revision);
Result<EtcdTxnResult> DecodeTxn(const json& j);
// One message of the watch stream: its events and revision; *compacted = the start revision
// was compacted away (the caller must re-read state and watch from a newer revision).
Status DecodeWatchMessage(const json& j, std::vector<EtcdEvent>* events, int64_t* revision,
                          bool* compacted);

class EtcdClient {
 public:
  // endpoints: "http://HOST:PORT" each.
  explicit EtcdClient(std::vector<std::string> endpoints);
  // "--etcd http://a:1,http://b:2": a clear error for an empty list or a non-http member.
  static Result<std::vector<std::string>> ParseEndpoints(const std::string& flag);

  Result<std::vector<EtcdKv>> Range(const std::string& key, const std::string& range_end = "",
                                    bool keys_only = false, int64_t* revision = nullptr);
  Result<EtcdTxnResult> Txn(const std::vector<EtcdCompare>& cmp,
                            const std::vector<EtcdOp>& success,
                            const std::vector<EtcdOp>& failure = {});
  Result<int64_t> GrantLease(int64_t ttl_s);
  Status RevokeLease(int64_t id);

  using EventFn = std::function<void(const std::vector<EtcdEvent>&, int64_t revision)>;
  // Streams the changes under `prefix` from start_revision to `on_events` until `stop` is set
  // (Interrupt() makes it notice at once), the member fails, or the revision was compacted
  // (Aborted). Returns the status that ended it; the caller reconnects.
  Status Watch(const std::string& prefix, int64_t start_revision, const EventFn& on_events,
               const std::atomic<bool>& stop);
  // Closes the socket of a running Watch so it returns now.
  void Interrupt();

 private:
  Result<json> Post(const std::string& path, const json& body);

  const std::vector<std::string> endpoints_;
  std::atomic<size_t> current_{0};  // the member that answered last
  std::mutex watch_mu_;             // guards watch_fd_
  int watch_fd_ = -1;
};

}  // namespace mockcloud::dist
