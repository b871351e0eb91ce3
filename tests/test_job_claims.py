"""Stop and a worker beginning the same job agree (issue 21, reviewer's finding 9), and the queue knows a job runs
as soon as its worker begins it (not at the worker's next heartbeat). A real local engine, 1 worker, 1 slot.

Before, ``Job.stop()`` asked the scheduler whether the task was executing (it learns that from the worker's
heartbeat, up to half a second late) and the job's progress; when neither said so it cancelled the future — even
when a worker had just begun the task, which then ran on while the scheduler counted its slot free. Now both sides
claim the job on the scheduler (``core.claim_function``, atomic there): the first claim wins."""
from __future__ import annotations

import time

import pytest
from distributed import Variable

from explainer.engine import core, jobs
from explainer.learning.train import TrainConfig
from tests.test_jobs import LONG, _poll_until

SHORT = dict(train_size=600, batch_size=100, epochs=1, evals_per_epoch=1, eval_size=100)


@pytest.fixture(scope="module")
def own_engine(mnist_dir):
    """One engine (1 worker, 1 slot) for this file's tests; each leaves it idle."""
    eng = core.Engine(n_workers=1, torch_threads=2, start_timeout=90).start()
    yield eng
    eng.close()


def _worker_of(eng: core.Engine, key: str) -> str | None:
    def where(dask_scheduler=None, key=key):
        ts = dask_scheduler.tasks.get(key)
        return None if ts is None or ts.processing_on is None else ts.processing_on.address

    return eng.client.run_on_scheduler(where)


def test_a_job_its_worker_has_begun_is_never_cancelled_under_it(own_engine):
    eng = own_engine
    running = jobs.TrainingJob(TrainConfig(**LONG), owner="a", visitor="a", engine_=eng).start()
    _poll_until(running, {"running"})
    waiting = jobs.TrainingJob(TrainConfig(**SHORT), owner="b", visitor="b", engine_=eng).start()
    try:
        deadline = time.monotonic() + 30
        while (worker := _worker_of(eng, waiting.key)) is None:  # Dask hands it to the worker's own queue at once
            assert time.monotonic() < deadline, "the queued job never reached the worker"
            time.sleep(0.1)
        assert eng.queue(max_age=0.0)[0][waiting.key] != "running"
        # the worker begins it at this very instant: its first act is its claim (what protocol.Link sends first)
        assert eng.client.run_on_scheduler(core.claim_function(), waiting.key, "started", worker) == "started"
        assert eng.queue(max_age=0.0)[0][waiting.key] == "running"  # the queue knows at once, no heartbeat needed
        waiting.stop()  # ... and its page's Stop comes a moment later: it must not cancel a task a worker runs
        assert not waiting.future.cancelled() and waiting.future.status == "pending"
    finally:
        running.stop()  # the slot frees; the worker now really begins the waiting job, finds the stop flag, ends
        waiting.stop()
        assert running.join(120) and running.state == "stopped"
    assert waiting.join(60) and waiting.state == "cancelled" and waiting.result is None


def test_a_job_stopped_first_never_begins(own_engine):
    eng = own_engine
    running = jobs.TrainingJob(TrainConfig(**LONG), owner="a", visitor="a", engine_=eng).start()
    _poll_until(running, {"running"})
    waiting = jobs.TrainingJob(TrainConfig(**SHORT), owner="b", visitor="b", engine_=eng).start()
    key = waiting.key
    try:
        waiting.stop()  # its page's Stop wins: cancelled
        assert waiting.join(30) and waiting.state == "cancelled"
        # a worker that had taken it in that instant is told it was stopped, and ends without working
        assert eng.client.run_on_scheduler(core.claim_function(), key, "started", "tcp://127.0.0.1:1") == "stopped"
    finally:
        running.stop()
        assert running.join(120) and running.state == "stopped"
    try:  # it never said "running" (its variables went with it)
        prog = Variable(f"{key}-prog", eng.client).get(timeout=1)
    except Exception:  # noqa: BLE001 — gone, as it should be
        prog = None
    assert not (isinstance(prog, dict) and prog.get("state") == "running"), prog


def test_the_queue_lists_a_job_as_running_as_soon_as_its_worker_says_so(own_engine):
    """Start counted a just-begun job as waiting until the worker's next heartbeat: the page said "running" while
    the queue (the visitor cap, QUEUE_MAX, "n ahead of you") still counted it waiting."""
    eng = own_engine
    seen = []
    for _ in range(2):
        job = jobs.TrainingJob(TrainConfig(**LONG), owner="c", engine_=eng).start()
        prog = Variable(f"{job.key}-prog", eng.client)
        deadline = time.monotonic() + 120
        while prog.get(timeout=5).get("state") != "running":  # the worker's own word, asked as often as we can
            assert time.monotonic() < deadline
            job.heartbeat()
        seen.append(eng.queue(max_age=0.0)[0].get(job.key))
        job.stop()
        assert job.join(120)
    assert seen == ["running"] * 2, seen
