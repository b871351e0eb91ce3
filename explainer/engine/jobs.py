"""Long computations (trainings, a trained CNN's loss landscape, scoring uploaded weights)
on Dask distributed.

The web process never runs a training loop nor scores the 10,000 test digits: it submits a job to a
Dask cluster and polls it. Dask is imported lazily (on the first job), so pages that don't train
don't pay for it.

Where the jobs run
------------------
- By default an embedded ``distributed.LocalCluster`` is started on first use (``engine()``), in a child
  process of its own (``python -m explainer.engine.jobcluster``, which ends with the web process), sized to
  the machine: ``threads = min(4, cores)`` PyTorch threads per training, ``cores // threads``
  worker processes (a 2-core machine: 1 worker, 2 threads), one training slot per worker. The worker
  processes run at a lower priority (``nice``) than the web process, so clicks stay fast while a
  training uses the idle cores. They stop when the server exits, however it ends (the cluster process
  watches its standard input, a pipe from the web process; ``shutdown()`` also runs ``atexit``).
- With ``EXPLAINER_DASK_SCHEDULER=tcp://host:8786`` the app submits to that existing cluster
  instead (a university's cluster, or ``deploy/``). Its workers need this repository importable and
  MNIST (``$MNIST_DIR``); start them with one thread and one slot each::

      dask worker tcp://host:8786 --nthreads 1 --resources training=1

  (workers without the ``training`` resource are used, one job per worker thread, when no worker
  advertises it). ``EXPLAINER_TORCH_THREADS`` sets the PyTorch threads per worker (default: all
  cores of a local cluster's share; on a remote worker, its cores), ``EXPLAINER_DASK_WORKERS`` the
  number of local workers, ``EXPLAINER_WORKER_NICE`` their niceness (default 5, 0 to keep it).
- A worker loads MNIST once per process and keeps it; it uses its GPU when it has one (device
  ``auto``).

The job interface (what pages use)
----------------------------------
``TrainingJob(config, data=None, *, owner=None)`` (``data`` is ignored: the worker has its own MNIST),
``LandscapeJob(model, config=None, *, steps=15, digits=300, owner=None)``,
``EvaluationJob(model, config, *, owner=None)`` and ``ShiftJob(model, config, *, digits=2000, owner=None)``
share this interface
(``Job``; each also takes ``engine_=`` an ``Engine``, default ``engine()``, and ``heartbeat_timeout=`` seconds,
default 10):

- ``job.start()`` submits it and returns the job. It raises ``EngineUnavailable`` (a ``UserError``,
  message key ``jobs.engine_unavailable``) when the engine can't start, and ``UserError``
  (``jobs.one_job``) when ``owner`` (the page passes its session id) already has a job of the same
  kind that is not done: one running training per session, enforced here, not by the page.
- ``job.poll()`` → ``JobView`` (``state`` is ``"queued"``, ``"running"``, ``"done"``, ``"stopped"``,
  ``"cancelled"``, ``"abandoned"`` or ``"error"``; ``history``, ``latest``, ``ahead`` = jobs that will take a slot
  before this one, ``wait_seconds`` = an estimate of the wait, ``fraction`` done). It is the one
  call a page makes per refresh, and it is the session's heartbeat: a job whose session sends no
  heartbeat for ``heartbeat_timeout`` (10 s) is ended by the worker at once, without a result
  (state ``"abandoned"``; a queued one is dropped when it would start). It makes one or two small
  requests to the scheduler.
- ``job.snapshot()`` → ``(history, latest)`` as the old thread job had (also a heartbeat).
- ``job.heartbeat()``: only the heartbeat (``ui.jobs.keep_alive()`` sends it every 2 s for all of a
  session's jobs from the app's entry script, so a training goes on while the learner reads another page).
- ``job.stop()``: a queued job is cancelled; a running training stops after its current batch and
  still returns what it learned (``result.stopped``). Which of the two, the scheduler decides atomically
  (``claim_function``: the page's Stop and the worker's first act both claim the job; the first wins).
- ``job.done``, ``job.result`` (fetched once from the worker when done; ``None`` if cancelled),
  ``job.error`` (a one-line text, or ``None``), ``job.join(timeout)`` (wait, with heartbeats).

``TrainingJob.result`` is an ``explainer.learning.train.TrainResult`` whose model was rebuilt here from the
worker's ``state_dict``, with ``predictions`` and ``probabilities`` of the 10,000 test digits
(computed by the worker). ``LandscapeJob.result`` is ``optim.loss_landscape``'s dict;
``EvaluationJob.result`` is ``train.evaluate``'s dict; ``ShiftJob.result`` the accuracy per shift.
The Optimizers page's 2-D races are no job: the written-out update rules (``explainer.learning.optim_rules``) compute
the longest one in a few tens of milliseconds, in the page.

The engine: ``engine()`` (the process's shared ``Engine``, started on first use), ``warm_up()`` (start
it in the background), ``shutdown()``, ``set_engine(eng)`` (tests), ``Engine(address=None, *,
n_workers=None, torch_threads=None, start_timeout=90)``, ``local_layout(cores)``.
"""
from __future__ import annotations

import atexit
import copy
import hashlib
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explainer import limits
from explainer.errors import UserError

