"""End-to-end tests of `litevfs shell`: readable errors and exit codes, .timer, --json, no
colour when piped (against a real litevfs-mockcloud), and the interactive shell driven
through tmux: Tab completion of tables, columns, keywords and dot-commands, red errors,
bold headers and the history file. The tmux tests skip when tmux is not installed."""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import run_cli, start_class_cloud, wait_cpu_busy

ESC = "\x1b["


class ShellTestBase(unittest.TestCase):
    DB = "shelldb"

    @classmethod
    def setUpClass(cls):
        start_class_cloud(cls, "litevfs-shell-", rows=500)
        cls.env.vars.pop("NO_COLOR", None)
        run_cli(["import", cls.src, cls.DB], cls.env)


class ShellPipedTest(ShellTestBase):
    def shell(self, *args, input=None, env=None):
        return run_cli(["shell", self.DB, *args], env or self.env, check=False, input=input)

    def test_missing_table_is_a_readable_error_and_exit_1(self):
        p = self.shell("-c", "SELECT * FROM nope")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stderr, "Error: no such table: nope\n")
        self.assertEqual(p.stdout, "")

    def test_piped_input_keeps_going_after_an_error_but_exits_1(self):
        p = self.shell("--mode", "csv", "--no-headers",
                       input="SELECT 1;\nSELECT * FROM nope;\nSELECT count(*) FROM items;\n")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "1\n500\n")
        self.assertIn("Error: no such table: nope", p.stderr)

    def test_bail_stops_at_the_first_error(self):
        p = self.shell("--bail", "--mode", "csv", "--no-headers",
                       input="SELECT 1;\nSELECT nocol FROM items;\nSELECT 2;\n")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "1\n")
        self.assertEqual(p.stderr, "Error: no such column: nocol\n")

    def test_constraint_error_names_the_extended_code(self):
        p = self.shell("--lease", "-c", "INSERT INTO items(id, k) VALUES (1, 'dup')")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(
            p.stderr, "Error: UNIQUE constraint failed: items.id (SQLITE_CONSTRAINT_PRIMARYKEY)\n")
        p = self.shell("--lease", "-c", "INSERT INTO items(id, k) VALUES (100000, NULL)")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr,
                         "Error: NOT NULL constraint failed: items.k (SQLITE_CONSTRAINT_NOTNULL)\n")

    def test_write_without_lease_explains_why(self):
        # (The VFS also logs the failure at its default level, error, on stderr.) Write mode
        # lease: writes only under --lease (the default, auto, takes the lease itself).
        p = self.shell("-c", "INSERT INTO items(k) VALUES ('x')",
                       env=dict(self.env.vars, LITEVFS_WRITE_MODE="lease"))
        self.assertEqual(p.returncode, 1)
        errors = [l for l in p.stderr.splitlines() if l.startswith("Error:")]
        self.assertEqual(len(errors), 1, p.stderr)
        self.assertRegex(errors[0], r"^Error: attempt to write a readonly database "
                                    r"\(SQLITE_READONLY\): litevfs: no write lease on shelldb")

    def test_unknown_dot_command_and_bad_usage(self):
        p = self.shell("-c", ".frobnicate")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "Error: unknown command '.frobnicate' (try .help)\n")
        p = self.shell("-c", ".timer maybe")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "Error: usage: .timer on|off\n")

    def test_timer_prints_one_line_per_statement(self):
        p = self.shell("--mode", "csv", "--no-headers", "-c", ".timer on",
                       "-c", "SELECT count(*) FROM items; SELECT max(id) FROM items",
                       "-c", ".timer off", "-c", "SELECT 7")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        timing = re.compile(r"^Run Time: real \d+\.\d{3} user \d+\.\d{6} sys \d+\.\d{6}$")
        self.assertEqual(len(lines), 5, p.stdout)
        self.assertEqual(lines[0], "500")
        self.assertRegex(lines[1], timing)
        self.assertEqual(lines[2], "500")
        self.assertRegex(lines[3], timing)
        self.assertEqual(lines[4], "7")  # .timer off: no more timing lines

    def test_json_flag(self):
        p = self.shell("--json", "-c", "SELECT id, k FROM items WHERE id <= 2 ORDER BY id")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout),
                         [{"id": 1, "k": "key-00000419"}, {"id": 2, "k": "key-00000338"}])

    def test_no_colour_when_piped(self):
        p = self.shell("-c", "SELECT 1 AS one", "-c", "SELECT * FROM nope")
        self.assertEqual(p.returncode, 1)
        self.assertIn("| one |", p.stdout)
        self.assertNotIn(ESC, p.stdout)
        self.assertNotIn(ESC, p.stderr)
        self.assertEqual(p.stderr, "Error: no such table: nope\n")


