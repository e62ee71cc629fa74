// The hostile half of conn_bench: one thread holding thousands of raw connections to the
// mockcloud on one epoll set, in three kinds:
//   idle      one GET /healthz answered, then silence (a keep-alive connection left open)
//   slowloris a request head that never ends: one header line every `slow_every_ms`
//   long poll GET /db/sync?wait=30000 at the current position, re-issued (at the position
//             the answer names) as soon as it is answered: always one poll held
// It counts what happened to them (answered, closed by the server) so the benchmark can
// report that they were really there during the measurement.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <map>

#include "bench_common.h"

namespace bench {

class HostileLoad {
 public:
  enum class Kind { kIdle, kSlow, kPoll };
  struct Counts {
    std::atomic<uint64_t> idle_ready{0}, polls_answered{0}, closed_by_server{0}, errors{0};
  };

  HostileLoad(int port, std::string db, std::string pos) : port_(port), db_(std::move(db)), pos_(std::move(pos)) {}
  ~HostileLoad() { Stop(); }

  // Opens the connections (in bursts) and serves them on a thread until Stop().
  void Start(int idle, int slow, int polls, int slow_every_ms) {
    slow_every_ms_ = slow_every_ms;
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) Die("epoll_create1");
    for (int i = 0; i < idle + slow + polls; i++) {
      Kind k = i < idle ? Kind::kIdle : i < idle + slow ? Kind::kSlow : Kind::kPoll;
      Open(k);
      if (i % 200 == 199) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    for (auto& [fd, c] : conns_) close(fd);
    conns_.clear();
    close(ep_);
  }
  const Counts& counts() const { return counts_; }
  size_t open_now() const { return open_.load(); }

 private:
  struct C {
    Kind kind;
    std::string in;
    double next_trickle = 0;
  };

  void Send(int fd, const std::string& s) {
    if (send(fd, s.data(), s.size(), MSG_NOSIGNAL) != ssize_t(s.size())) counts_.errors++;
  }
  std::string PollRequest(const std::string& pos) const {
    return "GET /db/sync?db=" + db_ + "&wait=30000&pos=" + pos + " HTTP/1.1\r\nHost: b\r\nAuthorization: " +
           std::string(kToken) + "\r\n\r\n";
  }
  void Open(Kind k) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) Die(std::string("socket: ") + std::strerror(errno) + " (raise ulimit -n)");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Die(std::string("connect: ") + std::strerror(errno));
    C c{k, "", Now() + slow_every_ms_ / 1000.0};
    if (k == Kind::kIdle) Send(fd, "GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n");
    if (k == Kind::kSlow) Send(fd, "GET /healthz HTTP/1.1\r\nHost: b\r\n");
    if (k == Kind::kPoll) Send(fd, PollRequest(pos_));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    conns_[fd] = std::move(c);
    open_++;
  }
  // A whole response in c.in? Then returns its body and drops it from the buffer.
  static bool TakeResponse(C& c, std::string* body) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    size_t cl = c.in.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return false;
    size_t len = std::strtoull(c.in.c_str() + cl + 16, nullptr, 10);
    if (c.in.size() < end + 4 + len) return false;
    *body = c.in.substr(end + 4, len);
    c.in.erase(0, end + 4 + len);
    return true;
  }
  void OnData(int fd, C& c) {
    std::string body;
    while (TakeResponse(c, &body)) {
      if (c.kind == Kind::kIdle) counts_.idle_ready++;
      if (c.kind == Kind::kPoll) {
        counts_.polls_answered++;
        json j = json::parse(body, nullptr, false);
        if (!j.is_object() || !j.contains("pos")) {
          counts_.errors++;
          continue;
        }
        Send(fd, PollRequest(j["pos"]["txid"].get<std::string>() + "/" +
                             j["pos"]["postApplyChecksum"].get<std::string>()));
      }
    }
  }
  void Loop() {
    epoll_event evs[256];
    char buf[16384];
    while (!stop_) {
      int n = epoll_wait(ep_, evs, 256, 50);
      for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r <= 0) {
          if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          counts_.closed_by_server++;
          close(fd);
          conns_.erase(it);
          open_--;
          continue;
        }
        it->second.in.append(buf, size_t(r));
        OnData(fd, it->second);
      }
      const double now = Now();
      for (auto& [fd, c] : conns_) {
        if (c.kind != Kind::kSlow || now < c.next_trickle) continue;
        Send(fd, "X-Slow: 1\r\n");
        c.next_trickle = now + slow_every_ms_ / 1000.0;
      }
    }
  }

  const int port_;
  const std::string db_, pos_;
  int slow_every_ms_ = 1000;
  int ep_ = -1;
  std::map<int, C> conns_;  // the load thread's only (after Start)
  std::atomic<size_t> open_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Counts counts_;
};

}  // namespace bench
