#!/usr/bin/env python3
"""Chaos run: a bank-transfer writer and many readers in separate processes, all going
through the litevfs module (loaded into /usr/bin/python3's sqlite3) against a
litevfs-mockcloud that injects latency jitter, 503s, dropped connections and truncated
bodies.

Invariants checked (any violation fails the run):
  * every read transaction sees the constant total (100 accounts x 1000) and 100 rows, and
    its transfer log holds exactly (txid - base txid) rows: the snapshot is one whole
    position, never a mix;
  * positions never go backwards within a connection;
  * errors are only the retryable kinds (the SQLITE_IOERR family, SQLITE_BUSY/LOCKED, and
    for the writer SQLITE_READONLY after a lost lease) and the application's retry
    succeeds (bounded consecutive failures);
  * the writer's failed commits are not applied: the final state (balances and the
    transfer log) equals the initial state plus exactly the writer's acknowledged commits
    (a failed commit that was applied anyway shows up as a duplicate transfer log key on
    the retry, or as a log that differs from the acknowledged list);
  * at the end every reader connection converges to the writer's last acknowledged
    position and sees the expected balances there, and `litevfs verify bank` passes.

Usage (long form: scripts/chaos):
  chaos.py run --seconds 60 [--seed N] [--readers 16] [--reader-procs 4] [--faults SPEC]
Binaries come from LITEVFS_MODULE, LITEVFS_MOCKCLOUD_BIN and LITEVFS_BIN (see
tests/e2e/harness.py). The internal modes `setup`, `writer`, `readers`, `check` are the
child processes.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)

ACCOUNTS = 100
INITIAL = 1000
TOTAL = ACCOUNTS * INITIAL
DEFAULT_FAULTS = "jitter=20ms,error=0.05,drop=0.05,truncate=0.05"
SQLITE_IOERR, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 10, 5, 6, 8


# ---------------------------------------------------------------- child-process helpers

def load_module(path):
    boot = sqlite3.connect(":memory:")
    boot.enable_load_extension(True)
    boot.load_extension(path)
    boot.close()


def connect(name, deadline_s=60):
    """Opens NAME through litevfs, retrying opens that fail on injected faults."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            con = sqlite3.connect(f"file:{name}?vfs=litevfs", uri=True, isolation_level=None,
                                  timeout=10, check_same_thread=False)
            con.execute("SELECT 1").fetchone()
            return con
        except sqlite3.Error:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def kind(e):
    """'IOERR_READ', 'BUSY', ... from a sqlite3 error (Python 3.11+ carries the codes)."""
    code = getattr(e, "sqlite_errorcode", None)
    name = getattr(e, "sqlite_errorname", None)
    if code is None:
        return "UNKNOWN(" + str(e) + ")"
    if name and not name.startswith("unknown"):
        return name.replace("SQLITE_", "")
    if code & 0xFF == SQLITE_IOERR:
        return f"IOERR_{code >> 8:#x}"
    return f"CODE_{code}"


def retryable(e, writer=False):
    code = getattr(e, "sqlite_errorcode", None)
    if code is None:
        return False
    prim = code & 0xFF
    if prim in (SQLITE_IOERR, SQLITE_BUSY, SQLITE_LOCKED):
        return True
    return writer and prim == SQLITE_READONLY


def rollback(con):
    try:
        if con.in_transaction:
            con.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def pos_txid(pos):
    return int(pos.split("/")[0], 16)


def acquire_lease(con, duration, deadline_s=90):
    """Acquires the lease, retrying injected faults. A dropped answer may leave the lease
    granted to an id we never learned: it expires after `duration`, so keep trying."""
    end = time.monotonic() + deadline_s
    tries = 0
    while True:
        tries += 1
        try:
            con.execute(f"PRAGMA litevfs_acquire_lease = '{duration}'").fetchall()
            return tries
        except sqlite3.Error:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def release_lease(con):
    for _ in range(20):
        try:
            con.execute("PRAGMA litevfs_release_lease").fetchall()
            return True
        except sqlite3.Error:
            time.sleep(0.1)
    return False  # it expires on its own


def balances_digest(con):
    rows = con.execute("SELECT id, balance FROM accounts ORDER BY id").fetchall()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- child modes

