"""The app's local Dask cluster, in a process of its own::

    python -m explainer.jobcluster --workers 1 --threads 2

Starts a ``LocalCluster`` (``--workers`` worker processes, one thread and one ``training`` slot each),
prints ``ADDRESS tcp://127.0.0.1:<port>`` and runs until its standard input closes (the web process
that started it has exited, however it ended) or it gets SIGTERM/SIGINT; then it closes the cluster.

Why a separate process: worker processes are started with ``spawn``, which re-runs the parent's
``__main__``; inside Streamlit that is the app script itself. Started from here, the workers' parent
is this small module, and the scheduler's work stays out of the web process too.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explainer.jobcluster")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=90.0)
    args = ap.parse_args(argv)
    from distributed import LocalCluster

    from explainer.jobs import SLOT

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    cluster = LocalCluster(n_workers=max(1, args.workers), threads_per_worker=1, processes=True,
                           resources={SLOT: 1}, dashboard_address=None, host="127.0.0.1", silence_logs=40,
                           timeout=args.timeout)
    print("ADDRESS", cluster.scheduler_address, flush=True)

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at end of file: the parent has closed the pipe or died
        stop.set()

    threading.Thread(target=watch_stdin, name="parent-watch", daemon=True).start()
    stop.wait()
    cluster.close(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
