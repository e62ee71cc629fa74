"""End-to-end tests of the cloud commands of `litevfs` (ls, pos, log, import, export,
verify, prefetch, lease, shell) against the real litevfs-mockcloud server."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from cli_util import litevfs_bin, run
from test_cli_ltx import build_database

TOKEN = "cli-e2e-token"


def mockcloud_bin():
    path = os.environ.get("LITEVFS_MOCKCLOUD_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise unittest.SkipTest("LITEVFS_MOCKCLOUD_BIN is not set to the litevfs-mockcloud binary")
    return path


class MockCloud:
    """litevfs-mockcloud on 127.0.0.1, a port the server picked (--listen :0)."""

    def __init__(self, data_dir, log_path, extra_args=()):
        # The request log goes to a file: an undrained pipe would block the server.
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [mockcloud_bin(), "--data", data_dir, "--listen", "127.0.0.1:0", "--token", TOKEN,
             *extra_args],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(20)
        if not line or not line[0].startswith("listening on "):
            self.stop()
            raise RuntimeError("mockcloud did not start: %r" % (line,))
        self.url = "http://" + line[0].split()[-1]
        for _ in range(100):  # bounded wait for /healthz
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("mockcloud /healthz never answered")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


class CloudCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        litevfs_bin()
        mockcloud_bin()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.server = MockCloud(os.path.join(cls.tmp.name, "data"),
                               os.path.join(cls.tmp.name, "mockcloud.log"))
        cls.addClassCleanup(cls.server.stop)  # runs before the directory is removed
        cls.env = dict(os.environ)
        cls.env.update({"LITEFS_CLOUD_HOST": cls.server.url, "LITEFS_CLOUD_TOKEN": TOKEN,
                        "LITEVFS_CACHE_DIR": os.path.join(cls.tmp.name, "cache")})
        cls.env.pop("LITEFS_CLOUD_CLUSTER", None)
        cls.src = os.path.join(cls.tmp.name, "source.db")
        build_database(cls.src, rows=8000)

    def cli(self, args, check=0, **kw):
        return run(args, check=check, env=kw.pop("env", self.env), **kw)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def read_line(self, proc, timeout):
        """The next line of proc's stdout, or a failure after `timeout` seconds."""
        line = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        if not line:
            self.fail(f"no line on stdout in {timeout} s")
        return line[0]

    def checksum(self, path):
        return self.cli(["ltx", "checksum", path]).stdout.strip()

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def import_db(self, src, name):
        return json.loads(self.cli(["import", "--json", src, name]).stdout)

    # ---- import / ls / pos / log / export / verify ----

    def test_import_export_roundtrip(self):
        info = self.import_db(self.src, "round")
        self.assertTrue(info["snapshot"])
        self.assertEqual(info["pos"]["txid"], "0000000000000001")
        want = self.checksum(self.src)
        self.assertEqual(info["pos"]["postApplyChecksum"], want)

        self.assertEqual(self.cli(["pos", "round"]).stdout, "0000000000000001/%s\n" % want)
        listing = json.loads(self.cli(["ls", "--json"]).stdout)
        self.assertEqual(listing["round"], {"txid": "0000000000000001", "postApplyChecksum": want})
        self.assertIn("round", self.cli(["ls"]).stdout)

        out = self.path("round-export.db")
        self.cli(["export", "round", out])
        self.assertTrue(self.read(out) == self.read(self.src), "export differs from the source")
        # exporting over an existing file needs --force
        p = self.cli(["export", "round", out], check=1)
        self.assertIn("already exists", p.stderr)
        self.cli(["export", "--force", "round", out])

        p = self.cli(["verify", "round"])
        self.assertIn("ok", p.stdout)
        v = json.loads(self.cli(["verify", "--json", "round"]).stdout)
        self.assertTrue(v["ok"])
        self.assertEqual(v["checksum"], want)
        self.assertEqual(v["pages"] * v["pageSize"], os.path.getsize(self.src))

    def test_import_on_top_keeps_history(self):
        self.import_db(self.src, "hist")
        changed = self.path("hist-v2.db")
        shutil.copyfile(self.src, changed)
        con = sqlite3.connect(changed)
        con.execute("INSERT INTO users(name, email, bio) VALUES('new', 'n@example.com', 'bio')")
        con.execute("DELETE FROM events WHERE id % 3 = 0")
        con.commit()
        con.close()
        info = self.import_db(changed, "hist")
        self.assertFalse(info["snapshot"])
        self.assertEqual(info["pos"]["txid"], "0000000000000002")
        self.assertEqual(info["pos"]["postApplyChecksum"], self.checksum(changed))

        log = json.loads(self.cli(["log", "--json", "hist"]).stdout)["history"]
        self.assertEqual([e["pos"]["txid"] for e in log][-2:],
                         ["0000000000000001", "0000000000000002"])
        self.assertIn("0000000000000002", self.cli(["log", "hist"]).stdout)

        cur = self.path("hist-cur.db")
        self.cli(["export", "hist", cur])
        self.assertTrue(self.read(cur) == self.read(changed))
        old = self.path("hist-old.db")
        self.cli(["export", "--txid", "1", "hist", old])
        self.assertTrue(self.read(old) == self.read(self.src), "export --txid 1 differs")
        p = self.cli(["export", "--txid", "99", "hist", self.path("never.db")], check=1)
        self.assertIn("not retained", p.stderr)
        self.assertFalse(os.path.exists(self.path("never.db")))
        self.cli(["verify", "hist"])

    def test_import_keeps_its_lease_alive_through_a_slow_upload(self):
        # This server sits 2.5 s on every upload before looking at it: a 1 s lease outlives
        # that only if the import renews it meanwhile.
        slow = MockCloud(self.path("slow-data"), self.path("slow.log"),
                         ["--faults", "latency=2500ms,routes=/db/tx"])
        self.addCleanup(slow.stop)
        env = dict(self.env, LITEFS_CLOUD_HOST=slow.url)
        # The control: a 1 s lease nobody renews is gone by then.
        lease = json.loads(self.cli(["lease", "acquire", "--json", "--duration", "1s", "control"],
                                    env=env).stdout)
        p = self.cli(["import", "--lease-id", lease["id"], self.src, "control"], env=env, check=1)
        self.assertIn("ELEASE", p.stderr)
        p = self.cli(["import", "--json", "--lease-duration", "1s", self.src, "slow"], env=env)
        self.assertEqual(json.loads(p.stdout)["pos"]["postApplyChecksum"], self.checksum(self.src))
        # Released at the end: another client gets the lease at once.
        self.cli(["lease", "acquire", "--duration", "1s", "slow"], env=env)
        for bad in ("500ms", "11m", "soon"):
            p = self.cli(["import", "--lease-duration", bad, self.src, "slow2"], env=env, check=2)
            self.assertIn("--lease-duration", p.stderr)

    def test_import_large_database_in_bounded_memory(self):
        # ~60 MB of incompressible rows. The import encodes the LTX into a file under TMPDIR
        # and streams it: its peak RSS must not grow with the database (it was ~2x its size).
        src = self.path("large.db")
        con = sqlite3.connect(src)
        con.execute("CREATE TABLE blobs(id INTEGER PRIMARY KEY, data BLOB)")
        con.executemany("INSERT INTO blobs(data) VALUES (?)",
                        ((os.urandom(1000),) for _ in range(60000)))
        con.commit()
        con.close()
        self.assertGreater(os.path.getsize(src), 55 << 20)
        tmpdir = self.path("large-tmp")
        os.mkdir(tmpdir)
        env = dict(self.env, TMPDIR=tmpdir)

        # os.wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the maximum over
        # every child this test process has waited for so far).
        proc = subprocess.Popen([litevfs_bin(), "import", "--json", src, "large"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        timer = threading.Timer(300, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        self.assertEqual(proc.returncode, 0, err)
        peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
        self.assertLess(peak_mib, 40, "import of a %d MiB database peaked at %.1f MiB RSS" % (
            os.path.getsize(src) >> 20, peak_mib))
        info = json.loads(out)
        self.assertTrue(info["snapshot"])
        self.assertEqual(info["pos"]["postApplyChecksum"], self.checksum(src))
        self.assertGreater(info["uploadBytes"], os.path.getsize(src))
        self.assertEqual(os.listdir(tmpdir), [], "the temporary LTX file was left behind")

        out_db = self.path("large-export.db")
        self.cli(["export", "large", out_db])
        self.assertTrue(self.read(out_db) == self.read(src), "export differs from the source")

        # The temporary file goes on failure too: an upload under a lease that is not held.
        p = self.cli(["import", "--lease-id", "0" * 32, src, "large"], env=env, check=1)
        self.assertIn("lease", p.stderr)
        self.assertEqual(os.listdir(tmpdir), [], "the temporary LTX file was left behind")
        # An unusable TMPDIR is named (only --compress spools the LTX to a file: a plain
        # import encodes into the request body).
        missing = self.path("no-such-tmp")
        p = self.cli(["import", "--compress", src, "large"], env=dict(env, TMPDIR=missing), check=1)
        self.assertIn(missing, p.stderr)
        self.assertEqual(self.cli(["pos", "large"]).stdout.split("/")[0], "0000000000000001")

    def test_import_over_the_body_limit_names_the_flag_before_uploading(self):
        # A database larger than the service's --max-body is refused before the upload, with
        # the flag to raise; the service's default takes a large database.
        small = MockCloud(self.path("small-data"), self.path("small.log"),
                          extra_args=["--max-body", str(64 << 10)])
        self.addCleanup(small.stop)
        env = dict(self.env, LITEFS_CLOUD_HOST=small.url)
        size = os.path.getsize(self.src)
        self.assertGreater(size, 64 << 10)
        p = self.cli(["import", self.src, "big"], env=env, check=1)
        self.assertIn("--max-body", p.stderr)
        self.assertIn("over the service's limit of %d bytes" % (64 << 10), p.stderr)
        self.assertNotIn("big", self.cli(["ls"], env=env).stdout)
        self.assertIn("imported", self.cli(["import", self.src, "fits"]).stdout)

    def test_verify_integrity_through_vfs(self):
        self.import_db(self.src, "integ")
        v = json.loads(self.cli(["verify", "--integrity", "--json", "integ"]).stdout)
        self.assertEqual(v["integrity"], "ok")
        self.assertTrue(v["ok"])

    def test_prefetch(self):
        self.import_db(self.src, "pre")
        p = json.loads(self.cli(["prefetch", "--json", "pre"]).stdout)
        self.assertEqual(p["pages"] * p["pageSize"], os.path.getsize(self.src))
        self.assertGreater(p["fetched"], 0)
        # everything is cached now: a second run fetches nothing
        p2 = json.loads(self.cli(["prefetch", "--json", "pre"]).stdout)
        self.assertEqual(p2["fetched"], 0)
        self.assertIn("pages cached", self.cli(["prefetch", "pre"]).stdout)

    # ---- leases ----

    def test_lease_lifecycle(self):
        self.import_db(self.src, "leased")
        a = json.loads(self.cli(["lease", "acquire", "--json", "--duration", "30s", "leased"]).stdout)
        self.assertTrue(a["id"])
        self.assertTrue(a["expires_at"])
        st = json.loads(self.cli(["lease", "status", "--json", "leased"]).stdout)
        self.assertTrue(st["held"])
        # someone else's lease blocks a plain import ...
        p = self.cli(["import", self.src, "leased"], check=1)
        self.assertIn("lease", p.stderr)
        # ... but the holder can import under it
        info = json.loads(self.cli(["import", "--json", "--lease-id", a["id"], self.src, "leased"]).stdout)
        self.assertEqual(info["pos"]["txid"], "0000000000000002")
        r = json.loads(self.cli(["lease", "refresh", "--json", "--id", a["id"], "leased"]).stdout)
        self.assertEqual(r["id"], a["id"])
        self.cli(["lease", "refresh", "--id", "0" * 32, "leased"], check=1)
        self.cli(["lease", "release", "--id", a["id"], "leased"])
        st = json.loads(self.cli(["lease", "status", "--json", "leased"]).stdout)
        self.assertFalse(st["held"])
        self.assertIn("free", self.cli(["lease", "status", "leased"]).stdout)

    def test_lease_hold_until_signal(self):
        proc = subprocess.Popen([litevfs_bin(), "lease", "acquire", "--hold", "--json",
                                 "--duration", "3s", "held"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)
        try:
            first = json.loads(proc.stdout.readline())
            self.assertEqual(first["event"], "acquired")
            # Wait for the first refresh (a third of the duration in), not a guessed time.
            second = self.read_line(proc, timeout=20)
            self.assertEqual(json.loads(second)["event"], "refreshed", second)
            self.assertTrue(json.loads(self.cli(["lease", "status", "--json", "held"]).stdout)["held"])
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        events = [json.loads(l)["event"] for l in out.splitlines()]
        self.assertEqual(events[-1], "released")
        # Released, and nothing was ever written: neither a lease nor a database by that name.
        p = self.cli(["lease", "status", "--json", "held"], check=1)
        self.assertIn("held: no such database", p.stderr)

    # ---- shell ----

    def test_shell_queries_match_sqlite(self):
        self.import_db(self.src, "sh")
        queries = ["SELECT count(*) AS n FROM users",
                   "SELECT id, name, email FROM users WHERE id % 997 = 0 ORDER BY id",
                   "SELECT kind, count(*) AS c, sum(length(payload)) AS bytes FROM events GROUP BY kind ORDER BY kind"]
        con = sqlite3.connect(self.src)
        for q in queries:
            with self.subTest(q=q):
                cur = con.execute(q)
                cols = [d[0] for d in cur.description]
                want = [dict(zip(cols, row)) for row in cur.fetchall()]
                p = self.cli(["shell", "sh", "--mode", "json", "-c", q])
                self.assertEqual(json.loads(p.stdout), want)
        con.close()

        # SQL from stdin, csv, dot-commands
        p = self.cli(["shell", "sh", "--mode", "csv"],
                     input=".tables\nSELECT id, name\n  FROM users WHERE id < 3 ORDER BY id;\n.mode line\nSELECT 1 AS one;\n")
        self.assertEqual(p.stdout, "events\nusers\nid,name\n0,user0\n1,user1\n2,user2\none = 1\n")
        p = self.cli(["shell", "sh", "-c", ".schema users"])
        self.assertIn("CREATE TABLE users(", p.stdout)
        self.assertIn("CREATE INDEX users_email", p.stdout)
        p = self.cli(["shell", "sh", "-c", ".pos"])
        self.assertIn("0000000000000001", p.stdout)
        p = self.cli(["shell", "sh", "-c", ".sync", "-c", ".lease status"])
        self.assertEqual(p.stdout.splitlines()[0], self.cli(["pos", "sh"]).stdout.strip())
        self.assertIn("no lease", p.stdout)

    def test_shell_errors(self):
        self.import_db(self.src, "sherr")
        p = self.cli(["shell", "sherr", "-c", "SELECT * FROM nope", "-c", "SELECT 42 AS x"], check=1)
        self.assertIn("no such table: nope", p.stderr)
        self.assertIn("42", p.stdout)  # without --bail the next command still runs
        p = self.cli(["shell", "sherr", "--bail", "-c", "SELECT * FROM nope", "-c", "SELECT 42 AS x"], check=1)
        self.assertNotIn("42", p.stdout)
        p = self.cli(["shell", "sherr"], input="SELECT 1;\nSELEC 2;\n", check=1)
        self.assertIn("syntax error", p.stderr)
        self.cli(["shell", "sherr", "-c", ".frobnicate"], check=1)
        self.cli(["shell", "sherr", "--mode", "xml", "-c", "SELECT 1"], check=2)

    def test_shell_interactive_on_a_terminal(self):
        import pty
        import select
        self.import_db(self.src, "tty")
        home = self.path("home")
        os.makedirs(home, exist_ok=True)
        env = dict(self.env, HOME=home, TERM="dumb")
        pid, fd = pty.fork()
        if pid == 0:  # child: the shell on the pty's terminal; never returns into the tests
            try:
                os.execve(litevfs_bin(), ["litevfs", "shell", "tty"], env)
            finally:
                os._exit(127)

        def read_until(marker, timeout=20):
            out, deadline = b"", time.monotonic() + timeout
            while marker not in out and time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
            return out.decode(errors="replace")

        try:
            self.assertIn("litevfs> ", read_until(b"litevfs> "))
            os.write(fd, b"SELECT count(*) AS n\n")
            self.assertIn("...> ", read_until(b"...> "))  # continuation prompt
            os.write(fd, b"FROM users;\n")
            self.assertIn("8000", read_until(b"litevfs> "))
            os.write(fd, b"SELECT * FROM nope;\n")
            self.assertIn("no such table: nope", read_until(b"litevfs> "))
            os.write(fd, b".quit\n")
            read_until(b"\x00", timeout=5)
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        # interactive: a failed statement does not fail the session
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        with open(os.path.join(home, ".litevfs_history")) as f:
            self.assertIn("FROM", f.read())

    def test_shell_write_under_lease(self):
        self.import_db(self.src, "shw")
        self.cli(["shell", "shw", "--lease", "-c", "INSERT INTO users(name) VALUES('via-shell')"])
        self.assertEqual(self.cli(["pos", "shw"]).stdout[:16], "0000000000000002")
        out = self.path("shw.db")
        self.cli(["export", "shw", out])
        con = sqlite3.connect(out)
        self.assertEqual(con.execute("SELECT count(*) FROM users WHERE name='via-shell'").fetchone()[0], 1)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        con.close()
        self.cli(["verify", "shw"])

    # ---- configuration and errors ----

    def test_flags_override_environment(self):
        self.import_db(self.src, "flags")
        env = dict(self.env)
        env["LITEFS_CLOUD_HOST"] = "http://127.0.0.1:1"   # nothing listens there
        env["LITEFS_CLOUD_TOKEN"] = "wrong"
        self.cli(["pos", "flags"], env=env, check=1)
        p = self.cli(["--host", self.server.url, "--token", TOKEN, "pos", "flags"], env=env)
        self.assertTrue(p.stdout.startswith("0000000000000001/"))
        p = self.cli(["pos", "flags", "--host", self.server.url, "--token", TOKEN], env=env)
        self.assertTrue(p.stdout.startswith("0000000000000001/"))
        cache = self.path("flag-cache")
        self.cli(["--cache-dir", cache, "prefetch", "flags"])
        self.assertTrue(os.listdir(cache), "--cache-dir was not used")

    def test_errors(self):
        p = self.cli(["pos", "no-such-db"], check=1)
        self.assertTrue(p.stderr.startswith("litevfs: "), p.stderr)
        env = dict(self.env)
        env["LITEFS_CLOUD_TOKEN"] = "wrong"
        p = self.cli(["ls"], env=env, check=1)
        self.assertTrue(p.stderr.startswith("litevfs: "))
        env.pop("LITEFS_CLOUD_TOKEN")
        p = self.cli(["ls"], env=env, check=1)
        self.assertIn("LITEFS_CLOUD_TOKEN", p.stderr)
        self.cli(["pos", "../etc"], check=1)
        self.cli(["export"], check=2)
        self.cli(["lease", "acquire", "--duration", "soon", "x"], check=2)
        self.cli(["lease"], check=2)
        p = self.cli(["import", self.path("missing.db"), "x"], check=1)
        self.assertTrue(p.stderr.startswith("litevfs: "))

    def test_help_everywhere(self):
        for args in (["shell"], ["ls"], ["pos"], ["log"], ["import"], ["export"], ["prefetch"],
                     ["verify"], ["lease"], ["lease", "acquire"], ["lease", "refresh"],
                     ["lease", "release"], ["lease", "status"]):
            with self.subTest(args=args):
                self.assertIn("Usage", self.cli(args + ["--help"]).stdout)


if __name__ == "__main__":
    unittest.main()
