"""The training engine on a real Dask LocalCluster: a tiny training, Stop, stale heartbeats, the queue,
one job per session, the loss landscape and scoring on a worker, an engine that can't start."""
from __future__ import annotations

import os
import socket
import time

import numpy as np
import psutil
import pytest
from pathlib import Path
import torch

from explainer.engine import core, jobcluster, jobs, protocol
from explainer.errors import UserError
from explainer.learning.train import TrainConfig

LONG = dict(train_size=60000, epochs=3)  # minutes on this machine: always stopped by the test


def _poll_until(job, states, timeout=90, also=()):
    """Poll ``job`` until it is in one of ``states``; the jobs in ``also`` are polled too (their pages stay open)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = job.poll()
        for other in also:
            other.poll()
        if view.state in states:
            return view
        time.sleep(0.25)
    raise AssertionError(f"job still {job.state!r} after {timeout} s (wanted {states})")


def _wait_without_polling(job, timeout):
    """Wait for the job's future without heartbeats (as when the learner's tab has gone)."""
    deadline = time.monotonic() + timeout
    while not job.future.done():  # the future's state comes from the scheduler: no request, no heartbeat
        assert time.monotonic() < deadline, f"job still running {timeout} s after its page stopped polling"
        time.sleep(0.1)
    return job.poll()


def test_tiny_training_finishes_with_accuracy(dask_engine):
    job = jobs.TrainingJob(TrainConfig(train_size=600, batch_size=32, epochs=1), owner="tiny").start()
    assert job.join(180), "the tiny training did not finish in 3 minutes"
    view = job.poll()
    assert view.state == "done" and view.error is None and view.fraction == 1.0
    res = job.result
    assert 0.5 < res.test_accuracy <= 1 and not res.stopped
    assert res.history and res.history[-1]["test_acc"] == pytest.approx(res.test_accuracy)
    assert view.history == res.history
    # the worker's evaluation of the 10,000 test digits came back with it
    assert res.predictions.shape == (10000,) and res.probabilities.shape == (10000, 10)
    assert np.allclose(res.probabilities.sum(1), 1, atol=1e-4)
    assert np.array_equal(res.probabilities.argmax(1), res.predictions)
    # the weights came back as a state_dict and were rebuilt here: the model agrees with the worker's scores
    from explainer.data.mnist import load_mnist
    from explainer.learning.train import to_tensor

    x_test = load_mnist(download=False)[2]
    with torch.no_grad():
        mine = res.model(to_tensor(x_test[:200])).argmax(1).numpy()
    assert (mine == res.predictions[:200]).mean() >= 0.99
    # the finished job no longer blocks its owner
    jobs.TrainingJob(TrainConfig(train_size=600), owner="tiny").stop()


def test_stop_keeps_what_was_learned(dask_engine):
    job = jobs.TrainingJob(TrainConfig(**LONG), owner="stopper").start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and job.poll().latest.get("step", 0) < 20:
        time.sleep(0.25)
    assert job.state == "running" and job.poll().latest["step"] >= 20
    job.stop()
    assert job.join(90), "Stop did not end the training"
    res = job.result
    assert job.state == "stopped" and res.stopped
    assert 0 < res.epochs_done < 1 and 0 < res.test_accuracy <= 1


def test_one_job_per_session(dask_engine):
    job = jobs.TrainingJob(TrainConfig(**LONG), owner="twice").start()
    try:
        with pytest.raises(UserError) as exc:
            jobs.TrainingJob(TrainConfig(train_size=600), owner="twice").start()
        assert exc.value.key == "jobs.one_job"
        # another session, or another kind of job of the same session, is fine
        other = jobs.TrainingJob(TrainConfig(train_size=600), owner="someone-else").start()
        other.stop()
    finally:
        job.stop()
        assert job.join(90)
    assert other.join(60) and other.state in ("cancelled", "stopped", "abandoned")


@pytest.fixture
def own_engine(mnist_dir):
    """An engine of the test's own (1 worker, 1 slot): no job of an earlier test can hold its slot."""
    eng = core.Engine(n_workers=1, torch_threads=2, start_timeout=90).start()
    yield eng
    eng.close()


