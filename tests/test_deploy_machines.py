"""A course on two machines (issue 24 item 3), on loopback: two deploy/classroom.sh, each with a cache folder of its
own (as two machines have), sharing one PostgreSQL (tests/pgcluster.py, ``--database``) and one Dask scheduler.

- "machine A": the balancer (HAProxy), the scheduler, one worker and replica web1; its balancer also lists machine
  B's replica (``--remote-replicas``);
- "machine B": replica "remote1" only, joining A's scheduler (``--scheduler``, ``--workers 0``, ``--no-balancer``).

A checkpoint uploaded through web1 is scored on the shared worker and kept (in the database, weights included); the
link (``?run=``) opened through the balancer with machine B's replica cookie shows the run there, while neither
cache folder holds a weights file. A class poll (explainer/polls.py) answered from two processes with each machine's
environment counts every session once. Both scripts are stopped with SIGTERM and nothing they started is left.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bench.classroom import Session, free_port
from explainer.i18n import translate
from tests.conftest import ROOT, run_async
from tests.test_deploy import HAPROXY, SUPERVISORD, _session_processes

KEPT = re.compile(r"(?:^|&)run=([A-Za-z0-9_-]{22})(?:&|$)")  # the link names the kept run
READY_S = 150  # both scripts ready (a busy 2-core CI machine; about 25 s when idle)


class Machine:
    """One deploy/classroom.sh with its own cache folder (``CONVOLUTION_EXPLAINER_RUNS``) and run folder."""

    def __init__(self, tmp: Path, name: str, *options: str):
        assert Path(HAPROXY).exists() and Path(SUPERVISORD).exists(), "apt-get install -y haproxy supervisor"
        self.cache, self.run_dir = tmp / f"{name}-cache", tmp / f"{name}-run"
        self.cache.mkdir()
        env = dict(os.environ, PYTHON=sys.executable, PYTHONUNBUFFERED="1", SUPERVISORD=SUPERVISORD,
                   EXPLAINER_PREDICT_FIRST="0", CONVOLUTION_EXPLAINER_RUNS=str(self.cache))
        env.pop("EXPLAINER_DATABASE_URL", None)  # only --database names it
        self.proc = subprocess.Popen(["bash", str(ROOT / "deploy" / "classroom.sh"), "--run-dir", str(self.run_dir),
                                      *options], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("ready:"):
                self.ready.set()

    def wait_ready(self, deadline: float) -> None:
        while not self.ready.wait(0.2):
            assert self.proc.poll() is None and time.monotonic() < deadline, "\n".join(self.lines[-40:])

    def stop(self) -> tuple[int | None, list[int]]:
        """SIGTERM to the script; (its exit status, the processes of its session still there after 30 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(240)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None, []
        deadline = time.monotonic() + 30
        while _session_processes(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.3)
        return status, _session_processes(self.proc.pid)


_VOTER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    from explainer.errors import UserError
    from explainer.polls import Polls
    polls = Polls()  # the database the environment names (EXPLAINER_DATABASE_URL), as a replica's process makes it
    code, sessions = sys.argv[1], json.loads(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()  # both machines answer together
    out = {{"counted": 0, "refused": []}}
    for s in sessions:
        try:
            polls.answer(code, s, str(len(s) % 5))
            out["counted"] += 1
        except UserError as exc:
            out["refused"].append(exc.key)
    print(json.dumps(out), flush=True)
""")


def _poll_through_both(machines: list[Machine], url: str) -> tuple[dict, list[dict]]:
    """One poll; each machine's environment answers 40 sessions, 15 of them the same sessions (a student whose phone
    moved to the other replica): the tally, and what each process counted and was refused."""
    from explainer.engine.db import Database
    from explainer.polls import Polls
    from explainer.questions import question

    db = Database(url)
    polls = Polls(db)
    made = polls.create(question("stride.out_size").pose({"n": 5, "k": 3, "s": 2, "p": 1, "d": 1}).to_dict())
    shared = [f"student-both-{k}" for k in range(15)]
    groups = [shared + [f"student-{m.cache.name}-{k}" for k in range(25)] for m in machines]
    procs = []
    for m, sessions in zip(machines, groups):
        env = dict(os.environ, EXPLAINER_DATABASE_URL=url, CONVOLUTION_EXPLAINER_RUNS=str(m.cache))
        procs.append(subprocess.Popen([sys.executable, "-c", _VOTER.format(root=str(ROOT)), made.code,
                                       json.dumps(sessions)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()[-2000:]
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    tally = polls.tally(made.code)
    db.dispose()
    return tally, [json.loads(o[0].strip().splitlines()[-1]) for o in outs]


def test_two_machines_share_kept_runs_and_polls(postgres, tmp_path):
    import torch

    from explainer.learning.models import build_model
    from explainer.learning.train import TrainConfig, save_checkpoint

    url = postgres.schema_url()
    front, sched, port_a, port_b = free_port(), free_port(), free_port(), free_port()
    t0 = time.monotonic()
    a = Machine(tmp_path, "machine-a", "--replica-ports", str(port_a), "--port", str(front), "--scheduler-port",
                str(sched), "--workers", "1", "--torch-threads", "1", "--database", url,
                "--remote-replicas", f"127.0.0.1:{port_b}")
    b = Machine(tmp_path, "machine-b", "--replica-ports", str(port_b), "--scheduler", f"tcp://127.0.0.1:{sched}",
                "--workers", "0", "--no-balancer", "--database", url)
    machines = [a, b]
    try:
        tally, counted = _poll_through_both(machines, url)  # while the replicas start
        deadline = time.monotonic() + READY_S
        for m in machines:
            m.wait_ready(deadline)
        ready = time.monotonic() - t0
        for m in machines:  # the URL (its password) reaches the processes by their environment, not a file
            assert url not in (m.run_dir / "supervisord.conf").read_text()
        torch.manual_seed(0)
        config = TrainConfig(model="mlp")
        blob = save_checkpoint(build_model("mlp"), config)
        runs_header = translate("train.runs_header", "en")
        base = f"http://127.0.0.1:{front}"

        async def go():
            keeper = Session(base, cookies={"EXPLAINER_SRV": "web1"}, timeout=120)
            await keeper.open("train")
            await keeper.upload("tr_load", "mine.pt", blob)
            limit = time.monotonic() + 60  # scored on the shared worker, then kept
            while not KEPT.search(keeper.query):
                assert time.monotonic() < limit and not keeper.exceptions, (keeper.exceptions, keeper.texts[-5:])
                await keeper.tick()
                await asyncio.sleep(0.2)
            await keeper.close()
            reader = Session(base, cookies={"EXPLAINER_SRV": "remote1"}, timeout=120)
            reader.query = keeper.query
            await reader.open("train")
            await reader.close()
            return keeper, reader

        keeper, reader = run_async(go(), 240)
        run_id = KEPT.search(keeper.query).group(1)
        assert keeper.cookies["EXPLAINER_SRV"] == "web1" and reader.cookies["EXPLAINER_SRV"] == "remote1"
        assert not reader.exceptions, reader.exceptions
        assert runs_header in reader.texts and f"run={run_id}" in reader.query, (reader.texts, reader.query)
        for m in machines:  # the run's weights are in the database: no cache folder holds them
            assert not [p for p in m.cache.rglob("*") if p.is_file() and p.suffix in (".pt", ".sqlite")], \
                list(m.cache.rglob("*"))
        print(f"\ntwo machines: both ready after {ready:.1f} s, the run kept through web1 and opened through "
              f"machine B's replica; poll: {tally.total} answers counted from {counted}")
    finally:
        stopped = [m.stop() for m in machines[::-1]]  # B first (it uses A's scheduler), then A
    assert tally.total == 65 and sum(tally.counts.values()) == 65, tally  # 15 + 25 + 25 sessions, each once
    assert sorted(c["counted"] for c in counted) and sum(c["counted"] for c in counted) == 65, counted
    assert sorted(k for c in counted for k in c["refused"]) == ["errors.poll.answered"] * 15, counted
    assert stopped == [(0, []), (0, [])], stopped
