"""The worker side of ``explainer.jobs``: what runs inside a Dask worker process.

Imported by the web process only when a job is submitted (it imports Dask).
"""
from __future__ import annotations

import ctypes
import os
import threading
import time

from distributed import Variable, WorkerPlugin, get_client

from explainer.jobs import CLOCK_SKEW, ENV_TORCH_THREADS, model_from_state, state_of


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


_DATA = None
_DATA_LOCK = threading.Lock()


def worker_data():
    """MNIST in this worker process, loaded once and kept."""
    global _DATA
    with _DATA_LOCK:
        if _DATA is None:
            from explainer.mnist import load_mnist

            _DATA = load_mnist()
        return _DATA


def _worker_data_quietly() -> None:
    try:
        worker_data()
    except Exception:  # noqa: BLE001 — the first job reports it
        pass


class _Link:
    """The worker's end of a job: heartbeat and stop from the page, progress to the page."""

    def __init__(self, key: str, heartbeat_timeout: float):
        client = get_client()
        self.ctl = Variable(f"{key}-ctl", client)
        self.prog = Variable(f"{key}-prog", client)
        self.hist = Variable(f"{key}-hist", client)
        self.timeout = heartbeat_timeout
        self.history: list[dict] = []
        self.abandoned = self.stopped = False
        self._checked = 0.0
        self._beat = None
        self._beat_seen = time.monotonic()
        ctl = self._read()
        if ctl is not None and time.time() - float(ctl.get("beat", 0)) > self.timeout + CLOCK_SKEW:
            self.abandoned = True  # the page stopped polling while the job waited in the queue
        self.cancelled = bool(ctl is not None and ctl.get("stop"))  # stopped while it waited on this worker
        self.prog.set({"state": "running", "latest": {}, "n": 0})

    def _read(self):
        try:
            return self.ctl.get(timeout=5)
        except Exception:  # noqa: BLE001 — see should_stop
            return None

    def should_stop(self) -> bool:
        now = time.monotonic()
        if self.abandoned:
            raise _Abandoned()
        if self.stopped:
            return True
        if now - self._checked < 0.5:
            return False
        self._checked = now
        ctl = self._read()
        if ctl is None:
            ctl = {"beat": self._beat}  # unreadable (a slow scheduler) or deleted (the page is gone): no new beat
        if ctl.get("stop"):
            self.stopped = True
            return True
        if ctl.get("beat") != self._beat:
            self._beat, self._beat_seen = ctl.get("beat"), now
        elif now - self._beat_seen > self.timeout:
            self.abandoned = True
            raise _Abandoned()  # nobody is waiting: end now, without the final evaluation
        return False

    def progress(self, rec: dict) -> None:
        rec = {k: (float(v) if isinstance(v, float) else v) for k, v in rec.items()}
        if "test_acc" in rec:
            self.history.append(rec)
        try:
            if "test_acc" in rec:
                self.hist.set(list(self.history))
            self.prog.set({"state": "running", "latest": rec, "n": len(self.history)})
        except Exception:  # noqa: BLE001 — a progress report that doesn't arrive never ends a training
            pass


def run_training(key: str, heartbeat_timeout: float, config: dict) -> dict:
    """Worker: train, score the whole test set, return weights and the evaluation (plain data)."""
    from explainer.train import TrainConfig, train

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}  # nobody is waiting for it any more: don't train at all
    cfg = TrainConfig.from_dict(config)
    try:
        res = train(cfg, worker_data(), on_progress=link.progress, should_stop=link.should_stop, progress_every=0.5)
    except _Abandoned:
        return {"abandoned": True}
    return {"state_dict": state_of(res.model), "history": res.history, "test_accuracy": res.test_accuracy,
            "train_seconds": res.train_seconds, "images_per_second": res.images_per_second,
            "epochs_done": res.epochs_done, "device": res.device, "config": cfg.to_dict(), "stopped": res.stopped,
            "predictions": res.predictions, "probabilities": res.probabilities}


