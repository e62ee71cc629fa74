// `litevfs lease acquire DB [--duration D] [--hold]`: acquire the write lease and print its
// id and expiry. --hold keeps it: refreshes at a third of the duration until SIGINT or
// SIGTERM, then releases it. Signals are taken synchronously (blocked, then sigtimedwait)
// so no handler runs concurrently with the refresh.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "common.h"

namespace cli {
namespace {

struct LeaseAcquireOptions {
  std::string db;
  std::string duration = "30s";
  bool hold = false;
  bool json = false;
};

void PrintLease(const std::string& event, const std::string& db, const litevfs::Lease& l,
                bool json) {
  if (json) {
    // One line per event so a script can read them as they come.
    std::cout << nlohmann::json{{"event", event},
                                {"db", db},
                                {"id", l.id},
                                {"expires_at", l.expires_at}}
                     .dump()
              << "\n"
              << std::flush;
    return;
  }
  if (event == "acquired") {
    std::cout << "id:         " << l.id << "\n"
              << "expires_at: " << l.expires_at << "\n"
              << std::flush;
  } else {
    std::cout << event << " " << l.id << (l.expires_at.empty() ? "" : " until " + l.expires_at)
              << "\n"
              << std::flush;
  }
}

void run_lease_acquire(const LeaseAcquireOptions& opt) {
  Check(litevfs::ValidateDatabaseName(opt.db), "database name");
  const int64_t ms = ParseDurationFlag("--duration", opt.duration, litevfs::kMinLeaseDurationMs,
                                       litevfs::kMaxLeaseDurationMs);
  auto client = MakeClient();

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  if (opt.hold && pthread_sigmask(SIG_BLOCK, &sigs, nullptr) != 0) {
    throw CliError("block signals failed");
  }

  litevfs::Lease lease = Unwrap(client->AcquireLease(opt.db, long(ms)), opt.db + ": acquire lease");
  PrintLease("acquired", opt.db, lease, opt.json);
  if (!opt.hold) return;

  using Clock = std::chrono::steady_clock;
  const auto period = std::chrono::milliseconds(std::max<int64_t>(ms / 3, 100));
  auto expires = Clock::now() + std::chrono::milliseconds(ms);
  auto next = Clock::now() + period;
  for (;;) {
    auto wait = std::max(next - Clock::now(), Clock::duration::zero());
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    struct timespec ts {
      static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)
    };
    int sig = sigtimedwait(&sigs, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) break;
    if (sig < 0 && errno != EAGAIN && errno != EINTR) {
      throw CliError(std::string("sigtimedwait: ") + std::strerror(errno));
    }
    if (Clock::now() < next) continue;
    auto r = client->AcquireLease(opt.db, long(ms), lease.id);
    if (r.ok()) {
      lease = *r;
      expires = Clock::now() + std::chrono::milliseconds(ms);
      next = Clock::now() + period;
      PrintLease("refreshed", opt.db, lease, opt.json);
      continue;
    }
    if (r.status().code() != ltx::Code::kUnavailable || Clock::now() >= expires) {
      throw CliError(Describe(r.status(), opt.db + ": lease " + lease.id + " lost"));
    }
    // Retryable and still within the lease: try again soon.
    std::cerr << "litevfs: warning: " << Describe(r.status(), "refresh lease") << "; retrying\n";
    next = Clock::now() + std::chrono::seconds(1);
  }
  Check(client->ReleaseLease(opt.db, lease.id), opt.db + ": release lease");
  PrintLease("released", opt.db, litevfs::Lease{lease.id, "", {}}, opt.json);
}

}  // namespace

void setup_lease_acquire(CLI::App& lease) {
  auto opt = std::make_shared<LeaseAcquireOptions>();
  CLI::App* sub =
      lease.add_subcommand("acquire", "Acquire the write lease; print its id and expiry");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_option("--duration", opt->duration,
                  "Lease duration, 1s..10m (30s, 2m, 1500ms; a number without a unit is ms)")
      ->capture_default_str();
  sub->add_flag("--hold", opt->hold,
                "Keep the lease, refreshing it, until SIGINT/SIGTERM; then release it");
  sub->add_flag("--json", opt->json, "Machine-readable output, one JSON object per line");
  sub->callback([opt]() { run_lease_acquire(*opt); });
}

}  // namespace cli
