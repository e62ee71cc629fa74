"""End-to-end tests of the logs: the VFS's LITEVFS_LOG_LEVEL / LITEVFS_LOG_FILE lines (one
per event: time, level, database, position, message) at the levels users filter on, and the
mockcloud's one-line request log (time, level, method, path and query, status, bytes, ms).
Nothing is logged at error level on a clean run and the token never appears anywhere."""
import os
import re
import subprocess
import time
import unittest

from harness import LITEVFS, Env, MockCloud, TempDirTest, make_db, need, run_cli

TOKEN = "s3cr3t-log-token-7f1d2c"
VFS_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (ERROR|WARN|INFO|DEBUG|TRACE) "
    r"db=(\S+) pos=(-|[0-9a-f]{16}/[0-9a-f]{16}) (.+)$")
MOCK_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (ERROR|WARN|INFO|DEBUG) "
    r"(GET|POST|PUT|DELETE|HEAD) (/\S*) (\d{3}|dropped) in=(\d+) out=(\d+) (\d+\.\d)ms$")


class LogsTest(TempDirTest):
    def setUp(self):
        super().setUp()
        need(LITEVFS, "litevfs")
        self.cloud = self.start_cloud(token=TOKEN)
        self.mock_log = self.cloud.log.name
        self.src = make_db(os.path.join(self.tmp, "src.db"), rows=3000)
        run_cli(["import", self.src, "logdb"], self.env("import"))

    def env(self, name, level=None, log_file=None):
        e = Env(self.cloud, os.path.join(self.tmp, "cache-" + name))
        e.vars.pop("LITEVFS_LOG_LEVEL", None)
        e.vars.pop("LITEVFS_LOG_FILE", None)
        if level:
            e.vars["LITEVFS_LOG_LEVEL"] = level
        if log_file:
            e.vars["LITEVFS_LOG_FILE"] = log_file
        return e

    def read_lines(self, path):
        with open(path) as f:
            text = f.read()
        self.assertNotIn(TOKEN, text)
        return text.splitlines()

    def parse(self, lines):
        out = []
        for line in lines:
            m = VFS_LINE.match(line)
            self.assertIsNotNone(m, "not a log line: %r" % line)
            out.append(m.groups())
        return out

    def find(self, events, level, pattern):
        hits = [e for e in events if e[1] == level and re.search(pattern, e[4])]
        self.assertTrue(hits, "no %s line matching %r in:\n%s" % (
            level, pattern, "\n".join(" ".join(e) for e in events)))
        return hits

    def test_vfs_levels_and_events(self):
        log = os.path.join(self.tmp, "vfs-debug.log")
        reader_env = self.env("reader", "debug", log)
        # A long-lived reader, a writer that commits while it is open, then .sync in the reader.
        reader = subprocess.Popen([LITEVFS, "shell", "logdb", "--mode", "csv", "--no-headers"],
                                  env=reader_env.vars, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            reader.stdin.write("SELECT count(*) FROM items;\n")
            reader.stdin.flush()
            self.assertEqual(reader.stdout.readline(), "3000\n")
            run_cli(["shell", "logdb", "--lease", "-c",
                     "INSERT INTO items(k, v) VALUES ('new', 1)"],
                    self.env("writer", "info", log))
            reader.stdin.write(".sync\nSELECT count(*) FROM items;\n")
            reader.stdin.close()
            out = reader.stdout.read()
            self.assertEqual(reader.wait(60), 0, reader.stderr.read())
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait()
            reader.stdout.close()
            reader.stderr.close()
        self.assertTrue(out.endswith("3001\n"), out)

        events = self.parse(self.read_lines(log))
        self.assertTrue(all(e[2] == "logdb" for e in events), events)
        self.assertEqual([e for e in events if e[1] == "ERROR"], [])
        opened = self.find(events, "INFO", r"^opened \(cache ")
        self.assertEqual(opened[0][3], "0000000000000001/" + opened[0][3][17:])
        self.find(events, "DEBUG", r"^fetched (page \d+ \(\+\d+ prefetched\)|a batch of \d+ pages)"
                                   r".* in \d+ ms$")
        self.find(events, "INFO", r"^lease acquired: \S+")
        commit = self.find(events, "INFO", r"^commit uploaded: txid 0000000000000002, \d+ pages, "
                                           r"\d+ bytes, database \d+ pages, \d+ ms")
        self.assertTrue(commit[0][3].startswith("0000000000000002/"), commit)
        self.find(events, "INFO", r"^lease (released|released at close): \S+")
        synced = self.find(events, "INFO", r"^sync advanced from 0000000000000001/[0-9a-f]{16} to "
                                           r"0000000000000002/[0-9a-f]{16} \(\d+ pages changed\)")
        self.assertTrue(synced[0][3].startswith("0000000000000002/"), synced)
        # Timestamps are UTC and recent.
        now = time.strftime("%Y-%m-%d", time.gmtime())
        self.assertTrue(any(e[0].startswith(now) for e in events))

    def test_info_hides_debug_and_stderr_is_the_default(self):
        p = run_cli(["shell", "logdb", "-c", "SELECT count(*) FROM items"],
                    self.env("info-stderr", "info"))
        lines = [l for l in p.stderr.splitlines() if l]
        events = self.parse(lines)
        self.find(events, "INFO", r"^opened ")
        self.assertEqual([e for e in events if e[1] in ("DEBUG", "TRACE", "ERROR")], [])
        self.assertNotIn(TOKEN, p.stderr)

    def test_clean_run_logs_nothing_at_error_level(self):
        log = os.path.join(self.tmp, "vfs-error.log")
        run_cli(["shell", "logdb", "-c", "SELECT count(*) FROM items"],
                self.env("err1", "error", log))
        run_cli(["shell", "logdb", "--lease", "-c", "INSERT INTO items(k, v) VALUES ('x', 2)"],
                self.env("err2", "error", log))
        p = run_cli(["shell", "logdb", "-c", "SELECT count(*) FROM items"], self.env("err3", "error"))
        self.assertEqual(p.stderr, "")
        if os.path.exists(log):
            with open(log) as f:
                self.assertEqual(f.read(), "")

    def test_a_failure_is_logged_at_error_level(self):
        log = os.path.join(self.tmp, "vfs-fail.log")
        e = self.env("fail", "error", log)
        e.vars["LITEFS_CLOUD_TOKEN"] = "wrong-token"
        p = run_cli(["shell", "logdb", "-c", "SELECT 1"], e, check=False)
        self.assertNotEqual(p.returncode, 0)
        events = self.parse(self.read_lines(log))
        self.assertTrue(events)
        self.assertTrue(all(ev[1] == "ERROR" for ev in events), events)
        with open(log) as f:
            self.assertNotIn("wrong-token", f.read())

    def test_cli_prints_an_error_once(self):
        # The CLI reports every error itself; the VFS's stderr log line would repeat it.
        e = self.env("once", "error")
        e.vars["LITEFS_CLOUD_TOKEN"] = "wrong-token"
        p = run_cli(["shell", "logdb", "-c", "SELECT 1"], e, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stderr.count("EUNAUTHORIZED"), 1, p.stderr)
        self.assertNotIn(" ERROR db=", p.stderr)
        self.assertIn("LITEFS_CLOUD_TOKEN", p.stderr)  # the hint survives

    def test_client_retries_are_logged_at_warn(self):
        # A server failing a quarter of its page requests: the reads still succeed (retries), and
        # each retry leaves one WARN line naming the request and the error.
        flaky = MockCloud(os.path.join(self.tmp, "data"), token=TOKEN,
                          extra_args=["--faults", "error=0.25,seed=7,routes=/db/page"])
        self.cloud.stop()
        flaky.start()
        self.addCleanup(flaky.stop)
        self.cloud = flaky
        log = os.path.join(self.tmp, "vfs-retry.log")
        p = run_cli(["shell", "logdb", "--mode", "csv", "--no-headers", "-c",
                     "SELECT count(*), sum(v) FROM items"], self.env("retry", "warn", log))
        self.assertTrue(p.stdout.startswith("3000,"), p.stdout)
        events = self.parse(self.read_lines(log))
        retries = self.find(events, "WARN", r"^retrying GET /db/page db=logdb \(attempt [2-4] of 4\) "
                                            r"in \d+ ms after: .*EUNAVAILABLE")
        self.assertGreater(len(retries), 0)

    def test_bad_level_is_reported(self):
        p = run_cli(["shell", "logdb", "-c", "SELECT 1"], self.env("bad", "loud"))
        self.assertIn("LITEVFS_LOG_LEVEL=loud", p.stderr)

    def test_mockcloud_request_lines(self):
        run_cli(["shell", "logdb", "-c", "SELECT count(*) FROM items"], self.env("mock", "error"))
        self.cloud.stop()
        lines = self.read_lines(self.mock_log)
        reqs = [MOCK_LINE.match(l) for l in lines]
        reqs = [m.groups() for m in reqs if m]
        self.assertTrue(reqs, "\n".join(lines))
        self.assertEqual([l for l in lines if " ERROR " in l], [])
        pages = [r for r in reqs if r[3].startswith("/db/page?")]
        self.assertTrue(pages, "\n".join(lines))
        for r in pages:
            self.assertEqual(r[1], "INFO")
            self.assertEqual(r[4], "200")
            self.assertIn("?", r[3])  # the query string is kept
            self.assertGreater(int(r[6]), 0)
        # The import was a POST/PUT with a body.
        self.assertTrue(any(int(r[5]) > 0 for r in reqs if r[2] in ("POST", "PUT")),
                        "\n".join(lines))


if __name__ == "__main__":
    unittest.main()