ENV_SCHEDULER = "EXPLAINER_DASK_SCHEDULER"
ENV_WORKERS = "EXPLAINER_DASK_WORKERS"
ENV_TORCH_THREADS = "EXPLAINER_TORCH_THREADS"
ENV_NICE = "EXPLAINER_WORKER_NICE"
SLOT = "training"  # the Dask worker resource one job occupies
PREFIX = "explainer-"
HEARTBEAT_TIMEOUT = 10.0
CLOCK_SKEW = 5.0  # tolerated difference between the web process's and a worker's clocks
START_TIMEOUT = 90.0
RETRY_AFTER = 30.0  # after a failed start, the engine is not tried again for this long
WATCH_EVERY = 0.5  # how often the engine checks its scheduler connection (and its local cluster's process)
RECONNECT_FIRST, RECONNECT_MAX = 0.5, 5.0  # reconnecting: the first wait, doubled after each failure up to this
STALE_PROGRESS = 4.0  # a running job without news this long, and not executing on a worker: its worker was lost
ENV_CHECKPOINTS = "EXPLAINER_CHECKPOINTS"
LANDSCAPE_DIGITS = 300
LANDSCAPE_STEPS = 15


class EngineUnavailable(UserError):
    """The Dask engine could not be started or reached."""


class EngineRestarting(EngineUnavailable):
    """The engine lost its scheduler (or its local cluster's process) and is reconnecting by itself."""

    def __init__(self):
        super().__init__("jobs.engine_restarting")


# ====================================================================== checkpoints of trainings
_KEY = re.compile(r"explainer-[a-z]+-[0-9]{1,20}-[0-9]{1,9}-[0-9a-f]{12}-[0-9]{1,4}-[0-9a-fx]{1,16}")


def checkpoint_dir() -> Path:
    """Where trainings keep their checkpoints (every evaluation point), readable by the workers and the web
    process: ``$EXPLAINER_CHECKPOINTS``, else ``resume/`` in the run store's folder (``runstore.default_root``).
    A course whose workers run on other machines points it at a shared folder."""
    if os.environ.get(ENV_CHECKPOINTS):
        return Path(os.environ[ENV_CHECKPOINTS])
    from explainer.engine import runstore

    return runstore.default_root() / "resume"


def checkpoint_path(key: str | None) -> Path | None:
    """The checkpoint file of the job ``key`` (``None`` for anything that isn't a job key made here)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        return None
    return checkpoint_dir() / f"{key}.pt"


def drop_checkpoint(key: str | None) -> None:
    path = checkpoint_path(key)
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass


def prune_checkpoints(now: float | None = None) -> None:
    """Remove checkpoints older than ``limits.RESUME_KEEP_SECONDS`` (a lost training not retried in time)."""
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(checkpoint_dir()))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.name.endswith((".pt", ".tmp")) and now - entry.stat().st_mtime > limits.RESUME_KEEP_SECONDS:
                os.unlink(entry.path)
        except OSError:
            pass


def claim_function():
    """The function that claims a job on the scheduler, run there with ``run_on_scheduler(fn, key, want, worker)``:
    ``want`` is ``"started"`` (a worker begins the job: the first thing its task does) or ``"stopped"`` (its page's
    Stop). The scheduler runs one such call at a time on its event loop, so the first claim wins and both sides
    learn the same winner: a page that wins cancels the task, and a worker that then begins it anyway (it was taken
    in that instant) finds it stopped and ends at once, without training; a worker that wins trains, and Stop only
    asks it to stop (it reads the stop flag) — never cancelled while it runs, so its slot is never counted free while
    a training holds it. A worker's claim also tells the queue at once that the job runs (``Engine.queue``): the
    scheduler learns it from the worker's heartbeat only later. (Made here, not imported there: it travels by value,
    so the scheduler needs nothing of this app.)"""
    def claim(key, want, worker=None, dask_scheduler=None):
        import time as _time

        claims = getattr(dask_scheduler, "explainer_claims", None)
        if claims is None:
            claims = dask_scheduler.explainer_claims = {}
        got = claims.get(key)
        if got is None or (want == "started" and got[0] == "started"):  # a rerun on another worker claims again
            got = claims[key] = (want, _time.time(), worker)
        return got[0]

    return claim


CLAIMS_KEEP = 3600.0  # seconds a claim of a job the scheduler has forgotten is kept


def _visitor_tag(visitor: str | None) -> str:
    """A short hash of the visitor's id for job keys (the id itself never travels); ``x`` for none."""
    if not visitor:
        return "x"
    return hashlib.sha256(str(visitor).encode()).hexdigest()[:16]


