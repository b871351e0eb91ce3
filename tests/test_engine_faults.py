"""Engine faults on real Dask processes (``dask scheduler`` / ``dask worker`` on loopback, bounded, stopped): the
scheduler killed during a training (the engine says it is restarting, reconnects by itself, the training is
reported lost and its Retry goes on from the checkpoint), a worker killed during a training (no silent restart from
step 1: it goes on from its checkpoint and says so), the embedded cluster's process killed (a new one is started),
and the fair share of the queue (one visitor with 20 tabs against 5 others)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from explainer import limits
from explainer.engine import core, jobs, protocol
from explainer.errors import UserError
from explainer.learning.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
# long enough to be killed in the middle on a busy 2-core machine; a checkpoint at each of its 8 evaluation points
MID = dict(train_size=6000, batch_size=50, epochs=1, evals_per_epoch=8, eval_size=300)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CliCluster:
    """``dask scheduler`` and one ``dask worker`` (nanny, one ``training`` slot) as the course deployment runs them."""

    def __init__(self, tmp: Path):
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "EXPLAINER_CHECKPOINTS": str(tmp / "resume")}
        self.dask = str(Path(sys.executable).with_name("dask"))
        self.scheduler = self.worker = None
        self.start_scheduler()
        self.start_worker()

    def start_worker(self) -> None:
        """A worker ends when its scheduler goes (Dask's own behaviour); the course's supervisor starts it again."""
        self.worker = subprocess.Popen([self.dask, "worker", self.address, "--nthreads", "1", "--resources",
                                        "training=1", "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "120"],
                                       env=self.env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_scheduler(self) -> None:
        self.scheduler = subprocess.Popen([self.dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                           "--no-dashboard"], env=self.env, cwd=str(ROOT),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("dask scheduler did not start in 60 s")

    def worker_process(self) -> psutil.Process:
        """The worker process under the nanny (what a crash or the OOM killer takes)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kids = [k for k in psutil.Process(self.worker.pid).children(recursive=True)
                    if "resource_tracker" not in " ".join(k.cmdline())]
            if kids:
                return max(kids, key=lambda k: k.memory_info().rss)  # the worker holds PyTorch and MNIST
            time.sleep(0.2)
        raise AssertionError("no worker process under the nanny")

    def close(self) -> None:
        for proc in (self.worker, self.scheduler):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.worker, self.scheduler):
            if proc is None:
                continue
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(proc.pid).children(recursive=True):
                    child.kill()
                proc.kill()
                proc.wait(5)


