// Rows 14a/14b: the distributed store (S3 + etcd, mockcloud --store s3://… --etcd …) against
// the local store, in the same run, on the wire protocol (an HTTP client posting LTX files,
// as the VFS does at each commit; the client side is the same for both, so the ratio is the
// servers').
//   14a one-page commits/s through one distributed instance vs the local store. Target ≥ 0.5×.
//   14b propagation: a commit through instance A; a long poll parked on instance B returns
//       with it. Latency = B's answer - A's 200. p50 ≤ 20 ms, p99 ≤ 100 ms. Baseline: the
//       same with both on one local-store server.
// Needs etcd and s3rver (mockcloud_dist_fixture.h); without them it prints why and a
// "skipped" row.
#include <thread>

#include "../mockcloud_dist_fixture.h"
#include "bench_common.h"
#include "ltx/checksum.h"
#include "ltx/encoder.h"

namespace {

using namespace bench;
constexpr uint32_t kPageSize = 4096;

// A one-page database that emits LTX files moving it forward.
struct OnePageDb {
  uint64_t txid = 0;
  uint64_t checksum = 0;
  std::string Next() {
    std::string page(kPageSize, char('a' + txid % 26));
    std::memcpy(page.data(), &txid, sizeof txid);
    ltx::Header h;
    h.page_size = kPageSize;
    h.commit = 1;
    h.min_txid = h.max_txid = txid + 1;
    h.timestamp = 1700000000000;
    h.pre_apply_checksum = checksum;
    std::string out;
    ltx::StringSink sink(&out);
    auto enc = ltx::Encoder::Open(&sink, h, {});
    if (!enc.ok()) Die("encode: " + enc.status().ToString());
    if (!(*enc)->AddPage(1, {reinterpret_cast<const uint8_t*>(page.data()), page.size()}).ok())
      Die("encode page");
    ltx::DatabaseChecksum c;
    c.Toggle(ltx::PageChecksum(1, {reinterpret_cast<const uint8_t*>(page.data()), page.size()}));
    if (!(*enc)->Finish(c.value()).ok()) Die("encode finish");
    txid++;
    checksum = c.value();
    return out;
  }
  std::string Pos() const { return ltx::FormatPos({txid, checksum}); }
};

std::unique_ptr<mockcloud::Server> Start(mockcloud::ServerOptions o) {
  o.tokens = {{"secret", "*"}};
  o.compact_interval_ms = 0;
  o.log_level = mockcloud::LogLevel::kError;
  auto s = mockcloud::Server::Start(o);
  if (!s.ok()) Die("server: " + s.status().ToString());
  return std::move(s).value();
}

std::unique_ptr<httplib::Client> Client(const mockcloud::Server& s) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", s.port());
  c->set_read_timeout(30, 0);
  c->set_default_headers({{"Authorization", "secret"}});
  c->set_keep_alive(true);
  return c;
}

void Commit(httplib::Client* c, const std::string& db, const std::string& body) {
  auto r = c->Post("/db/tx?db=" + db, body, "application/octet-stream");
  if (!r || r->status != 200) Die("commit: " + (r ? r->body : std::string("no reply")));
}

double CommitsPerSecond(const mockcloud::Server& s, int n) {
  OnePageDb db;
  auto c = Client(s);
  Commit(c.get(), "w", db.Next());
  const double t0 = Now();
  for (int i = 0; i < n; i++) Commit(c.get(), "w", db.Next());
  return n / (Now() - t0);
}

// Milliseconds from each commit's 200 on `a` to the long poll's answer on `b`.
std::vector<double> Propagation(const mockcloud::Server& a, const mockcloud::Server& b, int n) {
  OnePageDb db;
  auto ca = Client(a);
  Commit(ca.get(), "p", db.Next());
  std::vector<double> ms;
  for (int i = 0; i < n; i++) {
    const std::string at = db.Pos();
    auto cb = Client(b);
    if (auto r = cb->Get("/pos"); !r || r->body.find(at.substr(0, 16)) == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // b has not seen `at` yet
    }
    double answered = 0;
    std::thread poll([&] {
      auto r = cb->Get("/db/sync?db=p&wait=10000&pos=" + at);
      answered = Now();
      if (!r || r->status != 200) Die("long poll: " + (r ? r->body : std::string("no reply")));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + i % 20));  // parked by now
    Commit(ca.get(), "p", db.Next());
    const double committed = Now();
    poll.join();
    ms.push_back(std::max(0.0, answered - committed) * 1000);
  }
  return ms;
}

int Main(const Args& args) {
  distfix::DistCluster cluster;
  if (!cluster.skip.empty()) {
    Log("dist_bench skipped: " + cluster.skip);
    // A row, so the table shows the gap.
    Row("14a", "rows 14a and 14b: distributed store (S3 + etcd) commits and propagation", "—", "—", "—",
        "skipped: " + cluster.skip);
    return 0;
  }
  if (!cluster.error.empty()) Die(cluster.error);
  const int commits = args.smoke ? 30 : 400, polls = args.smoke ? 20 : 200;
  distfix::ScratchDir local_dir;
  mockcloud::ServerOptions lo;
  lo.data_dir = local_dir.path() + "/data";
  auto local = Start(lo);
  auto a = Start(cluster.Instance("a")), b = Start(cluster.Instance("b"));

  const double local_cps = CommitsPerSecond(*local, commits);
  const double dist_cps = CommitsPerSecond(*a, commits);
  const double ratio = dist_cps / local_cps;
  Row("14a", "one-page commits/s, distributed (S3 + etcd) vs local store", Fmt(local_cps, 0) + "/s",
      Fmt(dist_cps, 0) + "/s", Fmt(ratio) + "× (≥ 0.5×)", Met(ratio >= 0.5));

  const auto base = Propagation(*local, *local, polls);
  const auto dist = Propagation(*a, *b, polls);
  const double p50 = Percentile(dist, 50), p99 = Percentile(dist, 99);
  Row("14b", "propagation A→B (long poll), distributed",
      "one local server: p50 " + Fmt(Percentile(base, 50)) + " ms, p99 " + Fmt(Percentile(base, 99)) + " ms",
      "p50 " + Fmt(p50) + " ms, p99 " + Fmt(p99) + " ms", "≤ 20 / ≤ 100 ms",
      Met(p50 <= 20 && p99 <= 100));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::Run(argc, argv, "distributed store: commits/s and propagation vs the local store", Main);
}
