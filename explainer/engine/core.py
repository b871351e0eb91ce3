"""The engine: the web process's Dask client and everything it decides for all jobs — connecting (to a local cluster
it starts, or to ``$EXPLAINER_DASK_SCHEDULER``), noticing a lost scheduler and reconnecting (restarts), the queue
(what runs, what waits, for how long), the fair share between visitors, and the claims that settle a Stop against a
worker beginning the same job. What a job is (its client side, the link to its worker) is ``protocol``; the job kinds
are ``jobs``.

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

The engine: ``engine()`` (the process's shared ``Engine``, started on first use), ``warm_up()`` (start
it in the background), ``restarting()``, ``shutdown()``, ``set_engine(eng)`` (tests), ``Engine(address=None, *,
n_workers=None, torch_threads=None, start_timeout=90)``, ``local_layout(cores)``. Dask is imported lazily (on
the first job), so pages that don't train don't pay for it.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import threading
import time
import uuid
from typing import Iterator

from explainer import limits
from explainer.engine.jobcluster import ENV_TORCH_THREADS, SLOT, LocalClusterProcess
from explainer.errors import UserError

ENV_SCHEDULER = "EXPLAINER_DASK_SCHEDULER"
ENV_WORKERS = "EXPLAINER_DASK_WORKERS"
ENV_NICE = "EXPLAINER_WORKER_NICE"
PREFIX = "explainer-"
START_TIMEOUT = 90.0
RETRY_AFTER = 30.0  # after a failed start, the engine is not tried again for this long
WATCH_EVERY = 0.5  # how often the engine checks its scheduler connection (and its local cluster's process)
RECONNECT_FIRST, RECONNECT_MAX = 0.5, 5.0  # reconnecting: the first wait, doubled after each failure up to this


class EngineUnavailable(UserError):
    """The Dask engine could not be started or reached."""


class EngineRestarting(EngineUnavailable):
    """The engine lost its scheduler (or its local cluster's process) and is reconnecting by itself."""

    def __init__(self):
        super().__init__("jobs.engine_restarting")


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
        self._owners: dict[tuple[str, str], object] = {}
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
                self.cluster = LocalClusterProcess(self.n_workers, self.start_timeout)
            self.client = Client(self.cluster.address, set_as_default=False, timeout=min(self.start_timeout, 30))
            threads = self.torch_threads
        from explainer.engine.worker import WorkerSetup

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
    def claim(self, kind: str, owner: str | None, job: object) -> None:
        """Register ``job`` as ``owner``'s job of ``kind``; ``UserError`` if the owner already has one running."""
        if owner is None:
            return
        with self._lock:
            other = self._owners.get((kind, owner))
            if other is not None and other is not job and not other.done:
                raise UserError("jobs.one_job")
            self._owners[(kind, owner)] = job

    def release(self, kind: str, owner: str | None, job: object) -> None:
        with self._lock:
            if owner is not None and self._owners.get((kind, owner)) is job:
                del self._owners[(kind, owner)]

    def claim_job(self, key: str, want: str) -> str | None:
        """Claim the job ``key`` on the scheduler (``claim_function``): the winner, or ``None`` if the scheduler can't be asked."""
        try:
            return self.client.run_on_scheduler(claim_function(), key, want)
        except Exception:  # noqa: BLE001 — a scheduler that runs no functions, or one that went away
            return None

    @contextlib.contextmanager
    def admit(self, kind: str, estimate: float, visitor: str | None) -> Iterator[tuple[str, int]]:
        """The fair share, for a job of ``kind`` taking about ``estimate`` seconds: yields ``(key, rank)`` for the job to
        submit (``submit``) inside the ``with``, one start at a time in this process, so two tabs can't both take the
        last place. A visitor (``visitor``: the browser's cookie, else the session) may have ``limits.JOBS_PER_VISITOR``
        jobs waiting or running across all its tabs (``UserError``), and its n-th job waits behind every other visitor's
        (n-1)-th (``rank``: round robin); beyond ``limits.QUEUE_MAX`` waiting jobs Start is refused with the wait."""
        est = max(1, int(round(estimate)))
        tag = _visitor_tag(visitor)
        with self._submit_lock:
            tasks, slots = self.queue(max_age=0.0)
            live = {k: st for k, st in tasks.items() if st in LIVE}
            mine = [k for k in live if tag != "x" and _visitor_of(k) == tag]
            if len(mine) >= limits.JOBS_PER_VISITOR:
                raise UserError("jobs.visitor_cap", n=limits.JOBS_PER_VISITOR)
            waiting = sorted((k for k, st in live.items() if st != "running"), key=order)
            if len(waiting) >= limits.QUEUE_MAX:
                remaining = [estimate_of(k) for k in sorted(live, key=order)]
                raise UserError("jobs.queue_full", n=len(waiting), wait=f"{wait_estimate(remaining, slots) / 60:.0f}")
            rank = min(len(mine), 9999)
            yield f"{PREFIX}{kind}-{time.time_ns()}-{est}-{uuid.uuid4().hex[:12]}-{rank}-{tag}", rank

    def submit(self, fn, *args, key: str, priority: int = 0):
        """Submit ``fn(*args)`` as the task ``key`` (one slot); the queue counts it at once."""
        kwargs = {"resources": {SLOT: 1}} if self.use_slots else {}
        future = self.client.submit(fn, *args, key=key, pure=False, retries=0, priority=priority, **kwargs)
        with self._lock:
            self._recent[key] = time.monotonic()
        self._snap = (0.0, {}, 1)
        return future

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
        waiting ones served before it (``order``: a visitor's first job before anyone's second, then by time)."""
        tasks, _ = self.queue()
        running = sorted((k for k, s in tasks.items() if s == "running" and k != key), key=order)
        waiting = sorted((k for k, s in tasks.items() if s in LIVE and s != "running" and k != key
                          and order(k) < order(key)), key=order)
        return running + waiting

    def learn_rate(self, model: str, images_per_second: float) -> None:
        if images_per_second > 0:
            old = self._rate.get(model)
            self._rate[model] = images_per_second if old is None else 0.5 * old + 0.5 * images_per_second

    def estimate_training(self, config) -> float:
        """Seconds a training of ``config`` takes on a worker: a guess, refined by the runs seen here."""
        rate = self._rate.get(config.model, 6000.0 if config.model != "mlp" else 20000.0)
        return 3.0 + int(config.train_size) * float(config.epochs) / rate


LIVE = ("running", "processing", "no-worker", "queued", "waiting")  # a job's Dask states until it is done


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


def current() -> Engine | None:
    """The process's engine if it is started and connected (never starts one), else ``None``."""
    eng = _ENGINE
    return eng if eng is not None and eng.client is not None and not eng.restarting else None


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


def order(key: str) -> tuple[int, int, str]:
    """The order in which waiting jobs get a slot, from a key ``explainer-<kind>-<time_ns>-<estimate>-<id>-<rank>-
    <visitor>``: ``rank`` (how many jobs its visitor had already) first — round robin between visitors — then
    submission time (Dask's ``priority=-rank`` serves them in this order)."""
    parts = key.split("-")
    try:
        rank = int(parts[5]) if len(parts) > 5 else 0
        return rank, int(parts[2]), key
    except (IndexError, ValueError):
        return 0, 0, key


def visitor_of(key: str) -> str:
    """The visitor tag a job key ends in (``visitor_tag`` of who submitted it; ``x`` for none)."""
    return _visitor_of(key)


def visitor_tag(visitor: str | None) -> str:
    """The short hash of a visitor's id that its jobs' keys end in."""
    return _visitor_tag(visitor)


def _visitor_of(key: str) -> str:
    parts = key.split("-")
    return parts[6] if len(parts) > 6 else "x"


def estimate_of(key: str) -> float:
    try:
        return float(key.split("-")[3])
    except (IndexError, ValueError):
        return 10.0



def wait_estimate(remaining: list[float], slots: int) -> float:
    """When a slot frees up for the next job, given the remaining seconds of the jobs ahead (in order)."""
    free = sorted(remaining[:slots]) + [0.0] * max(0, slots - len(remaining[:slots]))
    for r in remaining[slots:]:
        free.sort()
        free[0] += r
    return min(free) if free else 0.0
