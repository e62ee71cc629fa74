// One client connection of HttpFront. The event-loop thread owns it while it is kReading
// (idle or receiving a head) or kDraining (answered, closing); a worker borrows it while it
// is kBusy (from the head's arrival until the response is written, including deferral).
#pragma once

#include <cstdint>
#include <string>

namespace mockcloud {

struct Conn {
  enum class State { kReading, kBusy, kDraining };
  int fd = -1;
  State state = State::kReading;
  std::string buf;           // bytes received and not yet consumed (head, body, next request)
  bool in_head = false;      // a head has started arriving: the header deadline runs
  int64_t deadline_ms = 0;   // steady clock; meaning depends on state (idle/header/linger)
  uint64_t drained = 0;      // bytes discarded while kDraining
  int64_t io_timeout_ms = 0; // stall limit for a worker's body reads and response writes
  std::string remote_addr;
  int remote_port = 0;
  int local_port = 0;
};

}  // namespace mockcloud
