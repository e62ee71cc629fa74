// Signals of `litevfs shell`. SIGINT (Ctrl-C) interrupts the statement that is running;
// at the interactive prompt it abandons the pending input instead of ending the shell.
// SIGTERM, SIGHUP, SIGPIPE (the reader of the output went away) and SIGINT when the input
// is not a terminal ask the shell to stop:
// the running statement is interrupted, the input wait ends, and the shell releases the
// write lease and closes the database before it dies of the same signal.
//
// The handler only stores flags, calls sqlite3_interrupt() (which sets a flag) and writes
// one byte to a self-pipe, so a poll() on standard input wakes up without a race.
#pragma once

#include <sqlite3.h>

namespace cli {

// Installs the handlers (no SA_RESTART: a blocking read returns EINTR). Idempotent.
void InstallShellSignals();
// The connection Ctrl-C interrupts (nullptr: none). Must outlive its registration.
void SetInterruptTarget(sqlite3* db);

// Ctrl-C presses seen since the last ClearInterrupts(); the self-pipe is drained too.
bool InterruptSeen();
void ClearInterrupts();

// The signal that asked the shell to stop (SIGTERM, SIGHUP, SIGPIPE, or SIGINT once
// SetSigintStops(true)), or 0.
int StopSignal();
// Non-interactive input: Ctrl-C stops the shell (as in sqlite3 reading a file).
void SetSigintStops(bool stops);

// Waits until `fd` is readable (true) or a signal arrived (false).
bool WaitReadable(int fd);

// Restores the default action of `sig` and raises it: the process ends as killed by it.
[[noreturn]] void DieOfSignal(int sig);

}  // namespace cli
