#!/usr/bin/env python3
"""A litevfs cluster on loopback, for tests and for people (scripts/cluster wraps the CLI):
a 3-member etcd cluster (Debian etcd-server), an S3 server (s3rver, installed by
scripts/deps-cluster into build/npm-s3) with the bucket created, N litevfs-mockcloud
instances sharing them (--store s3://BUCKET/PREFIX?endpoint=… --etcd …), and optionally
haproxy in front. Every process is started here and stopped here; a state file
(DIR/cluster.json) names each one's port, pid and log.

Backends:
  distributed  (default) the instances share the S3 store and etcd; needs a
               litevfs-mockcloud whose --help offers --etcd.
  local        development: each instance keeps its own --data DIR (no sharing, so one
               instance is the sensible count); etcd and S3 are still started.

Ports: etcd cannot take port 0 for its peers, so every port is chosen free (bound to 0 and
released) and a start that loses the race to another process is retried with new ports.
mockcloud instances take --listen 127.0.0.1:0 and print the port; a restarted instance gets
its old port back so host lists stay valid.

CLI (what scripts/cluster runs):
  cluster.py start DIR [--instances N] [--backend distributed|local] [--haproxy] [--token T]
  cluster.py stop DIR
  cluster.py hosts DIR           prints LITEFS_CLOUD_HOST for the instances (a,b,c)
  cluster.py url DIR             haproxy's URL when it runs, else the host list
  cluster.py kill DIR INSTANCE   kill -9 one mockcloud instance (0-based)
  cluster.py restart DIR INSTANCE
  cluster.py status DIR          the state file, each process marked alive or dead
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MOCKCLOUD = os.environ.get("LITEVFS_MOCKCLOUD_BIN", "")
ETCD = os.environ.get("LITEVFS_ETCD_BIN", shutil.which("etcd") or "/usr/bin/etcd")
HAPROXY = os.environ.get("LITEVFS_HAPROXY_BIN", shutil.which("haproxy") or "/usr/sbin/haproxy")
NODE = shutil.which("node") or "/usr/bin/node"
S3RVER = os.environ.get("LITEVFS_S3RVER",
                        os.path.join(ROOT, "build", "npm-s3", "node_modules", "s3rver", "bin",
                                     "s3rver.js"))
BUCKET = "litevfs"
S3_KEY = "S3RVER"  # s3rver's built-in credentials (access key = secret)
ETCD_MEMBERS = 3
START_TRIES = 3          # port races lost before a start gives up
READY_SECONDS = 20       # how long any process may take to become ready
STATE_FILE = "cluster.json"


class ClusterError(RuntimeError):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url, timeout=1.0, method="GET"):
    try:
        req = urllib.request.Request(url, method=method)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return 200 <= r.status < 300, r.read()
    except (urllib.error.URLError, ConnectionError, OSError):
        return False, b""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def distributed_missing(mockcloud=None):
    """None when the distributed backend can run here, else the reason it cannot."""
    mc = mockcloud or MOCKCLOUD
    if not mc or not os.path.exists(mc):
        return f"litevfs-mockcloud not built ({mc or 'LITEVFS_MOCKCLOUD_BIN not set'})"
    out = subprocess.run([mc, "--help"], capture_output=True, text=True, timeout=30)
    if "--etcd" not in out.stdout + out.stderr:
        return (f"{mc} has no --etcd flag: this build has no distributed store "
                "(issue 14's S3 + etcd mode)")
    return backing_missing()


def backing_missing():
    """None when etcd and s3rver are installed, else what to install."""
    for path, what in ((ETCD, "etcd (Debian etcd-server; bash scripts/deps)"),
                       (NODE, "node (for s3rver)"),
                       (S3RVER, "s3rver (bash scripts/deps-cluster)")):
        if not os.path.exists(path):
            return f"{what} is not installed ({path})"
    return None


def haproxy_missing():
    return None if os.path.exists(HAPROXY) else f"haproxy is not installed ({HAPROXY}; bash scripts/deps)"


def wait_listening(proc, offset):
    """The port of "listening on HOST:PORT" in proc's log after `offset`, or None when it
    exits or READY_SECONDS pass first."""
    end = time.monotonic() + READY_SECONDS
    while time.monotonic() < end:
        with open(proc.log_path, "rb") as f:
            f.seek(offset)
            m = re.search(rb"listening on [^:\s]+:(\d+)", f.read())
        if m:
            return int(m.group(1))
        if not proc.alive():
            return None
        time.sleep(0.02)
    return None


class Proc:
    """One child process, its log, and what restarts it."""

    def __init__(self, name, argv, log_path, env=None):
        self.name, self.argv, self.log_path, self.env = name, argv, log_path, env
        self.popen = None
        self.pid = None

    def start(self):
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, stdout=log, stderr=log,
                                      stdin=subprocess.DEVNULL, env=self.env,
                                      start_new_session=True)
        log.close()
        self.pid = self.popen.pid
        return self

    def alive(self):
        if self.popen is not None:
            return self.popen.poll() is None
        return self.pid is not None and alive(self.pid)

    def signal(self, sig):
        if self.pid is not None and self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout):
        end = time.monotonic() + timeout
        while self.alive() and time.monotonic() < end:
            if self.popen is not None:
                try:
                    self.popen.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.05)
        return not self.alive()

    def stop(self, timeout=10):
        self.signal(signal.SIGTERM)
        if not self.wait(timeout):
            self.signal(signal.SIGKILL)
            self.wait(5)

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""


class Cluster:
    """The cluster under DIR. start() brings everything up (or raises ClusterError, having
    stopped what it started); stop() ends every process it started. Use as a context
    manager in tests."""

    def __init__(self, directory, instances=3, backend="distributed", haproxy=False,
                 token="test-token", mockcloud=None, extra_args=(), faults=None,
                 admin_token=None, backing=True):
        if backend not in ("distributed", "local"):
            raise ValueError(f"backend must be distributed or local, not {backend!r}")
        if instances < 1:
            raise ValueError("want at least one instance")
        self.dir = os.path.abspath(directory)
        self.n = instances
        self.backend = backend
        self.use_haproxy = haproxy
        self.token = token
        self.mockcloud = mockcloud or MOCKCLOUD
        self.extra_args = list(extra_args)
        self.faults = faults            # fault spec without seed; instance i gets seed=i+1
        self.admin_token = admin_token
        self.backing = backing or backend == "distributed"  # local: etcd and S3 anyway?
        self.etcd = []                  # Proc per member
        self.etcd_client_ports = []
        self.etcd_peer_ports = []
        self.s3 = None
        self.s3_port = None
        self.instances = []             # Proc per mockcloud instance
        self.ports = []                 # its port
        self.haproxy = None
        self.haproxy_port = None
        self.prefix = "c" + str(os.getpid())

    # ------------------------------------------------------------------ endpoints
    @property
    def hosts(self):
        return ",".join(f"http://127.0.0.1:{p}" for p in self.ports)

    @property
    def url(self):
        """What a client should use: haproxy when it runs, else the host list."""
        return f"http://127.0.0.1:{self.haproxy_port}" if self.haproxy else self.hosts

    @property
    def etcd_endpoints(self):
        return ",".join(f"http://127.0.0.1:{p}" for p in self.etcd_client_ports)

    @property
    def store_url(self):
        return f"s3://{BUCKET}/{self.prefix}?endpoint=http://127.0.0.1:{self.s3_port}"

    def log(self, name):
        return os.path.join(self.dir, "logs", name + ".log")

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        if self.backend == "distributed":
            why = distributed_missing(self.mockcloud)
            if why:
                raise ClusterError(why)
        elif not self.mockcloud or not os.path.exists(self.mockcloud):
            raise ClusterError(f"litevfs-mockcloud not built ({self.mockcloud or 'unset'})")
        if self.backing and backing_missing():
            raise ClusterError(backing_missing())
        if self.use_haproxy and haproxy_missing():
            raise ClusterError(haproxy_missing())
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        try:
            if self.backend == "distributed" or self.backing:
                self.start_etcd()
                self.start_s3()
            for i in range(self.n):
                self.start_instance(i)
            if self.use_haproxy:
                self.start_haproxy()
            self.save()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        procs = ([self.haproxy] if self.haproxy else []) + self.instances + \
                ([self.s3] if self.s3 else []) + self.etcd
        for p in procs:
            if p is not None:
                p.stop()
        if os.path.isdir(self.dir):
            self.save(stopped=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ etcd
    def etcd_argv(self, i):
        cluster = ",".join(f"m{j}=http://127.0.0.1:{p}" for j, p in enumerate(self.etcd_peer_ports))
        c, p = self.etcd_client_ports[i], self.etcd_peer_ports[i]
        return [ETCD, "--name", f"m{i}", "--data-dir", os.path.join(self.dir, "etcd", f"m{i}"),
                "--listen-client-urls", f"http://127.0.0.1:{c}",
                "--advertise-client-urls", f"http://127.0.0.1:{c}",
                "--listen-peer-urls", f"http://127.0.0.1:{p}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{p}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", "litevfs-" + self.prefix,
                # etcd's defaults (100 ms / 1 s): shorter ones flap on a loaded 2-core CI machine.
                "--heartbeat-interval", "100", "--election-timeout", "1000",
                "--logger", "zap", "--log-level", "warn"]

    def start_etcd(self):
        for attempt in range(START_TRIES):
            self.etcd_client_ports = [free_port() for _ in range(ETCD_MEMBERS)]
            self.etcd_peer_ports = [free_port() for _ in range(ETCD_MEMBERS)]
            shutil.rmtree(os.path.join(self.dir, "etcd"), ignore_errors=True)
            self.etcd = [Proc(f"etcd-m{i}", self.etcd_argv(i), self.log(f"etcd-m{i}")).start()
                         for i in range(ETCD_MEMBERS)]
            if self.wait_etcd_healthy(range(ETCD_MEMBERS)):
                return
            logs = "\n".join(p.log_tail(600) for p in self.etcd)
            for p in self.etcd:
                p.stop()
            if "address already in use" not in logs:
                raise ClusterError(f"etcd did not become healthy in {READY_SECONDS} s:\n{logs}")
        raise ClusterError(f"etcd: lost the port race {START_TRIES} times")

    def wait_etcd_healthy(self, members):
        end = time.monotonic() + READY_SECONDS
        while time.monotonic() < end:
            if any(not self.etcd[i].alive() for i in members):
                return False
            if all(self.etcd_healthy(i) for i in members):
                return True
            time.sleep(0.1)
        return False

    def etcd_healthy(self, i):
        ok, body = http_ok(f"http://127.0.0.1:{self.etcd_client_ports[i]}/health")
        return ok and b'"true"' in body

    def kill_etcd(self, i):
        self.etcd[i].signal(signal.SIGKILL)
        self.etcd[i].wait(5)
        self.save()

    def restart_etcd(self, i):
        """Back into the cluster with its data dir (the member rejoins)."""
        argv = [a if a != "new" else "existing" for a in self.etcd_argv(i)]
        self.etcd[i] = Proc(f"etcd-m{i}", argv, self.log(f"etcd-m{i}")).start()
        if not self.wait_etcd_healthy([i]):
            raise ClusterError(f"etcd member m{i} did not rejoin:\n{self.etcd[i].log_tail()}")
        self.save()

    def etcd_put(self, key, value, member=None):
        """A write through the JSON gateway (v3), for tests of the etcd cluster itself."""
        import base64
        ports = [self.etcd_client_ports[member]] if member is not None else self.etcd_client_ports
        body = json.dumps({"key": base64.b64encode(key.encode()).decode(),
                           "value": base64.b64encode(value.encode()).decode()}).encode()
        last, end = None, time.monotonic() + READY_SECONDS  # an election may be under way
        while time.monotonic() < end:
            for p in ports:
                try:
                    req = urllib.request.Request(f"http://127.0.0.1:{p}/v3/kv/put", data=body,
                                                 method="POST")
                    with urllib.request.urlopen(req, timeout=5) as r:
                        return json.loads(r.read())
                except (urllib.error.URLError, ConnectionError, OSError) as e:
                    last = e
            time.sleep(0.2)
        raise ClusterError(f"etcd put {key}: no member answered in {READY_SECONDS} s ({last})")

    def etcd_get(self, key, member):
        import base64
        body = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.etcd_client_ports[member]}/v3/kv/range", data=body,
            method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            kvs = json.loads(r.read()).get("kvs", [])
        return base64.b64decode(kvs[0]["value"]).decode() if kvs else None

    # ------------------------------------------------------------------ S3
    def start_s3(self):
        data = os.path.join(self.dir, "s3")
        os.makedirs(data, exist_ok=True)
        for attempt in range(START_TRIES):
            self.s3_port = free_port()
            self.s3 = Proc("s3rver", [NODE, S3RVER, "-d", data, "-a", "127.0.0.1",
                                      "-p", str(self.s3_port), "--silent",
                                      "--configure-bucket", BUCKET],
                           self.log("s3rver")).start()
            end = time.monotonic() + READY_SECONDS
            while time.monotonic() < end and self.s3.alive():
                if http_ok(f"http://127.0.0.1:{self.s3_port}/{BUCKET}")[0]:
                    return
                time.sleep(0.1)
            tail = self.s3.log_tail()
            self.s3.stop()
            if "EADDRINUSE" not in tail:
                raise ClusterError(f"s3rver did not serve bucket {BUCKET} in {READY_SECONDS} s:\n{tail}")
        raise ClusterError(f"s3rver: lost the port race {START_TRIES} times")

    # ------------------------------------------------------------------ mockcloud
    def instance_argv(self, i, port):
        argv = [self.mockcloud, "--listen", f"127.0.0.1:{port}", "--token", self.token,
                "--data", os.path.join(self.dir, f"mc{i}"), "--log-level", "warn"]
        if self.backend == "distributed":
            argv += ["--store", self.store_url, "--etcd", self.etcd_endpoints]
        if self.faults:
            argv += ["--faults", f"{self.faults},seed={i + 1}"]
        if self.admin_token:
            argv += ["--admin-token", self.admin_token]
        return argv + self.extra_args

    def instance_env(self):
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_KEY,
                    "AWS_REGION": "us-east-1"})
        return env

    def start_instance(self, i, port=0):
        """Starts instance i (on `port`, or one it picks and prints) and waits for /healthz."""
        log = self.log(f"mc{i}")
        offset = os.path.getsize(log) if os.path.exists(log) else 0
        proc = Proc(f"mc{i}", self.instance_argv(i, port), log, self.instance_env()).start()
        got = wait_listening(proc, offset)
        if got is None:
            proc.stop()
            raise ClusterError(f"instance {i} did not say where it listens:\n{proc.log_tail()}")
        if i < len(self.instances):
            self.instances[i], self.ports[i] = proc, got
        else:
            self.instances.append(proc)
            self.ports.append(got)
        end = time.monotonic() + READY_SECONDS
        while not http_ok(f"http://127.0.0.1:{got}/healthz")[0]:
            if time.monotonic() > end or not proc.alive():
                raise ClusterError(f"instance {i} not healthy on port {got}:\n{proc.log_tail()}")
            time.sleep(0.05)
        return got

    def kill_instance(self, i):
        self.instances[i].signal(signal.SIGKILL)
        self.instances[i].wait(5)
        self.save()

    def restart_instance(self, i):
        """Starts instance i again on its old port (retrying while the port is still held)."""
        for attempt in range(START_TRIES * 10):
            try:
                self.start_instance(i, self.ports[i])
                self.save()
                return
            except ClusterError:
                if attempt == START_TRIES * 10 - 1:
                    raise
                time.sleep(0.2)

    def clear_faults(self):
        """PUT /admin/faults with no spec on every live instance (needs admin_token)."""
        for i, p in enumerate(self.ports):
            if not self.instances[i].alive():
                continue
            req = urllib.request.Request(f"http://127.0.0.1:{p}/admin/faults", data=b"",
                                         method="PUT",
                                         headers={"Authorization": self.admin_token or ""})
            urllib.request.urlopen(req, timeout=10).read()

    # ------------------------------------------------------------------ haproxy
    def haproxy_config(self):
        servers = "\n".join(
            f"  server m{i} 127.0.0.1:{p} check inter 200ms fall 1 rise 1"
            for i, p in enumerate(self.ports))
        # retry-on defaults to connect failures only: a request no server received is
        # sent to another (the client's own rule, host_list.h); long polls hold 30 s.
        return f"""global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 65s
  timeout server 65s
  timeout http-request 10s
  retries 3
  option redispatch 1
  option http-server-close