def mode_setup(a):
    load_module(a.module)
    con = connect("bank")
    acquire_lease(con, "5s")
    for attempt in range(100):
        try:
            if con.execute("SELECT count(*) FROM sqlite_master WHERE name='accounts'").fetchone()[0]:
                break  # an earlier attempt reported failure but was applied
            con.execute("BEGIN IMMEDIATE")
            con.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
            con.execute("CREATE TABLE xfer(seq INTEGER PRIMARY KEY, a INTEGER, b INTEGER, amt INTEGER)")
            con.executemany("INSERT INTO accounts VALUES(?, ?)",
                            [(i, INITIAL) for i in range(1, ACCOUNTS + 1)])
            con.execute("COMMIT")
            break
        except sqlite3.Error as e:
            rollback(con)
            if not retryable(e, writer=True):
                raise
            if getattr(e, "sqlite_errorcode", 0) & 0xFF == SQLITE_READONLY:
                acquire_lease(con, "5s")
            time.sleep(0.05)
    else:
        raise SystemExit("setup: 100 attempts failed")
    pos = con.execute("PRAGMA litevfs_position").fetchone()[0]
    release_lease(con)
    print(json.dumps({"pos": pos}))


def mode_writer(a):
    load_module(a.module)
    rng = random.Random(a.seed)
    con = connect("bank")
    lease_tries = acquire_lease(con, "6s")
    acked, errors, ack_times = [], {}, []
    failed_commits = failed_other = reacquired = max_consec = 0
    violations = []
    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline and not violations:
        x, y = rng.sample(range(1, ACCOUNTS + 1), 2)
        amt = rng.randint(1, 50)
        seq = len(acked) + 1
        consec = 0
        while True:
            stage = "begin"
            try:
                con.execute("BEGIN IMMEDIATE")
                stage = "update"
                con.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amt, x))
                con.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amt, y))
                con.execute("INSERT INTO xfer VALUES(?, ?, ?, ?)", (seq, x, y, amt))
                stage = "commit"
                con.execute("COMMIT")
                pos = con.execute("PRAGMA litevfs_position").fetchone()[0]
                acked.append([seq, x, y, amt, pos])
                ack_times.append(time.time())
                break
            except sqlite3.Error as e:
                k = kind(e)
                errors[f"{stage}:{k}"] = errors.get(f"{stage}:{k}", 0) + 1
                rollback(con)
                if getattr(e, "sqlite_errorcode", 0) & 0xFF == 19:  # SQLITE_CONSTRAINT
                    violations.append(f"transfer {seq} already in the log: an earlier commit "
                                      f"reported failure but was applied ({e})")
                    break
                if not retryable(e, writer=True):
                    violations.append(f"non-retryable writer error at {stage}: {k}: {e}")
                    break
                if stage == "commit":
                    failed_commits += 1
                else:
                    failed_other += 1
                consec += 1
                max_consec = max(max_consec, consec)
                if consec > 200:
                    violations.append(f"transfer {seq}: 200 consecutive failures, last {k}: {e}")
                    break
                if getattr(e, "sqlite_errorcode", 0) & 0xFF == SQLITE_READONLY:
                    reacquired += 1
                    acquire_lease(con, "6s")
                time.sleep(0.01)
    final = con.execute("PRAGMA litevfs_position").fetchone()[0]
    if acked and final != acked[-1][4]:
        violations.append(f"writer position {final} is not its last commit's {acked[-1][4]}")
    release_lease(con)
    con.close()
    print(json.dumps({"acked": acked, "ack_times": ack_times, "final_pos": final, "errors": errors,
                      "failed_commits": failed_commits, "failed_other": failed_other,
                      "lease_reacquired": reacquired, "lease_tries": lease_tries,
                      "max_consecutive_failures": max_consec, "violations": violations}))


