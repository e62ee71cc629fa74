// Closing accepted connections of a cpp-httplib server from outside it (httplib does not
// expose them). The mockcloud itself no longer needs this (its HttpFront owns every
// connection); tests that play a misbehaving httplib server do. Linux only: scans
// /proc/self/fd.
#pragma once

#include <string>

namespace mockcloud {

// Shuts down the accepted socket on `local_port` whose peer is remote_addr:remote_port
// (the connection serving one request): the client sees it close without (more of) an
// answer. The owner (httplib) still closes the descriptor itself.
void ShutdownConnection(int local_port, const std::string& remote_addr, int remote_port);
// Shuts down every accepted connection on `port`.
void ShutdownAllConnections(int port);

}  // namespace mockcloud