frontend litevfs
  bind 127.0.0.1:{self.haproxy_port}
  default_backend mockcloud
backend mockcloud
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
{servers}
"""

    def start_haproxy(self):
        for attempt in range(START_TRIES):
            self.haproxy_port = free_port()
            cfg = os.path.join(self.dir, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(self.haproxy_config())
            self.haproxy = Proc("haproxy", [HAPROXY, "-db", "-f", cfg], self.log("haproxy")).start()
            end = time.monotonic() + READY_SECONDS
            while time.monotonic() < end and self.haproxy.alive():
                if http_ok(f"http://127.0.0.1:{self.haproxy_port}/healthz")[0]:
                    return
                time.sleep(0.1)
            tail = self.haproxy.log_tail()
            self.haproxy.stop()
            self.haproxy = None
            if "Address already in use" not in tail and "cannot bind" not in tail:
                raise ClusterError(f"haproxy did not serve /healthz in {READY_SECONDS} s:\n{tail}")
        raise ClusterError(f"haproxy: lost the port race {START_TRIES} times")

    # ------------------------------------------------------------------ state
    def state(self):
        def proc(p, port):
            return {"pid": p.pid, "port": port, "log": p.log_path, "alive": p.alive()}
        return {
            "backend": self.backend, "token": self.token,
            "hosts": self.hosts, "url": self.url,
            "etcd": [proc(p, port) for p, port in zip(self.etcd, self.etcd_client_ports)],
            "etcd_endpoints": self.etcd_endpoints,
            "s3": proc(self.s3, self.s3_port) if self.s3 else None,
            "store": self.store_url if self.s3 else None,
            "instances": [dict(proc(p, port), argv=p.argv)
                          for p, port in zip(self.instances, self.ports)],
            "haproxy": proc(self.haproxy, self.haproxy_port) if self.haproxy else None,
        }

    def save(self, stopped=False):
        st = self.state()
        st["stopped"] = stopped
        tmp = os.path.join(self.dir, STATE_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(st, f, indent=1)
        os.rename(tmp, os.path.join(self.dir, STATE_FILE))


# ---------------------------------------------------------------------- CLI (scripts/cluster)

def load_state(directory):
    path = os.path.join(directory, STATE_FILE)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ClusterError(f"{path} does not exist: no cluster was started in {directory}")


def state_procs(st):
    procs = []
    if st.get("haproxy"):
        procs.append(("haproxy", st["haproxy"]))
    procs += [(f"mc{i}", p) for i, p in enumerate(st["instances"])]
    if st.get("s3"):
        procs.append(("s3rver", st["s3"]))
    procs += [(f"etcd-m{i}", p) for i, p in enumerate(st["etcd"])]
    return procs


def cli_start(a):
    c = Cluster(a.dir, instances=a.instances, backend=a.backend, haproxy=a.haproxy,
                token=a.token, mockcloud=a.mockcloud, backing=backing_missing() is None)
    if os.path.exists(os.path.join(c.dir, STATE_FILE)):
        st = load_state(c.dir)
        if any(alive(p["pid"]) for _, p in state_procs(st)):
            raise ClusterError(f"a cluster is already running in {c.dir} (stop it first)")
    c.start()
    # The processes outlive this command: their session is their own (start_new_session).
    for p in c.etcd + [c.s3] + c.instances + ([c.haproxy] if c.haproxy else []):
        if p is not None:
            p.popen = None
    st = c.state()
    print(f"etcd:      {c.etcd_endpoints}" if c.etcd else "etcd:      (not started)")
    print(f"s3:        {c.store_url}" if c.s3 else "s3:        (not started)")
    print(f"instances: {c.hosts}")
    if c.haproxy:
        print(f"haproxy:   http://127.0.0.1:{c.haproxy_port}")
    print(f"state:     {os.path.join(c.dir, STATE_FILE)}")
    print(f"export LITEFS_CLOUD_HOST={st['url']} LITEFS_CLOUD_TOKEN={c.token}")


def cli_stop(a):
    st = load_state(a.dir)
    procs = [Proc(name, [], p["log"]) for name, p in state_procs(st)]
    for proc, (_, p) in zip(procs, state_procs(st)):
        proc.pid = p["pid"]
    for proc in procs:
        proc.stop()
    st["stopped"] = True
    for _, p in state_procs(st):
        p["alive"] = False
    with open(os.path.join(a.dir, STATE_FILE), "w") as f:
        json.dump(st, f, indent=1)
    print(f"stopped {len(procs)} processes")


def cli_instance(a, restart):
    st = load_state(a.dir)
    if not 0 <= a.instance < len(st["instances"]):
        raise ClusterError(f"instance {a.instance} does not exist (0..{len(st['instances']) - 1})")
    inst = st["instances"][a.instance]
    proc = Proc(f"mc{a.instance}", inst["argv"], inst["log"])
    proc.pid = inst["pid"]
    if not restart:
        proc.signal(signal.SIGKILL)
        proc.wait(5)
        inst["alive"] = False
        print(f"killed instance {a.instance} (pid {proc.pid}, port {inst['port']})")
    else:
        if proc.alive():
            raise ClusterError(f"instance {a.instance} is running (pid {proc.pid})")
        argv = list(inst["argv"])
        argv[argv.index("--listen") + 1] = f"127.0.0.1:{inst['port']}"
        c = Cluster(a.dir, backend=st["backend"])
        proc = Proc(f"mc{a.instance}", argv, inst["log"], c.instance_env()).start()
        end = time.monotonic() + READY_SECONDS
        while not http_ok(f"http://127.0.0.1:{inst['port']}/healthz")[0]:
            if time.monotonic() > end or not proc.alive():
                raise ClusterError(f"instance {a.instance} did not come back:\n{proc.log_tail()}")
            time.sleep(0.05)
        inst.update(pid=proc.pid, alive=True)
        print(f"restarted instance {a.instance} (pid {proc.pid}, port {inst['port']})")
    with open(os.path.join(a.dir, STATE_FILE), "w") as f:
        json.dump(st, f, indent=1)


def cli_status(a):
    st = load_state(a.dir)
    for _, p in state_procs(st):
        p["alive"] = alive(p["pid"])
    print(json.dumps(st, indent=1))


def main():
    ap = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start etcd, S3, the instances (and haproxy)")
    s.add_argument("dir")
    s.add_argument("--instances", type=int, default=3)
    s.add_argument("--backend", choices=["distributed", "local"],
                   default=os.environ.get("LITEVFS_CLUSTER_BACKEND", "distributed"))
    s.add_argument("--haproxy", action="store_true", help="haproxy in front of the instances")
    s.add_argument("--token", default="secret")
    s.add_argument("--mockcloud", default=MOCKCLOUD or os.path.join(
        ROOT, "build", "release", "mockcloud", "litevfs-mockcloud"))
    for name in ("stop", "hosts", "url", "status"):
        sub.add_parser(name).add_argument("dir")
    for name in ("kill", "restart"):
        k = sub.add_parser(name, help=f"{name} one mockcloud instance")
        k.add_argument("dir")
        k.add_argument("instance", type=int)
    a = ap.parse_args()
    try:
        if a.cmd == "start":
            if a.instances < 1:
                raise ClusterError("--instances wants a positive count")
            cli_start(a)
        elif a.cmd == "stop":
            cli_stop(a)
        elif a.cmd in ("hosts", "url"):
            print(load_state(a.dir)[a.cmd])
        elif a.cmd == "status":
            cli_status(a)
        else:
            cli_instance(a, restart=a.cmd == "restart")
    except ClusterError as e:
        print(f"scripts/cluster: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
