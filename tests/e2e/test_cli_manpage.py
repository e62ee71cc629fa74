"""man/litevfs.1 documents every subcommand and every long flag that `--help` shows."""
import os
import re
import unittest

from cli_util import run

SOURCE_DIR = os.environ.get("LITEVFS_SOURCE_DIR",
                            os.path.join(os.path.dirname(__file__), "..", ".."))


def subcommands(help_text):
    """Names listed under "Subcommands:" in CLI11's help."""
    names, inside = [], False
    for line in help_text.splitlines():
        if line.strip() == "Subcommands:":
            inside = True
            continue
        if inside:
            if not line.startswith("  ") or not line.strip():
                break
            names.append(line.split()[0])
    return names


def long_flags(help_text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text))


class ManPageTest(unittest.TestCase):
    def setUp(self):
        path = os.path.join(SOURCE_DIR, "man", "litevfs.1")
        with open(path, encoding="utf-8") as f:
            # groff writes a literal hyphen as "\-"
            self.man = f.read().replace("\\-", "-").replace("\\fB", "").replace("\\fR", "")

    def walk(self, path=()):
        text = run(list(path) + ["--help"], check=0).stdout
        yield path, text
        for name in subcommands(text):
            yield from self.walk(path + (name,))

    def test_every_subcommand_and_flag_is_documented(self):
        seen = 0
        for path, text in self.walk():
            seen += 1
            if path:
                with self.subTest(command=" ".join(path)):
                    self.assertIn(" ".join(path[-1:]), self.man)
            for flag in long_flags(text):
                with self.subTest(command=" ".join(path), flag=flag):
                    self.assertIn(flag, self.man, "%s %s is not in man/litevfs.1" % (" ".join(path), flag))
        # top level, 9 commands + lease (4) + ltx (6)
        self.assertGreaterEqual(seen, 20)


if __name__ == "__main__":
    unittest.main()
