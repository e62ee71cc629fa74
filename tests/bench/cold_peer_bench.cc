// Row 2: cold reads in a fresh process with an empty cache, mockcloud adding kLatencyMs (50
// ms, issue 19) to every request, on the comparison database of shared/bench/peer-db.sql with the queries of
// shared/bench/peer-queries.md in that order. For each step: service requests (round
// trips), bytes received and wall time, against the best peer of that table (fewest
// requests, then fewest bytes). Targets: open <= 1 round trip; rowid point <= 1; index
// point <= 2; 5,000-row range <= 3 round trips and <= 1.5 MB. The wall time is also given in
// round trips (ms / kLatencyMs): what a user waits, the client's own work included.
// The shared folder: $LITEVFS_SHARED_DIR, else the one configured at build time; skipped
// (with a message and a "skipped" row) when absent.
#include <regex>

#include "bench_common.h"

namespace {

using namespace bench;

constexpr int kLatencyMs = 50;  // per request, added by the mockcloud's fault injection

struct Step {
  std::string label;       // row label
  std::string sql;         // empty = the open
  std::string peer_key;    // how the peer table names it
  int max_requests;        // target, -1 = none
  double max_bytes;        // target, 0 = none
};

const std::vector<Step>& Steps() {
  static const std::vector<Step> s = {
      {"open", "", "open", 1, 0},
      {"rowid point id=123456", "SELECT * FROM items WHERE id = 123456", "WHERE id = 123456", 1, 0},
      {"index point k='key-00123457'", "SELECT * FROM items WHERE k = 'key-00123457'", "WHERE k = 'key-00123457'", 2, 0},
      {"rowid point id=333333", "SELECT * FROM items WHERE id = 333333", "WHERE id = 333333", 1, 0},
      {"same query again", "SELECT * FROM items WHERE id = 333333", "same query again", -1, 0},
      {"100-row range sum(v)", "SELECT sum(v) FROM items WHERE id BETWEEN 200000 AND 200099", "200000 AND 200099", -1, 0},
      {"5,000-row range sum(v)", "SELECT sum(v) FROM items WHERE id BETWEEN 250000 AND 254999", "250000 AND 254999", 3, 1.5e6},
  };
  return s;
}

std::string SharedDir() {
  const char* e = getenv("LITEVFS_SHARED_DIR");
  if (e && *e) return e;
  return LITEVFS_BENCH_SHARED_DIR;
}

// The child: opens NAME through the VFS with an empty cache and runs the steps, one JSON line
// each: {"requests","bytes","ms","result"}.
int RunChild(const Args& a) {
  if (a.rest.size() != 3) Die("--child peer HOST CACHE_DIR NAME");
  SetVfsEnv(a.rest[0], a.rest[1]);
  sqlite3* db = nullptr;
  uint64_t req0 = 0, bytes0 = 0;
  for (const Step& s : Steps()) {
    const double t0 = Now();
    std::string result;
    if (s.sql.empty()) {
      db = OpenRemote(a.rest[2], SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
      // Diagnostics: extra pragmas (e.g. "PRAGMA litevfs_max_prefetch_pages=128") to try a
      // setting; the default run leaves this unset.
      if (const char* extra = getenv("LITEVFS_BENCH_PRAGMAS"); extra && *extra) Exec(db, extra);
      result = Exec(db, "SELECT count(*) FROM sqlite_schema");  // the schema is read at open
    } else {
      result = Exec(db, s.sql);
    }
    const double ms = (Now() - t0) * 1000.0;
    json st = Stats(db);
    const uint64_t req = st["requests"].get<uint64_t>(), bytes = st["bytes_received"].get<uint64_t>();
    json out = {{"requests", req - req0}, {"bytes", bytes - bytes0}, {"ms", ms}, {"result", result}};
    req0 = req;
    bytes0 = bytes;
    std::printf("%s\n", out.dump().c_str());
    std::fflush(stdout);
  }
  json st = Stats(db);
  std::printf("%s\n", json({{"peak_rss_kb", SelfPeakRssKb()}, {"stats", st}}).dump().c_str());
  std::fflush(stdout);
  sqlite3_close(db);
  return 0;
}

// Best peer for a step from the Markdown table: fewest requests, then fewest bytes.
struct Peer {
  bool found = false;
  int requests = 0;
  double bytes = -1;  // unknown
  std::string who;
  std::string text;
};

Peer BestPeer(const std::string& md, const std::string& key) {
  Peer best;
  std::vector<std::string> header;
  std::istringstream in(md);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("|", 0) != 0) continue;
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream ls(line.substr(1));
    while (std::getline(ls, cell, '|')) {
      auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
    }
    if (cells.empty()) continue;
    if (cells[0] == "query") {
      header = cells;
      continue;
    }
    if (cells[0].find(key) == std::string::npos) continue;
    static const std::regex pair_re(R"((\d+)\s*/\s*([\d.]+)\s*(KB|MB|B))");
    static const std::regex lead_re(R"(^\**\s*(\d+))");
    for (size_t i = 1; i < cells.size(); i++) {
      const std::string who = i < header.size() ? header[i] : "peer " + std::to_string(i);
      std::string c = cells[i];
      c.erase(std::remove(c.begin(), c.end(), '*'), c.end());
      bool any = false;
      for (std::sregex_iterator it(c.begin(), c.end(), pair_re), end; it != end; ++it) {
        any = true;
        const int req = std::stoi((*it)[1]);
        const double mult = (*it)[3] == "MB" ? 1e6 : (*it)[3] == "KB" ? 1e3 : 1;
        const double bytes = std::stod((*it)[2]) * mult;
        if (!best.found || req < best.requests || (req == best.requests && best.bytes >= 0 && bytes < best.bytes)) {
          best = {true, req, bytes, who, it->str()};
        }
      }
      std::smatch m;
      if (!any && std::regex_search(c, m, lead_re)) {
        const int req = std::stoi(m[1]);
        if (!best.found || req < best.requests) best = {true, req, req == 0 ? 0.0 : -1.0, who, c};
      }
    }
  }
  return best;
}

