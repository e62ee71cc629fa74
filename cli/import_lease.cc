#include "import_lease.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "common.h"

namespace cli {

// Renews a lease every third of its duration on its own connection until destroyed. A
// renewal that fails is retried each second while the lease may still be valid.
class LeaseKeeper {
 public:
  LeaseKeeper(std::string db, std::string id, int64_t ms)
      : db_(std::move(db)), id_(std::move(id)), ms_(ms), client_(MakeClient()) {
    thread_ = std::thread([this] { Run(); });
  }
  ~LeaseKeeper() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  std::string error() const {
    std::lock_guard l(mu_);
    return error_;
  }

 private:
  void Run() {
    using Clock = std::chrono::steady_clock;
    const auto period = std::chrono::milliseconds(std::max<int64_t>(ms_ / 3, 100));
    auto expires = Clock::now() + std::chrono::milliseconds(ms_);
    auto next = Clock::now() + period;
    std::unique_lock l(mu_);
    while (!cv_.wait_until(l, next, [&] { return stop_; })) {
      l.unlock();
      auto r = client_->AcquireLease(db_, long(ms_), id_);
      l.lock();
      if (r.ok()) {
        expires = Clock::now() + std::chrono::milliseconds(ms_);
        next = Clock::now() + period;
        error_.clear();
        continue;
      }
      error_ = Describe(r.status(), db_ + ": renew lease " + id_);
      if (r.status().code() != ltx::Code::kUnavailable || Clock::now() >= expires) return;
      next = Clock::now() + std::chrono::seconds(1);
    }
  }

  const std::string db_, id_;
  const int64_t ms_;
  std::unique_ptr<litevfs::Client> client_;
  mutable std::mutex mu_;  // guards stop_, error_
  std::condition_variable cv_;
  bool stop_ = false;
  std::string error_;
  std::thread thread_;
};

namespace {

// "another client holds the lease until T; ..." (T from the read-only lease route, if any).
CliError HeldByAnother(litevfs::Client& client, const std::string& db) {
  std::string until;
  if (auto st = client.GetLeaseStatus(db); st.ok() && st->held) {
    until = " until " + st->expires_at + " (unless its holder renews it)";
  }
  return CliError(db + ": another client holds the write lease" + until +
                  "; retry after that, or pass --lease-id if the lease is yours");
}

}  // namespace

ImportLease::ImportLease(litevfs::Client& client, const std::string& db,
                         const std::string& given_id, int64_t ms)
    : client_(client), db_(db), id_(given_id) {
  if (!id_.empty()) return;
  auto lease = client_.AcquireLease(db_, long(ms));
  if (!lease.ok()) {
    if (lease.status().code() == ltx::Code::kConflict) throw HeldByAnother(client_, db_);
    throw CliError(Describe(lease.status(), db_ + ": acquire lease"));
  }
  id_ = lease->id;
  own_ = true;
  release_on_interrupt_ = std::make_unique<OnInterrupt>([db = db_, id = id_] {
    try {
      Check(MakeClient()->ReleaseLease(db, id), db + ": release lease " + id);
      std::cerr << "litevfs: interrupted; released the write lease of " << db << "\n";
    } catch (const std::exception& e) {
      std::cerr << "litevfs: interrupted; " << ErrorText(e.what()) << "\n";
    }
  });
  keeper_ = std::make_unique<LeaseKeeper>(db_, id_, ms);
}

ImportLease::~ImportLease() {
  keeper_.reset();  // stop renewing before releasing
  release_on_interrupt_.reset();
  if (!own_) return;
  ltx::Status st = client_.ReleaseLease(db_, id_);
  if (!st.ok())
    std::cerr << "litevfs: warning: " << ErrorText(Describe(st, db_ + ": release lease")) << "\n";
}

std::string ImportLease::RenewError() const { return keeper_ ? keeper_->error() : std::string(); }

}  // namespace cli
