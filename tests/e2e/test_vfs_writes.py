"""Writes through the module in separate processes: a bank-transfer writer under the lease
with readers in other processes checking every transaction they see; two writers racing for
the lease; a writer SIGKILLed at random moments (the service keeps a prefix of its
acknowledged commits plus at most the one in flight, and `litevfs verify` passes)."""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

from harness import MODULE, Env, MockCloud, TempDirTest, need, run_cli

BOOT = textwrap.dedent("""
    import sqlite3, sys, time, random
    _boot = sqlite3.connect(":memory:")
    _boot.enable_load_extension(True)
    _boot.load_extension(sys.argv[1])
    def connect(name):
        return sqlite3.connect(f"file:{name}?vfs=litevfs", uri=True, isolation_level=None,
                               timeout=10)
""")

SETUP_BANK = BOOT + textwrap.dedent("""
    con = connect("bank")
    con.execute("PRAGMA litevfs_acquire_lease")
    con.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
    con.execute("BEGIN")
    for i in range(1, 101):
        con.execute("INSERT INTO accounts VALUES(?, 1000)", (i,))
    con.execute("COMMIT")
    con.execute("PRAGMA litevfs_release_lease")
    print("ok")
""")

WRITER = BOOT + textwrap.dedent("""
    n, seed = int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    con = connect("bank")
    con.execute("PRAGMA litevfs_acquire_lease")
    for i in range(n):
        a, b = rng.sample(range(1, 101), 2)
        amt = rng.randint(1, 50)
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amt, a))
        con.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amt, b))
        con.execute("COMMIT")
    pos = con.execute("PRAGMA litevfs_position").fetchone()[0]
    con.execute("PRAGMA litevfs_release_lease")
    print(pos)
""")

READER = BOOT + textwrap.dedent("""
    deadline = time.monotonic() + float(sys.argv[2])
    con = connect("bank")
    seen, last_txid, errors = 0, -1, 0
    while time.monotonic() < deadline:
        try:
            con.execute("BEGIN")
            total, = con.execute("SELECT sum(balance) FROM accounts").fetchone()
            count, = con.execute("SELECT count(*) FROM accounts").fetchone()
            pos = con.execute("PRAGMA litevfs_position").fetchone()[0]
            con.execute("COMMIT")
        except sqlite3.OperationalError as e:
            con.execute("ROLLBACK") if con.in_transaction else None
            errors += 1
            if errors > 50:
                raise
            continue
        txid = int(pos.split("/")[0], 16)
        assert total == 100000 and count == 100, f"torn read at {pos}: total={total} n={count}"
        assert txid >= last_txid, f"position went backwards: {last_txid} -> {txid}"
        last_txid = txid
        seen += 1
        time.sleep(0.005)
    print(seen, last_txid)
""")

CRASH_WRITER = BOOT + textwrap.dedent("""
    con = connect("log")
    con.execute("PRAGMA litevfs_acquire_lease = '2s'")  # a killed writer's lease ends soon
    start, = con.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()
    i = start
    while True:
        i += 1
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO entries VALUES(?, randomblob(300))", (i,))
        con.execute("UPDATE meta SET n = ?", (i,))
        con.execute("COMMIT")
        print(i, flush=True)
""")


