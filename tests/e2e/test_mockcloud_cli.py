"""litevfs-mockcloud's command line: --help and the man page document the same flags, bad
flags fail with a clear message, and the binary serves, logs and stops on SIGTERM."""

import json
import os
import re
import signal
import subprocess
import tempfile
import shutil
import unittest
import urllib.request

BIN = os.environ.get("LITEVFS_MOCKCLOUD_BIN")
MAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "man", "litevfs-mockcloud.1")


@unittest.skipUnless(BIN, "LITEVFS_MOCKCLOUD_BIN not set")
class MockcloudCliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mockcloud-cli-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_bin(self, *args, timeout=10):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)

    def test_help_matches_man_page(self):
        r = self.run_bin("--help")
        self.assertEqual(r.returncode, 0)
        help_flags = set(re.findall(r"--([a-z][a-z-]*)", r.stdout))
        with open(MAN) as f:
            man = f.read()
        options = man.split(".SH OPTIONS", 1)[1].split(".SH ", 1)[0]
        man_flags = set(re.findall(r"^\.BI? \\-\\-([a-z][a-z\\-]*)", options, re.M))
        man_flags = {m.replace("\\-", "-") for m in man_flags}
        man_flags |= {"help"} if "\\-\\-help" in options else set()
        self.assertEqual(help_flags, man_flags)

    def test_bad_flags_fail_with_a_message(self):
        r = self.run_bin()
        self.assertEqual(r.returncode, 2)
        self.assertIn("--data", r.stderr + r.stdout)
        for args, needle in [(["--listen", "nope"], "HOST:PORT"), (["--retention", "soon"], "retention"),
                             (["--faults", "error=7"], "probability"), (["--log-level", "loud"], "log level"),
                             (["--listen", "0.0.0.0:0"], "without authentication"),
                             (["--tokens", "/nonexistent/tokens"], "tokens")]:
            r = self.run_bin("--data", os.path.join(self.tmp, "d"), *args)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn(needle, r.stderr, args)

    def test_serves_logs_and_stops_on_sigterm(self):
        p = subprocess.Popen([BIN, "--data", os.path.join(self.tmp, "d"), "--listen", "127.0.0.1:0",
                              "--token", "tok"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            self.assertTrue(line.startswith("listening on 127.0.0.1:"), line)
            port = int(line.strip().rsplit(":", 1)[1])
            req = urllib.request.Request("http://127.0.0.1:%d/info" % port, headers={"Authorization": "tok"})
            info = json.loads(urllib.request.urlopen(req, timeout=5).read())
            self.assertIn("pages-binary", info["features"])
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)
            err = p.stderr.read()
            self.assertIn("GET /info 200", err)
            self.assertNotIn("tok\n", err)
            self.assertNotIn(" tok ", err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()


if __name__ == "__main__":
    unittest.main()
