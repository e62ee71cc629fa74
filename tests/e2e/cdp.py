"""A headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
commands on fd 3, answers and events on fd 4, each a JSON text ending in NUL). Stdlib only:
no websocket client, no npm driver. One page (a flattened target session); every wait is
bounded. Used by test_wasm.py."""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
COMMAND_TIMEOUT_S = 60


def find_chromium():
    """The browser binary ($LITEVFS_CHROMIUM or the first on PATH), or None."""
    env = os.environ.get("LITEVFS_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(Exception):
    pass


class Chromium:
    """A headless browser with one page. Use as a context manager: always stopped."""

    def __init__(self, binary, log_path, window=(1000, 720)):
        self.binary = binary
        self.log_path = log_path
        self.window = window
        self.proc = None
        self._next_id = 1
        self._buf = b""

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="litevfs-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()

        def child_fds():  # the browser reads fd 3 and writes fd 4
            # Out of the way first: the pipes themselves may be fds 3 or 4.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (cmd_r, res_w)]
            for fd, target in zip(high, (3, 4)):
                os.dup2(fd, target, inheritable=True)

        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
             f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
             f"--window-size={self.window[0]},{self.window[1]}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=child_fds, close_fds=False)
        os.close(cmd_r)
        os.close(res_w)
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget",
                                     {"targetId": target, "flatten": True})["sessionId"]
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            try:
                self.call("Browser.close", {}, timeout_s=5)
            except (BrowserError, OSError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._cmd_w, self._res_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.profile, True)

    def call(self, method, params, session=False, timeout_s=COMMAND_TIMEOUT_S):
        """Sends one command and returns its result; events in between are dropped."""
        msg_id = self._next_id
        self._next_id += 1
        msg = {"id": msg_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer from the browser in {COMMAND_TIMEOUT_S} s "
                                   f"(log: {self.log_path})")
            ready, _, _ = select.select([self._res_r], [], [], left)
            if ready:
                chunk = os.read(self._res_r, 1 << 16)
                if not chunk:
                    raise BrowserError(f"the browser exited (log: {self.log_path})")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def evaluate(self, expression, timeout_s=COMMAND_TIMEOUT_S):
        """The value of a JS expression in the page (a Promise is awaited); a thrown error
        raises BrowserError with its message."""
        r = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                           "returnByValue": True}, session=True,
                      timeout_s=timeout_s)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError(d.get("exception", {}).get("description") or d.get("text"))
        return r["result"].get("value")

    def navigate(self, url, ready_expression, timeout_s=30):
        """Loads url and waits (bounded) until ready_expression is true."""
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for(ready_expression, timeout_s)

    def reload(self, ready_expression, timeout_s=30):
        self.call("Page.reload", {"ignoreCache": False}, session=True)
        time.sleep(0.2)  # let the old document go before polling the new one
        self.wait_for(ready_expression, timeout_s)

    def wait_for(self, expression, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self.evaluate(expression, timeout_s=timeout_s):
                    return
            except BrowserError:
                pass  # the document is still being replaced
            time.sleep(0.05)
        raise BrowserError(f"page not ready in {timeout_s} s: {expression}")

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", {"format": "png"}, session=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
