"""litevfs-mockcloud's connection flags and secrets, through the real binary (issue 13):
--token-file / --admin-token-file keep tokens off the command line and out of the log,
--header-timeout / --idle-timeout close slow and idle connections, an empty POST needs no
Content-Length (what `curl -X POST` sends), and lease ids never reach the request log."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

BIN = os.environ.get("LITEVFS_MOCKCLOUD_BIN")


def raw_exchange(port, data, wait_for=b"}", timeout=5):
    """Sends raw bytes, returns what came back until wait_for or EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        while wait_for not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return got


@unittest.skipUnless(BIN, "LITEVFS_MOCKCLOUD_BIN not set")
class MockcloudConnTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mockcloud-conn-")
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, *args):
        self.proc = subprocess.Popen([BIN, "--data", os.path.join(self.tmp, "d"), "--listen", "127.0.0.1:0",
                                      *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on 127.0.0.1:"):
            self.proc.kill()
            self.fail(f"no 'listening on' line: {line!r} {self.proc.stderr.read()}")
        return int(line.strip().rsplit(":", 1)[1])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(10), 0)
        return self.proc.stderr.read()

    def request(self, port, method, path, token, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                     headers={"Authorization": token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()

    def test_token_files_keep_tokens_off_the_command_line_and_out_of_the_log(self):
        tok = self.write("token", "file-token-1234\n")
        adm = self.write("admin", "admin-token-5678\n")
        port = self.start("--token-file", tok, "--admin-token-file", adm)
        with open(f"/proc/{self.proc.pid}/cmdline", "rb") as f:
            cmdline = f.read()
        self.assertNotIn(b"file-token-1234", cmdline)
        self.assertNotIn(b"admin-token-5678", cmdline)
        self.assertEqual(self.request(port, "GET", "/info", "file-token-1234")[0], 200)
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.request(port, "GET", "/info", "wrong")
        self.assertEqual(e.exception.code, 401)
        status, body = self.request(port, "PUT", "/admin/faults", "admin-token-5678", b"")
        self.assertEqual(status, 200)
        err = self.stop()
        self.assertNotIn("file-token-1234", err)
        self.assertNotIn("admin-token-5678", err)

    def test_bad_token_files_fail_naming_the_file(self):
        for text, needle in [("", "is empty"), ("a\nb\n", "more than one line")]:
            path = self.write("t", text)
            r = subprocess.run([BIN, "--data", os.path.join(self.tmp, "d"), "--token-file", path],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn(path, r.stderr)
            self.assertIn(needle, r.stderr)
        r = subprocess.run([BIN, "--data", os.path.join(self.tmp, "d"), "--token", "x", "--token-file", path],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([BIN, "--data", os.path.join(self.tmp, "d"), "--header-timeout", "soon"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--header-timeout", r.stderr)

    def test_deadlines_close_slow_and_idle_connections(self):
        port = self.start("--token", "t", "--header-timeout", "300ms", "--idle-timeout", "500ms")
        slow = socket.create_connection(("127.0.0.1", port), timeout=5)
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        t0 = time.monotonic()
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed = None
        for _ in range(30):  # a header line every 100 ms, never the blank line
            time.sleep(0.1)
            try:
                slow.sendall(b"X-A: 1\r\n")
            except OSError:
                closed = time.monotonic() - t0
                break
        if closed is None:
            slow.settimeout(0.5)
            try:
                closed = time.monotonic() - t0 if slow.recv(1) == b"" else None
            except OSError:
                closed = time.monotonic() - t0
        self.assertIsNotNone(closed, "slowloris connection was not closed")
        self.assertLess(closed, 2.0)
        self.assertEqual(idle.recv(1), b"")  # closed by the idle deadline
        self.assertGreater(time.monotonic() - t0, 0.45)
        slow.close()
        idle.close()
        self.stop()

    def test_empty_post_and_lease_ids_not_logged(self):
        port = self.start("--token", "t")
        got = raw_exchange(port, b"POST /lease?db=db&duration=5000 HTTP/1.1\r\nHost: x\r\n"
                                 b"Authorization: t\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got)
        lease = json.loads(got.split(b"\r\n\r\n", 1)[1])["id"]
        self.assertEqual(self.request(port, "DELETE", f"/lease?db=db&id={lease}", "t")[0], 204)
        got = raw_exchange(port, b"POST /db/tx?db=db HTTP/1.1\r\nHost: x\r\nAuthorization: t\r\n"
                                 b"Content-Length: 1e20\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400"), got)
        err = self.stop()
        self.assertIn("DELETE /lease?db=db&id=REDACTED 204", err)
        self.assertNotIn(lease, err)


if __name__ == "__main__":
    unittest.main()