def reader_thread(a, idx, base_txid, out):
    r = {"checked": 0, "errors": {}, "violations": [], "max_consec": 0, "converged": False}
    out[idx] = r
    try:
        con = connect("bank")
    except sqlite3.Error as e:
        r["violations"].append(f"reader {idx}: open failed: {kind(e)}: {e}")
        return
    last = -1
    consec = 0

    def one():
        nonlocal last, consec
        try:
            con.execute("BEGIN")
            total, n = con.execute("SELECT sum(balance), count(*) FROM accounts").fetchone()
            nx, = con.execute("SELECT count(*) FROM xfer").fetchone()
            pos = con.execute("PRAGMA litevfs_position").fetchone()[0]
            con.execute("COMMIT")
        except sqlite3.Error as e:
            k = kind(e)
            r["errors"][k] = r["errors"].get(k, 0) + 1
            rollback(con)
            if not retryable(e):
                r["violations"].append(f"reader {idx}: non-retryable error {k}: {e}")
            consec += 1
            r["max_consec"] = max(r["max_consec"], consec)
            if consec > 300:
                r["violations"].append(f"reader {idx}: 300 consecutive failures, last {k}")
            return None
        consec = 0
        txid = pos_txid(pos)
        if total != TOTAL or n != ACCOUNTS:
            r["violations"].append(f"reader {idx}: torn read at {pos}: total={total} rows={n}")
        if nx != txid - base_txid:
            r["violations"].append(f"reader {idx}: at {pos} the log has {nx} transfers, "
                                   f"want {txid - base_txid}")
        if txid < last:
            r["violations"].append(f"reader {idx}: position went backwards {last} -> {txid}")
        last = txid
        r["checked"] += 1
        return pos

    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline and not r["violations"]:
        one()
        time.sleep(0.002)
    # Convergence: wait for the writer's final position, then reach it.
    final_file = os.path.join(a.workdir, "final_pos")
    end = time.monotonic() + a.converge_seconds
    while not os.path.exists(final_file) and time.monotonic() < end:
        time.sleep(0.05)
    if not os.path.exists(final_file):
        r["violations"].append(f"reader {idx}: the driver never published the final position")
        return
    final = open(final_file).read().split()
    while time.monotonic() < end and not r["violations"]:
        pos = one()
        if pos == final[0]:
            try:
                d = balances_digest(con)
            except sqlite3.Error as e:
                k = kind(e)
                r["errors"][k] = r["errors"].get(k, 0) + 1
                continue
            if d != final[1]:
                r["violations"].append(f"reader {idx}: balances at {pos} are {d}, want {final[1]}")
            r["converged"] = True
            break
        time.sleep(0.02)
    if not r["converged"] and not r["violations"]:
        r["violations"].append(f"reader {idx}: did not reach {final[0]} in time (at txid {last})")
    con.close()


def mode_readers(a):
    load_module(a.module)
    base = int(a.base_txid)
    if a.cache_pages > 0:
        # A tiny page cache in this process: most reads go to the (faulty) service.
        con = connect("bank")
        con.execute(f"PRAGMA litevfs_max_cached_pages = {a.cache_pages}").fetchall()
        con.execute("PRAGMA litevfs_max_prefetch_pages = 0").fetchall()
        con.execute("PRAGMA cache_size = 0").fetchall()
        keep_open = con  # settings live as long as a connection to the database does
    out = [None] * a.threads
    ts = [threading.Thread(target=reader_thread, args=(a, i, base, out)) for i in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(out))
    if a.cache_pages > 0:
        keep_open.close()


def mode_check(a):
    """Fresh process: the full state of the database (balances, transfer log), position."""
    load_module(a.module)
    con = connect("bank")
    for _ in range(200):
        try:
            con.execute("BEGIN")
            bal = con.execute("SELECT id, balance FROM accounts ORDER BY id").fetchall()
            log = con.execute("SELECT seq, a, b, amt FROM xfer ORDER BY seq").fetchall()
            pos = con.execute("PRAGMA litevfs_position").fetchone()[0]
            con.execute("COMMIT")
            print(json.dumps({"balances": bal, "log": log, "pos": pos}))
            return
        except sqlite3.Error as e:
            rollback(con)
            if not retryable(e):
                raise
            time.sleep(0.05)
    raise SystemExit("check: 200 attempts failed")


# ---------------------------------------------------------------- driver

def expected_balances(acked):
    bal = {i: INITIAL for i in range(1, ACCOUNTS + 1)}
    for _, x, y, amt, _ in acked:
        bal[x] -= amt
        bal[y] += amt
    return [[i, bal[i]] for i in range(1, ACCOUNTS + 1)]


# --compact: the mockcloud folds history into its base every 200 ms, keeping 20 txids, so
# in-place folds run under the readers and readers pinned to old positions meet EPOSMISMATCH.
COMPACT_ARGS = ["--retention", "0", "--retain-txids", "20", "--compact-interval", "200ms"]


def make_service(tmp, seed, faults, compact, distributed, instances):
    """The service under test: one mockcloud, or (distributed) a cluster of `instances`
    (tests/e2e/cluster.py) whose host list the clients get. Not started yet."""
    import harness
    extra = COMPACT_ARGS if compact else []
    if distributed:
        import cluster
        return cluster.Cluster(os.path.join(tmp, "cluster"), instances=instances,
                               faults=faults or None, admin_token="chaos-admin",
                               extra_args=extra)
    spec = f"{faults},seed={seed}" if faults else ""
    return harness.MockCloud(os.path.join(tmp, "data"),
                             extra_args=["--admin-token", "chaos-admin"] +
                             (["--faults", spec] if spec else []) + extra)


