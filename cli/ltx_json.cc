#include "ltx_json.h"

#include <cstdio>

#include "errors.h"
#include "text_format.h"

namespace cli {

ltx::DecodeOptions DecodeOptionsFor(const std::string& format) {
  auto v = ltx::ParseVersion(format);
  if (!v.ok()) throw UsageError("--format: " + Describe(v.status()) + " (want auto, v1 or v3)");
  ltx::DecodeOptions opts;
  opts.version = *v;
  return opts;
}

const char* VersionNumber(ltx::Version v) {
  switch (v) {
    case ltx::Version::kV1:
      return "1";
    case ltx::Version::kV3:
      return "3";
    case ltx::Version::kAuto:
      break;
  }
  return "?";
}

nlohmann::json HeaderJson(const ltx::Header& h) {
  char salt[20];
  std::snprintf(salt, sizeof(salt), "%08x %08x", h.wal_salt1, h.wal_salt2);
  return {{"flags", h.flags},
          {"pageSize", h.page_size},
          {"commit", h.commit},
          {"minTXID", ltx::FormatTxid(h.min_txid)},
          {"maxTXID", ltx::FormatTxid(h.max_txid)},
          {"timestamp", h.timestamp == 0 ? "" : FormatRfc3339(h.timestamp, true)},
          {"timestampMs", h.timestamp},
          {"preApplyChecksum", ltx::FormatChecksum(h.pre_apply_checksum)},
          {"walOffset", h.wal_offset},
          {"walSize", h.wal_size},
          {"walSalt", salt},
          {"nodeID", h.node_id}};
}

nlohmann::json TrailerJson(const ltx::Trailer& t) {
  return {{"postApplyChecksum", ltx::FormatChecksum(t.post_apply_checksum)},
          {"fileChecksum", ltx::FormatChecksum(t.file_checksum)}};
}

nlohmann::json FileInfoJson(const std::string& path, const ltx::FileInfo& info) {
  return {{"path", path},
          {"version", ltx::VersionName(info.version)},
          {"header", HeaderJson(info.header)},
          {"trailer", TrailerJson(info.trailer)},
          {"pages", info.page_count},
          {"size", info.file_size}};
}

nlohmann::json PosJson(const ltx::Pos& pos) {
  return {{"txid", ltx::FormatTxid(pos.txid)},
          {"postApplyChecksum", ltx::FormatChecksum(pos.post_apply_checksum)}};
}

}  // namespace cli
