"""Runs the README's five-minute tour verbatim (every ```sh block of that section, in order)
in a scratch directory whose build/release is the build under test, and checks what a
reader would see."""
import os
import re
import sqlite3
import subprocess

from harness import LITEVFS, MOCKCLOUD, MODULE, TempDirTest, need

SOURCE = os.environ.get("LITEVFS_SOURCE_DIR", "")
BUILD = os.environ.get("LITEVFS_BUILD_DIR", "")


def tour_blocks(readme):
    section = readme.split("## Five-minute tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


class ReadmeTourTest(TempDirTest):
    def test_tour_runs_verbatim(self):
        for path, what in ((LITEVFS, "litevfs"), (MOCKCLOUD, "litevfs-mockcloud"),
                           (MODULE, "liblitevfs.so"), (BUILD, "build dir")):
            need(path, what)
        with open(os.path.join(SOURCE, "README.md")) as f:
            blocks = tour_blocks(f.read())
        self.assertGreaterEqual(len(blocks), 4, "the tour lost its code blocks")
        os.makedirs(os.path.join(self.tmp, "build"))
        os.symlink(BUILD, os.path.join(self.tmp, "build", "release"))
        # Scaffolding around the verbatim blocks: fail fast, and never leave the server behind.
        script = "set -euo pipefail\ntrap 'kill $MOCK 2>/dev/null || true' EXIT\n" + "\n".join(blocks)
        # PORT=0: the server picks its port (the tour reads it from "listening on").
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp, "PORT": "0",
               "LANG": "C.UTF-8"}
        p = subprocess.run(["bash", "-c", script], cwd=self.tmp, env=env, capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(p.returncode, 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        out = p.stdout
        self.assertIn("hello", out)
        self.assertIn("[('hello',), ('world',), ('written through litevfs',)]", out)
        self.assertRegex(out, r"(?m)^3$", "the sqlite3 shell's count(*)")
        con = sqlite3.connect(os.path.join(self.tmp, "app-copy.db"))
        self.assertEqual(con.execute("SELECT body FROM notes ORDER BY id").fetchall(),
                         [("hello",), ("world",), ("written through litevfs",)])


if __name__ == "__main__":
    import unittest
    unittest.main()