def run_landscape(key: str, heartbeat_timeout: float, config: dict | None, state, steps: int, digits: int) -> dict:
    """Worker: the loss landscape around the weights ``state`` (a state_dict of ``config``'s model, or, with
    ``config`` None, the model itself)."""
    import torch

    from explainer.optim import loss_landscape
    from explainer.train import TrainConfig, pick_device, to_tensor

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    device = pick_device("auto")
    model = (model_from_state(TrainConfig.from_dict(config), state) if config is not None else state).to(device)
    _, _, x_test, y_test = worker_data()
    x, y = to_tensor(x_test[:digits], device), torch.as_tensor(y_test[:digits], device=device)

    def progress(f: float) -> None:
        link.progress({"fraction": float(f), "eta": 0.0})
        if link.should_stop():  # Stop: nothing worth keeping of a half landscape
            raise _Abandoned()

    try:
        return loss_landscape(model, x, y, steps=steps, span=1.0, progress=progress)
    except _Abandoned:
        return {"abandoned": True}


def run_evaluation(key: str, heartbeat_timeout: float, config: dict, state: dict) -> dict:
    """Worker: loss, accuracy, predictions and probabilities on the 10,000 test digits."""
    from explainer.train import TrainConfig, evaluate, pick_device

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    model = model_from_state(TrainConfig.from_dict(config), state).to(pick_device("auto"))
    _, _, x_test, y_test = worker_data()
    return evaluate(model, x_test, y_test)


def run_shift(key: str, heartbeat_timeout: float, config: dict, state: dict, digits: int) -> dict:
    """Worker: accuracy on the first ``digits`` test digits shifted by each of ``shift.SHIFTS`` pixels."""
    from explainer.shift import shifted_accuracy
    from explainer.train import TrainConfig, pick_device

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    model = model_from_state(TrainConfig.from_dict(config), state).to(pick_device("auto"))
    _, _, x_test, y_test = worker_data()
    return {"accuracy": shifted_accuracy(model, x_test[:digits], y_test[:digits])}


def run_race(key: str, heartbeat_timeout: float, surface: str, kappa: float, runs: list, start, steps: int,
             noise: float, seed: int) -> dict:
    """Worker: one ``optim.race`` per run (the same numbers as the page's own paths), with its losses and summary,
    as plain arrays and dicts. Stop ends it between two paths, keeping the finished ones."""
    from explainer import optim

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    surf = optim.surface(surface, kappa=kappa) if surface == "quadratic" else optim.surface(surface)
    out: list[dict] = []
    began = time.monotonic()
    try:
        for name, hp in runs:
            if link.should_stop():
                break
            path = optim.race(surf, [(name, dict(hp))], start, steps, noise, seed)[0]
            out.append({"path": path, "losses": optim.losses(surf, path), "summary": optim.summarise(surf, path)})
            per_path = (time.monotonic() - began) / len(out)
            link.progress({"fraction": len(out) / len(runs), "eta": per_path * (len(runs) - len(out))})
    except _Abandoned:
        return {"abandoned": True}
    return {"paths": out, "stopped": len(out) < len(runs)}


class _Abandoned(Exception):
    pass


def run_top_patches(key: str, heartbeat_timeout: float, config: dict, state: dict, layer: int) -> dict:
    """Worker: ``network.top_patches`` of entry ``layer`` over the 10,000 test digits, with progress."""
    from explainer.network import top_patches
    from explainer.train import TrainConfig

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    model = model_from_state(TrainConfig.from_dict(config), state)
    _, _, x_test, _ = worker_data()

    def progress(f: float) -> None:
        link.progress({"fraction": float(f)})
        if link.should_stop():
            raise _Abandoned()

    try:
        return top_patches(model, x_test, layer, progress=progress)
    except _Abandoned:
        return {"abandoned": True}


def run_optimise_input(key: str, heartbeat_timeout: float, config: dict, state: dict, layer: int, channel: int,
                       steps: int) -> dict:
    """Worker: ``network.optimise_input`` for one channel, with progress."""
    from explainer.network import optimise_input
    from explainer.train import TrainConfig

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    model = model_from_state(TrainConfig.from_dict(config), state)

    def progress(f: float) -> None:
        link.progress({"fraction": float(f)})
        if link.should_stop():
            raise _Abandoned()

    try:
        return optimise_input(model, layer, channel, steps=steps, progress=progress)
    except _Abandoned:
        return {"abandoned": True}
