"""How users and packagers build: scripts/deps installs every library CMake requires (a
missing libxxhash-dev once stopped a fresh machine at configure while CI stayed green), a
plain `cmake` without the presets neither needs GoogleTest (BUILD_TESTING=OFF) nor turns
warnings into errors, and both binaries report the version project(VERSION) gives."""
import glob
import os
import re
import subprocess
import tempfile
import unittest

SRC = os.environ.get("LITEVFS_SOURCE_DIR", "")
BUILD = os.environ.get("LITEVFS_BUILD_DIR", "")


def read(path):
    with open(path) as f:
        return f.read()


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


def cmake_files():
    out = []
    for root, dirs, files in os.walk(SRC):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
        out += [os.path.join(root, f) for f in files if f == "CMakeLists.txt"]
    return out


def required_pkg_modules(text):
    """pkg-config module names of every pkg_check_modules(PREFIX REQUIRED ... mods)."""
    mods = []
    for args in re.findall(r"pkg_check_modules\(([^)]*)\)", text):
        words = args.split()[1:]
        if "REQUIRED" not in words:
            continue
        mods += [w for w in words if w not in ("REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL",
                                              "NO_CMAKE_PATH", "NO_CMAKE_ENVIRONMENT_PATH")]
    return mods


def required_cmake_packages(text):
    """Names of every find_package(Name ... REQUIRED)."""
    return [m.group(1) for m in re.finditer(r"find_package\((\w+)[^)]*REQUIRED[^)]*\)", text)]


def deb_owner(path):
    p = run(["dpkg", "-S", os.path.realpath(path)])
    if p.returncode != 0:
        p = run(["dpkg", "-S", path])
    if p.returncode != 0:
        return None
    return p.stdout.split(":")[0].split(",")[0].strip()


def cache_value(name):
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    return None


class DepsCoverCMake(unittest.TestCase):
    def setUp(self):
        if not SRC or not BUILD:
            self.fail("LITEVFS_SOURCE_DIR and LITEVFS_BUILD_DIR must be set (ctest sets them)")
        p = run(["bash", os.path.join(SRC, "scripts/deps"), "--print"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.listed = set(p.stdout.split())
        self.texts = {f: read(f) for f in cmake_files()}

    def owner_listed(self, what, path):
        pkg = deb_owner(path)
        self.assertIsNotNone(pkg, f"{what}: no Debian package owns {path}")
        self.assertIn(pkg, self.listed,
                      f"{what} comes from the Debian package {pkg} ({path}), which "
                      f"scripts/deps does not install: add {pkg} to its list")

    def test_every_pkg_config_module_is_installed_by_deps(self):
        mods = [m for t in self.texts.values() for m in required_pkg_modules(t)]
        self.assertIn("libxxhash", mods, "the CMakeLists parser lost track of the build")
        for mod in mods:
            p = run(["pkg-config", "--path", mod])
            self.assertEqual(p.returncode, 0, f"pkg-config does not know {mod}: {p.stderr}")
            self.owner_listed(f"pkg_check_modules({mod})", p.stdout.strip())

    def test_every_cmake_package_is_installed_by_deps(self):
        names = {n for t in self.texts.values() for n in required_cmake_packages(t)}
        self.assertIn("CLI11", names)
        for name in sorted(names - {"PkgConfig", "Threads"}):  # CMake's own modules
            d = cache_value(f"{name}_DIR")
            self.assertTrue(d and os.path.isdir(d), f"find_package({name}): no {name}_DIR in "
                            "the build's CMakeCache.txt")
            configs = glob.glob(os.path.join(d, "*[Cc]onfig.cmake"))
            self.assertTrue(configs, f"find_package({name}): no config file in {d}")
            self.owner_listed(f"find_package({name})", configs[0])


class PackagerBuild(unittest.TestCase):
    def test_configure_without_tests_or_werror(self):
        with tempfile.TemporaryDirectory() as b:
            p = run(["cmake", "-S", SRC, "-B", b, "-DCMAKE_BUILD_TYPE=Release",
                     "-DBUILD_TESTING=OFF"])
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            cache = read(os.path.join(b, "CMakeCache.txt"))
            self.assertIn("LITEVFS_WERROR:BOOL=OFF", cache, "-Werror must be opt-in")
            self.assertNotIn("GTest_DIR", cache, "BUILD_TESTING=OFF must not look for GoogleTest")
            targets = run(["cmake", "--build", b, "--target", "help"]).stdout
            for t in ("... litevfs\n", "... litevfs-cli\n", "... litevfs-mockcloud\n"):
                self.assertIn(t, targets)
            self.assertNotIn("vfs_read_test", targets, "BUILD_TESTING=OFF still builds tests")

    def test_presets_keep_werror(self):
        self.assertIn('"LITEVFS_WERROR": "ON"', read(os.path.join(SRC, "CMakePresets.json")))


class Version(unittest.TestCase):
    def project_version(self):
        text = read(os.path.join(SRC, "CMakeLists.txt"))
        return re.search(r"project\(litevfs VERSION ([0-9.]+)", text).group(1)

    def test_binaries_and_man_pages_report_the_project_version(self):
        v = self.project_version()
        for env, name in (("LITEVFS_BIN", "litevfs"), ("LITEVFS_MOCKCLOUD_BIN", "litevfs-mockcloud")):
            p = run([os.environ[env], "--version"])
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(p.stdout.strip(), f"{name} {v}")
        for page in glob.glob(os.path.join(SRC, "man", "*.[17]")):
            self.assertIn(f'"litevfs {v}"', read(page).splitlines()[0], page)


if __name__ == "__main__":
    unittest.main()
