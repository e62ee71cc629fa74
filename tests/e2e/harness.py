"""Shared pieces of the end-to-end tests: where the binaries are, a real litevfs-mockcloud
on a free loopback port, and small helpers to build databases and run the CLI.

Binaries come from the environment ctest sets (LITEVFS_BIN, LITEVFS_MOCKCLOUD_BIN,
LITEVFS_MODULE); a test whose binary is missing is skipped with the reason, never passed.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MockCloud:
    """A real litevfs-mockcloud process. Use as a context manager; always stopped."""

    def __init__(self, data_dir, token="test-token", extra_args=(), port=None):
        self.data_dir = data_dir
        self.token = token
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        need(MOCKCLOUD, "litevfs-mockcloud")
        self.log = open(os.path.join(os.path.dirname(self.data_dir.rstrip("/")),
                                     f"mockcloud-{self.port}.log"), "ab")
        self.proc = subprocess.Popen(
            [MOCKCLOUD, "--data", self.data_dir, "--listen", f"127.0.0.1:{self.port}",
             "--token", self.token, *self.extra_args],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"litevfs-mockcloud exited with {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).read()
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("litevfs-mockcloud did not become ready in 15 s")

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


class TempDirTest(unittest.TestCase):
    """A test case with self.tmp, removed afterwards (kept when LITEVFS_KEEP_TMP is set)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="litevfs-e2e-")
        if not os.environ.get("LITEVFS_KEEP_TMP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)

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
