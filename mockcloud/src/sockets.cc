#include "sockets.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>

namespace mockcloud {
namespace {

uint16_t SockPort(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return 0;
}

std::string SockAddr(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
  } else if (a.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
  }
  return buf;
}

// Calls fn(fd, peer) for every socket of this process whose local port is `port` and that
// has a peer (an accepted connection); stops early when fn returns true.
template <typename Fn>
void ForEachAcceptedSocket(int port, Fn fn) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return;
  while (struct dirent* e = readdir(d)) {
    char* end = nullptr;
    long fd = strtol(e->d_name, &end, 10);
    if (!end || *end != '\0' || fd < 0) continue;
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (getsockname(int(fd), reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
    if (SockPort(local) != port) continue;
    if (getpeername(int(fd), reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    if (fn(int(fd), peer)) break;
  }
  closedir(d);
}

}  // namespace

void ShutdownConnection(int local_port, const std::string& remote_addr, int remote_port) {
  ForEachAcceptedSocket(local_port, [&](int fd, const sockaddr_storage& peer) {
    if (SockPort(peer) != remote_port || SockAddr(peer) != remote_addr) return false;
    shutdown(fd, SHUT_RDWR);
    return true;
  });
}

void ShutdownAllConnections(int port) {
  ForEachAcceptedSocket(port, [](int fd, const sockaddr_storage&) {
    shutdown(fd, SHUT_RDWR);
    return false;
  });
}

}  // namespace mockcloud
