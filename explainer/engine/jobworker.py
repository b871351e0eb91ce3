"""The worker side of ``explainer.engine.jobs``: what runs inside a Dask worker process.

Imported by the web process only when a job is submitted (it imports Dask).
"""
from __future__ import annotations

import ctypes
import os
import threading
import time

from distributed import Variable, WorkerPlugin, get_client

from explainer.engine.jobs import (CLOCK_SKEW, ENV_TORCH_THREADS, checkpoint_path, claim_function, model_from_state,
                            prune_checkpoints, state_of)


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


def _config_dataset(config) -> str:
    return (config or {}).get("dataset", "mnist") if isinstance(config, dict) else "mnist"


def _worker_data_quietly() -> None:
    try:
        worker_data()
    except Exception:  # noqa: BLE001 — the first job reports it
        pass


def claim_start(client, key: str) -> str | None:
    """This worker begins the job ``key``: its claim on the scheduler (``jobs.claim_function``); the winner
    (``"started"``, or ``"stopped"`` when the page's Stop came first), ``None`` if the scheduler can't be asked."""
    try:
        from distributed import get_worker

        return client.run_on_scheduler(claim_function(), key, "started", get_worker().address)
    except Exception:  # noqa: BLE001 — a scheduler that runs no functions: the stop flag decides, as before
        return None


class _Link:
    """The worker's end of a job: heartbeat and stop from the page, progress to the page.

    ``attempt`` counts the runs of this task: Dask runs a task again on another worker when its worker dies
    (up to ``distributed.scheduler.allowed-failures`` times). An earlier attempt left its progress ("running") on
    the scheduler, so a rerun is never silent: it says ``attempt`` and ``resumed_from`` in every progress report."""

    def __init__(self, key: str, heartbeat_timeout: float, begin: bool = True):
        client = get_client()
        # first of all, claim the job on the scheduler (jobs.claim_function): if its page's Stop came first, the
        # page has cancelled it, and this task (taken in that instant) ends at once without working
        stopped_first = claim_start(client, key) == "stopped"
        self.ctl = Variable(f"{key}-ctl", client)
        self.prog = Variable(f"{key}-prog", client)
        self.hist = Variable(f"{key}-hist", client)
        self.timeout = heartbeat_timeout
        self.history: list[dict] = []
        self.abandoned = self.stopped = False
        self.resumed_from: int | None = None
        self._checked = 0.0
        self._beat = None
        self._beat_seen = time.monotonic()
        self.cancelled, self.attempt = stopped_first, 1
        if stopped_first:
            return  # its variables may be gone with the cancelled future: nothing to read or say
        ctl = self._read()
        if ctl is not None and time.time() - float(ctl.get("beat", 0)) > self.timeout + CLOCK_SKEW:
            self.abandoned = True  # the page stopped polling while the job waited in the queue
        self.cancelled = bool(ctl is not None and ctl.get("stop"))  # stopped while it waited on this worker
        try:
            before = self.prog.get(timeout=5)
        except Exception:  # noqa: BLE001
            before = None
        ran = isinstance(before, dict) and before.get("state") == "running"
        self.attempt = int(before.get("attempt", 1)) + 1 if ran else 1
        if begin:
            self.begin(0 if ran else None)

    def begin(self, resumed_from: int | None = None, history=()) -> None:
        """Say "running" (from ``resumed_from`` with its curve ``history`` when this goes on from a checkpoint)."""
        self.resumed_from = resumed_from
        self.history = [dict(h) for h in history]
        try:
            if self.history:
                self.hist.set(list(self.history))
            self.prog.set(self._prog(self.history[-1] if self.history else {}))
        except Exception:  # noqa: BLE001
            pass

    def _prog(self, latest: dict) -> dict:
        return {"state": "running", "latest": latest, "n": len(self.history), "attempt": self.attempt,
                "resumed_from": self.resumed_from, "t": time.time()}

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
            self.prog.set(self._prog(rec))
        except Exception:  # noqa: BLE001 — a progress report that doesn't arrive never ends a training
            pass


def load_resume(key: str | None, config) -> dict | None:
    """The checkpoint ``key``'s training saved last, if it is there and of ``config``; else ``None``."""
    import torch

    path = checkpoint_path(key)
    if path is None or not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 — half written, damaged: start from the beginning (and say so)
        return None
    from explainer.learning.train import TrainConfig

    try:
        same = isinstance(state, dict) and TrainConfig.from_dict(state.get("config", {})) == config
    except Exception:  # noqa: BLE001
        same = False
    return state if same else None


def save_resume(key: str, state: dict) -> None:
    """Write a checkpoint atomically (a worker killed while writing leaves the previous one)."""
    import torch

    path = checkpoint_path(key)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
    except OSError:
        pass  # a full disk costs the resume, not the training


