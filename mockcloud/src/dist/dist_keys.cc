#include "dist_keys.h"

#include <nlohmann/json.hpp>

namespace mockcloud::dist {
namespace {

using json = nlohmann::json;

Result<json> ParseObject(const std::string& s, const char* what) {
  json j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corruption(std::string("etcd ") + what + " value is not a JSON object: " +
                              s.substr(0, 200));
  return j;
}

Result<uint64_t> Hex(const json& j, const char* field, const char* what) {
  if (!j.contains(field) || !j[field].is_string())
    return Status::Corruption(std::string("etcd ") + what + " value without " + field);
  auto r = ltx::ParseHex64(j[field].get<std::string>());
  if (!r.ok()) return Status::Corruption(std::string("etcd ") + what + " " + field + ": " + r.status().message());
  return *r;
}

std::string Text(const json& j, const char* field) {
  return j.contains(field) && j[field].is_string() ? j[field].get<std::string>() : "";
}

}  // namespace

DistKeys::DistKeys(const std::string& bucket, const std::string& prefix)
    : root_("litevfs/" + bucket + "/" + (prefix.empty() ? "" : prefix + "/")) {}

std::string DistKeys::Pos(const std::string& c, const std::string& d) const {
  return root_ + "pos/" + c + "/" + d;
}
std::string DistKeys::PosPrefix(const std::string& c) const {
  return root_ + "pos/" + (c.empty() ? "" : c + "/");
}
std::string DistKeys::Tx(const std::string& c, const std::string& d, uint64_t txid) const {
  return TxPrefix(c, d) + ltx::FormatTxid(txid);
}
std::string DistKeys::TxPrefix(const std::string& c, const std::string& d) const {
  return root_ + "tx/" + c + "/" + d + "/";
}
std::string DistKeys::TxRoot() const { return root_ + "tx/"; }
std::string DistKeys::Base(const std::string& c, const std::string& d) const {
  return root_ + "base/" + c + "/" + d;
}
std::string DistKeys::Lease(const std::string& lease_key) const {
  return root_ + "lease/" + lease_key;
}
std::string DistKeys::CompactLock() const { return root_ + "lock/compact"; }

bool DistKeys::ParseTx(const std::string& key, std::string* cluster, std::string* db,
                       uint64_t* txid) const {
  const std::string pre = TxRoot();
  if (key.compare(0, pre.size(), pre) != 0) return false;
  std::string rest = key.substr(pre.size());
  size_t a = rest.find('/'), b = rest.rfind('/');
  if (a == std::string::npos || a == b) return false;
  auto t = ltx::ParseHex64(rest.substr(b + 1));
  if (!t.ok()) return false;
  *cluster = rest.substr(0, a);
  *db = rest.substr(a + 1, b - a - 1);
  *txid = *t;
  return true;
}

bool DistKeys::ParsePos(const std::string& key, std::string* cluster, std::string* db) const {
  const std::string pre = root_ + "pos/";
  if (key.compare(0, pre.size(), pre) != 0) return false;
  std::string rest = key.substr(pre.size());
  size_t a = rest.find('/');
  if (a == std::string::npos) return false;
  *cluster = rest.substr(0, a);
  *db = rest.substr(a + 1);
  return true;
}

std::string DistKeys::LtxObject(const std::string& c, const std::string& d, uint64_t txid,
                                const std::string& random) {
  return "db/" + c + "/" + d + "/ltx/" + ltx::FormatTxid(txid) + "-" + random + ".ltx";
}
std::string DistKeys::SnapObject(const std::string& c, const std::string& d, uint64_t txid,
                                 const std::string& random) {
  return "db/" + c + "/" + d + "/snap/" + ltx::FormatTxid(txid) + "-" + random + ".ltx";
}

std::string EncodePosValue(const PosValue& v) {
  return json{{"txid", ltx::FormatTxid(v.pos.txid)},
              {"checksum", ltx::FormatChecksum(v.pos.post_apply_checksum)},
              {"key", v.key}}
      .dump();
}

Result<PosValue> DecodePosValue(const std::string& s) {
  LTX_ASSIGN_OR_RETURN(json j, ParseObject(s, "position"));
  PosValue v;
  LTX_ASSIGN_OR_RETURN(v.pos.txid, Hex(j, "txid", "position"));
  LTX_ASSIGN_OR_RETURN(v.pos.post_apply_checksum, Hex(j, "checksum", "position"));
  v.key = Text(j, "key");
  return v;
}

bool HoldsPosValue(const std::vector<EtcdKv>& range, const PosValue& want) {
  if (range.empty()) return false;
  auto v = DecodePosValue(range[0].value);
  return v.ok() && v->pos == want.pos && v->key == want.key;
}

std::string EncodeTxValue(const TxValue& v) {
  return json{{"key", v.key},
              {"pre", ltx::FormatChecksum(v.pre)},
              {"post", ltx::FormatChecksum(v.post)},
              {"ms", v.ms}}
      .dump();
}

Result<TxValue> DecodeTxValue(const std::string& s) {
  LTX_ASSIGN_OR_RETURN(json j, ParseObject(s, "tx"));
  TxValue v;
  v.key = Text(j, "key");
  if (v.key.empty()) return Status::Corruption("etcd tx value without key");
  LTX_ASSIGN_OR_RETURN(v.pre, Hex(j, "pre", "tx"));
  LTX_ASSIGN_OR_RETURN(v.post, Hex(j, "post", "tx"));
  v.ms = j.value("ms", int64_t(0));
  return v;
}

std::string EncodeLeaseValue(const LeaseValue& v) {
  json j{{"id", v.id}, {"expires_ms", v.expires_ms}};
  if (!v.holder.empty()) j["holder"] = v.holder;
  return j.dump();
}

Result<LeaseValue> DecodeLeaseValue(const std::string& s) {
  LTX_ASSIGN_OR_RETURN(json j, ParseObject(s, "lease"));
  LeaseValue v;
  v.id = Text(j, "id");
  v.expires_ms = j.value("expires_ms", int64_t(0));
  v.holder = Text(j, "holder");
  return v;
}

}  // namespace mockcloud::dist
