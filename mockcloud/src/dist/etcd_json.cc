// The JSON side of EtcdClient: etcd's gRPC gateway encodes bytes as base64 and int64 as
// decimal strings, and omits every field that has its default value (false, 0, empty).
#include "etcd_client.h"

namespace mockcloud::dist {
namespace {

int64_t Int(const json& j, const char* key) {
  if (!j.contains(key)) return 0;
  const json& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

json OpJson(const EtcdOp& op) {
  json r = {{"key", Base64Encode(op.key)}};
  if (!op.range_end.empty()) r["range_end"] = Base64Encode(op.range_end);
  switch (op.kind) {
    case EtcdOp::Kind::kPut:
      r.erase("range_end");
      r["value"] = Base64Encode(op.value);
      if (op.lease) r["lease"] = std::to_string(op.lease);
      return {{"request_put", r}};
    case EtcdOp::Kind::kRange:
      return {{"request_range", r}};
    case EtcdOp::Kind::kDelete:
      return {{"request_delete_range", r}};
  }
  return {};
}

json CompareJson(const EtcdCompare& c) {
  json r = {{"key", Base64Encode(c.key)}, {"result", "EQUAL"}};
  switch (c.target) {
    case EtcdCompare::Target::kMod:
      r["target"] = "MOD";
      r["mod_revision"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kVersion:
      r["target"] = "VERSION";
      r["version"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kValue:
      r["target"] = "VALUE";
      r["value"] = Base64Encode(c.value);
      break;
  }
  return r;
}

Result<std::vector<EtcdKv>> KvList(const json& j) {
  std::vector<EtcdKv> out;
  if (!j.contains("kvs")) return out;
  if (!j["kvs"].is_array()) return Status::Corruption("etcd reply: kvs is not an array");
  for (const auto& k : j["kvs"]) {
    LTX_ASSIGN_OR_RETURN(EtcdKv kv, DecodeKv(k));
    out.push_back(std::move(kv));
  }
  return out;
}

}  // namespace

std::string Base64Decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;  // '=' padding, whitespace
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (uint8_t(end.back()) < 0xff) {
      end.back() = char(uint8_t(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

json EncodeRange(const std::string& key, const std::string& range_end, bool keys_only) {
  json r = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) r["range_end"] = Base64Encode(range_end);
  if (keys_only) r["keys_only"] = true;
  return r;
}

json EncodeTxn(const std::vector<EtcdCompare>& cmp, const std::vector<EtcdOp>& success,
               const std::vector<EtcdOp>& failure) {
  json j = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : cmp) j["compare"].push_back(CompareJson(c));
  for (const auto& o : success) j["success"].push_back(OpJson(o));
  for (const auto& o : failure) j["failure"].push_back(OpJson(o));
  return j;
}

json EncodeWatchCreate(const std::string& prefix, int64_t start_revision) {
  json c = {{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixEnd(prefix))}};
  if (start_revision > 0) c["start_revision"] = std::to_string(start_revision);
  return {{"create_request", c}};
}

Result<EtcdKv> DecodeKv(const json& j) {
  if (!j.is_object() || !j.contains("key") || !j["key"].is_string())
    return Status::Corruption("etcd reply: a kv without a key");
  EtcdKv kv;
  kv.key = Base64Decode(j["key"].get<std::string>());
  if (j.contains("value") && j["value"].is_string())
    kv.value = Base64Decode(j["value"].get<std::string>());
  kv.create_revision = Int(j, "create_revision");
  kv.mod_revision = Int(j, "mod_revision");
  kv.version = Int(j, "version");
  return kv;
}

Result<std::vector<EtcdKv>> DecodeRange(const json& j, int64_t* revision) {
  if (!j.is_object()) return Status::Corruption("etcd range reply is not an object");
  if (revision) *revision = j.contains("header") ? Int(j["header"], "revision") : 0;
  return KvList(j);
}

Result<EtcdTxnResult> DecodeTxn(const json& j) {
  if (!j.is_object()) return Status::Corruption("etcd txn reply is not an object");
  EtcdTxnResult r;
  r.succeeded = j.value("succeeded", false);
  r.revision = j.contains("header") ? Int(j["header"], "revision") : 0;
  if (!j.contains("responses")) return r;
  for (const auto& op : j["responses"]) {
    if (op.contains("response_range")) {
      LTX_ASSIGN_OR_RETURN(auto kvs, KvList(op["response_range"]));
      r.kvs.push_back(std::move(kvs));
    } else {
      r.kvs.emplace_back();
    }
  }
  return r;
}

Status DecodeWatchMessage(const json& j, std::vector<EtcdEvent>* events, int64_t* revision,
                          bool* compacted) {
  *compacted = false;
  if (j.contains("error")) return Status::IOError("etcd watch: " + j["error"].dump());
  if (!j.contains("result") || !j["result"].is_object())
    return Status::Corruption("etcd watch message without result: " + j.dump());
  const json& r = j["result"];
  *revision = r.contains("header") ? Int(r["header"], "revision") : 0;
  if (Int(r, "compact_revision") > 0) *compacted = true;
  if (r.value("canceled", false)) {
    *compacted = true;
    return Status::OK();
  }
  if (!r.contains("events")) return Status::OK();
  for (const auto& e : r["events"]) {
    EtcdEvent ev;
    ev.is_delete = e.value("type", "PUT") == "DELETE";
    if (!e.contains("kv")) return Status::Corruption("etcd watch event without kv");
    LTX_ASSIGN_OR_RETURN(ev.kv, DecodeKv(e["kv"]));
    events->push_back(std::move(ev));
  }
  return Status::OK();
}

}  // namespace mockcloud::dist
