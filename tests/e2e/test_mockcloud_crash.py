"""Crash test for litevfs-mockcloud: SIGKILL the server while uploads are in flight, restart
it on the same data directory, and check that every acknowledged transaction is there (and
an unacknowledged one is either fully there or absent), that /db/snapshot verifies, and that
its pages are the ones the writers sent. Python stdlib only; LTX v1 files are built here.

Env: LITEVFS_MOCKCLOUD_BIN (skips when absent). Bounded to ~25 s.
"""

import http.client
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import unittest

FLAG = 1 << 63
PAGE = 512
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0xD800000000000000 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc64(data, crc=0):
    crc ^= 0xFFFFFFFFFFFFFFFF
    t = _TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def page_checksum(pgno, page):
    return FLAG | crc64(struct.pack(">I", pgno) + page)


class Model:
    """One database: pages, size, position; builds the next transaction as LTX v1."""

    def __init__(self):
        self.pages = {}
        self.commit = 0
        self.txid = 0
        self.acc = 0  # XOR of page checksums (without FLAG)

    def checksum(self):
        return FLAG | self.acc

    def page(self, p):
        return self.pages.get(p, b"\0" * PAGE) if p <= self.commit else b"\0" * PAGE

    def next_tx(self, rng):
        """Returns (ltx_bytes, new_model_state) without changing self."""
        n = self.clone()
        if self.txid == 0:
            commit = rng.randint(3, 12)
            writes = list(range(1, commit + 1))
        else:
            r = rng.random()
            commit = self.commit
            if r < 0.15 and self.commit > 2:
                commit = rng.randint(2, self.commit - 1)  # shrink
            elif r < 0.45:
                commit = self.commit + rng.randint(1, 3)  # grow
            writes = sorted({1, *rng.sample(range(1, commit + 1), min(commit, rng.randint(1, 4))),
                             *range(self.commit + 1, commit + 1)})
        new_pages = {p: bytes(rng.getrandbits(8) for _ in range(PAGE)) for p in writes}
        # Incremental checksum: old pages out, new in; dropped pages out.
        for p in writes:
            if p <= n.commit:
                n.acc ^= page_checksum(p, n.page(p)) & ~FLAG
            n.acc ^= page_checksum(p, new_pages[p]) & ~FLAG
            n.pages[p] = new_pages[p]
        for p in range(commit + 1, n.commit + 1):
            n.acc ^= page_checksum(p, n.page(p)) & ~FLAG
            n.pages.pop(p, None)
        n.commit = commit
        n.txid = self.txid + 1
        pre = 0 if self.txid == 0 else self.checksum()
        hdr = b"LTX1" + struct.pack(">IIIQQqQqqIIQ", 0, PAGE, commit, n.txid, n.txid,
                                    int(time.time() * 1000), pre, 0, 0, 0, 0, 0) + b"\0" * 20
        assert len(hdr) == 100
        body = bytearray(hdr)
        for p in writes:
            body += struct.pack(">I", p) + new_pages[p]
        body += b"\0\0\0\0" + struct.pack(">Q", n.checksum())
        body += struct.pack(">Q", FLAG | crc64(bytes(body)))
        return bytes(body), n

    def clone(self):
        m = Model()
        m.pages = dict(self.pages)
        m.commit, m.txid, m.acc = self.commit, self.txid, self.acc
        return m


def parse_snapshot(data):
    """Decodes a v1 uncompressed snapshot; returns (txid, commit, pages, post)."""
    assert data[:4] == b"LTX1", "bad magic"
    flags, ps, commit, mn, mx = struct.unpack(">IIIQQ", data[4:32])
    assert flags == 0 and ps == PAGE and mn == 1, (flags, ps, mn)
    off, pages = 100, {}
    while True:
        (pgno,) = struct.unpack(">I", data[off:off + 4])
        off += 4
        if pgno == 0:
            break
        pages[pgno] = data[off:off + ps]
        off += ps
    post, fchk = struct.unpack(">QQ", data[off:off + 16])
    assert off + 16 == len(data), "trailing bytes"
    assert fchk == FLAG | crc64(data[:-8]), "file checksum mismatch"
    acc = 0
    for p, pg in pages.items():
        acc ^= page_checksum(p, pg) & ~FLAG
    assert post == FLAG | acc, "post-apply checksum does not match the pages"
    assert sorted(pages) == list(range(1, commit + 1)), "snapshot is not complete"
    return mx, commit, pages, post


