// `litevfs prefetch DB`: download every page of DB into the local page cache, so later
// reads are local. The cache belongs to the VFS, so this opens DB through it and runs
// PRAGMA litevfs_cache_db (the VFS fetches what is missing in batches), then reports pages,
// size and throughput.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "commands.h"
#include "common.h"
#include "remote_db.h"

namespace cli {
namespace {

struct PrefetchOptions {
  std::string db;
  bool json = false;
};

uint64_t ToU64(const std::string& s, const std::string& what) {
  try {
    size_t used = 0;
    uint64_t v = std::stoull(s, &used);
    if (used == s.size()) return v;
  } catch (...) {
  }
  throw CliError(what + ": unexpected value '" + s + "'");
}

void run_prefetch(const PrefetchOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  SqlitePtr db = OpenRemote(opt.db, /*read_only=*/true);
  const uint64_t page_size = ToU64(QueryValue(db.get(), "PRAGMA page_size"), "page_size");
  const uint64_t page_count = ToU64(QueryValue(db.get(), "PRAGMA page_count"), "page_count");
  const bool tty = ProgressWanted(opt.json);
  const int64_t start = NowMicros();
  // The bar follows the cache filling up, read from a second connection's litevfs_stats
  // (PRAGMA litevfs_cache_db does not hold the database's lock while it fetches).
  std::atomic<bool> done{false};
  std::atomic<bool> fetched_ok{false};  // set before done: the bar may show 100%
  std::thread bar;
  if (tty) {
    bar = std::thread([&] {
      try {
        SqlitePtr watcher = OpenRemote(opt.db, /*read_only=*/true);
        Progress progress("prefetch " + opt.db, page_count, true);
        uint64_t shown = 0;
        while (!done.load()) {
          auto j = nlohmann::json::parse(QueryValue(watcher.get(), "PRAGMA litevfs_stats"), nullptr,
                                         false);
          if (j.is_object() && j["cache_pages"].is_number_unsigned()) {
            uint64_t cached = j["cache_pages"].get<uint64_t>();
            if (cached > shown) {
              progress.Add(cached - shown, (cached - shown) * page_size);
              shown = cached;
            }
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        if (fetched_ok.load() && page_count > shown) {
          progress.Add(page_count - shown, (page_count - shown) * page_size);
        }
        progress.Done();
      } catch (const std::exception&) {
        // The bar is cosmetic: the summary below still reports the result.
      }
    });
  }
  struct StopBar {
    std::atomic<bool>& done;
    std::thread& bar;
    void Stop() {
      done.store(true);
      if (bar.joinable()) bar.join();
    }
    ~StopBar() { Stop(); }
  } stop_bar{done, bar};
  std::string fetched_s = QueryValue(db.get(), "PRAGMA litevfs_cache_db");
  fetched_ok.store(true);
  stop_bar.Stop();
  const double secs = double(NowMicros() - start) / 1e6;
  if (fetched_s.empty()) {
    throw CliError("the VFS did not answer PRAGMA litevfs_cache_db (built without it?)");
  }
  const uint64_t fetched = ToU64(fetched_s, "litevfs_cache_db");
  const double mb = double(fetched * page_size) / (1024.0 * 1024.0);
  const double rate = secs > 0 ? mb / secs : 0;
  if (opt.json) {
    PrintJson({{"db", opt.db},
               {"pages", page_count},
               {"fetched", fetched},
               {"pageSize", page_size},
               {"bytes", fetched * page_size},
               {"seconds", secs},
               {"mbPerSecond", rate}});
    return;
  }
  char line[256];
  std::snprintf(line, sizeof(line),
                "%s: %" PRIu64 " pages cached, %" PRIu64
                " fetched (%.1f MB) in %.2f s, %.1f MB/s\n",
                opt.db.c_str(), page_count, fetched, mb, secs, rate);
  std::cout << line;
}

}  // namespace

void setup_prefetch(CLI::App& app) {
  auto opt = std::make_shared<PrefetchOptions>();
  CLI::App* sub =
      app.add_subcommand("prefetch", "Download every page of a database into the local cache");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_flag("--json", opt->json, "Machine-readable output");
  sub->callback([opt]() { run_prefetch(*opt); });
}

}  // namespace cli