def clear_faults(cloud):
    if hasattr(cloud, "clear_faults"):
        cloud.clear_faults()
        return
    req = urllib.request.Request(cloud.url + "/admin/faults", data=b"", method="PUT",
                                 headers={"Authorization": "chaos-admin"})
    urllib.request.urlopen(req, timeout=10).read()


def run(seconds=30, seed=1, readers=16, reader_procs=4, faults=DEFAULT_FAULTS, keep=False,
        log=print, compact=False, distributed=False, instances=3,
        kill_every=None):
    """Runs the chaos workload; returns the figures. Raises AssertionError on a violation.
    distributed: across a cluster of `instances`, killing one every `kill_every` seconds
    and the etcd leader once (tests/chaos/distributed.py)."""
    import harness
    import distributed as dist
    module = harness.need(harness.MODULE, "liblitevfs.so")
    harness.need(harness.MOCKCLOUD, "litevfs-mockcloud")
    harness.need(harness.LITEVFS, "litevfs")
    if reader_procs < 3 or readers < reader_procs:
        raise ValueError("want at least 3 reader processes and one reader each")
    tmp = tempfile.mkdtemp(prefix="litevfs-chaos-")
    spec = f"{faults},seed={seed}" if faults else ""
    cloud = make_service(tmp, seed, faults, compact, distributed, instances)
    killer = None
    procs = []
    t0 = time.monotonic()
    try:
        cloud.start()

        def env(name):
            return harness.Env(cloud, os.path.join(tmp, "cache-" + name)).vars

        def child(mode, name, *args):
            e = env(name)
            e.setdefault("LITEVFS_LOG_LEVEL", "warn")
            p = subprocess.Popen(["/usr/bin/python3", os.path.abspath(__file__), mode,
                                  "--module", module, "--workdir", tmp, *map(str, args)],
                                 env=e, stdout=subprocess.PIPE,
                                 stderr=open(os.path.join(tmp, f"{name}.log"), "w"), text=True)
            p.log_path = os.path.join(tmp, f"{name}.log")
            procs.append(p)
            return p

        def result(p, what, timeout):
            try:
                out, _ = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
                err = open(p.log_path, errors="replace").read()
                raise AssertionError(f"{what} did not finish in {timeout} s\n{err[-3000:]}")
            if p.returncode != 0:
                err = open(p.log_path, errors="replace").read()
                raise AssertionError(f"{what} exited {p.returncode}\n{err[-3000:]}")
            return json.loads(out.strip().splitlines()[-1])

        setup = result(child("setup", "setup"), "setup", 180)
        base_txid = pos_txid(setup["pos"])
        per = [readers // reader_procs + (1 if i < readers % reader_procs else 0)
               for i in range(reader_procs)]
        rps = [child("readers", f"r{i}", "--threads", n, "--seconds", seconds,
                     "--base-txid", base_txid, "--converge-seconds", seconds + 120,
                     "--cache-pages", 4 if i == 0 else 0)
               for i, n in enumerate(per)]
        if distributed:
            killer = dist.Killer(cloud, seconds, kill_every or dist.KILL_EVERY_S, log=log)
            killer.start()
        w = result(child("writer", "w", "--seconds", seconds, "--seed", seed), "writer",
                   seconds + 180)
        writer_end = time.time()
        if killer:
            killer.stop()  # and every process up again
        acked = w["acked"]
        exp = expected_balances(acked)
        digest = hashlib.sha256(json.dumps(exp).encode()).hexdigest()[:16]
        with open(os.path.join(tmp, "final_pos.tmp"), "w") as f:
            f.write(f"{w['final_pos']} {digest}\n")
        os.rename(os.path.join(tmp, "final_pos.tmp"), os.path.join(tmp, "final_pos"))
        rs = []
        for i, p in enumerate(rps):
            rs.extend(result(p, f"reader process {i}", 300))

        violations = list(w["violations"])
        for r in rs:
            violations.extend(r["violations"])
        # The final state under faults, from a fresh process: exactly the acknowledged commits.
        c = result(child("check", "check-faults"), "check", 300)
        want_log = [a[:4] for a in acked]
        if c["log"] != want_log:
            extra = [x for x in c["log"] if x not in want_log]
            missing = [x for x in want_log if x not in c["log"]]
            violations.append(f"transfer log differs from the acknowledged commits: "
                              f"{len(extra)} unacknowledged applied (e.g. {extra[:3]}), "
                              f"{len(missing)} acknowledged missing (e.g. {missing[:3]})")
        if c["balances"] != exp:
            violations.append("final balances differ from the acknowledged commits applied")
        if c["pos"] != w["final_pos"]:
            violations.append(f"fresh process at {c['pos']}, writer's last ack {w['final_pos']}")
        # Then without faults: the service's own view, and `litevfs verify`.
        clear_faults(cloud)
        c2 = result(child("check", "check-clean"), "check", 120)
        if c2["log"] != want_log or c2["balances"] != exp or c2["pos"] != w["final_pos"]:
            violations.append("final state without faults differs from the acknowledged commits")
        v = harness.run_cli(["verify", "bank"], harness.Env(cloud, os.path.join(tmp, "cache-v")),
                            check=False)
        if v.returncode != 0:
            violations.append(f"litevfs verify bank failed: {v.stdout} {v.stderr}")

        dist_figures = {}
        if killer:
            dv, dist_figures = dist.check(killer, w["ack_times"], writer_end)
            violations.extend(dv)
        violations = list(dict.fromkeys(violations))  # one line per distinct problem
        reader_errors = {}
        for r in rs:
            for k, n in r["errors"].items():
                reader_errors[k] = reader_errors.get(k, 0) + n
        figures = {
            "seconds": round(time.monotonic() - t0, 1),
            "faults": spec,
            "readers": readers, "reader_processes": reader_procs,
            "transactions_committed": len(acked),
            "failed_commits_retried": w["failed_commits"],
            "failed_other_statements_retried": w["failed_other"],
            "writer_errors": w["errors"],
            "writer_lease_reacquired": w["lease_reacquired"],
            "writer_max_consecutive_failures": w["max_consecutive_failures"],
            "reads_checked": sum(r["checked"] for r in rs),
            "reader_errors": reader_errors,
            "reader_max_consecutive_failures": max(r["max_consec"] for r in rs),
            "converged": sum(1 for r in rs if r["converged"]),
            "final_pos": w["final_pos"],
            **({"instances": instances, **dist_figures} if distributed else {}),
            "violations": violations,
        }
        log(json.dumps(figures, indent=1))
        if violations:
            wlog = open(os.path.join(tmp, "w.log"), errors="replace").read().splitlines()
            log("writer log (upload lines, last 15):\n" +
                "\n".join([x for x in wlog if "upload" in x][-15:]))
            raise AssertionError("chaos invariants violated (workdir " + tmp + "):\n  " +
                                 "\n  ".join(violations[:20]))
        return figures
    finally:
        if killer and killer.is_alive():
            killer._halt.set()
            killer.join(timeout=60)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        cloud.stop()
        if not keep and not os.environ.get("LITEVFS_KEEP_TMP"):
            shutil.rmtree(tmp, True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["run", "setup", "writer", "readers", "check"])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--readers", type=int, default=16)
    ap.add_argument("--reader-procs", type=int, default=4)
    ap.add_argument("--faults", default=DEFAULT_FAULTS,
                    help=f"mockcloud fault spec without seed (default {DEFAULT_FAULTS})")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--compact", action="store_true",
                    help="mockcloud compacts every 200 ms keeping 20 txids (folds under readers)")
    ap.add_argument("--distributed", action="store_true",
                    help="across a cluster (etcd + S3 + --instances mockclouds), killing "
                         "instances and the etcd leader (tests/chaos/distributed.py)")
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--kill-every", type=float, default=None,
                    help="seconds between instance kills with --distributed (default 3)")
    # child-process arguments
    ap.add_argument("--module")
    ap.add_argument("--workdir")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--base-txid", default="0")
    ap.add_argument("--cache-pages", type=int, default=0)
    ap.add_argument("--converge-seconds", type=float, default=120)
    a = ap.parse_args()
    if a.mode == "run":
        try:
            run(a.seconds, a.seed, a.readers, a.reader_procs, a.faults, a.keep, compact=a.compact,
                distributed=a.distributed, instances=a.instances, kill_every=a.kill_every)
        except AssertionError as e:
            print(e, file=sys.stderr)
            return 1
        except RuntimeError as e:  # the service did not start (cluster.ClusterError too)
            print(f"chaos: {e}", file=sys.stderr)
            return 2
        return 0
    {"setup": mode_setup, "writer": mode_writer, "readers": mode_readers,
     "check": mode_check}[a.mode](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