# ====================================================================== the engine (web process side)
def local_layout(cores: int | None = None) -> tuple[int, int]:
    """``(workers, torch threads per worker)`` for a local cluster on a machine with ``cores`` cores."""
    cores = max(1, cores or os.cpu_count() or 1)
    threads = int(os.environ.get(ENV_TORCH_THREADS) or min(4, cores))
    workers = int(os.environ.get(ENV_WORKERS) or max(1, cores // max(1, threads)))
    return max(1, workers), max(1, threads)


class Engine:
    """A Dask client (and, for the local default, its cluster); thread-safe, started on first use.

    Once started, a watcher thread checks the connection every ``WATCH_EVERY`` s: when the scheduler goes away
    (or the local cluster's process dies) the engine is *restarting* (``restarting``; ``start()`` raises
    ``EngineRestarting``, which pages show as "the training engine is restarting"), the old client is closed
    (its jobs' futures end as ``"lost"``), and a new client connects with bounded exponential backoff
    (``RECONNECT_FIRST`` … ``RECONNECT_MAX`` s), to the same address or to a new local cluster. ``reconnects``
    holds how long each recovery took."""

    def __init__(self, address: str | None = None, *, n_workers: int | None = None,
                 torch_threads: int | None = None, start_timeout: float = START_TIMEOUT):
        self.address = address
        layout = local_layout()
        self.n_workers = n_workers or layout[0]
        self.torch_threads = torch_threads or layout[1]
        self.start_timeout = start_timeout
        self.client = None
        self.cluster = None
        self.use_slots = True
        self.generation = 0  # one more for each client connected
        self.restarting_since: float | None = None
        self.reconnects: list[float] = []
        self._lock = threading.RLock()
        self._submit_lock = threading.Lock()
        self._owners: dict[tuple[str, str], "Job"] = {}
        self._rate: dict[str, float] = {}  # images/s seen per model, for queue estimates
        self._failed: tuple[float, str] | None = None
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        self._snap: tuple[float, dict, int] = (0.0, {}, 1)
        self._recent: dict[str, float] = {}  # keys submitted here a moment ago (the scheduler may not list them yet)

    # ---------------------------------------------------------------- life cycle
    @property
    def restarting(self) -> bool:
        """Reconnecting, or about to (the connection broke a moment ago and the watcher hasn't seen it yet)."""
        return self.restarting_since is not None or (self.client is not None and not self.healthy())

    def start(self) -> "Engine":
        if self.restarting_since is not None and not self._closed.is_set():
            raise EngineRestarting()  # before the lock, which a reconnection may hold for a moment
        with self._lock:
            if self.restarting and not self._closed.is_set():
                raise EngineRestarting()
            if self.client is not None:
                return self
            if self._failed and time.monotonic() - self._failed[0] < RETRY_AFTER:
                raise EngineUnavailable("jobs.engine_unavailable", detail=self._failed[1])
            try:
                self._connect()
            except Exception as exc:  # noqa: BLE001 — any failure is the same message to the user
                self._close_quietly()
                detail = (str(exc).splitlines() or [""])[0][:200] or type(exc).__name__
                self._failed = (time.monotonic(), detail)
                raise EngineUnavailable("jobs.engine_unavailable", detail=detail) from None
            self._failed = None
            self.generation += 1
            self._closed.clear()
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(target=self._watch, name="explainer-engine-watch", daemon=True)
                self._watcher.start()
            return self

    def _connect(self) -> None:
        from distributed import Client

        if self.address:
            self.client = Client(self.address, timeout=min(self.start_timeout, 20), set_as_default=False)
            # pin nothing but this project's worker set-up; a worker without the slot resource runs one job per thread
            workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
            self.use_slots = any(w.get("resources", {}).get(SLOT) for w in workers.values())
            threads = int(os.environ[ENV_TORCH_THREADS]) if os.environ.get(ENV_TORCH_THREADS) else None
        else:
            if self.cluster is None or self.cluster.proc.poll() is not None:
                self.cluster = _LocalClusterProcess(self.n_workers, self.start_timeout)
            self.client = Client(self.cluster.address, set_as_default=False, timeout=min(self.start_timeout, 30))
            threads = self.torch_threads
        from explainer.engine.jobworker import WorkerSetup

        self.client.register_plugin(WorkerSetup(threads, int(os.environ.get(ENV_NICE, "5"))), name="explainer-setup")

    def healthy(self) -> bool:
        """Connected to a running scheduler (and, for the local cluster, its process is alive)."""
        client, cluster = self.client, self.cluster
        if client is None or client.status != "running":
            return False
        return cluster is None or cluster.proc.poll() is None

    def _watch(self) -> None:
        while not self._closed.wait(WATCH_EVERY):
            if self.client is not None and not self.healthy():
                self._recover()

    def _recover(self) -> None:
        """Reconnect (a new local cluster if its process died), waiting RECONNECT_FIRST … RECONNECT_MAX s between tries."""
        began = time.monotonic()
        with self._lock:
            self.restarting_since = began
            client, self.client = self.client, None
        self._snap = (0.0, {}, 1)
        if client is not None:
            try:
                client.close(timeout=2)  # cancels its futures: their jobs end as "lost"
            except Exception:  # noqa: BLE001 — it is broken already
                pass
        if self.cluster is not None and self.cluster.proc.poll() is not None:
            self.cluster.close(timeout=1)  # reap it; _connect starts a new one
            self.cluster = None
        delay = RECONNECT_FIRST
        while not self._closed.is_set():
            try:
                # not under self._lock: a try may take up to a cluster's start; meanwhile start() sees
                # restarting_since and says "restarting" at once, and release() isn't held up
                self._connect()
                break
            except Exception:  # noqa: BLE001 — not back yet
                if self.client is not None:
                    try:
                        self.client.close(timeout=2)
                    except Exception:  # noqa: BLE001
                        pass
                    self.client = None
                if self.cluster is not None and self.cluster.proc.poll() is not None:
                    self.cluster = None
                self._closed.wait(delay)
                delay = min(RECONNECT_MAX, delay * 2)
        with self._lock:
            if not self._closed.is_set():
                self.generation += 1
                self.reconnects.append(time.monotonic() - began)
            self.restarting_since = None

    def _close_quietly(self) -> None:
        for obj in (self.client, self.cluster):
            if obj is not None:
                try:
                    obj.close(timeout=10)
                except Exception:  # noqa: BLE001 — closing what failed to start
                    pass
        self.client = self.cluster = None

    def close(self) -> None:
        """Disconnect; a local cluster's workers are stopped (their running jobs end with them)."""
        self._closed.set()
        with self._lock:
            self._close_quietly()
            self._owners.clear()
            self.restarting_since = None
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(15)

    @property
    def slots(self) -> int:
        """How many jobs run at once."""
        info = self.client.scheduler_info(n_workers=-1).get("workers", {})
        if self.use_slots:
            return max(1, int(sum(w.get("resources", {}).get(SLOT, 0) for w in info.values())))
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))

    # ---------------------------------------------------------------- jobs
    def claim(self, kind: str, owner: str | None, job: "Job") -> None:
        """Register ``job`` as ``owner``'s job of ``kind``; ``UserError`` if the owner already has one running."""
        if owner is None:
            return
        with self._lock:
            other = self._owners.get((kind, owner))
            if other is not None and other is not job and not other.done:
                raise UserError("jobs.one_job")
            self._owners[(kind, owner)] = job

    def release(self, kind: str, owner: str | None, job: "Job") -> None:
        with self._lock:
            if owner is not None and self._owners.get((kind, owner)) is job:
                del self._owners[(kind, owner)]

    def claim_job(self, key: str, want: str) -> str | None:
        """Claim the job ``key`` on the scheduler (``claim_function``): the winner, or ``None`` if the scheduler can't be asked."""
        try:
            return self.client.run_on_scheduler(claim_function(), key, want)
        except Exception:  # noqa: BLE001 — a scheduler that runs no functions, or one that went away
            return None

    def submit(self, fn, *args, key: str, priority: int = 0):
        kwargs = {"resources": {SLOT: 1}} if self.use_slots else {}
        return self.client.submit(fn, *args, key=key, pure=False, retries=0, priority=priority, **kwargs)

    def queue(self, max_age: float = 1.0) -> tuple[dict[str, str], int]:
        """This app's jobs on the scheduler, ``{key: state}`` (``"running"`` when a worker executes it, else
        Dask's task state: ``"processing"`` = waiting on a worker, ``"no-worker"``, ``"memory"``, …), and the
        number of slots; one request, shared by every page of this process for ``max_age`` seconds."""
        now = time.monotonic()
        at, tasks, slots = self._snap
        if now - at <= max_age:
            return dict(tasks), slots
        client = self.client
        if client is None:
            raise EngineRestarting()

        def probe(dask_scheduler=None, prefix=PREFIX, slot=SLOT, use_slots=self.use_slots, keep=CLAIMS_KEEP):
            import time as _time

            out = {}
            claims = getattr(dask_scheduler, "explainer_claims", {})
            for key, ts in list(dask_scheduler.tasks.items()):
                if isinstance(key, str) and key.startswith(prefix):
                    ws = ts.processing_on
                    claim = claims.get(key)  # its worker said "started" (the heartbeat says so only later)
                    began = claim is not None and claim[0] == "started" and ws is not None and claim[2] == ws.address
                    out[key] = "running" if ws is not None and (began or ts in ws.executing) else ts.state
            now = _time.time()
            for key, claim in list(claims.items()):
                if key not in dask_scheduler.tasks and now - claim[1] > keep:
                    del claims[key]
            workers = list(dask_scheduler.workers.values())
            if use_slots:
                n = sum(w.resources.get(slot, 0) for w in workers)
            else:
                n = sum(w.nthreads for w in workers)
            return out, max(1, int(n))

        try:
            tasks, slots = client.run_on_scheduler(probe)
        except Exception:  # noqa: BLE001 — a scheduler that runs no functions: what processing() shows
            tasks = {k: "processing" for ks in client.processing().values() for k in ks
                     if isinstance(k, str) and k.startswith(PREFIX)}
            slots = self.slots
        with self._lock:
            self._recent = {k: t for k, t in self._recent.items() if now - t < 5.0 and k not in tasks}
            for k in self._recent:
                tasks[k] = "processing"
        self._snap = (now, dict(tasks), slots)
        return tasks, slots

    def queue_ahead(self, key: str) -> list[str]:
        """Keys of this app's jobs that will take a slot before ``key``, oldest first: those running, then the
        waiting ones served before it (``_order``: a visitor's first job before anyone's second, then by time)."""
        tasks, _ = self.queue()
        running = sorted((k for k, s in tasks.items() if s == "running" and k != key), key=_order)
        waiting = sorted((k for k, s in tasks.items() if s in LIVE and s != "running" and k != key
                          and _order(k) < _order(key)), key=_order)
        return running + waiting

    def learn_rate(self, model: str, images_per_second: float) -> None:
        if images_per_second > 0:
            old = self._rate.get(model)
            self._rate[model] = images_per_second if old is None else 0.5 * old + 0.5 * images_per_second

    def estimate_training(self, config) -> float:
        """Seconds a training of ``config`` takes on a worker: a guess, refined by the runs seen here."""
        rate = self._rate.get(config.model, 6000.0 if config.model != "mlp" else 20000.0)
        return 3.0 + int(config.train_size) * int(config.epochs) / rate