std::string PeerText(const Peer& p) {
  if (!p.found) return "—";
  std::string s = std::to_string(p.requests) + " req";
  if (p.bytes > 0) s += " / " + FmtDec(p.bytes);
  return s + " (" + p.who + ")";
}

int Main(const Args& a) {
  const std::string shared = SharedDir();
  const std::string sql_path = shared + "/bench/peer-db.sql", md_path = shared + "/bench/peer-queries.md";
  if (!fs::exists(sql_path) || !fs::exists(md_path)) {
    std::fprintf(stderr, "cold_peer_bench: %s not found (set LITEVFS_SHARED_DIR): skipped\n", sql_path.c_str());
    Row("2", "cold reads vs peers", "—", "—", "—", "skipped (no shared/bench)");
    return 0;
  }
  std::string sql = ReadFile(sql_path);
  const std::string md = ReadFile(md_path);
  if (a.smoke) {
    // Tiny: 20k rows instead of 400k (the ids of the queries then find nothing; the
    // smoke run only checks the machinery).
    for (size_t p; (p = sql.find("400000")) != std::string::npos;) sql.replace(p, 6, "20000");
  }

  TempDir dir("peer");
  const std::string path = dir / "peer.db";
  {
    sqlite3* db = OpenDb(path);
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      Die("building peer.db from " + sql_path + ": " + msg);
    }
    sqlite3_close(db);
  }
  Log("peer.db: " + FmtDec(double(fs::file_size(path))));

  ServerProc srv(dir / "data");
  Import(srv.host(), "peer", path);
  srv.SetFaults("latency=" + std::to_string(kLatencyMs) + "ms");
  auto child = Child::SpawnSelf({"--child", "peer", srv.host(), dir / "cache", "peer"});
  uint64_t total_req = 0;
  double total_bytes = 0;
  for (const Step& s : Steps()) {
    json r = ReadJsonLine(child.get(), 120000, "cold read '" + s.label + "'");
    const int req = r["requests"].get<int>();
    const double bytes = r["bytes"].get<double>(), ms = r["ms"].get<double>();
    total_req += uint64_t(req);
    total_bytes += bytes;
    const Peer p = BestPeer(md, s.peer_key);
    std::string target = "—", met = "n/a";
    if (s.max_requests >= 0) {
      bool ok = req <= s.max_requests;
      target = "≤ " + std::to_string(s.max_requests) + " req";
      if (s.max_bytes > 0) {
        ok = ok && bytes <= s.max_bytes;
        target += ", ≤ " + FmtDec(s.max_bytes);
      }
      met = Met(ok);
    }
    std::string ratio = p.found && p.requests > 0 ? Fmt(double(req) / p.requests) + "× peer req" : "";
    Row("2", "cold: " + s.label + (a.smoke ? " (smoke db)" : ""), "best peer: " + PeerText(p),
        std::to_string(req) + " req / " + FmtDec(bytes) + " / " + Fmt(ms, 0) + " ms = " +
            Fmt(ms / kLatencyMs, 1) + " round trips of " + std::to_string(kLatencyMs) + " ms",
        (ratio.empty() ? "" : ratio + "; ") + "target " + target, met);
  }
  json fin = ReadJsonLine(child.get(), 30000, "cold read summary");
  Log("child peak RSS " + FmtBytes(fin["peak_rss_kb"].get<double>() * 1024) + "; stats " + fin["stats"].dump());
  Log("total " + std::to_string(total_req) + " requests, " + FmtDec(total_bytes));
  if (child->Wait(30000) != 0) Die("cold-read child failed");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::Run(argc, argv, "Row 2: cold reads against the peers' table", Main, RunChild);
}
