"""`cmake --install` into a temporary prefix puts the binaries, the module, the man pages, a
pkg-config file and a CMake package in place; a tiny C program built against it loads the
VFS and queries a database on a real litevfs-mockcloud; `man` renders the pages."""
import os
import shutil
import sqlite3
import subprocess

from harness import Env, MockCloud, TempDirTest, make_db, need

BUILD = os.environ.get("LITEVFS_BUILD_DIR", "")
FIXTURES = os.environ.get("LITEVFS_FIXTURES", "")


def sh(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.stdout


class InstallTest(TempDirTest):
    def setUp(self):
        super().setUp()
        need(BUILD, "build directory")
        self.prefix = os.path.join(self.tmp, "prefix")
        sh(["cmake", "--install", BUILD, "--prefix", self.prefix])
        libdirs = [d for d in ("lib", "lib64", "lib/x86_64-linux-gnu")
                   if os.path.exists(os.path.join(self.prefix, d, "liblitevfs.so"))]
        self.assertTrue(libdirs, "liblitevfs.so not installed")
        self.libdir = os.path.join(self.prefix, libdirs[0])

    def test_files_in_place(self):
        for rel in ("bin/litevfs", "bin/litevfs-mockcloud", "share/man/man1/litevfs.1",
                    "share/man/man1/litevfs-mockcloud.1", "share/man/man7/litevfs.7"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        self.assertTrue(os.path.exists(os.path.join(self.libdir, "pkgconfig", "litevfs.pc")))
        # The default-VFS entry point's file name (README "Every SQLite host").
        self.assertTrue(os.path.samefile(os.path.join(self.libdir, "liblitevfsdefault.so"),
                                         os.path.join(self.libdir, "liblitevfs.so")))
        self.assertTrue(os.path.exists(os.path.join(self.libdir, "cmake", "litevfs",
                                                    "litevfsConfig.cmake")))

    def test_man_pages_render(self):
        if not shutil.which("man"):
            self.skipTest("man not installed")
        for page in ("man1/litevfs.1", "man1/litevfs-mockcloud.1", "man7/litevfs.7"):
            out = sh(["man", "-l", os.path.join(self.prefix, "share/man", page)],
                     env={**os.environ, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80"})
            self.assertIn("NAME", out)
            self.assertGreater(len(out.splitlines()), 40, page)

    def test_c_program_loads_the_installed_module(self):
        env = {**os.environ, "PKG_CONFIG_PATH": os.path.join(self.libdir, "pkgconfig")}
        module = sh(["pkg-config", "--variable=module", "litevfs"], env=env).strip()
        self.assertEqual(os.path.realpath(module),
                         os.path.realpath(os.path.join(self.libdir, "liblitevfs.so")))
        flags = sh(["pkg-config", "--cflags", "--libs", "litevfs"], env=env).split()
        exe = os.path.join(self.tmp, "query")
        sh(["cc", os.path.join(FIXTURES, "examples", "query.c"), "-o", exe, *flags])

        cloud = MockCloud(os.path.join(self.tmp, "data")).start()
        self.addCleanup(cloud.stop)
        cenv = Env(cloud, os.path.join(self.tmp, "cache"))
        src = make_db(os.path.join(self.tmp, "src.db"), rows=3000)
        sh([os.path.join(self.prefix, "bin", "litevfs"), "import", src, "items"], env=cenv.vars)
        out = sh([exe, module, "items", "SELECT count(*), sum(v) FROM items"], env=cenv.vars)
        want = sqlite3.connect(src).execute("SELECT count(*), sum(v) FROM items").fetchone()
        self.assertEqual(out.strip(), f"{want[0]}|{want[1]}")

    def test_find_package(self):
        proj = os.path.join(self.tmp, "consumer")
        os.makedirs(proj)
        with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.25)\nproject(consumer NONE)\n"
                    "find_package(litevfs 0.1 REQUIRED)\n"
                    "get_target_property(loc litevfs::module IMPORTED_LOCATION)\n"
                    "message(STATUS \"module=${LITEVFS_MODULE} target=${loc}\")\n")
        out = sh(["cmake", "-S", proj, "-B", os.path.join(proj, "build"),
                  f"-DCMAKE_PREFIX_PATH={self.prefix}"])
        mod = os.path.join(self.libdir, "liblitevfs.so")
        self.assertIn(f"module={mod} target={mod}", out)


if __name__ == "__main__":
    import unittest
    unittest.main()