def test_queue_position_and_stale_heartbeats(own_engine):
    """Two jobs on one slot: the second says "1 ahead of you"; when both pages stop polling, the running one
    stops within seconds and the queued one is dropped (or, started within the clock-skew allowance, stops too)."""
    first = jobs.TrainingJob(TrainConfig(**LONG), owner="q1", heartbeat_timeout=3, engine_=own_engine).start()
    # long too: within the clock-skew allowance a queued job may still start, and must then stop by itself
    second = jobs.TrainingJob(TrainConfig(**LONG), owner="q2", heartbeat_timeout=3, engine_=own_engine).start()
    _poll_until(first, {"running"}, also=[second])
    deadline = time.monotonic() + 10
    while True:
        view = second.poll()
        first.poll()
        if view.ahead == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert view.state == "queued" and view.ahead == 1, (view, first.poll())
    assert view.wait_seconds is not None and view.wait_seconds > 0
    last_beat = time.monotonic()
    view = _wait_without_polling(first, timeout=60)
    gone = time.monotonic() - last_beat
    assert view.state == "abandoned" and first.result is None  # ended without its final evaluation
    assert gone < 3 + 12, f"the abandoned training ran {gone:.1f} s after its last heartbeat"
    view = _wait_without_polling(second, timeout=60)
    assert view.state == "abandoned" and second.result is None


def test_cancel_while_queued(own_engine):
    first = jobs.TrainingJob(TrainConfig(**LONG), owner="c1", engine_=own_engine).start()
    second = jobs.TrainingJob(TrainConfig(train_size=600), owner="c2", engine_=own_engine).start()
    _poll_until(first, {"running"}, also=[second])
    assert second.poll().state == "queued"
    second.stop()
    first.stop()
    assert second.join(30) and second.state == "cancelled" and second.result is None
    assert first.join(90) and first.state == "stopped"


def test_landscape_and_scoring_run_on_the_worker(dask_engine):
    from explainer.learning.models import build_model

    config = TrainConfig(model="fast")
    torch.manual_seed(0)
    model = build_model("fast").eval()
    land = jobs.LandscapeJob(model, config, steps=3, digits=50, owner="land").start()
    assert land.join(120)
    L = land.result
    assert L["loss"].shape == (3, 3) and np.isfinite(L["loss"]).all()
    assert len(L["alphas"]) == 3
    ev = jobs.EvaluationJob(model, config, owner="score").start()
    assert ev.join(120)
    r = ev.result
    assert r["predictions"].shape == (10000,) and 0 <= r["accuracy"] <= 1
    shift = jobs.ShiftJob(model, config, digits=40, owner="shift").start()
    assert shift.join(120)
    from explainer.data.mnist import load_mnist
    from explainer.learning.shift import SHIFTS, shifted_accuracy

    _, _, x_test, y_test = load_mnist()
    assert shift.result == shifted_accuracy(model, x_test[:40], y_test[:40]) and len(shift.result) == len(SHIFTS)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_a_clear_error():
    eng = core.Engine(f"tcp://127.0.0.1:{_closed_port()}", start_timeout=3)
    with pytest.raises(core.EngineUnavailable) as exc:
        eng.start()
    assert exc.value.key == "jobs.engine_unavailable"
    t0 = time.monotonic()
    with pytest.raises(core.EngineUnavailable):
        eng.start()  # not tried again at once: a page's rerun doesn't wait for it every time
    assert time.monotonic() - t0 < 1
    with pytest.raises(core.EngineUnavailable):
        jobs.TrainingJob(TrainConfig(train_size=600), engine_=eng).start()


def test_scheduler_address_from_the_environment(monkeypatch):
    monkeypatch.setenv(core.ENV_SCHEDULER, f"tcp://127.0.0.1:{_closed_port()}")
    previous = core.set_engine(None)
    try:
        with pytest.raises(core.EngineUnavailable):
            core.engine()
        assert core._ENGINE.address == os.environ[core.ENV_SCHEDULER]
    finally:
        core.set_engine(previous)


def test_local_layout_sizes_workers_to_the_machine(monkeypatch):
    monkeypatch.delenv(jobcluster.ENV_TORCH_THREADS, raising=False)
    monkeypatch.delenv(core.ENV_WORKERS, raising=False)
    assert core.local_layout(2) == (1, 2)
    assert core.local_layout(1) == (1, 1)
    assert core.local_layout(16) == (4, 4)
    monkeypatch.setenv(jobcluster.ENV_TORCH_THREADS, "1")
    assert core.local_layout(2) == (2, 1)


def test_wait_estimate():
    assert core.wait_estimate([10.0], 1) == 10.0
    assert core.wait_estimate([10.0, 5.0, 7.0], 1) == 22.0
    assert core.wait_estimate([10.0, 4.0, 7.0], 2) == 10.0  # slots free at 4 and 10; the 7 s job takes the first