LIVE = ("running", "processing", "no-worker", "queued", "waiting")  # a job's Dask states until it is done


class _LocalClusterProcess:
    """``python -m explainer.engine.jobcluster`` as a child process: a local cluster that ends with this process."""

    def __init__(self, workers: int, timeout: float):
        import subprocess
        import sys
        from pathlib import Path

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
        import subprocess

        try:
            self.proc.stdin.close()  # the cluster process closes its cluster and exits
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()


def engine() -> Engine:
    """The process's engine, started on first use: ``$EXPLAINER_DASK_SCHEDULER`` if set, else a local cluster.
    Raises ``EngineUnavailable`` when it can't start (tried again after ``RETRY_AFTER`` seconds)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = Engine(os.environ.get(ENV_SCHEDULER) or None)
        eng = _ENGINE
    return eng.start()


def restarting() -> bool:
    """The process's engine is reconnecting to its scheduler (pages say "the training engine is restarting")."""
    eng = _ENGINE
    return eng is not None and eng.restarting


def set_engine(eng: Engine | None) -> Engine | None:
    """Use ``eng`` as the process's engine (tests); returns the previous one (not closed)."""
    global _ENGINE
    with _ENGINE_LOCK:
        old, _ENGINE = _ENGINE, eng
    return old


_WARMING = threading.Event()


def warm_up() -> None:
    """Start the engine in the background (a page that will probably train calls this when it opens);
    at most one such start at a time, nothing when the engine is up or failed a moment ago."""
    eng = _ENGINE
    if (eng is not None and (eng.client is not None or eng._failed)) or _WARMING.is_set():
        return
    _WARMING.set()

    def go():
        try:
            engine()
        except UserError:
            pass  # the page says so when the learner presses Start
        finally:
            _WARMING.clear()

    threading.Thread(target=go, name="explainer-engine-warm-up", daemon=True).start()


