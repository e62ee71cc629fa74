#include "http_io.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>

namespace mockcloud {
namespace {

constexpr size_t kRecvChunk = 64 * 1024;

// Waits until fd is ready for `events`; false on timeout or error.
bool WaitReady(int fd, short events, int64_t timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = poll(&p, 1, int(timeout_ms));
    if (r > 0) return true;
    if (r == 0 || errno != EINTR) return false;
  }
}

}  // namespace

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool SendAll(int fd, const char* data, size_t n, int64_t timeout_ms) {
  while (n > 0) {
    ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
    if (w > 0) {
      data += w;
      n -= size_t(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && WaitReady(fd, POLLOUT, timeout_ms))
      continue;
    return false;
  }
  return true;
}

bool SendTwo(int fd, const std::string& a, const std::string& b, int64_t timeout_ms) {
  iovec iov[2] = {{const_cast<char*>(a.data()), a.size()}, {const_cast<char*>(b.data()), b.size()}};
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = b.empty() ? 1 : 2;
  ssize_t w;
  do {
    w = sendmsg(fd, &m, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
  size_t done = w < 0 ? 0 : size_t(w);
  if (done < a.size()) {
    return SendAll(fd, a.data() + done, a.size() - done, timeout_ms) &&
           SendAll(fd, b.data(), b.size(), timeout_ms);
  }
  done -= a.size();
  return SendAll(fd, b.data() + done, b.size() - done, timeout_ms);
}

bool RecvSome(int fd, std::string* buf, int64_t timeout_ms) {
  char tmp[kRecvChunk];
  for (;;) {
    ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    if (r > 0) {
      buf->append(tmp, size_t(r));
      return true;
    }
    if (r == 0) return false;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && WaitReady(fd, POLLIN, timeout_ms)) continue;
    return false;
  }
}

}  // namespace mockcloud
