"""`litevfs import` uploads exactly what SQLite would read (hot journal, WAL, truncated file,
directory, --check), gives its lease back on SIGTERM, reports who holds a lease until when,
and draws its progress bar only on a terminal. Also `lease status` (read-only) and the
messages of issue 15 §5 (flags named as flags, one duration grammar, no doubled prefix)."""
import json
import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import LITEVFS, Env, TempDirTest, make_db, need, run_cli  # noqa: E402

ROWS = 3000


def total(path, uri_params="immutable=1"):
    """sum(v) over items as SQLite reads `path` (its journal/WAL ignored with immutable=1)."""
    con = sqlite3.connect(f"file:{path}?{uri_params}", uri=True)
    try:
        return con.execute("SELECT count(*), sum(v) FROM items").fetchone()
    finally:
        con.close()


def die_mid_transaction(path, sql, pragmas=()):
    """Runs `sql` inside a transaction in a child that exits without committing or rolling back
    (a writer killed mid-transaction): the file keeps what the child spilled to it."""
    code = ("import os, sqlite3\n"
            f"con = sqlite3.connect({path!r}, isolation_level=None)\n"
            f"for p in {list(pragmas)!r}: con.execute(p)\n"
            "con.execute('BEGIN')\n"
            f"con.execute({sql!r})\n"
            "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


class ImportTest(TempDirTest):
    def setUp(self):
        super().setUp()
        need(LITEVFS, "litevfs")
        self.cloud = self.start_cloud()
        self.env = Env(self.cloud, os.path.join(self.tmp, "cache"))
        self.env.vars["TMPDIR"] = os.path.join(self.tmp, "tmpdir")
        os.makedirs(self.env.vars["TMPDIR"])

    def cli(self, *args, check=True, **kw):
        return run_cli(list(args), self.env, check=check, **kw)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def exported_total(self, db):
        out = self.path(db + "-export.db")
        self.cli("export", db, out)
        con = sqlite3.connect(out)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        con.close()
        return total(out)

    def tmpdir_left(self):
        return os.listdir(self.env.vars["TMPDIR"])

    def wait_uploading(self, pid, src, timeout=60):
        """Waits until import `pid` streams its LTX: encoded from the database file `src` into
        the request body (a read-only descriptor on it), or, with --compress, from the
        temporary file, open read-only (the upload reads it) only once complete."""
        tmpdir = os.path.realpath(self.env.vars["TMPDIR"]) + "/"
        src = os.path.realpath(src)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                        flags = int(f.read().split("flags:")[1].split()[0], 8)
                except (OSError, IndexError):
                    continue  # closed meanwhile
                if (target.startswith(tmpdir) or target == src) and flags & os.O_ACCMODE == os.O_RDONLY:
                    return
            time.sleep(0.02)
        self.fail(f"import {pid} did not start its upload in {timeout} s")

    # ---- §4: what is uploaded is what SQLite reads ----

    def test_hot_journal_is_rolled_back(self):
        src = make_db(self.path("hot.db"), rows=ROWS)
        before = total(src)
        die_mid_transaction(src, "UPDATE items SET v = v + 1000000, payload = upper(payload)",
                            ["PRAGMA cache_size=5"])
        self.assertGreater(os.path.getsize(src + "-journal"), 0)
        self.assertNotEqual(total(src), before, "the writer spilled no page: no hot journal")
        with open(src + "-journal", "rb") as f:
            journal = f.read()
        p = self.cli("import", src, "hot")
        self.assertEqual(self.exported_total("hot"), before)
        self.assertIn("-journal", p.stdout)
        # FILE and its journal are read, never written; the private copy is gone.
        with open(src + "-journal", "rb") as f:
            self.assertEqual(f.read(), journal)
        self.assertEqual(self.tmpdir_left(), [])

    def test_wal_is_checkpointed(self):
        src = make_db(self.path("wal.db"), rows=ROWS, journal_mode="wal")
        code = ("import os, sqlite3\n"
                f"con = sqlite3.connect({src!r}, isolation_level=None)\n"
                "con.execute('PRAGMA wal_autocheckpoint=0')\n"
                "con.execute('UPDATE items SET v = 7')\n"
                "os._exit(0)\n")
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        self.assertGreater(os.path.getsize(src + "-wal"), 0)
        p = self.cli("import", src, "wal", check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.exported_total("wal"), (ROWS, 7 * ROWS))

    def test_truncated_file_is_refused(self):
        src = make_db(self.path("trunc.db"), rows=ROWS)
        pages = os.path.getsize(src) // 4096
        os.truncate(src, 24 * 4096)
        p = self.cli("import", src, "trunc", check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(f"header says {pages} pages but the file holds 24", p.stderr)
        self.assertIn("truncated", p.stderr)
        self.assertNotIn("trunc", self.cli("ls").stdout)

    def test_directory_is_a_directory(self):
        p = self.cli("import", self.tmp, "dir", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is a directory", p.stderr)

    def test_check_runs_integrity_check(self):
        src = self.path("bad.db")
        con = sqlite3.connect(src)
        con.executescript("CREATE TABLE t(a, b); CREATE INDEX i ON t(a);"
                          "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n<500)"
                          " INSERT INTO t SELECT n, -n FROM c;"
                          "PRAGMA writable_schema=ON;"
                          "UPDATE sqlite_schema SET sql='CREATE INDEX i ON t(b)' WHERE name='i';")
        con.close()
        p = self.cli("import", "--check", src, "bad", check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("integrity_check failed", p.stderr)
        self.assertIn("index i", p.stderr)
        good = make_db(self.path("good.db"), rows=100)
        self.cli("import", "--check", good, "good")

    # ---- §4: leases ----

    def test_sigterm_releases_the_lease(self):
        src = make_db(self.path("big.db"), rows=ROWS)
        self.cloud.stop()
        self.cloud = self.start_cloud(extra_args=["--faults", "latency=20s,routes=/db/tx"])
        self.env = Env(self.cloud, os.path.join(self.tmp, "cache2"))
        self.env.vars["TMPDIR"] = os.path.join(self.tmp, "tmpdir")
        proc = subprocess.Popen([LITEVFS, "import", src, "big"], env=self.env.vars,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                st = self.cli("lease", "status", "--json", "big", check=False)
                if st.returncode == 0 and json.loads(st.stdout)["held"]:
                    break
                time.sleep(0.1)
            else:
                self.fail("the import never took the lease")
            self.wait_uploading(proc.pid, src)  # into the slow upload
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, -signal.SIGTERM, err)
        self.assertIn("released the write lease", err)
        p = self.cli("lease", "status", "--json", "big", check=False)
        self.assertFalse(p.returncode == 0 and json.loads(p.stdout)["held"], p.stdout)
        self.assertEqual(self.tmpdir_left(), [])

    def test_lease_held_by_another_says_until_when(self):
        src = make_db(self.path("l.db"), rows=100)
        self.cli("import", src, "l")
        a = json.loads(self.cli("lease", "acquire", "--json", "--duration", "1m", "l").stdout)
        p = self.cli("import", src, "l", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("another client holds the write lease until " + a["expires_at"][:16], p.stderr)

    # ---- lease status: read-only ----

    def test_lease_status_is_read_only(self):
        src = make_db(self.path("s.db"), rows=100)
        self.cli("import", src, "s")  # acquires and releases a lease (one 204)

        def releases():
            for line in self.cloud.get("/metrics").decode().splitlines():
                if line.startswith('mockcloud_requests_total{route="/lease",code="204"}'):
                    return int(line.split()[-1])
            return 0
        before = releases()
        for _ in range(3):
            self.assertEqual(self.cli("lease", "status", "s").stdout.strip(), "s: free")
        # A probe by acquiring would release what it took (DELETE /lease answers 204).
        self.assertEqual(releases(), before)
        a = json.loads(self.cli("lease", "acquire", "--json", "--duration", "1m", "s").stdout)
        st = json.loads(self.cli("lease", "status", "--json", "s").stdout)
        self.assertEqual((st["held"], st["exists"]), (True, True))
        self.assertEqual(st["expires_at"][:16], a["expires_at"][:16])
        self.assertNotIn(a["id"], json.dumps(st))
        # The holder still holds it: a refresh works (status took nothing from it).
        self.cli("lease", "refresh", "--id", a["id"], "s")

    def test_lease_status_of_a_missing_database(self):
        p = self.cli("lease", "status", "nosuchdb", check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("nosuchdb: no such database", p.stderr)

    # ---- progress on a terminal ----

    def run_on_pty_stderr(self, args):
        master, slave = pty.openpty()
        proc = subprocess.Popen([LITEVFS, *args], env=self.env.vars, stdout=subprocess.PIPE,
                                stderr=slave)
        os.close(slave)
        err = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                err += chunk
            elif proc.poll() is not None:
                break
        out = proc.communicate(timeout=30)[0]
        os.close(master)
        self.assertEqual(proc.returncode, 0, err)
        return out.decode(), err.decode()

    def test_upload_streams_without_a_temporary_file(self):
        """Issue 19: the LTX is encoded into the request body as it is sent, so an import
        needs no temporary file (TMPDIR may be missing); only --compress writes one."""
        src = make_db(self.path("s.db"), rows=ROWS)
        tmpdir = self.env.vars["TMPDIR"]
        self.env.vars["TMPDIR"] = self.path("no-such-dir")
        self.cli("import", src, "s")
        self.cli("import", src, "s")  # on top of the existing history too
        p = self.cli("import", "--compress", src, "s2", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("TMPDIR", p.stderr)
        self.env.vars["TMPDIR"] = tmpdir
        self.assertEqual(self.exported_total("s"), total(src))

    def test_progress_only_on_a_terminal_and_cleared(self):
        src = make_db(self.path("p.db"), rows=ROWS)
        out, err = self.run_on_pty_stderr(["import", src, "p"])
        self.assertIn("import: upload", err)
        self.assertIn("\r\x1b[K", err)
        self.assertTrue(err.endswith("\r\x1b[K"), repr(err[-80:]))  # the last draw is erased
        self.assertIn("imported", out)
        out, err = self.run_on_pty_stderr(["export", "p", self.path("p-copy.db")])
        self.assertIn("\r\x1b[Kexport", err)
        self.assertTrue(err.endswith("\r\x1b[K"), repr(err[-80:]))
        # Not a terminal: no bar at all.
        p = self.cli("import", src, "p")
        self.assertEqual(p.stderr, "")
        p = self.cli("export", "-f", "p", self.path("p-copy.db"))
        self.assertEqual(p.stderr, "")


class MessagesTest(TempDirTest):
    """Issue 15 §5: the real cause, named as the user gave it."""

    def setUp(self):
        super().setUp()
        need(LITEVFS, "litevfs")
        self.cloud = self.start_cloud()
        self.env = Env(self.cloud, os.path.join(self.tmp, "cache"))

    def cli(self, *args, env=None):
        p = run_cli(list(args), env or self.env, check=False)
        self.assertNotIn("litevfs: litevfs:", p.stderr)
        self.assertNotIn(": litevfs: ", p.stderr)
        return p

    def test_flag_values_are_reported_as_flags(self):
        p = self.cli("--host", "htp://x", "ls")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--host", p.stderr)
        self.assertNotIn("LITEFS_CLOUD_HOST", p.stderr)
        p = self.cli("--token", "wrong", "ls")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--token", p.stderr)
        self.assertNotIn("LITEFS_CLOUD_TOKEN", p.stderr)
        src = make_db(os.path.join(self.tmp, "m.db"), rows=10)
        run_cli(["import", src, "m"], self.env)
        p = self.cli("--token", "wrong", "shell", "m", "-c", "SELECT 1")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--token", p.stderr)
        self.assertNotIn("LITEFS_CLOUD_TOKEN", p.stderr)

    def test_env_values_are_reported_as_env_vars(self):
        env = dict(self.env.vars, LITEFS_CLOUD_HOST="htp://x")
        p = self.cli("ls", env=env)
        self.assertIn("LITEFS_CLOUD_HOST: unsupported scheme", p.stderr)
        env = dict(self.env.vars, LITEFS_CLOUD_TOKEN="wrong")
        self.assertIn("LITEFS_CLOUD_TOKEN", self.cli("ls", env=env).stderr)

    def test_one_duration_grammar(self):
        p = self.cli("lease", "acquire", "--duration", "30", "x")
        self.assertEqual(p.returncode, 2)
        self.assertIn("'30' (30ms: a number without a unit is milliseconds) is not between 1s and 10m",
                      p.stderr)
        p = self.cli("import", "--lease-duration", "soon", "a.db", "x")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--lease-duration: 'soon' is not a duration", p.stderr)
        self.assertIn("ms, s, m or h", p.stderr)
        env = dict(self.env.vars, LITEVFS_REQUEST_TIMEOUT="2")
        p = self.cli("shell", "x", "-c", "SELECT 1", env=env)
        self.assertIn("LITEVFS_REQUEST_TIMEOUT: '2' (2ms: a number without a unit is milliseconds)",
                      p.stderr)
        self.assertEqual(self.cli("lease", "acquire", "--duration", "1500ms", "x").returncode, 0)

    def test_unknown_command_is_named(self):
        p = self.cli("frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", p.stderr)
        p = self.cli("lease", "frobnicate", "x")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'frobnicate' of 'lease'", p.stderr)
        p = self.cli("lease")
        self.assertEqual(p.returncode, 2)
        self.assertIn("'lease' needs a command (commands: acquire, refresh, release, status)", p.stderr)

    def test_no_doubled_prefix(self):
        for args in (["pos", "nosuch"], ["export", "nosuch", os.path.join(self.tmp, "x.db")],
                     ["shell", "nosuch", "-c", "SELECT 1"], ["--cluster", "a b", "ls"],
                     ["log", "nosuch"], ["import", "/nonexistent.db", "x"]):
            p = self.cli(*args)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertTrue(p.stderr.startswith("litevfs: "), p.stderr)


if __name__ == "__main__":
    unittest.main()