def shutdown() -> None:
    """Stop the process's engine (its local cluster too). Run at interpreter exit."""
    global _ENGINE
    with _ENGINE_LOCK:
        eng, _ENGINE = _ENGINE, None
    if eng is not None:
        eng.close()


atexit.register(shutdown)


def _order(key: str) -> tuple[int, int, str]:
    """The order in which waiting jobs get a slot, from a key ``explainer-<kind>-<time_ns>-<estimate>-<id>-<rank>-
    <visitor>``: ``rank`` (how many jobs its visitor had already) first — round robin between visitors — then
    submission time (Dask's ``priority=-rank`` serves them in this order)."""
    parts = key.split("-")
    try:
        rank = int(parts[5]) if len(parts) > 5 else 0
        return rank, int(parts[2]), key
    except (IndexError, ValueError):
        return 0, 0, key


def _visitor_of(key: str) -> str:
    parts = key.split("-")
    return parts[6] if len(parts) > 6 else "x"


def _estimate_of(key: str) -> float:
    try:
        return float(key.split("-")[3])
    except (IndexError, ValueError):
        return 10.0


# ====================================================================== jobs (web process side)
@dataclass
class JobView:
    """What a page shows about a job, from one ``poll()``."""
    state: str
    history: list[dict] = field(default_factory=list)
    latest: dict = field(default_factory=dict)
    ahead: int = 0
    wait_seconds: float | None = None
    fraction: float = 0.0
    error: str | None = None
    #: the engine is reconnecting to its scheduler (the page says so; the job is lost or goes on afterwards)
    engine_restarting: bool = False
    #: the step a training went on from after its worker was lost (0: lost before its first checkpoint)
    resumed_from: int | None = None
    #: a "lost" job: Retry (``Job.retry``) goes on from a checkpoint rather than from the start
    resumable: bool = False
    #: how many jobs of its visitor were waiting or running when it was submitted (round robin: 0 goes first)
    rank: int = 0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "cancelled", "abandoned", "error", "lost")


