#!/usr/bin/env python3
"""Many writers with plain SQL (issue 17): W writer processes, each with its own cache, do
bank transfers the lost-update way (read both balances, then write the new values), with
busy_timeout 5000 and no litevfs pragma, while R snapshot-checking reader processes watch.

Invariants (any violation fails the run):
  * final: the total is unchanged, every transfer is in the log exactly once (primary key
    (writer, seq)), every balance equals its initial value plus what the log says: a lost
    update shows up as a balance the log does not explain;
  * every reader snapshot is whole: total unchanged and balances explained by the log as of
    that same snapshot (0 isolation violations);
  * no writer starves: each finishes its transfers (the max wait per writer is reported).

The write mode comes from the environment (LITEVFS_WRITE_MODE), so the SQL stays plain.
Usage (the e2e test runs short forms; the full numbers: --transfers 200):
  write_modes_workload.py run [--writers 8] [--readers 4] [--transfers 200]
      [--write-mode auto|optimistic] [--begin deferred|immediate] [--faults] [--kill] [--escalate N]
Binaries come from LITEVFS_MODULE and LITEVFS_MOCKCLOUD_BIN (tests/e2e/harness.py).
"""
import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

ACCOUNTS = 20
INITIAL = 1000
TOTAL = ACCOUNTS * INITIAL
BUSY_TIMEOUT_S = 5.0
FAULTS = "jitter=10ms,error=0.03,drop=0.03,truncate=0.03"
MAX_ATTEMPTS = 2000  # per transfer: bounded, and far above what a fair run needs
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR = 5, 6, 10


def load_module(path):
    boot = sqlite3.connect(":memory:")
    boot.enable_load_extension(True)
    boot.load_extension(path)
    boot.close()


def connect(deadline_s=60):
    end = time.monotonic() + deadline_s
    while True:
        try:
            # isolation_level None: the transactions below are the SQL they say (BEGIN ...).
            con = sqlite3.connect("file:bank?vfs=litevfs", uri=True, isolation_level=None,
                                  timeout=BUSY_TIMEOUT_S)
            con.execute("SELECT 1").fetchone()
            return con
        except sqlite3.Error:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def code(e):
    return getattr(e, "sqlite_errorcode", 0) or 0


def retryable(e):
    return code(e) & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR)


def rollback(con):
    try:
        if con.in_transaction:
            con.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def explained(balances, log):
    """The balances the log says, from INITIAL each."""
    want = {i: INITIAL for i in range(1, ACCOUNTS + 1)}
    for a, b, amt in log:
        want[a] -= amt
        want[b] += amt
    return want


# ---------------------------------------------------------------- child modes

def retry_transaction(con, what, body):
    """Runs body(con) (one whole transaction) until it is not retryable; 200 attempts."""
    for _ in range(200):
        try:
            return body(con)
        except sqlite3.Error as e:
            rollback(con)
            if not retryable(e):
                raise
            time.sleep(0.05)
    raise SystemExit(what + ": 200 attempts failed")


def mode_setup(a):
    load_module(a.module)

    def setup(con):
        con.execute("BEGIN IMMEDIATE")
        if not con.execute("SELECT count(*) FROM sqlite_master WHERE name='accounts'").fetchone()[0]:
            con.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
            con.execute("CREATE TABLE xfer(writer INTEGER, seq INTEGER, a INTEGER, b INTEGER, "
                        "amt INTEGER, PRIMARY KEY(writer, seq))")
            con.executemany("INSERT INTO accounts VALUES(?, ?)",
                            [(i, INITIAL) for i in range(1, ACCOUNTS + 1)])
        con.execute("COMMIT")
    retry_transaction(connect(), "setup", setup)
    print(json.dumps({"ok": True}))


def one_transfer(con, a, wid, seq, x, y, amt):
    """One attempt. True when the transfer is (now, or was already) in the log."""
    con.execute("BEGIN IMMEDIATE" if a.begin == "immediate" else "BEGIN")
    if con.execute("SELECT 1 FROM xfer WHERE writer=? AND seq=?", (wid, seq)).fetchone():
        con.execute("COMMIT")  # an earlier attempt whose answer was lost was applied
        return True
    bx, = con.execute("SELECT balance FROM accounts WHERE id=?", (x,)).fetchone()
    by, = con.execute("SELECT balance FROM accounts WHERE id=?", (y,)).fetchone()
    con.execute("UPDATE accounts SET balance=? WHERE id=?", (bx - amt, x))
    con.execute("UPDATE accounts SET balance=? WHERE id=?", (by + amt, y))
    con.execute("INSERT INTO xfer VALUES(?, ?, ?, ?, ?)", (wid, seq, x, y, amt))
    con.execute("COMMIT")
    return True