def tmux_bin():
    path = shutil.which("tmux")
    if not path:
        raise unittest.SkipTest("tmux is not installed")
    return path


class ShellTmuxTest(ShellTestBase):
    """The interactive shell in a tmux pane: keys in with send-keys, screen out with
    capture-pane."""

    def setUp(self):
        self.tmux = tmux_bin()
        self.work = tempfile.mkdtemp(prefix="tmux-", dir=self.tmp)
        self.sock = os.path.join(self.work, "tmux.sock")
        self.history = os.path.join(self.work, "history")
        self.addCleanup(self.kill_server)

    def kill_server(self):
        subprocess.run([self.tmux, "-S", self.sock, "kill-server"], capture_output=True, timeout=10)

    def start(self, extra_env=None, args=()):
        env = dict(self.env.vars)
        env.update({"LITEVFS_HISTORY": self.history, "HOME": self.work})
        env.pop("NO_COLOR", None)
        env.update(extra_env or {})
        exports = "".join("export %s=%s\n" % (k, shlex.quote(v)) for k, v in env.items()
                          if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k))
        script = os.path.join(self.work, "run.sh")
        with open(script, "w") as f:
            f.write(exports)
            f.write("exec %s shell %s %s\n" % (shlex.quote(os.environ["LITEVFS_BIN"]), self.DB,
                                               " ".join(shlex.quote(a) for a in args)))
        subprocess.run([self.tmux, "-S", self.sock, "-f", "/dev/null", "new-session", "-d",
                        "-x", "160", "-y", "50", "sh " + shlex.quote(script)],
                       check=True, timeout=10, env={"PATH": os.environ.get("PATH", ""),
                                                    "TERM": "xterm", "LC_ALL": "C.UTF-8"})
        self.wait_for("litevfs>")

    def keys(self, *keys):
        subprocess.run([self.tmux, "-S", self.sock, "send-keys", "-t", "0", *keys], check=True,
                       timeout=10)

    def type(self, text):
        # tmux reads an argument ending in ';' as a command separator: send ';' as hex.
        for i, part in enumerate(text.split(";")):
            if i:
                subprocess.run([self.tmux, "-S", self.sock, "send-keys", "-t", "0", "-H", "3b"],
                               check=True, timeout=10)
            if part:
                subprocess.run([self.tmux, "-S", self.sock, "send-keys", "-t", "0", "-l", part],
                               check=True, timeout=10)

    def screen(self, escapes=False):
        args = [self.tmux, "-S", self.sock, "capture-pane", "-p", "-t", "0"]
        if escapes:
            args.append("-e")
        return subprocess.run(args, check=True, capture_output=True, text=True,
                              timeout=10).stdout

    def wait_for(self, pattern, escapes=False, timeout=20):
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen(escapes)
            if re.search(pattern, text):
                return text
            time.sleep(0.05)
        self.fail("%r never appeared on the screen:\n%s" % (pattern, text))

    def test_tab_completion_query_history_and_colours(self):
        if not os.environ.get("LITEVFS_BIN"):
            self.skipTest("LITEVFS_BIN is not set")
        self.start()
        # A table name.
        self.type("SELECT count(*) FROM ite")
        self.keys("Tab")
        self.wait_for(r"(?m)litevfs> SELECT count\(\*\) FROM items$")
        self.type(";")  # after the completion's space
        self.wait_for(r"(?m)litevfs> SELECT count\(\*\) FROM items ;$")
        self.keys("Enter")
        screen = self.wait_for(r"\|\s+500 \|")
        self.assertIn("count(*)", screen)
        # A column name and a keyword (lower-case prefix, lower-case keyword).
        self.type("select paylo")
        self.keys("Tab")
        self.wait_for(r"(?m)litevfs> select payload$", timeout=10)
        self.type("fro")
        self.keys("Tab")
        self.wait_for(r"(?m)litevfs> select payload from$", timeout=10)
        self.keys("C-u")
        # A dot-command.
        self.type(".tabl")
        self.keys("Tab")
        self.wait_for(r"(?m)litevfs> \.tables$", timeout=10)
        self.keys("Enter")
        self.wait_for(r"(?m)^items\s*$")
        # An error: readable, in red on the terminal; headers bold.
        self.type("SELECT * FROM nope;")
        self.keys("Enter")
        coloured = self.wait_for(r"Error:.*no such table: nope", escapes=True)
        self.assertRegex(coloured, r"\x1b\[[0-9;]*31m")
        self.type("SELECT 1 AS one;")
        self.keys("Enter")
        coloured = self.wait_for(r"\x1b\[1m\s*one", escapes=True)
        # .quit saves the history.
        self.type(".quit")
        self.keys("Enter")
        # The file can exist before its lines are in it (created, then written): wait for them.
        deadline, hist = time.monotonic() + 10, ""
        while time.monotonic() < deadline and "SELECT count(*) FROM items" not in hist:
            if os.path.exists(self.history):
                with open(self.history, errors="replace") as f:
                    hist = f.read().replace("\\040", " ")
            time.sleep(0.05)
        self.assertIn("SELECT count(*) FROM items", hist)

    def pane_pid(self):
        return int(subprocess.run([self.tmux, "-S", self.sock, "display-message", "-p", "-t", "0",
                                   "#{pane_pid}"], check=True, capture_output=True, text=True,
                                  timeout=10).stdout)

    def lease_status(self):
        return run_cli(["lease", "status", self.DB], self.env).stdout

    def test_ctrl_c_at_the_prompt_drops_the_pending_statement(self):
        if not os.environ.get("LITEVFS_BIN"):
            self.skipTest("LITEVFS_BIN is not set")
        self.start(args=["--lease"])
        self.type("DELETE FROM tags")
        self.keys("Enter")
        self.wait_for(r"(?m)^   \.\.\.>\s*$")
        self.keys("C-c")  # sqlite3: the pending statement is dropped, the shell stays
        self.wait_for(r"(?m)^   \.\.\.> \^C\nlitevfs>\s*$")
        self.type("SELECT 1 +")
        # (Ctrl-C makes the terminal flush input not yet read: wait until the shell has it.)
        self.wait_for(r"(?m)^litevfs> SELECT 1 \+\s*$")
        self.keys("C-c")
        self.wait_for(r"(?m)^litevfs> SELECT 1 \+\^C\nlitevfs>\s*$")
        self.type("SELECT count(*) FROM tags;")
        self.keys("Enter")
        screen = self.wait_for(r"\|\s+166 \|")
        self.assertNotIn("Error", screen)
        # During a statement Ctrl-C interrupts it, and the shell goes on.
        self.type("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
                  "SELECT count(*) FROM c;")
        self.keys("Enter")
        wait_cpu_busy(self.pane_pid())  # the endless query runs
        self.keys("C-c")
        self.wait_for(r"Error: interrupted \(SQLITE_INTERRUPT\)\nlitevfs>\s*$")
        self.assertIn("held", self.lease_status())  # still running, with its lease
        p = run_cli(["shell", self.DB, "--mode", "csv", "--no-headers", "-c",
                     "SELECT count(*) FROM tags"], self.env)
        self.assertEqual(p.stdout, "166\n")
        # SIGTERM releases the lease before the shell ends: another client can take it now.
        os.kill(self.pane_pid(), signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "held" in self.lease_status():
            time.sleep(0.1)
        self.assertIn("free", self.lease_status())

    def test_typed_utf8_characters_reach_sqlite(self):
        if not os.environ.get("LITEVFS_BIN"):
            self.skipTest("LITEVFS_BIN is not set")
        self.start({"LC_ALL": "C.UTF-8"})
        self.type("SELECT 'caf\u00e9 \u00fcber' AS w, length('\u00e9') AS n;")
        self.keys("Enter")
        self.wait_for(r"\| caf\u00e9 \u00fcber \|\s+1 \|")
        self.keys("C-d")

    def test_history_is_loaded_and_no_color_is_respected(self):
        if not os.environ.get("LITEVFS_BIN"):
            self.skipTest("LITEVFS_BIN is not set")
        with open(self.history, "w") as f:
            f.write("_HiStOrY_V2_\nSELECT\\040max(id)\\040FROM\\040items;\n")
        self.start({"NO_COLOR": "1"})
        self.keys("Up")
        self.wait_for(r"litevfs> SELECT max\(id\) FROM items;")
        self.keys("Enter")
        self.wait_for(r"\|\s+500 \|")
        self.type("SELECT * FROM nope;")
        self.keys("Enter")
        screen = self.wait_for(r"Error: no such table: nope", escapes=True)
        self.assertNotRegex(screen, r"\x1b\[[0-9;]*31m")
        self.assertNotIn("\x1b[1m", screen)
        self.keys("C-d")


if __name__ == "__main__":
    unittest.main()
