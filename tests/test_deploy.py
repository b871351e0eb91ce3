"""The course deployment (deploy/classroom.sh) on loopback: 2 Streamlit replicas behind HAProxy, a Dask
scheduler and 1 worker, on free ports. Everything goes through the balancer as a browser would: the
sticky cookie, a websocket session's reruns, a file upload to the session's own process, a training
from the Train page's Start button. Every listening socket of the deployment is on loopback and the
Dask processes serve no HTTP. At the end the script is stopped with SIGTERM and nothing it started may
be left running. tests/test_deploy_faults.py kills its processes one at a time.
"""
from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from bench.classroom import ClickError, Session, free_port
from explainer.i18n import translate
from tests.conftest import run_async

ROOT = Path(__file__).resolve().parents[1]
HAPROXY = "/usr/sbin/haproxy"
SUPERVISORD = "/usr/bin/supervisord"   # Debian's supervisor (deploy/classroom.sh's default)
SUPERVISORCTL = "/usr/bin/supervisorctl"
# The Dask training engine (explainer/engine/jobs.py, issue 12 item 2). Where it exists, the web processes must
# hand trainings to the deployment's scheduler; where it doesn't, trainings run in the web process and
# the training test checks the run through the balancer plus the Dask side of the contract only.
ENGINE = importlib.util.find_spec("explainer.engine.jobs") is not None


def _session_processes(sid: int) -> list[int]:
    """The processes of session ``sid`` (the deploy script and everything it started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: session id
            found.append(int(entry))
    return found


def _environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        items = f.read().split(b"\0")
    return dict(i.decode(errors="replace").split("=", 1) for i in items if b"=" in i)


class Deployment:
    def __init__(self, run_dir: Path, *options: str):
        assert Path(HAPROXY).exists(), "Debian's haproxy is required: apt-get install -y haproxy"
        assert Path(SUPERVISORD).exists(), "Debian's supervisor is required: apt-get install -y supervisor"
        self.port, self.sched_port = free_port(), free_port()
        self.replica_ports = [free_port(), free_port()]
        self.run_dir = run_dir
        self.url = f"http://127.0.0.1:{self.port}"
        self.scheduler = f"{'tls' if '--tls' in options else 'tcp'}://127.0.0.1:{self.sched_port}"
        env = dict(os.environ, PYTHON=sys.executable, PYTHONUNBUFFERED="1", SUPERVISORD=SUPERVISORD,
                   EXPLAINER_PREDICT_FIRST="0")  # the walk clicks what a question card would hide
        self.proc = subprocess.Popen(
            ["bash", str(ROOT / "deploy" / "classroom.sh"), "--replica-ports", ",".join(map(str, self.replica_ports)),
             "--port", str(self.port), "--scheduler-port", str(self.sched_port), "--workers", "1",
             "--run-dir", str(run_dir), *options],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 300
        while not self.ready.wait(0.5) and self.proc.poll() is None and time.monotonic() < deadline:
            pass
        if not self.ready.is_set() or self.proc.poll() is not None:
            out = "\n".join(self.lines)
            self.stop()
            raise AssertionError(f"the deployment did not become ready in 300 s:\n{out}")
        # "ready" comes from the HTTP and Dask checks; supervisord calls a program RUNNING only once it has lived
        # startsecs (a worker that started before its scheduler listened may have been restarted meanwhile)
        deadline = time.monotonic() + 60
        self.pids = self.status()
        while not all(self.pids.values()) and time.monotonic() < deadline:
            time.sleep(0.5)
            self.pids = self.status()
        assert set(self.pids) == {"scheduler", "worker1", "web1", "web2", "haproxy"}, self.pids
        assert all(self.pids.values()), (self.pids, self.supervisor_log()[-3000:])

    def status(self) -> dict[str, int]:
        """supervisord's view: program name → pid (0 while it is not running)."""
        out = subprocess.run([SUPERVISORCTL, "-c", str(self.run_dir / "supervisord.conf"), "status"],
                             capture_output=True, text=True, timeout=30).stdout
        pids = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                pids[parts[0]] = int(parts[3].rstrip(",")) if parts[1] == "RUNNING" else 0
        return pids

    def client(self, **kwargs):
        """A Dask client of the deployment's scheduler (with the client certificate when it uses TLS)."""
        from distributed import Client
        from distributed.security import Security

        security = None
        if self.scheduler.startswith("tls://"):
            tls = self.run_dir / "tls"
            security = Security(tls_ca_file=str(tls / "ca.pem"), tls_client_cert=str(tls / "client.pem"),
                                tls_client_key=str(tls / "client-key.pem"), require_encryption=True)
        return Client(self.scheduler, security=security, **{"timeout": 30, **kwargs})

    def supervisor_log(self) -> str:
        return (self.run_dir / "supervisord.log").read_text()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("ready:"):
                self.ready.set()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(240)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError("deploy/classroom.sh did not stop within 240 s of SIGTERM")