def py(script, env, *args, **kw):
    return subprocess.Popen(["/usr/bin/python3", "-c", script, MODULE, *map(str, args)],
                            env=env.vars, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def finish(p, timeout=120):
    out, err = p.communicate(timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"process exited {p.returncode}:\n{err}")
    return out


class WriteTest(TempDirTest):
    def setUp(self):
        super().setUp()
        need(MODULE, "liblitevfs.so")
        self.cloud = self.start_cloud()

    def env(self, name):
        return Env(self.cloud, os.path.join(self.tmp, "cache-" + name))

    def test_bank_transfers_seen_whole_by_readers_in_other_processes(self):
        self.assertEqual(finish(py(SETUP_BANK, self.env("setup"))).strip(), "ok")
        readers = [py(READER, self.env(f"r{i}"), 8) for i in range(3)]
        writer = py(WRITER, self.env("w"), 150, 7)
        final_pos = finish(writer).strip()
        seen = [finish(r).split() for r in readers]
        for s in seen:
            self.assertGreater(int(s[0]), 10, "a reader saw too few transactions")
        print(f"\nbank: 150 transfers; readers checked {[int(s[0]) for s in seen]} snapshots",
              file=sys.stderr)
        # Every reader converges: a fresh reader sees the writer's last position.
        out = finish(py(READER, self.env("late"), 0.5)).split()
        self.assertEqual(int(out[1]), int(final_pos.split("/")[0], 16))
        run_cli(["verify", "bank"], self.env("verify"))

    def test_two_writers_race_for_the_lease(self):
        self.assertEqual(finish(py(SETUP_BANK, self.env("setup"))).strip(), "ok")
        # Each writer leaves a mark once it has tried; the winner holds the lease until both
        # have (not a guessed sleep), so the loser's try always meets a held lease.
        marks = os.path.join(self.tmp, "tried")
        os.mkdir(marks)
        grab = BOOT + textwrap.dedent("""
            import os
            marks = sys.argv[2]
            con = connect("bank")
            try:
                con.execute("PRAGMA litevfs_acquire_lease")
            except sqlite3.Error as e:
                open(os.path.join(marks, str(os.getpid())), "w").close()
                print("lost", e); sys.exit(0)
            open(os.path.join(marks, str(os.getpid())), "w").close()
            deadline = time.monotonic() + 60
            while len(os.listdir(marks)) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            con.execute("UPDATE accounts SET balance = balance WHERE id = 1")
            print("won")
        """)
        procs = [py(grab, self.env(f"g{i}"), marks) for i in range(2)]
        outs = sorted(finish(p).split()[0] for p in procs)
        self.assertEqual(outs, ["lost", "won"])

    def test_write_without_lease_in_lease_mode_fails_and_changes_nothing(self):
        # Write mode lease: writes only under an explicit lease (the default, auto, takes one).
        self.assertEqual(finish(py(SETUP_BANK, self.env("setup"))).strip(), "ok")
        script = BOOT + textwrap.dedent("""
            con = connect("bank")
            try:
                con.execute("UPDATE accounts SET balance = 0")
                print("wrote")
            except sqlite3.Error as e:
                print("refused:", e)
            print(con.execute("SELECT sum(balance) FROM accounts").fetchone()[0])
        """)
        env = self.env("nolease")
        env.vars["LITEVFS_WRITE_MODE"] = "lease"
        out = finish(py(script, env)).splitlines()
        self.assertTrue(out[0].startswith("refused:"), out)
        self.assertEqual(out[1], "100000")

    def test_writer_killed_at_random_moments(self):
        setup = BOOT + textwrap.dedent("""
            con = connect("log")
            con.execute("PRAGMA litevfs_acquire_lease")
            con.execute("CREATE TABLE entries(id INTEGER PRIMARY KEY, body BLOB)")
            con.execute("CREATE TABLE meta(n INTEGER)")
            con.execute("INSERT INTO meta VALUES(0)")
            con.execute("PRAGMA litevfs_release_lease")
        """)
        finish(py(setup, self.env("setup")))
        rng = random.Random(int(os.environ.get("LITEVFS_CRASH_SEED", "1")))
        iterations = int(os.environ.get("LITEVFS_CRASH_ITERATIONS", "6"))
        acked = 0
        for it in range(iterations):
            env = self.env("crash")  # the same cache dir every time: it must recover
            p = py(CRASH_WRITER, env)
            time.sleep(rng.uniform(0.3, 1.5))
            p.send_signal(signal.SIGKILL)
            out, err = p.communicate(timeout=30)
            lines = out.split()
            if lines:
                acked = max(acked, int(lines[-1]))
            # The lease of the killed writer must expire before the next one can write;
            # the check below reads without it.
            check = BOOT + textwrap.dedent("""
                con = connect("log")
                ids = [r[0] for r in con.execute("SELECT id FROM entries ORDER BY id")]
                n, = con.execute("SELECT n FROM meta").fetchone()
                print(len(ids), ids[-1] if ids else 0, n)
            """)
            count, last, n = map(int, finish(py(check, self.env("reader"))).split())
            self.assertEqual(count, last, "ids are not a gap-free prefix")
            self.assertEqual(n, last, "meta.n and entries disagree: a partial transaction")
            self.assertIn(last, (acked, acked + 1),
                          f"iteration {it}: acknowledged {acked}, service has {last}")
            acked = last
            print(f"\nkill {it}: service has {last} commits (acknowledged before kill: "
                  f"{int(lines[-1]) if lines else 'none'})", file=sys.stderr)
            self.wait_for_lease_free("log")
        run_cli(["verify", "log"], self.env("verify"))

    def wait_for_lease_free(self, db):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            p = run_cli(["lease", "status", db, "--json"], self.env("status"), check=False)
            if p.returncode == 0 and '"held": false' in p.stdout.replace('"held":false', '"held": false'):
                return
            time.sleep(0.5)
        self.fail("the killed writer's lease never expired")


if __name__ == "__main__":
    import unittest
    unittest.main()
