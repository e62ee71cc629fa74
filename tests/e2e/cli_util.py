"""Helpers shared by the test_cli_*.py end-to-end tests (stdlib only)."""
import os
import subprocess
import unittest


def litevfs_bin():
    path = os.environ.get("LITEVFS_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise unittest.SkipTest("LITEVFS_BIN is not set to the litevfs binary")
    return path


def run(args, check=None, input=None, env=None, timeout=120):
    """Runs litevfs with args; returns CompletedProcess (text). check: expected exit code."""
    proc = subprocess.run([litevfs_bin()] + list(args), capture_output=True, text=True,
                          input=input, env=env, timeout=timeout)
    if check is not None and proc.returncode != check:
        raise AssertionError("litevfs %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(args), proc.returncode, check, proc.stdout, proc.stderr))
    return proc


def shared_dir():
    return os.environ.get("LITEVFS_SHARED_DIR", "")