def mode_writer(a):
    load_module(a.module)
    rng = random.Random(a.seed)
    con = connect()
    errors, waits = {}, []
    progress = open(a.progress, "w")
    for seq in range(1, a.transfers + 1):
        x, y = rng.sample(range(1, ACCOUNTS + 1), 2)
        amt = rng.randint(1, 50)
        t0 = time.monotonic()
        for attempt in range(MAX_ATTEMPTS):
            # --escalate N: an optimistic writer that lost N times in a row retries under the
            # lease (write mode auto: queued first come first served, so it cannot lose again).
            if a.escalate and attempt == a.escalate:
                con.execute("PRAGMA litevfs_write_mode = auto")
            try:
                one_transfer(con, a, a.id, seq, x, y, amt)
                break
            except sqlite3.Error as e:
                rollback(con)
                k = getattr(e, "sqlite_errorname", str(code(e)))
                errors[k] = errors.get(k, 0) + 1
                if not retryable(e):
                    raise SystemExit(f"writer {a.id}: transfer {seq}: non-retryable {k}: {e}")
                time.sleep(rng.uniform(0, 0.002 * min(attempt + 1, 10)))  # jittered backoff
        else:
            raise SystemExit(f"writer {a.id}: transfer {seq}: {MAX_ATTEMPTS} attempts failed")
        if a.escalate and attempt >= a.escalate:
            con.execute("PRAGMA litevfs_write_mode = optimistic")
        waits.append(time.monotonic() - t0)
        progress.write(f"{seq}\n")
        progress.flush()
    con.close()
    waits.sort()
    print(json.dumps({"id": a.id, "done": a.transfers, "errors": errors,
                      "max_wait_s": round(waits[-1], 3) if waits else 0,
                      "p50_wait_s": round(waits[len(waits) // 2], 4) if waits else 0}))


def mode_reader(a):
    load_module(a.module)
    con = connect()
    checked, violations, errors = 0, [], 0
    while not os.path.exists(a.stop_file) and not violations:
        try:
            con.execute("BEGIN")
            bal = dict(con.execute("SELECT id, balance FROM accounts").fetchall())
            log = con.execute("SELECT a, b, amt FROM xfer").fetchall()
            con.execute("COMMIT")
        except sqlite3.Error as e:
            rollback(con)
            errors += 1
            if not retryable(e):
                violations.append(f"reader: non-retryable {code(e)}: {e}")
            continue
        if sum(bal.values()) != TOTAL or bal != explained(bal, log):
            violations.append(f"reader: snapshot with {len(log)} transfers: total "
                              f"{sum(bal.values())}, balances not explained by the log")
        checked += 1
        time.sleep(0.005)
    print(json.dumps({"checked": checked, "errors": errors, "violations": violations}))


def mode_check(a):
    load_module(a.module)

    def check(con):
        con.execute("BEGIN")
        bal = dict(con.execute("SELECT id, balance FROM accounts").fetchall())
        log = con.execute("SELECT writer, seq, a, b, amt FROM xfer ORDER BY writer, seq").fetchall()
        con.execute("COMMIT")
        return bal, log
    bal, log = retry_transaction(connect(), "check", check)
    print(json.dumps({"balances": bal, "log": log}))


# ---------------------------------------------------------------- driver

class Run:
    """One workload run against a fresh mockcloud; stops everything it started."""

    def __init__(self, writers, readers, transfers, mode, begin, faults, kill, log, escalate=0):
        import harness
        self.h = harness
        self.module = harness.need(harness.MODULE, "liblitevfs.so")
        harness.need(harness.MOCKCLOUD, "litevfs-mockcloud")
        self.writers, self.readers, self.transfers = writers, readers, transfers
        self.mode, self.begin, self.faults, self.kill, self.log = mode, begin, faults, kill, log
        self.escalate = escalate
        self.tmp = tempfile.mkdtemp(prefix="litevfs-writemodes-")
        self.procs = []

    def child(self, mode, name, *args, write_mode="auto"):
        e = self.h.Env(self.cloud, os.path.join(self.tmp, "cache-" + name)).vars
        e["LITEVFS_WRITE_MODE"] = write_mode
        e.setdefault("LITEVFS_LOG_LEVEL", "warn")
        log_path = os.path.join(self.tmp, name + ".log")
        p = subprocess.Popen(["/usr/bin/python3", os.path.abspath(__file__), mode, "--module", self.module,
                              *map(str, args)], env=e, stdout=subprocess.PIPE,
                             stderr=open(log_path, "w"), text=True)
        p.log_path = log_path
        self.procs.append(p)
        return p

    def result(self, p, what, timeout):
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            raise AssertionError(f"{what} did not finish in {timeout} s\n" +
                                 open(p.log_path, errors="replace").read()[-3000:])
        if p.returncode != 0:
            raise AssertionError(f"{what} exited {p.returncode}\n" +
                                 open(p.log_path, errors="replace").read()[-3000:])
        return json.loads(out.strip().splitlines()[-1])

    def __call__(self):
        spec = ["--faults", FAULTS + ",seed=3"] if self.faults else []
        self.cloud = self.h.MockCloud(os.path.join(self.tmp, "data"), extra_args=spec)
        try:
            self.cloud.start()
            return self.drive()
        finally:
            for p in self.procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            self.cloud.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def drive(self):
        self.result(self.child("setup", "setup"), "setup", 120)
        stop = os.path.join(self.tmp, "stop")
        readers = [self.child("reader", f"reader{i}", "--stop-file", stop) for i in range(self.readers)]
        t0 = time.monotonic()
        ws = [self.child("writer", f"writer{i}", "--id", i, "--seed", 100 + i, "--transfers", self.transfers,
                         "--begin", self.begin, "--escalate", self.escalate, "--progress", os.path.join(self.tmp, f"progress{i}"),
                         write_mode=self.mode) for i in range(self.writers)]
        killed = self.kill_one(ws[0]) if self.kill else None
        budget = 60 + self.transfers * self.writers * 0.25
        res = [self.result(w, f"writer {i}", budget) for i, w in enumerate(ws) if i != killed]
        elapsed = time.monotonic() - t0
        open(stop, "w").close()
        rres = [self.result(r, f"reader {i}", 120) for i, r in enumerate(readers)]
        final = self.result(self.child("check", "check"), "check", 120)
        return self.judge(res, rres, final, killed, elapsed)

    def kill_one(self, w):
        """SIGKILLs writer 0 once it has done a third of its transfers (mid-run)."""
        prog = os.path.join(self.tmp, "progress0")
        end = time.monotonic() + 120
        while time.monotonic() < end and w.poll() is None:
            if os.path.exists(prog) and len(open(prog).read().split()) >= max(1, self.transfers // 3):
                break
            time.sleep(0.01)
        w.send_signal(signal.SIGKILL)
        w.wait()
        return 0

    def judge(self, res, rres, final, killed, elapsed):
        bal = {int(k): v for k, v in final["balances"].items()}
        log = final["log"]
        v = [x for r in rres for x in r["violations"]]
        keys = [(w, s) for w, s, *_ in log]
        if len(set(keys)) != len(keys):
            v.append("a transfer is in the log twice")
        if sum(bal.values()) != TOTAL:
            v.append(f"final total {sum(bal.values())} != {TOTAL}")
        if bal != explained(bal, [(a, b, amt) for _, _, a, b, amt in log]):
            v.append("final balances are not explained by the transfer log (a lost update)")
        for w in range(self.writers):
            seqs = sorted(s for ww, s in keys if ww == w)
            if w != killed and seqs != list(range(1, self.transfers + 1)):
                v.append(f"writer {w}: {len(seqs)} transfers in the log, want {self.transfers}")
            if w == killed and seqs != list(range(1, len(seqs) + 1)):
                v.append(f"killed writer: its transfers in the log are not 1..n: {seqs}")
        commits = len(log)
        figures = {"mode": self.mode, "begin": self.begin, "faults": self.faults, "killed": killed,
                   "writers": self.writers, "transfers_each": self.transfers, "commits": commits,
                   "escalate": self.escalate,
                   "seconds": round(elapsed, 2), "commits_per_s": round(commits / elapsed, 1),
                   "max_wait_s": {r["id"]: r["max_wait_s"] for r in res},
                   "errors": {r["id"]: r["errors"] for r in res},
                   "reader_snapshots": sum(r["checked"] for r in rres), "violations": v}
        self.log(json.dumps(figures))
        return figures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["run", "setup", "writer", "reader", "check"])
    ap.add_argument("--module", default="")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--readers", type=int, default=4)
    ap.add_argument("--transfers", type=int, default=200)
    ap.add_argument("--write-mode", dest="write_mode", default="auto", choices=["auto", "optimistic"])
    ap.add_argument("--begin", default="deferred", choices=["deferred", "immediate"])
    ap.add_argument("--faults", action="store_true")
    ap.add_argument("--kill", action="store_true")
    ap.add_argument("--escalate", type=int, default=0,
                    help="optimistic: after N conflicts in a row, retry under the lease (0 = never)")
    ap.add_argument("--id", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--progress", default="")
    ap.add_argument("--stop-file", dest="stop_file", default="")
    a = ap.parse_args()
    if a.mode == "run":
        f = Run(a.writers, a.readers, a.transfers, a.write_mode, a.begin, a.faults, a.kill, print, a.escalate)()
        sys.exit(1 if f["violations"] else 0)
    {"setup": mode_setup, "writer": mode_writer, "reader": mode_reader, "check": mode_check}[a.mode](a)


if __name__ == "__main__":
    main()