def stop_and_check(d: Deployment) -> None:
    """SIGTERM to deploy/classroom.sh: it exits 0, supervisord stopped every program cleanly (exit status 0, no
    SIGKILL), no process of the deployment is left and no port is open."""
    status = d.stop()
    deadline = time.monotonic() + 30
    while _session_processes(d.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _session_processes(d.proc.pid)
    assert status == 0, "\n".join(d.lines)
    final = d.supervisor_log().split("received SIGTERM indicating exit request", 1)[-1]
    stopped = {line.split("stopped: ", 1)[1].split()[0]: line.split("(", 1)[1] for line in final.splitlines()
               if " stopped: " in line}
    assert set(stopped) == set(d.pids), final  # each part was running (or starting) until the stop
    assert all(how == "exit status 0)" for how in stopped.values()), final  # and stopped cleanly (no SIGKILL)
    assert not left, f"processes left after stopping: {left}"
    for port in [d.port, d.sched_port, *d.replica_ports]:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open after stopping"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("classroom"))
    yield d
    stop_and_check(d)


LOOPBACK = {"127.0.0.1", "::1"}


def listening(pids) -> dict[int, set[tuple[str, int]]]:
    """Every listening TCP socket (IPv4 and IPv6) of the processes ``pids``: pid → {(ip, port)}."""
    found: dict[int, set[tuple[str, int]]] = {}
    for c in psutil.net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN and c.pid in pids:
            found.setdefault(c.pid, set()).add((c.laddr.ip, c.laddr.port))
    return found


def dask_ports(client) -> tuple[set[int], set[int]]:
    """(the scheduler's and the workers' comm ports, the nannies' ports) as the scheduler knows them; asserts
    that neither the scheduler nor a worker has an HTTP service (Dask's "dashboard" service is its HTTP server,
    routes or not)."""
    with client:
        info = client.scheduler_info(n_workers=-1)
    assert "dashboard" not in info.get("services", {}), info.get("services")
    for addr, w in info["workers"].items():
        assert "dashboard" not in w.get("services", {}), (addr, w.get("services"))
    ports = {int(info["address"].rsplit(":", 1)[1])}
    ports |= {int(addr.rsplit(":", 1)[1]) for addr in info["workers"]}
    nannies = {int(w["nanny"].rsplit(":", 1)[1]) for w in info["workers"].values() if w.get("nanny")}
    return ports, nannies


def check_closed_engine(pids: set[int], haproxy: set[int], allowed: set[int]) -> dict:
    """Only HAProxy may listen beyond loopback; every other socket is one of ``allowed`` ports (the app's and
    Dask's comm ports: no HTTP server besides). Returns pid → sockets (for reports)."""
    socks = listening(pids)
    for pid, addrs in socks.items():
        name = " ".join(psutil.Process(pid).cmdline()[:4])
        for ip, port in addrs:
            if pid not in haproxy:
                assert ip in LOOPBACK, f"{name} (pid {pid}) listens on {ip}:{port}, beyond loopback"
            assert port in allowed, f"{name} (pid {pid}) listens on an unexpected port {ip}:{port}: {socks}"
    return socks


def test_listening_sockets(deployment):
    """The deployment's every listening socket: HAProxy's port, each replica's, and Dask's comm ports (the
    scheduler, the worker, its nanny), all on loopback (only HAProxy may face the network); no Dask HTTP."""
    d = deployment
    pids = set(_session_processes(d.proc.pid))
    dask, nannies = dask_ports(d.client())
    assert len(dask) == 2 and len(nannies) == 1  # the scheduler and one worker, under its nanny
    socks = check_closed_engine(pids, {d.pids["haproxy"]}, {d.port, *d.replica_ports, *dask, *nannies})
    ports = {port for addrs in socks.values() for _, port in addrs}
    assert ports == {d.port, *d.replica_ports, *dask, *nannies}, socks  # each of them is listening
    assert socks[d.pids["haproxy"]] == {("127.0.0.1", d.port)}
    names = {pid: name for name, pid in d.pids.items()}
    print("\nlistening:", {names.get(p, f"{psutil.Process(p).name()} {p}"): sorted(a) for p, a in socks.items()})


def _get(url: str, cookie: str | None = None):
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers.get("X-Explainer-Replica"), r.headers.get_all("Set-Cookie") or []


def run(coro):
    return run_async(coro, 600)


def test_cookie_stickiness(deployment):
    seen, cookies = set(), {}
    for _ in range(4):  # new visitors are spread over both replicas, each told its replica in a cookie
        replica, set_cookies = _get(deployment.url + "/")
        seen.add(replica)
        srv = [c.split(";")[0].split("=", 1)[1] for c in set_cookies if c.startswith("EXPLAINER_SRV=")]
        assert srv == [replica]
        cookies[replica] = f"EXPLAINER_SRV={replica}"
    assert seen == {"web1", "web2"}
    for replica, cookie in cookies.items():  # a visitor with the cookie stays on its replica, for any path
        for path in ("/", "/kernels", "/_stcore/health", "/_stcore/host-config"):
            assert _get(deployment.url + path, cookie)[0] == replica


def test_websocket_session_reruns_through_the_balancer(deployment):
    async def go():
        s = Session(deployment.url, timeout=180)
        try:
            await s.open("stride")
            replica = s.cookies["EXPLAINER_SRV"]
            assert s.ws.headers.get("X-Explainer-Replica") == replica  # the websocket went where the cookie says
            assert "sp_s" in s.widgets and not s.exceptions
            await s.slider("sp_s", 1)
            await s.click("sp_next")  # a button inside the stepper's fragment
            await s.goto("pooling")
            await s.choose("pl_mode", 1)
            assert not s.exceptions
        finally:
            await s.close()
    run(go())


def _png(w: int, h: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 40, 90)).save(buf, format="PNG")
    return buf.getvalue()


