"""The worker entry: how a Dask worker process is set up for this app (``WorkerSetup``, a plugin the engine registers:
PyTorch threads, niceness, glibc's allocator, the data set loaded in the background) and the data sets it keeps
(``worker_data``). What a job does there is its kind's ``work`` (``explainer.engine.jobs``), run through the one
wrapper of the job protocol (``explainer.engine.protocol.perform``).

Imported by the web process only when the engine connects (it imports Dask).
"""
from __future__ import annotations

import ctypes
import os
import threading
import time

from distributed import WorkerPlugin

from explainer.engine.jobcluster import ENV_TORCH_THREADS


class WorkerSetup(WorkerPlugin):
    """A Dask worker plugin: PyTorch threads and niceness for this worker process, MNIST loaded in the background."""

    idempotent = True
    name = "explainer-setup"

    def __init__(self, torch_threads: int | None, nice: int = 5):
        self.torch_threads, self.nice = torch_threads, nice

    def setup(self, worker) -> None:
        import torch

        # this worker process only: the worker's own EXPLAINER_TORCH_THREADS, else the app's choice, else its cores
        own = os.environ.get(ENV_TORCH_THREADS)
        torch.set_num_threads(max(1, int(own or self.torch_threads or os.cpu_count() or 1)))
        try:
            current = os.nice(0)
            if self.nice > current:
                os.nice(self.nice - current)
        except OSError:
            pass
        malloc_for_training()
        threading.Thread(target=_worker_data_quietly, name="explainer-mnist", daemon=True).start()

    def teardown(self, worker) -> None:
        pass


# glibc's mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20   # allocations up to this size come from the heap (32 MiB: the most older glibc accepts)
TRIM_THRESHOLD = 256 << 20  # free memory at the heap's top is handed back to the system beyond this


def malloc_for_training() -> bool:
    """Let this worker process reuse freed memory for the next batch's tensors (glibc only; else nothing).

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``).
    Setting it switches off glibc's dynamic mmap threshold, so every tensor over 128 kB (a batch's
    activations, its gradients) is a fresh ``mmap`` and ``munmap`` each step, with its page faults: training
    ran at 3,300 images/s instead of 8,000 on this 2-core machine (bench/train.py --engine). Raising both
    thresholds at run time (``mallopt``) gives the in-process speed back; memory beyond 256 MB free at the
    top of the heap is still returned to the system."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mmap_ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        trim_ok = bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        return mmap_ok and trim_ok
    except (OSError, AttributeError):  # not glibc (macOS, musl): their allocators don't have this problem
        return False


_DATA: dict = {}
_DATA_LOCK = threading.Lock()


def worker_data(dataset: str = "mnist"):
    """A built-in data set (``explainer.data.datasets``: MNIST, Fashion-MNIST) in this worker process, read by the worker
    itself from its own files, loaded once and kept."""
    with _DATA_LOCK:
        if dataset not in _DATA:
            if dataset == "mnist":
                from explainer.data.mnist import load_mnist

                _DATA[dataset] = load_mnist()
            else:
                from explainer.data import datasets

                _DATA[dataset] = datasets.get(dataset).load_all()
        return _DATA[dataset]


def dataset_of(config: dict | None) -> str:
    """The data set a job's configuration (``TrainConfig.to_dict()``, or None) names: MNIST unless it says."""
    return (config or {}).get("dataset", "mnist") if isinstance(config, dict) else "mnist"


def _worker_data_quietly() -> None:
    try:
        worker_data()
    except Exception:  # noqa: BLE001 — the first job reports it
        pass
