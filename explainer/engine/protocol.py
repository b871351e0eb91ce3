"""The one job protocol: a job's two ends and what travels between them.

On the web process, ``Job`` (the base class of every job kind in ``explainer.engine.jobs``) submits the work, polls
it and stops it. On the worker, ``perform`` — the one function Dask runs for every job — opens the job's ``Link``
once (claim the job on the scheduler, read the page's heartbeat and stop flag, report progress), runs the kind's
``work(link, *args)``, and returns its value, or ``Ended`` when the job ended without one. A kind's ``work`` ends a
job early by raising ``Abandoned`` (``Link.should_stop`` and ``Link.fraction`` raise it). Errors travel as Dask
travels any exception: the job's ``error`` is its first line.

The link itself is three Dask ``Variable``s on the scheduler, named after the job's key: ``-ctl`` (the page's
heartbeat time and stop flag), ``-prog`` (the worker's state and latest progress record) and ``-hist`` (a training's
curve).

The job interface (what pages use)
----------------------------------
Every kind (``TrainingJob``, ``LandscapeJob``, ``EvaluationJob``, ``ShiftJob``, ``TopPatchesJob``,
``OptimiseInputJob``) takes ``owner=`` (the page's session id), ``engine_=`` an ``Engine`` (default ``engine()``)
and ``heartbeat_timeout=`` seconds (default 10):

- ``job.start()`` submits it and returns the job. It raises ``EngineUnavailable`` (a ``UserError``,
  message key ``jobs.engine_unavailable``) when the engine can't start, and ``UserError``
  (``jobs.one_job``) when ``owner`` already has a job of the same kind that is not done: one running
  training per session, enforced here, not by the page; the fair share's refusals (``Engine.admit``) too.
- ``job.poll()`` → ``JobView`` (``state`` is ``"queued"``, ``"running"``, ``"recovering"``, ``"done"``,
  ``"stopped"``, ``"cancelled"``, ``"abandoned"``, ``"lost"`` or ``"error"``; ``history``, ``latest``, ``ahead`` =
  jobs that will take a slot before this one, ``wait_seconds`` = an estimate of the wait, ``fraction`` done). It is
  the one call a page makes per refresh, and it is the session's heartbeat: a job whose session sends no heartbeat
  for ``heartbeat_timeout`` (10 s) is ended by the worker at once, without a result (state ``"abandoned"``; a
  queued one is dropped when it would start). It makes one or two small requests to the scheduler.
- ``job.heartbeat()``: only the heartbeat (``ui.jobs.keep_alive()`` sends it every 2 s for all of a
  session's jobs from the app's entry script, so a training goes on while the learner reads another page).
- ``job.stop()``: a queued job is cancelled; a running training stops after its current batch and
  still returns what it learned (``result.stopped``). Which of the two, the scheduler decides atomically
  (``core.claim_function``: the page's Stop and the worker's first act both claim the job; the first wins).
- ``job.done``, ``job.result`` (fetched once from the worker when done; ``None`` if cancelled),
  ``job.error`` (a one-line text, or ``None``), ``job.join(timeout)`` (wait, with heartbeats), ``job.retry()``.
"""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from explainer.engine.core import (Engine, EngineRestarting, EngineUnavailable, claim_function, engine, estimate_of,
                                   order, wait_estimate)
from explainer.errors import UserError

HEARTBEAT_TIMEOUT = 10.0
CLOCK_SKEW = 5.0  # tolerated difference between the web process's and a worker's clocks
STALE_PROGRESS = 4.0  # a running job without news this long, and not executing on a worker: its worker was lost


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



@dataclass(frozen=True)
class Ended:
    """What a worker returns for a job that ended without a result: ``state`` is ``"abandoned"`` (nobody polls it any
    more, or a Stop where half a result is worth nothing) or ``"cancelled"`` (its page's Stop came before it began)."""
    state: str


class Abandoned(Exception):
    """Raised on the worker to end a job at once, without a result (``perform`` returns ``Ended("abandoned")``)."""