@pytest.fixture
def cli_cluster(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.setenv(jobs.ENV_CHECKPOINTS, str(tmp_path / "resume"))
    cluster = CliCluster(tmp_path)
    eng = None
    try:
        eng = core.Engine(cluster.address, start_timeout=60)
        deadline = time.monotonic() + 90
        while True:  # the worker joins a few seconds after the scheduler
            eng.start()
            if eng.client.scheduler_info(n_workers=-1)["workers"]:
                eng.close()
                eng = core.Engine(cluster.address, start_timeout=60).start()  # use_slots seen with the worker there
                break
            assert time.monotonic() < deadline, "the dask worker did not join in 90 s"
            time.sleep(0.5)
        yield cluster, eng
    finally:
        if eng is not None:
            eng.close()
        cluster.close()


def _poll_until(job, pred, timeout, note=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = job.poll()
        if note is not None:
            note.append((time.monotonic(), view))
        if pred(view):
            return view
        time.sleep(0.25)
    raise AssertionError(f"job {job.state!r} after {timeout} s")


def test_scheduler_killed_engine_reconnects_and_retry_resumes(cli_cluster):
    cluster, eng = cli_cluster
    job = jobs.TrainingJob(TrainConfig(**MID), owner="s1", visitor="v1", engine_=eng).start()
    view = _poll_until(job, lambda v: len(v.history) >= 2, 300)  # two checkpoints written
    step_then = view.latest["step"]
    saved = jobs.checkpoint_path(job.key)
    assert saved.is_file()
    killed = time.monotonic()
    cluster.scheduler.kill()
    cluster.scheduler.wait(10)
    view = _poll_until(job, lambda v: v.finished, 30)
    lost_after = time.monotonic() - killed
    assert view.state == "lost" and view.resumable and view.error is None
    assert eng.restarting and view.engine_restarting  # the page says "the training engine is restarting"
    with pytest.raises(core.EngineRestarting) as exc:
        jobs.TrainingJob(TrainConfig(train_size=300), owner="s2", engine_=eng).start()
    assert exc.value.key == "jobs.engine_restarting"
    time.sleep(3)
    back = time.monotonic()
    cluster.start_scheduler()
    deadline = time.monotonic() + 60
    while eng.restarting or not eng.healthy():
        assert time.monotonic() < deadline, "the engine did not reconnect within 60 s of the scheduler's return"
        time.sleep(0.1)
    reconnect = time.monotonic() - back
    try:
        cluster.worker.wait(30)  # it ends when it finds its scheduler gone
    except subprocess.TimeoutExpired:
        pass
    if cluster.worker.poll() is not None:
        cluster.start_worker()  # as the supervisor does
    again = job.retry()
    assert again.resume_from == job.key
    again.start()
    first = _poll_until(again, lambda v: v.state == "running" and v.resumed_from is not None, 180)
    assert first.resumed_from >= min(h["step"] for h in view.history) > 0  # went on from a checkpoint, not step 1
    assert all(h["step"] <= step_then for h in first.history[:len(view.history)])
    done = _poll_until(again, lambda v: v.finished, 600)
    assert done.state == "done", done
    assert [h["step"] for h in done.history][:2] == [h["step"] for h in view.history][:2]  # one curve, continued
    assert not saved.exists()  # the finished retry removed the checkpoint it went on from
    print(f"\nscheduler killed: reported lost after {lost_after:.1f} s; reconnected {reconnect:.1f} s after the "
          f"scheduler was back; retry resumed at step {first.resumed_from} of {first.latest.get('total_steps')}")


def test_worker_killed_training_goes_on_from_its_checkpoint(cli_cluster):
    cluster, eng = cli_cluster
    job = jobs.TrainingJob(TrainConfig(**MID), owner="w1", visitor="v1", engine_=eng).start()
    view = _poll_until(job, lambda v: len(v.history) >= 2, 300)
    ckpt_step = view.history[-1]["step"]
    cluster.worker_process().kill()
    killed = time.monotonic()
    seen = []
    resumed = _poll_until(job, lambda v: v.state == "running" and v.resumed_from is not None, 240, note=seen)
    recovering = [t - killed for t, v in seen if v.state == "recovering"]
    back = next(t for t, v in seen if v.state == "running" and v.resumed_from is not None) - killed
    # a worker back within the staleness window resumes before the page may call it lost; any longer gap is told
    assert recovering or back <= protocol.STALE_PROGRESS + 2, \
        f"the page never said the worker was lost (a frozen bar for {back:.1f} s instead)"
    assert resumed.resumed_from >= ckpt_step > 0  # no silent restart from step 1
    late = _poll_until(job, lambda v: v.finished, 600, note=seen)
    assert late.state == "done"
    after = [v.latest.get("step", 0) for t, v in seen if t > killed and v.state == "running"]
    assert after and min(after) >= ckpt_step, "a step before the checkpoint was reported after the kill"
    assert job.result.test_accuracy > 0.5
    print(f"\nworker killed: 'recovering' shown {recovering[0] if recovering else float('nan'):.1f} s after the kill; "
          f"back {back:.1f} s after it; resumed at step "
          f"{resumed.resumed_from} (checkpoint {ckpt_step}); finished {seen[-1][0] - killed:.1f} s after the kill")


def test_embedded_cluster_process_restarted(mnist_dir):
    eng = core.Engine(n_workers=1, torch_threads=1, start_timeout=90).start()
    try:
        old = eng.cluster.proc
        for child in psutil.Process(old.pid).children(recursive=True):
            child.kill()
        old.kill()
        killed = time.monotonic()
        deadline = killed + 10
        while not eng.restarting:
            assert time.monotonic() < deadline, "the engine did not notice its cluster died"
            time.sleep(0.05)
        with pytest.raises(core.EngineRestarting):
            eng.start()
        deadline = killed + 120
        while eng.restarting or not eng.healthy():
            assert time.monotonic() < deadline, "no new local cluster within 120 s"
            time.sleep(0.2)
        assert eng.cluster.proc is not old and eng.cluster.proc.poll() is None
        took = time.monotonic() - killed
        from explainer.learning.models import build_model

        job = jobs.EvaluationJob(build_model("fast").eval(), TrainConfig(), owner="after", engine_=eng).start()
        assert job.join(120) and job.state == "done"
        print(f"\nlocal cluster killed: a new one served jobs {took:.1f} s later")
    finally:
        eng.close()


# ---------------------------------------------------------------- fair share
SHORT = dict(train_size=1000, batch_size=100, epochs=1, evals_per_epoch=1, eval_size=100)


def test_one_visitor_with_twenty_tabs_gets_a_fair_share(mnist_dir):
    """20 sessions of one visitor press Start, then 5 other visitors do: the visitor gets at most
    ``JOBS_PER_VISITOR`` jobs (the other tabs are told why), and each of the 5 starts before that visitor's second
    job — within one of its jobs' time, not behind its whole queue."""
    eng = core.Engine(n_workers=1, torch_threads=2, start_timeout=90).start()
    try:
        hog, refused = [], 0
        for i in range(20):
            try:
                hog.append(jobs.TrainingJob(TrainConfig(**SHORT), owner=f"hog-tab-{i}", visitor="hog",
                                            engine_=eng).start())
            except UserError as exc:
                assert exc.key == "jobs.visitor_cap"
                refused += 1
        assert len(hog) == limits.JOBS_PER_VISITOR and refused == 20 - limits.JOBS_PER_VISITOR
        others = [jobs.TrainingJob(TrainConfig(**SHORT), owner=f"other-{i}", visitor=f"other-{i}",
                                   engine_=eng).start() for i in range(5)]
        submitted = time.monotonic()
        started: dict[int, float] = {}
        everyone = hog + others
        views = {}
        deadline = submitted + 600
        while not all(j.done for j in everyone):
            assert time.monotonic() < deadline, "the 8 short trainings did not finish in 10 minutes"
            for j in everyone:
                views[id(j)] = v = j.poll()
                if v.state in ("running", "done", "stopped") and id(j) not in started:
                    started[id(j)] = time.monotonic()
            time.sleep(0.2)
        for j in everyone:
            j.poll()
        assert all(j.state == "done" for j in everyone), [(j.owner, j.state, j.error) for j in everyone]
        order = sorted(everyone, key=lambda j: started[id(j)])
        # the hog's first job was running already; then every other visitor, then the hog's second and third
        assert set(order[1:6]) == set(others), [o.owner for o in order]
        waits = [started[id(o)] - submitted for o in others]
        durations = [j.result.train_seconds for j in everyone]
        print(f"\nfair share: the 5 visitors started after {', '.join(f'{w:.1f}' for w in sorted(waits))} s "
              f"(one job ≈ {max(durations):.1f} s of training); the hog's later jobs after "
              f"{', '.join(f'{started[id(h)] - submitted:.1f}' for h in hog[1:])} s")
    finally:
        eng.close()


def test_queue_cap_refuses_with_the_wait(mnist_dir, monkeypatch):
    eng = core.Engine(n_workers=1, torch_threads=1, start_timeout=90).start()
    try:
        monkeypatch.setattr(limits, "QUEUE_MAX", 2)
        running = jobs.TrainingJob(TrainConfig(train_size=60000, epochs=3), owner="a", visitor="a", engine_=eng).start()
        _poll_until(running, lambda v: v.state == "running", 120)
        # the worker says "running" before the scheduler lists the task as executing (a busy machine: seconds);
        # until then the scheduler counts it as waiting, as Start does
        deadline = time.monotonic() + 60
        while eng.queue(max_age=0.0)[0].get(running.key) != "running":
            assert time.monotonic() < deadline, "the scheduler never listed the running training as executing"
            time.sleep(0.2)
        waiting = [jobs.TrainingJob(TrainConfig(**SHORT), owner=f"b{i}", visitor=f"b{i}", engine_=eng).start()
                   for i in range(2)]
        with pytest.raises(UserError) as exc:
            jobs.TrainingJob(TrainConfig(**SHORT), owner="c", visitor="c", engine_=eng).start()
        assert exc.value.key == "jobs.queue_full" and exc.value.params["n"] == 2
        assert float(exc.value.params["wait"]) >= 0
        view = waiting[1].poll()
        assert view.state == "queued" and view.ahead == 2
        for j in waiting + [running]:
            j.stop()
        for j in waiting + [running]:
            assert j.join(90)
    finally:
        eng.close()
