"""The README's Python retry snippet (Writes without ceremony), run as written: three
processes (write mode auto, the default, plain SQL) each make 20 read-then-write transfers
with it on one database; the total must be unchanged (a lost debit or credit changes it).
The Go snippet beside it is not run here (it needs a Go module of its own)."""
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import unittest

from harness import MODULE, MOCKCLOUD, MockCloud, Env, need

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "..", "README.md")
PROCS, TRANSFERS = 3, 20

CHILD = """
import random, sqlite3, sys, time
boot = sqlite3.connect(":memory:")
boot.enable_load_extension(True)
boot.load_extension(sys.argv[1])
boot.close()
{snippet}
con = sqlite3.connect("file:bank?vfs=litevfs", uri=True, timeout=5)
rng = random.Random(int(sys.argv[2]))
for _ in range({transfers}):
    a, b = rng.sample(range(1, 21), 2)
    transfer(con, a, b, rng.randint(1, 50))
con.close()
"""


def readme_snippet():
    text = open(README).read()
    m = re.search(r"```python\n(  # Retry a read-then-write transaction.*?)```", text, re.S)
    if not m:
        raise AssertionError("README: the Python retry snippet (Writes without ceremony) is gone")
    return textwrap.dedent(m.group(1))


class ReadmeWriteModesTest(unittest.TestCase):
    def test_python_retry_snippet_keeps_every_transfer(self):
        module = need(MODULE, "liblitevfs.so")
        need(MOCKCLOUD, "litevfs-mockcloud")
        tmp = tempfile.mkdtemp(prefix="litevfs-readme-wm-")
        with MockCloud(os.path.join(tmp, "data")) as cloud:
            env = Env(cloud, os.path.join(tmp, "cache-setup")).vars
            env.pop("LITEVFS_WRITE_MODE", None)  # the default: auto
            setup = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "write_modes_workload.py"),
                                    "setup", "--module", module], env=env, capture_output=True,
                                   text=True, timeout=120)
            self.assertEqual(setup.returncode, 0, setup.stderr)
            code = CHILD.format(snippet=readme_snippet(), transfers=TRANSFERS)
            procs = []
            for i in range(PROCS):
                e = Env(cloud, os.path.join(tmp, f"cache-{i}")).vars
                e.pop("LITEVFS_WRITE_MODE", None)
                procs.append(subprocess.Popen(["/usr/bin/python3", "-c", code, module, str(i)], env=e,
                                              stderr=subprocess.PIPE, text=True))
            for p in procs:
                _, err = p.communicate(timeout=300)
                self.assertEqual(p.returncode, 0, err[-3000:])
            check = ("import sqlite3,sys\nb=sqlite3.connect(':memory:');b.enable_load_extension(True);"
                     "b.load_extension(sys.argv[1])\nc=sqlite3.connect('file:bank?vfs=litevfs',uri=True)\n"
                     "print(c.execute('SELECT sum(balance), count(*) FROM accounts').fetchone())")
            env = Env(cloud, os.path.join(tmp, "cache-check")).vars
            out = subprocess.run(["/usr/bin/python3", "-c", check, module], env=env, capture_output=True,
                                 text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.strip(), "(20000, 20)")


if __name__ == "__main__":
    unittest.main()