class Job:
    """A job on the engine. A kind (a subclass, in ``explainer.engine.jobs``) says what it is called (``kind``), how
    long it takes (``estimate``), what travels to the worker (``task_args``), what runs there (``work``) and how its
    value comes back (``make_result``)."""

    kind = "job"
    #: ``work`` says "running" itself, with ``link.begin`` (a training that goes on from a checkpoint says where)
    begins_itself = False
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

    # ---------------------------------------------------------------- to be defined by a kind
    def estimate(self, eng: Engine) -> float:
        """Seconds the job will take on a worker (for the queue's waits)."""
        return 10.0

    def task_args(self) -> tuple:
        """What travels to the worker: ``work``'s arguments after the link (plain data, CPU tensors)."""
        return ()

    @staticmethod
    def work(link: "Link", *args):
        """On the worker (``perform`` calls it with the job's open ``Link``): the job's value, plain data."""
        raise NotImplementedError

    def make_result(self, value):
        """The job's ``result`` on the web process, from what ``work`` returned."""
        return value

    def on_end(self) -> None:
        """Once, when the job's outcome is known (``TrainingJob`` removes checkpoints no longer needed)."""

    def resumable(self) -> bool:
        """A ``"lost"`` job whose Retry goes on from a checkpoint rather than from the start."""
        return False

    # ---------------------------------------------------------------- life cycle
    def start(self) -> "Job":
        """Submit, where the engine's fair share admits it (``Engine.admit``: a visitor's cap, round robin, a full
        queue), as the task ``perform(kind, key, heartbeat_timeout, *task_args())``."""
        from distributed import Variable

        eng = self._engine or engine()
        self._engine = eng
        if eng.restarting:
            raise EngineRestarting()
        eng.claim(self.kind, self.owner, self)
        try:
            with eng.admit(self.kind, self.estimate(eng), self.visitor) as (key, rank):
                self.key = key
                self._vars = {name: Variable(f"{key}-{name}", eng.client) for name in ("ctl", "prog", "hist")}
                self._vars["prog"].set({"state": "queued"})
                self._send_beat(force=True)
                args = self.task_args()
                self._generation = eng.generation
                self.future = eng.submit(perform, type(self), key, self.heartbeat_timeout, *args, key=key,
                                         priority=-rank)
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
                    value = self.future.result(timeout=60)
                    if isinstance(value, Ended):  # abandoned or cancelled on the worker: no result
                        self._state = value.state
                    else:
                        self._result = self.make_result(value)
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
            self.on_end()
            if self._engine is not None:
                self._engine.release(self.kind, self.owner, self)

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
                       resumed_from=self._resumed_from, resumable=self._state == "lost" and self.resumable(),
                       rank=order(self.key)[0])

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
            remaining.append(float(latest.get("eta_seconds", latest.get("eta", estimate_of(k)))))
        remaining += [estimate_of(k) for k in ahead[min(slots, 8):]]
        self._ahead = len(ahead)
        self._wait = wait_estimate(remaining, slots) if len(ahead) >= slots else 0.0

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




# ====================================================================== the worker's end
def _claim_start(client, key: str) -> str | None:
    """This worker begins the job ``key``: its claim on the scheduler (``core.claim_function``); the winner
    (``"started"``, or ``"stopped"`` when the page's Stop came first), ``None`` if the scheduler can't be asked."""
    try:
        from distributed import get_worker

        return client.run_on_scheduler(claim_function(), key, "started", get_worker().address)
    except Exception:  # noqa: BLE001 — a scheduler that runs no functions: the stop flag decides, as before
        return None


class Link:
    """The worker's end of a job: heartbeat and stop from the page, progress to the page.

    ``attempt`` counts the runs of this task: Dask runs a task again on another worker when its worker dies
    (up to ``distributed.scheduler.allowed-failures`` times). An earlier attempt left its progress ("running") on
    the scheduler, so a rerun is never silent: it says ``attempt`` and ``resumed_from`` in every progress report."""

    def __init__(self, key: str, heartbeat_timeout: float):
        from distributed import Variable, get_client

        client = get_client()
        self.key = key
        # first of all, claim the job on the scheduler (core.claim_function): if its page's Stop came first, the
        # page has cancelled it, and this task (taken in that instant) ends at once without working
        stopped_first = _claim_start(client, key) == "stopped"
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
        """The page pressed Stop (``True``: finish what is worth keeping); raises ``Abandoned`` when nobody polls."""
        now = time.monotonic()
        if self.abandoned:
            raise Abandoned()
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
            raise Abandoned()  # nobody is waiting: end now, without the final evaluation
        return False

    def progress(self, rec: dict) -> None:
        """A progress record for the page (one with ``test_acc`` is a point of the training's curve)."""
        rec = {k: (float(v) if isinstance(v, float) else v) for k, v in rec.items()}
        if "test_acc" in rec:
            self.history.append(rec)
        try:
            if "test_acc" in rec:
                self.hist.set(list(self.history))
            self.prog.set(self._prog(rec))
        except Exception:  # noqa: BLE001 — a progress report that doesn't arrive never ends a training
            pass

    def fraction(self, f: float, **extra) -> None:
        """Progress as the fraction done (and ``extra`` fields); a Stop ends the job without a result (``Abandoned``):
        half a landscape or half a search is worth nothing."""
        self.progress({"fraction": float(f), **extra})
        if self.should_stop():
            raise Abandoned()


def perform(kind: type[Job], key: str, heartbeat_timeout: float, *args):
    """What Dask runs on a worker for every job: open the job's link once, then the kind's ``work(link, *args)``.
    Its value goes back as it is; a job that ends without one returns ``Ended`` (cancelled by a Stop before it
    began, or abandoned: its page stopped polling while it waited, or ``work`` raised ``Abandoned``)."""
    link = Link(key, heartbeat_timeout)
    if link.cancelled:
        return Ended("cancelled")
    if link.abandoned:
        return Ended("abandoned")  # nobody is waiting for it any more: don't work at all
    if not kind.begins_itself:
        link.begin(0 if link.attempt > 1 else None)
    try:
        return kind.work(link, *args)
    except Abandoned:
        return Ended("abandoned")