@unittest.skipUnless(os.environ.get("LITEVFS_MOCKCLOUD_BIN"), "LITEVFS_MOCKCLOUD_BIN not set")
class MockcloudCrashTest(unittest.TestCase):
    TOKEN = "crash-token"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mockcloud-crash-")
        self.data = os.path.join(self.tmp, "data")
        self.proc = None

    def tearDown(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kill(self):
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc.stdout.close()
            self.proc = None

    def start(self):
        self.errlog = open(os.path.join(self.tmp, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [os.environ["LITEVFS_MOCKCLOUD_BIN"], "--data", self.data, "--listen", "127.0.0.1:0",
             "--token", self.TOKEN, "--log-level", "error", "--retain-txids", "5", "--retention", "0",
             "--compact-interval", "100ms"],
            stdout=subprocess.PIPE, stderr=self.errlog)
        self.errlog.close()
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on "):
            self.proc.wait(5)
            with open(os.path.join(self.tmp, "server.log"), "rb") as f:
                self.fail("server did not start: %r %s" % (line, f.read().decode(errors="replace")[-2000:]))
        self.port = int(line.strip().rsplit(":", 1)[1])

    def request(self, method, path, body=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers={"Authorization": self.TOKEN})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def check_db(self, name, model, inflight):
        """Reconciles the model with the server after a restart; returns the adopted model."""
        status, body = self.request("GET", "/pos")
        self.assertEqual(status, 200)
        pos = json.loads(body).get(name)
        if model.txid == 0:
            if pos is None:
                return model
        self.assertIsNotNone(pos, "acknowledged database %s vanished" % name)
        txid, chk = int(pos["txid"], 16), int(pos["postApplyChecksum"], 16)
        if txid == model.txid:
            self.assertEqual(chk, model.checksum(), "%s: checksum differs at txid %d" % (name, txid))
        else:
            self.assertIsNotNone(inflight, "%s: server at txid %d, acknowledged %d, nothing in flight"
                                 % (name, txid, model.txid))
            self.assertEqual(txid, inflight.txid, "%s: server at %d, acknowledged %d" % (name, txid, model.txid))
            self.assertEqual(chk, inflight.checksum())
            model = inflight  # it was durable before the kill; the reply just never arrived
            self.adopted += 1
        status, snap = self.request("GET", "/db/snapshot?db=" + name)
        self.assertEqual(status, 200)
        sx, commit, pages, post = parse_snapshot(snap)
        self.assertEqual((sx, commit, post), (model.txid, model.commit, model.checksum()))
        for p in range(1, commit + 1):
            self.assertEqual(pages[p], model.page(p), "%s: page %d differs" % (name, p))
        return model

    def test_kill_during_uploads(self):
        rng = random.Random(int(os.environ.get("MOCKCLOUD_CRASH_SEED", "12345")))
        names = ["db0", "db1", "db2"]
        models = {n: Model() for n in names}
        deadline = time.time() + float(os.environ.get("MOCKCLOUD_CRASH_SECONDS", "20"))
        iterations = acked_total = 0
        self.adopted = 0
        while time.time() < deadline and iterations < 60:
            iterations += 1
            self.start()
            inflight = {}
            for n in names:
                models[n] = self.check_db(n, models[n], None)
            lock = threading.Lock()
            stop = threading.Event()

            def writer(name, seed):
                nonlocal acked_total
                wrng = random.Random(seed)
                while not stop.is_set():
                    with lock:
                        body, nxt = models[name].next_tx(wrng)
                        inflight[name] = nxt
                    try:
                        status, resp = self.request("POST", "/db/tx?db=" + name, body, timeout=5)
                    except OSError:
                        return  # killed mid-request: outcome unknown, reconciled after restart
                    with lock:
                        if status != 200:
                            inflight.pop(name, None)
                            self.fail_msg = "%s: upload got %d %r" % (name, status, resp)
                            return
                        got = json.loads(resp)["pos"]
                        if int(got["txid"], 16) != nxt.txid or int(got["postApplyChecksum"], 16) != nxt.checksum():
                            self.fail_msg = "%s: acknowledged the wrong position %r" % (name, got)
                            return
                        models[name] = nxt
                        inflight.pop(name, None)
                        acked_total += 1

            self.fail_msg = None
            threads = [threading.Thread(target=writer, args=(n, rng.random())) for n in names]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.02, 0.4))
            self.kill()
            stop.set()
            for t in threads:
                t.join(10)
            self.assertIsNone(self.fail_msg, self.fail_msg)
            # Restart and reconcile: acknowledged state exactly, in-flight all-or-nothing.
            self.start()
            for n in names:
                models[n] = self.check_db(n, models[n], inflight.get(n))
            self.kill()
        self.assertGreater(iterations, 5)
        self.assertGreater(acked_total, 20, "too few uploads were acknowledged to mean anything")
        print("\nmockcloud crash test: %d kills, %d acknowledged uploads, %d unacknowledged but durable"
              % (iterations, acked_total, self.adopted))


if __name__ == "__main__":
    unittest.main()
