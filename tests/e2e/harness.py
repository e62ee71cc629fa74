"""Shared pieces of the end-to-end tests: where the binaries are, a real litevfs-mockcloud
on a loopback port it picks itself, and small helpers to build databases and run the CLI.

Binaries come from the environment ctest sets (LITEVFS_BIN, LITEVFS_MOCKCLOUD_BIN,
LITEVFS_MODULE); a test whose binary is missing is skipped with the reason, never passed.
"""
import itertools
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

LITEVFS = os.environ.get("LITEVFS_BIN", "")
MOCKCLOUD = os.environ.get("LITEVFS_MOCKCLOUD_BIN", "")
MODULE = os.environ.get("LITEVFS_MODULE", "")
SHARED = os.environ.get("LITEVFS_SHARED_DIR", "")


def need(path, what):
    if not path or not os.path.exists(path):
        raise unittest.SkipTest(f"{what} not built ({path or 'env not set'})")
    return path


START_TIMEOUT_S = 15
_LISTENING = re.compile(rb"^listening on 127\.0\.0\.1:(\d+)$", re.M)
_log_ids = itertools.count()


class MockCloud:
    """A real litevfs-mockcloud process. Use as a context manager; always stopped.

    The first start listens on a port the server picks (--listen 127.0.0.1:0) and reads it
    from the server's "listening on HOST:PORT" line: no free_port() race with other tests.
    A restart keeps that port, so clients of the old process reach the new one."""

    def __init__(self, data_dir, token="test-token", extra_args=(), port=None):
        self.data_dir = data_dir
        self.token = token
        self.extra_args = list(extra_args)
        self.port = port  # None until the first start, unless the caller insists on one
        self.proc = None
        self.log = None
        self.log_path = os.path.join(os.path.dirname(data_dir.rstrip("/")),
                                     f"mockcloud-{next(_log_ids)}-{os.getpid()}.log")

    @property
    def url(self):
        if self.port is None:
            raise RuntimeError("MockCloud.url before start(): the server has not picked its port")
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        need(MOCKCLOUD, "litevfs-mockcloud")
        self.log = open(self.log_path, "ab")
        offset = self.log.tell()
        self.proc = subprocess.Popen(
            [MOCKCLOUD, "--data", self.data_dir, "--listen", f"127.0.0.1:{self.port or 0}",
             "--token", self.token, *self.extra_args],
            stdout=self.log, stderr=self.log)
        port = self._wait_listening(offset)
        if self.port is not None and port != self.port:
            self.stop()
            raise RuntimeError(f"litevfs-mockcloud listens on {port}, not {self.port}")
        self.port = port
        return self

    def _wait_listening(self, offset):
        """The port of the "listening on" line the server prints once it accepts connections
        (the log from `offset` on: a restart appends to the same file)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        with open(self.log_path, "rb") as f:
            while time.monotonic() < deadline:
                f.seek(offset)
                m = _LISTENING.search(f.read())
                if m:
                    return int(m.group(1))
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    self.stop()
                    raise RuntimeError(f"litevfs-mockcloud exited with {code}")
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"litevfs-mockcloud printed no 'listening on' in {START_TIMEOUT_S} s")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def kill(self):
        self.stop(signal.SIGKILL)

    def get(self, path, token=None):
        req = urllib.request.Request(self.url + path,
                                     headers={"Authorization": token or self.token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def get_json(self, path):
        return json.loads(self.get(path))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Env:
    """The environment a client process needs to reach `cloud`, with its own cache dir."""

    def __init__(self, cloud, cache_dir):
        self.vars = dict(os.environ)
        self.vars.update({
            "LITEFS_CLOUD_HOST": cloud.url,
            "LITEFS_CLOUD_TOKEN": cloud.token,
            "LITEVFS_CACHE_DIR": cache_dir,
        })
        self.vars.pop("LITEFS_CLOUD_CLUSTER", None)


def run_cli(args, env, check=True, input=None, timeout=120):
    need(LITEVFS, "litevfs")
    p = subprocess.run([LITEVFS, *args], env=env.vars if isinstance(env, Env) else env,
                       capture_output=True, text=True, input=input, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"litevfs {' '.join(args)} exited {p.returncode}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def make_db(path, rows=20000, page_size=4096, journal_mode="delete"):
    """A database with a rowid table, an index, a second table for joins."""
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA page_size={page_size}")
    con.execute(f"PRAGMA journal_mode={journal_mode}")
    con.executescript(f"""
        CREATE TABLE items(id INTEGER PRIMARY KEY, k TEXT NOT NULL, v INTEGER, payload TEXT);
        WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < {rows})
        INSERT INTO items SELECT i, printf('key-%08d', (i*7919) % {rows}), i*3,
                                 hex(randomblob(48)) FROM c;
        CREATE INDEX items_k ON items(k);
        CREATE TABLE tags(item_id INTEGER, tag TEXT);
        INSERT INTO tags SELECT id, 'tag' || (id % 17) FROM items WHERE id % 3 = 0;
        CREATE INDEX tags_item ON tags(item_id);
    """)
    con.commit()
    con.close()
    return path


LOG_TAIL_LINES = 40  # per log file, printed when a test fails


def print_log_tails(root, out=sys.stderr):
    """The last LOG_TAIL_LINES lines of every *.log under root: the servers' side of a failure
    (CI keeps only the test's output)."""
    for d, _, files in sorted(os.walk(root)):
        for name in sorted(f for f in files if f.endswith(".log")):
            path = os.path.join(d, name)
            with open(path, errors="replace") as f:
                lines = f.readlines()[-LOG_TAIL_LINES:]
            print(f"\n--- {os.path.relpath(path, root)} (last {len(lines)} lines) ---", file=out)
            out.write("".join(lines))


class TempDirTest(unittest.TestCase):
    """A test case with self.tmp, removed afterwards (kept when LITEVFS_KEEP_TMP is set). When
    the test fails, the tails of the logs under self.tmp are printed first."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="litevfs-e2e-")
        if not os.environ.get("LITEVFS_KEEP_TMP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)
        # Registered after the removal: runs before it, and after the servers were stopped.
        self.addCleanup(self._print_logs_if_failed)

    def _print_logs_if_failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        failed = result is not None and any(t is self for t, _ in result.failures + result.errors)
        if failed:
            print_log_tails(self.tmp)

    def start_cloud(self, **kwargs):
        """A MockCloud on self.tmp/data, started now and stopped when the test ends."""
        cloud = MockCloud(os.path.join(self.tmp, "data"), **kwargs).start()
        self.addCleanup(cloud.stop)
        return cloud


def start_class_cloud(cls, prefix, rows):
    """For setUpClass: a temp dir, a running mock cloud and an Env on the class, and cls.src, a
    make_db() of `rows` rows to import; the class cleanups stop and remove them all."""
    cls.tmp = tempfile.mkdtemp(prefix=prefix)
    cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
    cls.cloud = MockCloud(os.path.join(cls.tmp, "data")).start()
    cls.addClassCleanup(cls.cloud.stop)
    cls.env = Env(cls.cloud, os.path.join(cls.tmp, "cache"))
    cls.src = make_db(os.path.join(cls.tmp, "src.db"), rows=rows)


def cpu_seconds(pid):
    """User + system CPU time process `pid` has used so far (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_cpu_busy(pid, cpu_s=0.1, timeout=20):
    """Waits until process `pid` has burnt `cpu_s` more CPU seconds: it is running a
    statement that computes (e.g. an endless query), not idling at a prompt or in a wait.
    Fails after `timeout` seconds."""
    start = cpu_seconds(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cpu_seconds(pid) - start >= cpu_s:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} used under {cpu_s} s of CPU in {timeout} s")
