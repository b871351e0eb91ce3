"""The app's local Dask cluster, in a process of its own::

    python -m explainer.engine.jobcluster --workers 1 --threads 2

Starts a ``LocalCluster`` (``--workers`` worker processes, one thread and one ``training`` slot each),
prints ``ADDRESS tcp://127.0.0.1:<port>`` and runs until its standard input closes (the web process
that started it has exited, however it ended) or it gets SIGTERM/SIGINT; then it closes the cluster.

Why a separate process: worker processes are started with ``spawn``, which re-runs the parent's
``__main__``; inside Streamlit that is the app script itself. Started from here, the workers' parent
is this small module, and the scheduler's work stays out of the web process too.

A closed engine (issue 21 item 3): the scheduler, the nannies and the workers listen on 127.0.0.1 only and
serve no HTTP at all. Dask starts an HTTP server on every scheduler and worker even without a dashboard
(``/info/main/logs.html``, ``/eventstream``, ``/metrics``, ``/proxy/…``); here its routes are emptied
(``CLOSED_CONFIG``) and this module is the scheduler's and workers' Dask *preload*: its ``dask_setup``
closes that listener unless routes were asked for in Dask's config (``distributed.scheduler.http.routes``,
``distributed.worker.http.routes``). ``deploy/classroom.sh`` uses the same preload and config for a course's
scheduler and workers (``--preload explainer.engine.jobcluster``).

``LocalClusterProcess`` is the web process's end: it starts this module as a child process and reads its address.
The names every process of a cluster shares (the ``training`` slot, ``EXPLAINER_TORCH_THREADS``) live here, at the
bottom of the engine: the worker set-up (``worker``) and the engine (``core``) both read them.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

SLOT = "training"  # the Dask worker resource one job occupies
ENV_TORCH_THREADS = "EXPLAINER_TORCH_THREADS"  # PyTorch threads per worker (a worker's own setting wins)

# Dask config of a closed engine: no HTTP routes on the scheduler or the workers (the listener itself is
# closed by dask_setup below), no dashboard.
CLOSED_CONFIG = {
    "distributed.scheduler.http.routes": [],
    "distributed.worker.http.routes": [],
}


def dask_setup(server) -> None:
    """Dask preload hook (scheduler, worker or nanny): close the server's HTTP listener when it serves no
    routes. Dask opens it before preloads run, so for a moment it listens (loopback, answering 404)."""
    import dask

    http = getattr(server, "http_server", None)
    if http is None:  # a nanny has none
        return
    kind = "scheduler" if type(server).__name__ == "Scheduler" else "worker"
    if dask.config.get(f"distributed.{kind}.http.routes"):
        return  # asked for: keep it (on the address Dask was given)
    http.stop()
    server.services.pop("dashboard", None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explainer.engine.jobcluster")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=90.0)
    args = ap.parse_args(argv)
    import dask
    from distributed import LocalCluster

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # the config travels to the spawned workers with their nannies; the preload runs in each of them
    dask.config.set(CLOSED_CONFIG)
    dask.config.set({"distributed.worker.preload": ["explainer.engine.jobcluster"]})
    cluster = LocalCluster(n_workers=max(1, args.workers), threads_per_worker=1, processes=True,
                           resources={SLOT: 1}, dashboard_address=None, host="127.0.0.1", silence_logs=40,
                           timeout=args.timeout,
                           # the HTTP listener Dask opens anyway (closed below): a free port, not 8787
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    dask_setup(cluster.scheduler)  # the scheduler runs in this process: close its listener here too
    print("ADDRESS", cluster.scheduler_address, flush=True)

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at end of file: the parent has closed the pipe or died
        stop.set()

    threading.Thread(target=watch_stdin, name="parent-watch", daemon=True).start()
    stop.wait()
    cluster.close(timeout=15)
    return 0


class LocalClusterProcess:
    """``python -m explainer.engine.jobcluster`` as a child process: a local cluster that ends with this process."""

    def __init__(self, workers: int, timeout: float):
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        self.proc = subprocess.Popen([sys.executable, "-m", "explainer.engine.jobcluster", "--workers", str(workers),
                                      "--timeout", str(timeout)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     cwd=root, env=env, text=True)
        self.address = None
        found = threading.Event()

        def read() -> None:
            for line in self.proc.stdout:
                if line.startswith("ADDRESS "):
                    self.address = line.split()[1]
                    found.set()
            found.set()  # ended without an address

        threading.Thread(target=read, name="explainer-cluster-output", daemon=True).start()
        if not found.wait(timeout) or self.address is None:
            self.close()
            raise RuntimeError("the local Dask cluster did not start"
                               + (f" (exit code {self.proc.returncode})" if self.proc.returncode is not None else ""))

    def close(self, timeout: float = 20) -> None:
        try:
            self.proc.stdin.close()  # the cluster process closes its cluster and exits
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop_process(self.proc, 5)


def stop_process(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM, then SIGKILL if ``proc`` has not ended within ``grace`` seconds; returns once it has ended."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
