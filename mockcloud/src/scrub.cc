#include "scrub.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "store.h"

namespace mockcloud {
namespace {

constexpr uint64_t kMaxBadPagesListed = 1000;  // per database; the count is always given

// One database: its findings go to `out` as "damage: ..." lines.
uint64_t ScrubDatabase(const std::string& data_dir, const std::string& name,
                       const std::function<void(const std::string&)>& out) {
  uint64_t damaged = 0;
  StoreOptions o;
  o.data_dir = data_dir;
  o.read_only = true;
  o.warn = [&](const std::string& m) { out("note: " + m); };
  o.error = o.warn;
  o.damage = [&](const std::string& m) {
    damaged++;
    out("damage: " + m);
  };
  const std::string dir = data_dir + "/clusters/" + name;
  Database db(dir, data_dir + "/tmp", &o);
  if (Status st = db.Load(); !st.ok()) {
    out("damage: database " + name + ": " + st.message());
    return damaged + 1;
  }
  auto bad = db.VerifyBase(o.damage, kMaxBadPagesListed);
  if (!bad.ok()) {
    out("damage: database " + name + ": " + bad.status().message());
    return damaged + 1;
  }
  if (*bad > kMaxBadPagesListed) {
    out("damage: database " + name + ": " + std::to_string(*bad - kMaxBadPagesListed) +
        " more bad pages in base.db not listed");
  }
  damaged += *bad - std::min(*bad, kMaxBadPagesListed);
  for (const auto& q : ListDir(dir + "/quarantine")) {
    out("note: " + dir + "/quarantine/" + q + ": a record moved aside by an earlier start");
  }
  if (damaged == 0) out("ok: database " + name + " at " + ltx::FormatPos(db.pos()));
  return damaged;
}

}  // namespace

Result<ScrubReport> Scrub(const std::string& data_dir,
                          const std::function<void(const std::string&)>& out) {
  struct stat st;
  if (data_dir.empty() || stat((data_dir + "/clusters").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("--data " + data_dir +
                                   ": not a litevfs-mockcloud data directory (no clusters/ in it)");
  }
  ScrubReport r;
  for (const auto& c : ListDir(data_dir + "/clusters")) {
    if (!ValidateName(c, "cluster").ok()) continue;
    for (const auto& d : ListDir(data_dir + "/clusters/" + c)) {
      if (!ValidateName(d, "db").ok()) continue;
      r.databases++;
      r.damaged += ScrubDatabase(data_dir, c + "/" + d, out);
    }
  }
  return r;
}

}  // namespace mockcloud
