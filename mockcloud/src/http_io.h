// Blocking socket I/O with a stall deadline, on the non-blocking descriptors the event loop
// hands to worker threads: each call waits (poll) at most timeout_ms for progress.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace mockcloud {

// Sends all n bytes; false when the peer is gone or makes no progress for timeout_ms.
bool SendAll(int fd, const char* data, size_t n, int64_t timeout_ms);
// Sends a then b (one syscall when the socket takes both).
bool SendTwo(int fd, const std::string& a, const std::string& b, int64_t timeout_ms);
// Appends at least one byte to buf; false on EOF, error, or nothing for timeout_ms.
bool RecvSome(int fd, std::string* buf, int64_t timeout_ms);

int64_t SteadyNowMs();

}  // namespace mockcloud