def test_upload_reaches_the_sessions_process(deployment):
    async def go():
        s = Session(deployment.url, timeout=180)
        try:
            await s.open("images")
            await s.choose("im_src", s.options("im_src").index(translate("picker.src_upload", "en")))
            mine = s.cookies["EXPLAINER_SRV"]
            # the same upload with the other replica's cookie lands on a process that doesn't know the session
            other = {"web1": "web2", "web2": "web1"}[mine]
            s.cookies["EXPLAINER_SRV"] = other
            with pytest.raises(ClickError, match="400"):
                await s.upload("im_upload", "wrong.png", _png(13, 11), "image/png")
            s.cookies["EXPLAINER_SRV"] = mine
            code, _ = await s.upload("im_upload", "patch.png", _png(13, 11), "image/png")
            assert code in (200, 204)
            assert not s.exceptions
            assert translate("images.shape_text", "en", h=11, w=13, c=3, n=11 * 13 * 3) in s.texts
        finally:
            await s.close()
    run(go())


def test_training_through_the_balancer(deployment):
    """The Train page's Start through a websocket session on the balancer, until the finished run shows."""
    from distributed import Client

    # the Dask side of the contract: every web process knows the scheduler, the worker offers a training slot
    for name in ("web1", "web2"):
        assert _environ(deployment.pids[name]).get("EXPLAINER_DASK_SCHEDULER") == deployment.scheduler
    with Client(deployment.scheduler, timeout=30) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        assert [w["resources"] for w in workers] == [{"training": 1}]
        tasks_before = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)

    async def go():
        s = Session(deployment.url, timeout=240)
        try:
            await s.open("train")
            sizes = s.options("tr_size")
            await s.choose("tr_size", 0)  # the smallest training set
            assert sizes[0] != sizes[-1]
            await s.click("tr_start")
            done = translate("train.runs_header", "en")
            deadline = time.monotonic() + 420
            while not any(done in text for text in s.texts):
                assert time.monotonic() < deadline, "no finished run within 420 s"
                assert not s.exceptions, s.exceptions
                await s.tick()  # the browser's progress refresh (the page's fragment timer)
                await asyncio.sleep(0.2)
        finally:
            await s.close()
    run(go())
    if ENGINE:
        # one more training, left running: the deployment's stop (the fixture's end) must still be clean
        async def start_another():
            s = Session(deployment.url, timeout=240)
            try:
                await s.open("train")
                await s.click("tr_start")
            finally:
                await s.close()
        run(start_another())  # the engine exists: the run must have gone through the deployment's scheduler
        with Client(deployment.scheduler, timeout=30) as client:
            tasks_after = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
        assert tasks_after > tasks_before, "the training did not go through the Dask scheduler"


def test_embedded_cluster_sockets():
    """The app's own engine (python -m explainer.engine.jobcluster, as explainer.engine.jobs starts it): scheduler, nanny and
    worker listen on loopback only, on their Dask comm ports, and serve no HTTP."""
    from distributed import Client

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "explainer.engine.jobcluster", "--workers", "1"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("ADDRESS tcp://127.0.0.1:"), line
        dask, nannies = dask_ports(Client(line.split()[1], timeout=30))
        assert len(dask) == 2 and len(nannies) == 1
        pids = {proc.pid} | {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        socks = check_closed_engine(pids, set(), dask | nannies)
        assert {port for addrs in socks.values() for _, port in addrs} == dask | nannies, socks
    finally:
        proc.stdin.close()
        assert proc.wait(60) == 0