def test_dask_is_imported_lazily():
    import subprocess
    import sys

    code = "import sys, explainer.engine.jobs, explainer.learning.train; print('distributed' in sys.modules, 'dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_closed_engine_leaves_no_processes():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    eng = core.Engine(n_workers=1, torch_threads=1, start_timeout=90).start()
    spawned = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert spawned, "the local cluster runs its worker in a process of its own"
    eng.close()
    gone, alive = psutil.wait_procs(spawned, timeout=20)
    assert alive == []


def test_existing_cluster_from_the_environment(monkeypatch):
    """``EXPLAINER_DASK_SCHEDULER`` points the app at a cluster it did not start (here: a scheduler and one
    worker with a ``training`` slot in another process); jobs run there, and closing the app's engine
    leaves that cluster running."""
    cluster = jobcluster.LocalClusterProcess(1, 90)
    previous = core.set_engine(None)
    try:
        monkeypatch.setenv(core.ENV_SCHEDULER, cluster.address)
        eng = core.engine()
        assert eng.address == cluster.address and eng.cluster is None and eng.use_slots and eng.slots == 1
        job = jobs.TrainingJob(TrainConfig(train_size=300, batch_size=32), owner="remote").start()
        assert job.join(180) and job.state == "done" and 0 < job.result.test_accuracy <= 1
        core.shutdown()
        assert cluster.proc.poll() is None  # not ours to stop
    finally:
        core.set_engine(previous)
        cluster.close()
    assert cluster.proc.returncode == 0


def test_worker_threads_are_set_per_worker(dask_engine):
    """PyTorch threads are set in each worker process (the fixture asks for 2), not in this process."""
    got = dask_engine.client.run(torch.get_num_threads)
    assert got and set(got.values()) == {2}
    assert dask_engine.slots == 1


def _mmapped_chunks_for(nbytes: int) -> int:
    """How many fresh mmap'd chunks glibc uses for a NumPy array of ``nbytes`` (mallinfo2's ``hblks``)."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                         "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    before = libc.mallinfo2().hblks
    held = np.ones(nbytes, dtype=np.uint8)
    after = libc.mallinfo2().hblks
    del held
    return after - before


def test_worker_reuses_memory_for_batch_sized_tensors(dask_engine):
    """Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc mmap (and page-fault) every
    tensor over 128 kB afresh each step: 2.4× slower training. The worker plugin raises the thresholds, so a
    batch-sized buffer (4 MB) comes from the heap; a process started the way Dask starts one, without the
    plugin, still mmaps it (the control: the check can fail)."""
    import subprocess
    import sys

    got = dask_engine.client.run(_mmapped_chunks_for, 4 << 20)
    assert got and set(got.values()) == {0}
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    probe = ("import numpy as np, tests.test_jobs as t; print(t._mmapped_chunks_for(4 << 20))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True,
                         cwd=str(Path(__file__).resolve().parents[1]))
    assert out.stdout.strip() == "1"


class EchoJob(protocol.Job):
    """A job kind made outside the engine, as CONTRIBUTING's recipe says: one class, its worker side included."""

    kind = "echo"

    def __init__(self, value, how: str = "return", **kw):
        super().__init__(**kw)
        self.value, self.how = value, how

    def task_args(self) -> tuple:
        return self.value, self.how

    @staticmethod
    def work(link, value, how):
        link.fraction(0.5)
        if how == "abandon":
            raise protocol.Abandoned()
        if how == "raise":
            raise ValueError(f"no echo of {value!r}\nsecond line")
        return value


def test_a_job_kind_is_one_class_and_its_outcome_is_typed(dask_engine):
    """What a kind's ``work`` returns comes back as it is — even a dict that looks like the old protocol's
    ``{"abandoned": True}`` marker, which the client once decoded by its shape — while a job that ends without a
    value travels as ``protocol.Ended`` and an exception as the job's one-line error."""
    marker = EchoJob({"abandoned": True}, owner="echo-1").start()
    assert marker.join(120) and marker.state == "done" and marker.result == {"abandoned": True}
    ended = EchoJob(1, "abandon", owner="echo-2").start()
    assert ended.join(120) and ended.state == "abandoned" and ended.result is None
    assert isinstance(ended.future.result(), protocol.Ended)
    failed = EchoJob(2, "raise", owner="echo-3").start()
    assert failed.join(120) and failed.state == "error" and failed.error == "no echo of 2"
