// litevfs-mockcloud: the CLI around mockcloud::Server. Flags are documented in
// man/litevfs-mockcloud.1; keep the two in step.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "dist/dist_cache.h"
#include "dist/migrate.h"
#include "mockcloud/server.h"
#include "scrub.h"
#include "util.h"

namespace {

// `litevfs-mockcloud scrub --data DIR`: exit 0 = no damage, 1 = damage found, 2 = usage.
int RunScrub(int argc, char** argv) {
  CLI::App app{"litevfs-mockcloud scrub: check a data directory offline (changes nothing)"};
  std::string data;
  app.add_option("--data", data, "The data directory to check (the server's --data)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  auto r = mockcloud::Scrub(data, [](const std::string& line) { printf("%s\n", line.c_str()); });
  if (!r.ok()) {
    fprintf(stderr, "litevfs-mockcloud scrub: %s\n", r.status().message().c_str());
    return 2;
  }
  printf("%llu databases checked, %llu damaged findings\n", (unsigned long long)r->databases,
         (unsigned long long)r->damaged);
  return r->damaged == 0 ? 0 : 1;
}

// `litevfs-mockcloud migrate --from DIR --to s3://… --etcd …` (or the reverse): exit 0 = every
// database copied and verified, 1 = an error (named), 2 = usage.
int RunMigrate(int argc, char** argv) {
  CLI::App app{"litevfs-mockcloud migrate: copy every database between a data directory and a "
               "distributed store (S3 + etcd), verified by checksums"};
  mockcloud::dist::MigrateOptions o;
  app.add_option("--from", o.from, "Source: a data directory or s3://BUCKET/PREFIX?endpoint=…")
      ->required();
  app.add_option("--to", o.to, "Destination: s3://… or a data directory")->required();
  app.add_option("--etcd", o.etcd, "etcd members of the distributed side")->required();
  app.add_option("--aws-credentials-file", o.aws_credentials_file,
                 "S3 credentials file (default: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  o.out = [](const std::string& line) { printf("%s\n", line.c_str()); };
  auto r = mockcloud::dist::Migrate(o);
  if (!r.ok()) {
    fprintf(stderr, "litevfs-mockcloud migrate: %s\n", r.status().message().c_str());
    return 1;
  }
  printf("%llu databases copied\n", (unsigned long long)*r);
  return 0;
}

// The command line as typed; ToServerOptions checks and converts it.
struct Flags {
  std::string data, listen = "127.0.0.1:20202", token, token_file, tokens_file, admin_token,
                    admin_token_file, retention = "1h", faults, log_level = "info",
                    compact_interval = "10s", max_wait = "30s", header_timeout = "10s",
                    idle_timeout = "60s", snapshots_every = "0", snapshots_keep = "30d";
  uint64_t retain_txids = 1000, max_body = mockcloud::kDefaultMaxBody;
  int threads = 16, max_long_polls = 4096;
  int64_t max_connections = 10000, max_queue = 1024;
  bool verify_on_start = false;
  std::string store, etcd, aws_credentials_file;  // distributed mode (AddDistFlags)
  std::string cors_origin, web;                    // the browser build (AddWebFlags)
  std::string cache_memory = "256MiB";
};

void AddWebFlags(CLI::App& app, Flags* f) {
  app.add_option("--cors-origin", f->cors_origin,
                 "Let pages of this origin (e.g. http://localhost:8000, or *) call the API");
  app.add_option("--web", f->web, "Serve this directory under /web/ (the browser demo)");
}

void AddTokenFlags(CLI::App& app, Flags* f) {
  auto* tok = app.add_option("--token", f->token,
                             "Accept this token (Authorization header) for every cluster");
  auto* tokf = app.add_option("--token-file", f->token_file,
                              "Like --token, read from this file (keeps it off the command line)")
                   ->excludes(tok);
  app.add_option("--tokens", f->tokens_file,
                 "File of \"TOKEN CLUSTER\" lines ('#' comments, CLUSTER * = all)")
      ->excludes(tok)
      ->excludes(tokf);
  auto* adm = app.add_option("--admin-token", f->admin_token,
                             "Token for /admin/* (fault control); unset = admin routes off");
  app.add_option("--admin-token-file", f->admin_token_file,
                 "Like --admin-token, read from this file")
      ->excludes(adm);
}

void AddStoreFlags(CLI::App& app, Flags* f) {
  app.add_option("--data", f->data,
                 "Directory holding every database (created if missing); with --store s3://…, "
                 "this instance's cache (optional)");
  app.add_option("--retention", f->retention, "Keep positions younger than this (ms, s, m, h, d)")
      ->capture_default_str();
  app.add_option("--retain-txids", f->retain_txids,
                 "Also always keep the last N transactions (>= 1)")
      ->capture_default_str();
  app.add_option("--compact-interval", f->compact_interval,
                 "How often expired history is compacted (0 = never)")
      ->capture_default_str();
  app.add_option("--snapshots-every", f->snapshots_every,
                 "Write a restore point (a full copy kept past --retention) this often (0 = never)")
      ->capture_default_str();
  app.add_option("--snapshots-keep", f->snapshots_keep, "Keep each restore point this long")
      ->capture_default_str();
  app.add_flag(
      "--verify-on-start", f->verify_on_start,
      "Read every base.db page against its checksum before serving (refuse to start on damage)");
}

// Distributed mode (man litevfs-mockcloud, DISTRIBUTED MODE).
void AddDistFlags(CLI::App& app, Flags* f) {
  app.add_option("--store", f->store,
                 "s3://BUCKET/PREFIX?endpoint=http://HOST:PORT[&region=R]: objects in S3, "
                 "positions and leases in etcd (needs --etcd)");
  app.add_option("--etcd", f->etcd, "etcd members: http://HOST:PORT[,http://HOST:PORT…]");
  app.add_option("--aws-credentials-file", f->aws_credentials_file,
                 "S3 credentials ([default] aws_access_key_id, aws_secret_access_key); default: "
                 "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION");
  app.add_option("--cache-memory", f->cache_memory,
                 "Bound on this instance's replicas (files + page index), least recently used "
                 "evicted: bytes or K/M/G, e.g. 256MiB")
      ->capture_default_str();
}

void AddHttpFlags(CLI::App& app, Flags* f) {
  app.add_option("--listen", f->listen, "HOST:PORT to listen on (port 0 = any free port)")
      ->capture_default_str();
  app.add_option("--max-body", f->max_body, "Largest transaction upload in bytes; larger gets 413 (a disk guard: "
                 "uploads are applied or spooled as they arrive, never held in memory)")
      ->capture_default_str();
  app.add_option(
      "--faults", f->faults,
      "Fault injection spec, e.g. "
      "latency=20ms,jitter=5ms,error=0.05,drop=0.05,truncate=0.05,seed=1,routes=/db/page|/db/tx");
  app.add_option("--threads", f->threads, "HTTP worker threads")->capture_default_str();
  app.add_option("--max-long-polls", f->max_long_polls,
                 "Sync-wait requests held at once (more answer at once)")
      ->capture_default_str();
  app.add_option("--max-wait", f->max_wait, "Cap on a sync-wait hold")->capture_default_str();
  app.add_option("--max-connections", f->max_connections,
                 "Open connections served at once; more get 503 with Retry-After")
      ->capture_default_str();
  app.add_option("--max-queue", f->max_queue,
                 "Requests waiting for a worker thread; more get 503 with Retry-After")
      ->capture_default_str();
  app.add_option("--header-timeout", f->header_timeout,
                 "A request head must arrive in full within this of its first byte")
      ->capture_default_str();
  app.add_option("--idle-timeout", f->idle_timeout,
                 "Close a keep-alive connection idle (no request in flight) this long")
      ->capture_default_str();
  app.add_option("--log-level", f->log_level, "error, warn, info (one line per request) or debug")
      ->capture_default_str();
}

// `flag`'s duration into *ms; the error names the flag.
mockcloud::Status SetMs(const char* flag, const std::string& value, int64_t* ms) {
  auto r = mockcloud::ParseDurationMs(value);
  if (!r.ok()) return mockcloud::Status::InvalidArgument(flag + (": " + r.status().message()));
  *ms = *r;
  return mockcloud::Status::OK();
}

// --token/--token-file/--tokens and --admin-token(-file) into o.
mockcloud::Status SetTokens(const Flags& f, mockcloud::ServerOptions* o) {
  std::string token = f.token, admin = f.admin_token;
  if (!f.token_file.empty()) {
    auto t = mockcloud::LoadTokenFile(f.token_file);
    if (!t.ok()) return mockcloud::Status::InvalidArgument("--token-file: " + t.status().message());
    token = *t;
  }
  if (!f.admin_token_file.empty()) {
    auto t = mockcloud::LoadTokenFile(f.admin_token_file);
    if (!t.ok()) {
      return mockcloud::Status::InvalidArgument("--admin-token-file: " + t.status().message());
    }
    admin = *t;
  }
  if (!token.empty()) o->tokens.push_back({token, "*"});
  if (!f.tokens_file.empty()) {
    auto t = mockcloud::LoadTokensFile(f.tokens_file);
    if (!t.ok()) return t.status();
    o->tokens = *t;
  }
  o->admin_token = admin;
  return mockcloud::Status::OK();
}

mockcloud::Result<mockcloud::ServerOptions> ToServerOptions(const Flags& f) {
  mockcloud::ServerOptions o;
  o.data_dir = f.data;
  o.store_url = f.store;
  o.etcd = f.etcd;
  o.aws_credentials_file = f.aws_credentials_file;
  LTX_ASSIGN_OR_RETURN(o.cache_memory_bytes, mockcloud::dist::ParseCacheSize(f.cache_memory));
  LTX_RETURN_IF_ERROR(mockcloud::ParseListen(f.listen, &o.host, &o.port));
  LTX_RETURN_IF_ERROR(SetTokens(f, &o));
  LTX_RETURN_IF_ERROR(SetMs("--retention", f.retention, &o.retention_ms));
  LTX_RETURN_IF_ERROR(SetMs("--compact-interval", f.compact_interval, &o.compact_interval_ms));
  LTX_RETURN_IF_ERROR(SetMs("--snapshots-every", f.snapshots_every, &o.snapshots_every_ms));
  LTX_RETURN_IF_ERROR(SetMs("--snapshots-keep", f.snapshots_keep, &o.snapshots_keep_ms));
  LTX_RETURN_IF_ERROR(SetMs("--max-wait", f.max_wait, &o.max_wait_ms));
  LTX_RETURN_IF_ERROR(SetMs("--header-timeout", f.header_timeout, &o.header_timeout_ms));
  LTX_RETURN_IF_ERROR(SetMs("--idle-timeout", f.idle_timeout, &o.idle_timeout_ms));
  o.max_connections = f.max_connections;
  o.max_queue = f.max_queue;
  o.retain_txids = f.retain_txids;
  o.max_body = f.max_body;
  o.faults = f.faults;
  o.threads = f.threads;
  o.max_long_polls = f.max_long_polls;
  o.verify_on_start = f.verify_on_start;
  o.cors_origin = f.cors_origin;
  o.web_dir = f.web;
  auto lvl = mockcloud::ParseLogLevel(f.log_level);
  if (!lvl.ok())
    return mockcloud::Status::InvalidArgument("--log-level: " + lvl.status().message());
  o.log_level = *lvl;
  return o;
}

int Fail(const std::string& msg) {
  fprintf(stderr, "litevfs-mockcloud: %s\n", msg.c_str());
  return 1;
}

// Serves until SIGINT/SIGTERM, which a thread takes with sigwait and stops the server cleanly.
int Serve(const mockcloud::ServerOptions& o) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto srv = mockcloud::Server::Start(o);
  if (!srv.ok()) return Fail(srv.status().ToString());
  // Tests read this line to learn the port when --listen asks for port 0.
  printf("listening on %s:%d\n", o.host.c_str(), (*srv)->port());
  fflush(stdout);
  std::thread sig([&] {
    int s = 0;
    sigwait(&set, &s);
    (*srv)->Stop();
  });
  sig.detach();
  (*srv)->Wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "scrub") return RunScrub(argc - 1, argv + 1);
  if (argc > 1 && std::string(argv[1]) == "migrate") return RunMigrate(argc - 1, argv + 1);
  CLI::App app{
      "litevfs-mockcloud: a self-contained LiteFS Cloud server (durable, for tests and local use)\n"
      "  litevfs-mockcloud scrub --data DIR   checks a data directory offline\n"
      "  litevfs-mockcloud migrate ...        moves databases into or out of a distributed store"};
  app.set_version_flag("--version", std::string("litevfs-mockcloud ") + LITEVFS_VERSION);
  Flags f;
  AddStoreFlags(app, &f);
  AddDistFlags(app, &f);
  AddHttpFlags(app, &f);
  AddTokenFlags(app, &f);
  AddWebFlags(app, &f);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help or the usage error
    return rc == 0 ? 0 : 2;
  }
  if (f.data.empty() && f.store.empty()) {
    fprintf(stderr, "litevfs-mockcloud: --data DIR is required (or --store s3://… --etcd …)\n");
    return 2;
  }
  auto o = ToServerOptions(f);
  if (!o.ok()) return Fail(o.status().message());
  return Serve(*o);
}
