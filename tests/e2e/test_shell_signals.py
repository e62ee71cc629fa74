"""`litevfs shell DB --lease` ended by SIGTERM, SIGHUP or Ctrl-C (SIGINT, input not a
terminal) releases the write lease before it dies of the signal, so another client can
take the lease at once instead of after the lease period (30 s). The interactive case is in
test_shell.py (tmux)."""
import os
import signal
import subprocess
import time
import unittest

from harness import LITEVFS, need, run_cli, start_class_cloud, wait_cpu_busy

WAIT_S = 10  # far below the 30 s lease: a lease that is merely left to expire fails


class ShellSignalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_class_cloud(cls, "litevfs-shell-sig-", rows=200)
        cls.serial = 0

    def fresh_db(self):
        type(self).serial += 1
        name = "sig%d" % self.serial
        run_cli(["import", self.src, name], self.env)
        return name

    def spawn(self, db, *args):
        need(LITEVFS, "litevfs")
        p = subprocess.Popen([LITEVFS, "shell", db, "--lease", "--mode", "csv", "--no-headers",
                              *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env.vars, text=True)
        self.addCleanup(self.reap, p)
        return p

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=WAIT_S)  # waits, and closes the pipes

    def lease_status(self, db):
        return run_cli(["lease", "status", db], self.env).stdout

    def wait_held(self, db):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if "held" in self.lease_status(db):
                return
            time.sleep(0.1)
        self.fail("the shell never took the lease on " + db)

    def assert_dies_and_frees(self, p, db, sig):
        p.send_signal(sig)
        p.wait(timeout=WAIT_S)
        self.assertEqual(p.returncode, -sig, p.stderr.read())
        started = time.monotonic()
        q = run_cli(["shell", db, "--lease", "-c", "INSERT INTO tags VALUES (1, 'after')"],
                    self.env, check=False)
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertLess(time.monotonic() - started, WAIT_S)

    def waiting_for_input(self, sig):
        db = self.fresh_db()
        p = self.spawn(db)
        p.stdin.write("SELECT 41 + 1;\n")
        p.stdin.flush()
        self.assertEqual(p.stdout.readline(), "42\n")  # the lease is held from here on
        self.assertIn("held", self.lease_status(db))
        self.assert_dies_and_frees(p, db, sig)

    def test_sigterm_while_waiting_for_input_releases_the_lease(self):
        self.waiting_for_input(signal.SIGTERM)

    def test_sighup_while_waiting_for_input_releases_the_lease(self):
        self.waiting_for_input(signal.SIGHUP)

    def test_ctrl_c_on_piped_input_releases_the_lease(self):
        self.waiting_for_input(signal.SIGINT)

    def test_a_closed_output_pipe_releases_the_lease(self):
        db = self.fresh_db()
        endless = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT i FROM c"
        p = self.spawn(db, "-c", endless)
        self.assertEqual(p.stdout.readline(), "1\n")
        p.stdout.close()  # like `| head -1`: the next writes get SIGPIPE
        p.wait(timeout=WAIT_S)
        self.assertEqual(p.returncode, -signal.SIGPIPE, p.stderr.read())
        self.assertIn("free", self.lease_status(db))

    def test_sigterm_interrupts_a_running_query_and_rolls_back(self):
        db = self.fresh_db()
        forever = ("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
                   "SELECT count(*) FROM c")
        p = self.spawn(db, "-c", "BEGIN", "-c", "DELETE FROM tags", "-c", forever)
        self.wait_held(db)
        wait_cpu_busy(p.pid)  # into the endless query
        self.assert_dies_and_frees(p, db, signal.SIGTERM)
        q = run_cli(["shell", db, "--mode", "csv", "--no-headers", "-c",
                     "SELECT count(*) FROM tags WHERE tag <> 'after'"], self.env)
        self.assertEqual(q.stdout, "66\n")  # the open transaction's DELETE was rolled back


if __name__ == "__main__":
    unittest.main()