def run_training(key: str, heartbeat_timeout: float, config: dict, resume_from: str | None = None,
                 data=None) -> dict:
    """Worker: train, score the whole test set, return weights and the evaluation (plain data). A checkpoint is
    written at every evaluation point; a rerun of this task (its worker died) or a Retry (``resume_from``: the
    lost job's key) goes on from the last one, and says so."""
    from explainer.learning.train import TrainConfig, train

    link = _Link(key, heartbeat_timeout, begin=False)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}  # nobody is waiting for it any more: don't train at all
    cfg = TrainConfig.from_dict(config)
    prune_checkpoints()
    state = None
    for source in ([key] if link.attempt > 1 else []) + ([resume_from] if resume_from else []):
        state = load_resume(source, cfg)
        if state is not None:
            break
    again = link.attempt > 1 or resume_from is not None
    link.begin(int(state["step"]) if state is not None else (0 if again else None),
               state["history"] if state is not None else ())
    try:
        res = train(cfg, data if data is not None else worker_data(cfg.dataset), on_progress=link.progress, should_stop=link.should_stop, progress_every=0.5,
                    checkpoint=lambda st: save_resume(key, st), resume=state)
    except _Abandoned:
        return {"abandoned": True}  # its checkpoint stays a while: a page that lost its engine may still Retry
    return {"state_dict": state_of(res.model), "history": res.history, "test_accuracy": res.test_accuracy,
            "train_seconds": res.train_seconds, "images_per_second": res.images_per_second,
            "epochs_done": res.epochs_done, "device": res.device, "config": cfg.to_dict(), "stopped": res.stopped,
            "predictions": res.predictions, "probabilities": res.probabilities}


def run_landscape(key: str, heartbeat_timeout: float, config: dict | None, state, steps: int, digits: int) -> dict:
    """Worker: the loss landscape around the weights ``state`` (a state_dict of ``config``'s model, or, with
    ``config`` None, the model itself)."""
    import torch

    from explainer.learning.optim import loss_landscape
    from explainer.learning.train import TrainConfig, pick_device, to_tensor

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    device = pick_device("auto")
    model = (model_from_state(TrainConfig.from_dict(config), state) if config is not None else state).to(device)
    _, _, x_test, y_test = worker_data(_config_dataset(config))
    x, y = to_tensor(x_test[:digits], device), torch.as_tensor(y_test[:digits], device=device)

    def progress(f: float) -> None:
        link.progress({"fraction": float(f), "eta": 0.0})
        if link.should_stop():  # Stop: nothing worth keeping of a half landscape
            raise _Abandoned()

    try:
        return loss_landscape(model, x, y, steps=steps, span=1.0, progress=progress)
    except _Abandoned:
        return {"abandoned": True}


def run_evaluation(key: str, heartbeat_timeout: float, config: dict, state: dict, data=None) -> dict:
    """Worker: loss, accuracy, predictions and probabilities on the 10,000 test digits (or the test pictures of a
    learner's own images, shipped as ``data``)."""
    from explainer.learning.train import TrainConfig, evaluate, pick_device

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    model = model_from_state(TrainConfig.from_dict(config), state).to(pick_device("auto"))
    _, _, x_test, y_test = data if data is not None else worker_data(_config_dataset(config))
    return evaluate(model, x_test, y_test)


def run_shift(key: str, heartbeat_timeout: float, config: dict, state: dict, digits: int) -> dict:
    """Worker: accuracy on the first ``digits`` test digits shifted by each of ``shift.SHIFTS`` pixels."""
    from explainer.maths.shift import shifted_accuracy
    from explainer.learning.train import TrainConfig, pick_device

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    model = model_from_state(TrainConfig.from_dict(config), state).to(pick_device("auto"))
    _, _, x_test, y_test = worker_data(_config_dataset(config))
    return {"accuracy": shifted_accuracy(model, x_test[:digits], y_test[:digits])}


class _Abandoned(Exception):
    pass


def run_top_patches(key: str, heartbeat_timeout: float, config: dict, state: dict, layer: int) -> dict:
    """Worker: ``network.top_patches`` of entry ``layer`` over the 10,000 test digits, with progress."""
    from explainer.learning.network import top_patches
    from explainer.learning.train import TrainConfig

    link = _Link(key, heartbeat_timeout)
    if link.abandoned or link.cancelled:
        return {"cancelled": True} if link.cancelled else {"abandoned": True}
    model = model_from_state(TrainConfig.from_dict(config), state)
    _, _, x_test, _ = worker_data(_config_dataset(config))

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
    from explainer.learning.network import optimise_input
    from explainer.learning.train import TrainConfig

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