class Job:
    """A job on the engine; subclasses say what runs on the worker and how its result comes back."""

    kind = "job"
    #: seconds without a poll after which the worker stops the job
    heartbeat_timeout = HEARTBEAT_TIMEOUT

    def __init__(self, *, owner: str | None = None, engine_: Engine | None = None,
                 heartbeat_timeout: float | None = None, visitor: str | None = None):
        self.owner = owner
        self.visitor = visitor
        self._engine = engine_
        if heartbeat_timeout is not None:
            self.heartbeat_timeout = float(heartbeat_timeout)
        self.key: str | None = None
        self.future = None
        self._vars: dict[str, Any] = {}
        self._stop = False
        self._beat_sent = 0.0
        self._history: list[dict] = []
        self._latest: dict = {}
        self._state = "new"
        self._queue_checked = 0.0
        self._ahead, self._wait = 0, None
        self._result = None
        self._fetched = False
        self.error: str | None = None
        self._lock = threading.Lock()
        self._generation = 0
        self._resumed_from: int | None = None
        self._news = (None, 0.0)  # the last progress record seen, and when (monotonic)

    # ---------------------------------------------------------------- to be defined by subclasses
    def _estimate(self, eng: Engine) -> float:
        return 10.0

    def _task(self):
        """``(function, args)`` run on the worker; the function gets the job key and heartbeat timeout first."""
        raise NotImplementedError

    def _make_result(self, raw):
        return raw

    # ---------------------------------------------------------------- life cycle
    def start(self) -> "Job":
        """Submit. Fair share: a visitor (``visitor``: the browser's cookie, else the session) may have
        ``limits.JOBS_PER_VISITOR`` jobs waiting or running across all its tabs, and its n-th job waits behind every
        other visitor's (n-1)-th (round robin); beyond ``limits.QUEUE_MAX`` waiting jobs Start is refused with the wait."""
        from distributed import Variable

        eng = self._engine or engine()
        self._engine = eng
        if eng.restarting:
            raise EngineRestarting()
        eng.claim(self.kind, self.owner, self)
        try:
            est = max(1, int(round(self._estimate(eng))))
            tag = _visitor_tag(self.visitor)
            with eng._submit_lock:  # one start at a time in this process: two tabs can't both take the last place
                tasks, slots = eng.queue(max_age=0.0)
                live = {k: st for k, st in tasks.items() if st in LIVE}
                mine = [k for k in live if tag != "x" and _visitor_of(k) == tag]
                if len(mine) >= limits.JOBS_PER_VISITOR:
                    raise UserError("jobs.visitor_cap", n=limits.JOBS_PER_VISITOR)
                waiting = sorted((k for k, st in live.items() if st != "running"), key=_order)
                if len(waiting) >= limits.QUEUE_MAX:
                    remaining = [_estimate_of(k) for k in sorted(live, key=_order)]
                    raise UserError("jobs.queue_full", n=len(waiting),
                                    wait=f"{_wait_estimate(remaining, slots) / 60:.0f}")
                rank = min(len(mine), 9999)
                self.key = f"{PREFIX}{self.kind}-{time.time_ns()}-{est}-{uuid.uuid4().hex[:12]}-{rank}-{tag}"
                self._vars = {name: Variable(f"{self.key}-{name}", eng.client) for name in ("ctl", "prog", "hist")}
                self._vars["prog"].set({"state": "queued"})
                self._send_beat(force=True)
                fn, args = self._task()
                self._generation = eng.generation
                self.future = eng.submit(fn, self.key, self.heartbeat_timeout, *args, key=self.key, priority=-rank)
                with eng._lock:
                    eng._recent[self.key] = time.monotonic()
                eng._snap = (0.0, {}, 1)
        except Exception as exc:
            eng.release(self.kind, self.owner, self)
            self.key = None if self.future is None else self.key
            if isinstance(exc, UserError):
                raise
            if eng.restarting or not eng.healthy():
                raise EngineRestarting() from None
            raise EngineUnavailable("jobs.engine_unavailable",
                                    detail=(str(exc).splitlines() or [""])[0][:200] or type(exc).__name__) from None
        self._state = "queued"
        return self

    def retry(self) -> "Job":
        """A new job doing the same work (not started): for a job that was ``"lost"`` with the engine or a worker,
        or ended with an error. A training goes on from its last checkpoint (``TrainingJob``)."""
        new = copy.copy(self)
        Job.__init__(new, owner=self.owner, engine_=self._engine, heartbeat_timeout=self.heartbeat_timeout,
                     visitor=self.visitor)
        return new

    def _send_beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._beat_sent >= min(1.0, self.heartbeat_timeout / 4):
            self._beat_sent = now
            self._vars["ctl"].set({"beat": time.time(), "stop": self._stop})

    def heartbeat(self) -> None:
        """Tell the worker the page is still there (``poll()`` does this too)."""
        if self.future is not None and not self.done:
            self._send_beat()

    def stop(self) -> None:
        """Cancel a queued job; make a running one stop after its current step (keeping what it learned)."""
        if self.future is None or self.done or self._stop:  # asked once is enough: no scheduler round trips per rerun
            return
        self._stop = True
        if self._engine is not None and (self._engine.restarting or self._generation != self._engine.generation):
            return  # its client is gone: the job is lost already
        try:
            self._send_beat(force=True)  # the stop flag: a running training reads it and ends after its batch
            # a task on a worker can't be cancelled (Dask would free its slot while it runs on, and the job's
            # variables would go with the future): only a job no worker has begun is cancelled. Which of the two
            # it is, the scheduler decides atomically (claim_function): the page's claim and the worker's first act.
            # Waiting on a worker's queue (Dask hands out resource-bound tasks at once) is not begun: cancelled too.
            won = self._engine.claim_job(self.key, "stopped")
            if won is None:  # a scheduler that runs no functions: what it and the worker say (a narrow race)
                taken = self._engine.queue(max_age=0.0)[0].get(self.key) == "running"
                won = "started" if taken or self._vars["prog"].get(timeout=5).get("state") == "running" else "stopped"
        except Exception:  # noqa: BLE001 — the engine went away: the job ends with it
            won = "stopped"
        if won == "stopped":
            self.future.cancel()

    @property
    def done(self) -> bool:
        return self.future is not None and (self._state == "lost" or self.future.done())

    @property
    def result(self):
        self._collect()
        return self._result

    def _collect(self) -> None:
        """Fetch the result (or error) once the future is done; free the job's variables."""
        with self._lock:
            if self._fetched or not self.done:
                return
            self._fetched = True
            status = self.future.status if self.future.done() else "lost"
            try:
                if status == "lost":
                    pass  # its client is gone (see poll)
                elif status == "finished":
                    raw = self.future.result(timeout=60)
                    if isinstance(raw, dict) and raw.get("abandoned") and len(raw) == 1:
                        self._state = "abandoned"  # ended by the worker: its page stopped polling
                    elif isinstance(raw, dict) and raw.get("cancelled") and len(raw) == 1:
                        self._state = "cancelled"  # stopped before it began (it waited on a worker)
                    else:
                        self._result = self._make_result(raw)
                        self._state = "stopped" if getattr(self._result, "stopped", False) else "done"
                elif status == "cancelled":
                    # cancelled by this page (Stop while queued), or by Dask when the client lost its scheduler
                    self._state = "cancelled" if self._stop else "lost"
                else:
                    exc = self.future.exception(timeout=60)
                    if type(exc).__name__ == "KilledWorker":  # its workers died again and again: lost, not a bug
                        self._state = "lost"
                    else:
                        self._state = "error"
                        self.error = (str(exc).splitlines() or [""])[0][:300] or type(exc).__name__
            except Exception as exc:  # noqa: BLE001 — lost worker, closed engine: shown, never a traceback
                if self._engine is not None and (self._engine.restarting or not self._engine.healthy()):
                    self._state = "lost"
                else:
                    self._state = "error"
                    self.error = (str(exc).splitlines() or [""])[0][:300] or type(exc).__name__
            if self._state != "lost" and self._engine is not None and self._generation == self._engine.generation:
                for var in self._vars.values():
                    try:
                        var.delete()
                    except Exception:  # noqa: BLE001
                        pass
            self._ended()
            if self._engine is not None:
                self._engine.release(self.kind, self.owner, self)

    def _ended(self) -> None:
        """Once, when the job's outcome is known (``TrainingJob`` removes checkpoints no longer needed)."""

    def _resumable(self) -> bool:
        return False

    def poll(self) -> JobView:
        """The job's state for a page, and the session's heartbeat."""
        if self.future is None:
            return JobView("new")
        eng = self._engine
        if not self.done and eng is not None and (eng.restarting or self._generation != eng.generation):
            self._state = "lost"  # the client this job was submitted with is closed or replaced (Dask cancels it)
        if not self.done and self._state != "lost":
            try:
                self._send_beat()
                prog = self._vars["prog"].get(timeout=5)
                if prog.get("state") == "running":
                    self._state, self._ahead, self._wait = "running", 0, None
                    self._latest = prog.get("latest") or self._latest
                    self._resumed_from = prog.get("resumed_from")
                    if prog.get("n", 0) != len(self._history):
                        self._history = list(self._vars["hist"].get(timeout=5))
                    self._check_worker(prog)
                elif self._state == "queued":
                    self._check_queue()
            except Exception as exc:  # noqa: BLE001 — the engine is gone; the future will say so
                if not self.done:
                    restarting = eng is not None and (eng.restarting or not eng.healthy())
                    return JobView(self._state, list(self._history), dict(self._latest), self._ahead, self._wait,
                                   self._fraction(), engine_restarting=restarting, resumed_from=self._resumed_from,
                                   error=None if restarting or "Timeout" in type(exc).__name__ else str(exc))
        if self.done:
            self._collect()
            if self._state in ("done", "stopped") and hasattr(self._result, "history"):
                self._history = list(self._result.history)
        return JobView(self._state, list(self._history), dict(self._latest), self._ahead, self._wait,
                       self._fraction(), self.error, engine_restarting=eng is not None and eng.restarting,
                       resumed_from=self._resumed_from, resumable=self._state == "lost" and self._resumable(),
                       rank=_order(self.key)[0])

    def _check_worker(self, prog: dict) -> None:
        """Tell the truth while a worker is lost: a running job with no news for ``STALE_PROGRESS`` s that no worker
        executes is ``"recovering"`` (Dask gives it to another worker; a training goes on from its checkpoint)."""
        now = time.monotonic()
        marker = (prog.get("n"), prog.get("t"), prog.get("attempt"))
        if marker != self._news[0]:
            self._news = (marker, now)
            return
        if now - self._news[1] < STALE_PROGRESS:
            return
        tasks, _ = self._engine.queue()
        if tasks.get(self.key) != "running":
            self._state = "recovering"

    def _fraction(self) -> float:
        if self._state in ("done", "stopped"):
            return 1.0
        if self._state == "queued":
            return 0.0
        lt = self._latest
        if "total_steps" in lt:
            return min(1.0, lt["step"] / max(1, lt["total_steps"]))
        return float(lt.get("fraction", 0.0))

    def _check_queue(self) -> None:
        now = time.monotonic()
        if now - self._queue_checked < 2.0:
            return
        self._queue_checked = now
        eng = self._engine
        ahead = eng.queue_ahead(self.key)
        slots = eng.queue()[1]
        # the first jobs ahead are running: ask them for their remaining time; the rest wait their estimate
        remaining = []
        for k in ahead[:min(slots, 8)]:
            try:
                prog = type(self._vars["prog"])(f"{k}-prog", eng.client).get(timeout=2)
            except Exception:  # noqa: BLE001
                prog = {}
            latest = prog.get("latest") or {}
            remaining.append(float(latest.get("eta_seconds", latest.get("eta", _estimate_of(k)))))
        remaining += [_estimate_of(k) for k in ahead[min(slots, 8):]]
        self._ahead = len(ahead)
        self._wait = _wait_estimate(remaining, slots) if len(ahead) >= slots else 0.0

    def snapshot(self) -> tuple[list[dict], dict]:
        view = self.poll()
        return view.history, view.latest

    def join(self, timeout: float | None = None) -> bool:
        """Wait until done (polling, so the heartbeat goes on); ``True`` if it finished in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if deadline is not None and time.monotonic() > deadline:
                return False
            self.poll()
            time.sleep(0.2)
        self._collect()
        return True

    @property
    def state(self) -> str:
        return self._state


def _wait_estimate(remaining: list[float], slots: int) -> float:
    """When a slot frees up for the next job, given the remaining seconds of the jobs ahead (in order)."""
    free = sorted(remaining[:slots]) + [0.0] * max(0, slots - len(remaining[:slots]))
    for r in remaining[slots:]:
        free.sort()
        free[0] += r
    return min(free) if free else 0.0


# ---------------------------------------------------------------- the three kinds of job
def shipped(config, data):
    """What a job sends to the worker with its task: for a learner's own images, their arrays (``UserError`` when
    they are missing, don't match the configuration's spec or exceed ``limits.OWN_SHIPPED_BYTES``); else None."""
    import numpy as np

    from explainer.data import datasets

    if getattr(config, "dataset", None) != datasets.OWN:
        return None
    if data is None or len(data) != 4:
        raise UserError("errors.zip.own_gone")
    arrays = tuple(np.array(a, order="C") for a in data)  # writable copies (torch wants them)
    size = sum(a.nbytes for a in arrays)
    if size > limits.OWN_SHIPPED_BYTES:
        raise UserError("errors.zip.shipped_too_big", mb=limits.mb(size), max=limits.mb(limits.OWN_SHIPPED_BYTES))
    return arrays


class TrainingJob(Job):
    """Train ``config`` on the engine. A built-in data set (MNIST, Fashion-MNIST) is read by the worker itself and
    ``data`` is ignored; a learner's own images (``config.dataset == datasets.OWN``) are shipped with the task, once:
    ``data`` is their ``(x_train, y_train, x_test, y_test)`` (at most ``limits.OWN_SHIPPED_BYTES``)."""

    kind = "train"

    def __init__(self, config, data=None, *, owner: str | None = None, engine_: Engine | None = None,
                 heartbeat_timeout: float | None = None, visitor: str | None = None, resume_from: str | None = None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout, visitor=visitor)
        self.config = config
        self.resume_from = resume_from  # the key of a lost training of the same config: go on from its checkpoint
        self.data = shipped(config, data)

    def _estimate(self, eng: Engine) -> float:
        return eng.estimate_training(self.config)

    def _task(self):
        from explainer.engine.jobworker import run_training

        return run_training, (self.config.to_dict(), self.resume_from, self.data)

    def _checkpoint(self) -> str | None:
        """The key whose checkpoint a retry goes on from: this job's own, else the one it went on from."""
        for key in (self.key, self.resume_from):
            path = checkpoint_path(key)
            if path is not None and path.is_file():
                return key
        return None

    def _resumable(self) -> bool:
        return self._checkpoint() is not None

    def retry(self) -> "TrainingJob":
        new = super().retry()
        new.resume_from = self._checkpoint()
        return new

    def _ended(self) -> None:
        if self._state != "lost":  # kept for a Retry only when lost (else pruned after limits.RESUME_KEEP_SECONDS)
            drop_checkpoint(self.key)
            drop_checkpoint(self.resume_from)

    def _make_result(self, raw):
        from explainer.learning.train import TrainConfig, TrainResult

        config = TrainConfig.from_dict(raw["config"])
        model = model_from_state(config, raw["state_dict"])
        if self._engine is not None and not raw["stopped"]:
            self._engine.learn_rate(config.model, raw["images_per_second"])
        return TrainResult(model=model, history=raw["history"], test_accuracy=raw["test_accuracy"],
                           train_seconds=raw["train_seconds"], images_per_second=raw["images_per_second"],
                           epochs_done=raw["epochs_done"], device=raw["device"], config=config,
                           stopped=raw["stopped"], predictions=raw["predictions"],
                           probabilities=raw["probabilities"])


class LandscapeJob(Job):
    """``optim.loss_landscape`` of a trained model on the first ``LANDSCAPE_DIGITS`` test digits."""

    kind = "landscape"

    def __init__(self, model, config=None, *, steps: int = LANDSCAPE_STEPS, digits: int = LANDSCAPE_DIGITS,
                 owner: str | None = None, engine_: Engine | None = None, heartbeat_timeout: float | None = None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        # with its TrainConfig only the weights travel; without one (a model from elsewhere), a CPU copy of the module
        self.config = config
        self.state_dict = state_of(model) if config is not None else copy.deepcopy(model).cpu()
        self.steps, self.digits = int(steps), int(digits)

    def _estimate(self, eng: Engine) -> float:
        return 2.0 + self.steps ** 2 * self.digits / 4000.0

    def _task(self):
        from explainer.engine.jobworker import run_landscape

        config = self.config.to_dict() if self.config is not None else None
        return run_landscape, (config, self.state_dict, self.steps, self.digits)


class EvaluationJob(Job):
    """Score a model on the 10,000 test digits (``train.evaluate``'s dict), e.g. uploaded weights."""

    kind = "evaluate"

    def __init__(self, model, config, *, owner: str | None = None, engine_: Engine | None = None,
                 heartbeat_timeout: float | None = None, data=None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        self.state_dict, self.config = state_of(model), config
        # own images: their test pictures go with the task (``shipped``); a built-in set is the worker's own
        self.data = shipped(config, data)

    def _estimate(self, eng: Engine) -> float:
        return 3.0

    def _task(self):
        from explainer.engine.jobworker import run_evaluation

        return run_evaluation, (self.config.to_dict(), self.state_dict, self.data)


class ShiftJob(Job):
    """Accuracy of a trained model on the first ``digits`` test digits moved by 0…6 pixels
    (``shift.shifted_accuracy``): the "How kernels learn" lesson's conv-vs-dense experiment."""

    kind = "shift"

    def __init__(self, model, config, *, digits: int = 2000, owner: str | None = None,
                 engine_: Engine | None = None, heartbeat_timeout: float | None = None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        self.state_dict, self.config, self.digits = state_of(model), config, int(digits)

    def _estimate(self, eng: Engine) -> float:
        return 2.0 + self.digits / 400.0

    def _task(self):
        from explainer.engine.jobworker import run_shift

        return run_shift, (self.config.to_dict(), self.state_dict, self.digits)

    def _make_result(self, raw):
        return raw["accuracy"]


def state_of(model) -> dict:
    """A model's weights as CPU tensors (what travels to and from a worker)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def model_from_state(config, state: dict):
    """The model of ``config`` (for its data set) with the weights ``state``, in evaluation mode."""
    model = config.build()
    model.load_state_dict(state)
    model.eval()
    return model


__all__ = ["ENV_SCHEDULER", "SLOT", "HEARTBEAT_TIMEOUT", "EngineUnavailable", "EngineRestarting", "Engine",
           "checkpoint_dir", "checkpoint_path", "engine", "set_engine",
           "warm_up", "shutdown", "local_layout", "JobView", "Job", "TrainingJob", "LandscapeJob", "EvaluationJob", "ShiftJob",
           "state_of", "model_from_state"]


# ---------------------------------------------------------------- "Inside the network": what a channel looks for
class TopPatchesJob(Job):
    """``network.top_patches`` of entry ``layer`` over the 10,000 test digits: for every channel the 9 places where it
    is strongest, their values and receptive-field patches (the "Inside the network" lesson; cached per model)."""

    kind = "patches"

    def __init__(self, model, config, layer: int, *, owner: str | None = None, engine_: Engine | None = None,
                 heartbeat_timeout: float | None = None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        self.state_dict, self.config, self.layer = state_of(model), config, int(layer)

    def _estimate(self, eng: Engine) -> float:
        return 4.0

    def _task(self):
        from explainer.engine.jobworker import run_top_patches

        return run_top_patches, (self.config.to_dict(), self.state_dict, self.layer)


class OptimiseInputJob(Job):
    """``network.optimise_input``: an input that makes ``channel`` of entry ``layer`` strong (gradient ascent)."""

    kind = "optimise"

    def __init__(self, model, config, layer: int, channel: int, *, steps: int | None = None,
                 owner: str | None = None, engine_: Engine | None = None, heartbeat_timeout: float | None = None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        from explainer.learning.network import OPTIMISE_STEPS

        self.state_dict, self.config = state_of(model), config
        self.layer, self.channel, self.steps = int(layer), int(channel), int(steps or OPTIMISE_STEPS)

    def _estimate(self, eng: Engine) -> float:
        return 2.0

    def _task(self):
        from explainer.engine.jobworker import run_optimise_input

        return run_optimise_input, (self.config.to_dict(), self.state_dict, self.layer, self.channel, self.steps)


__all__ += ["TopPatchesJob", "OptimiseInputJob"]
