"""A course on two machines (issue 24 item 3), on loopback: two deploy/classroom.sh, each with a cache folder of its
own (as two machines have), sharing one PostgreSQL (tests/pgcluster.py, ``--database``) and one Dask scheduler.

- "machine A": the balancer (HAProxy), the scheduler and replica web1; its balancer also lists machine B's replica
  (``--remote-replicas``);
- "machine B": replica "remote1" only, joining A's scheduler (``--scheduler``, ``--no-balancer``).
No worker (``--workers 0``: a worker's start and a scoring would triple the test's time); the shared scheduler is
shown by the scoring job machine B's replica submits to it.

A process with machine A's environment (its cache folder, the database URL: what web1's process has) keeps a run
(RunStore(), weights included) and answers a class poll, while a process with machine B's environment answers the
same poll; then the link (``?run=``) opened through the balancer with machine B's replica cookie shows the run there,
and neither cache folder holds a weights file or a database. The poll counts every session once (15 of them answer
through both). Then a second poll is answered through the replicas' pages (protocol-level Streamlit sessions, pinned to
a replica by the balancer's cookie): 10 students on machine A's replica and 10 on machine B's open ``/poll?cp_code=``,
type their answer and send the form, 3 of them tapping Send twice at once; the tally counts each session once and the
projector (a lecturer's session on machine B's replica) shows the total. Both scripts are stopped with SIGTERM and
nothing they started is left. About 25 s on an idle machine.
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

from bench.classroom import Session, free_port
from explainer.i18n import translate
from tests.conftest import ROOT, release_together, run_async
from tests.test_deploy import HAPROXY, SUPERVISORD, _session_processes

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
    if sys.argv[3] == "keep":  # a run kept as a replica's Train page keeps one (ui/runs.py: RunStore().save)
        import torch
        from explainer.engine.runstore import RunStore
        from explainer.learning.models import build_model
        from explainer.learning.runs import KeptRun
        from explainer.learning.train import TrainConfig, save_checkpoint
        torch.manual_seed(0)
        config = TrainConfig(model="mlp")
        run = KeptRun(label="kept on machine A", config=config, history=[{{"epochs_done": 1.0, "train_acc": 0.9}}],
                      test_accuracy=0.9, seconds=1.0, ips=1000.0)
        print("kept", RunStore().save(run, save_checkpoint(build_model("mlp"), config), owner="a learner"), flush=True)
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


def _machines_processes(machines: list[Machine], url: str) -> tuple[str, object, list[dict]]:
    """Machine A's process keeps a run; one poll, which each machine's process answers for 40 sessions, 15 of them
    the same sessions (a student whose phone moved to the other replica): (the run's id, the poll's tally, what
    each process counted and was refused)."""
    from explainer.engine.db import Database
    from explainer.polls import Polls
    from explainer.questions import question

    db = Database(url)
    polls = Polls(db)
    made = polls.create(question("stride.out_size").pose({"n": 5, "k": 3, "s": 2, "p": 1, "d": 1}).to_dict())
    shared = [f"student-both-{k}" for k in range(15)]
    groups = [shared + [f"student-{m.cache.name}-{k}" for k in range(25)] for m in machines]
    procs = []
    for m, sessions, keep in zip(machines, groups, ("keep", "")):
        env = dict(os.environ, EXPLAINER_DATABASE_URL=url, CONVOLUTION_EXPLAINER_RUNS=str(m.cache))
        procs.append(subprocess.Popen([sys.executable, "-c", _VOTER.format(root=str(ROOT)), made.code,
                                       json.dumps(sessions), keep], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    try:
        first = procs[0].stdout.readline().split()
        assert first[:1] == ["kept"], procs[0].stderr.read()[-2000:]
    except BaseException:
        for p in procs:
            p.kill()
        raise
    outs = release_together(procs)
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    tally = polls.tally(made.code)
    db.dispose()
    return first[1], tally, [json.loads(o[0].strip().splitlines()[-1]) for o in outs]


STUDENTS = 10  # per replica, through the pages
TWICE = {0, 4, 7}  # these students of machine B's replica tap Send twice at once


async def _twice(s: Session) -> None:
    """Send the answer form twice without waiting (a double tap on a slow phone), then look at the page again."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    back = BackMsg()
    cs = back.rerun_script
    cs.query_string, cs.page_name, cs.page_script_hash = s.query, s.page, s.pages.get(s.page, "")
    cs.widget_states.widgets.extend([*s.states.values(), WidgetState(id=s.widget("cp_send").id, trigger_value=True)])
    await s._send(back)
    await s.click("cp_send")  # its wait may end at the first tap's run
    await asyncio.sleep(1.0)  # both taps' runs are over
    async with s.lock:  # the page as it is now (the session's state on its replica), as a browser shows it after
        await s._rerun(fragment_id="")


async def _class_through_pages(base: str, code: str, secret: str) -> tuple[list[dict], list[str]]:
    """``STUDENTS`` students per replica answer poll ``code`` on its page, then a lecturer's session on machine B's
    replica reads the projector: (what each student's session saw, the projector's texts)."""
    refused = translate("errors.poll.answered", "en")

    async def student(srv: str, i: int) -> dict:
        s = Session(base, cookies={"EXPLAINER_SRV": srv}, timeout=120)
        s.query = f"cp_code={code}"
        again = False
        try:
            await s.open("poll")
            form = "cp_send" in s.widgets
            await s.number("cp_num", i % 5)
            if srv == "remote1" and i in TWICE:
                await _twice(s)
                if "cp_send" in s.widgets:  # the page forgot the answer (seen after a double tap): sending it again
                    again = True
                    await s.number("cp_num", i % 5)
                    await s.click("cp_send")
            else:
                await s.click("cp_send")
            return dict(srv=s.cookies.get("EXPLAINER_SRV"), form=form, after="cp_send" in s.widgets,
                        counted=any(t.startswith("Your answer **") and "is counted" in t for t in s.alerts),
                        refused=any(t == refused for t in s.alerts), alerts=s.alerts, again=again,
                        twice=srv == "remote1" and i in TWICE,
                        exceptions=s.exceptions)
        finally:
            await s.close()

    seen = await asyncio.gather(*(student(srv, i) for srv in ("web1", "remote1") for i in range(STUDENTS)))
    lecturer = Session(base, cookies={"EXPLAINER_SRV": "remote1"}, timeout=120)
    lecturer.query = f"cp_code={code}&cp_key={secret}&presenter=1"
    try:
        await lecturer.open("poll")
    finally:
        await lecturer.close()
    return seen, lecturer.texts


def _scheduler_tasks(scheduler: str) -> int:
    from distributed import Client

    with Client(scheduler, timeout=30) as client:
        return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def _page_poll(url: str, code: str | None = None):
    """A new poll (``code`` None): (its code, its secret); else poll ``code``'s tally."""
    from explainer.engine.db import Database
    from explainer.polls import Polls
    from explainer.questions import question

    db = Database(url)
    try:
        polls = Polls(db)
        if code is not None:
            return polls.tally(code)
        made = polls.create(question("stride.out_size").pose({"n": 7, "k": 3, "s": 2, "p": 0, "d": 1}).to_dict())
        return made.code, made.secret
    finally:
        db.dispose()


def test_two_machines_share_kept_runs_and_polls(postgres, tmp_path):
    url = postgres.schema_url()
    front, sched, port_a, port_b = free_port(), free_port(), free_port(), free_port()
    scheduler = f"tcp://127.0.0.1:{sched}"
    t0 = time.monotonic()
    a = Machine(tmp_path, "machine-a", "--replica-ports", str(port_a), "--port", str(front), "--scheduler-port",
                str(sched), "--workers", "0", "--database", url, "--remote-replicas", f"127.0.0.1:{port_b}")
    b = Machine(tmp_path, "machine-b", "--replica-ports", str(port_b), "--scheduler", scheduler, "--workers", "0",
                "--no-balancer", "--database", url)
    machines = [a, b]
    marks: dict[str, float] = {}
    try:
        run_id, tally, counted = _machines_processes(machines, url)  # while the replicas start
        marks["kept and polled"] = time.monotonic() - t0
        deadline = time.monotonic() + READY_S
        for m in machines:
            m.wait_ready(deadline)
        marks["ready"] = time.monotonic() - t0
        for m in machines:  # the URL (its password) reaches the processes by their environment, not a file
            assert url not in (m.run_dir / "supervisord.conf").read_text()
        assert _scheduler_tasks(scheduler) == 0
        runs_header = translate("train.runs_header", "en")

        code, secret = _page_poll(url)

        async def read():
            reader = Session(f"http://127.0.0.1:{front}", cookies={"EXPLAINER_SRV": "remote1"}, timeout=120)
            reader.query = f"run={run_id}"
            await reader.open("train")
            await reader.close()
            marks["opened"] = time.monotonic() - t0
            return reader

        async def go():  # the run opened on machine B while the class answers the page poll through both
            return await asyncio.gather(read(), _class_through_pages(f"http://127.0.0.1:{front}", code, secret))

        reader, (seen, projector) = run_async(go(), 180)
        marks["polled through the pages"] = time.monotonic() - t0
        page_tally = _page_poll(url, code)
        assert reader.cookies["EXPLAINER_SRV"] == "remote1" and not reader.exceptions, reader.exceptions
        assert runs_header in reader.texts and f"run={run_id}" in reader.query, (reader.texts, reader.query)
        limit = time.monotonic() + 30  # machine B's replica scores the run it opened: a job on A's scheduler
        while not _scheduler_tasks(scheduler):
            assert time.monotonic() < limit, "machine B's replica sent no job to the shared scheduler"
            time.sleep(0.5)
        for m in machines:  # the run's weights are in the database: no cache folder holds them
            assert not [p for p in m.cache.rglob("*") if p.is_file() and p.suffix in (".pt", ".sqlite")], \
                list(m.cache.rglob("*"))
    finally:
        stopped: list = [None, None]  # both machines stopped together (as a course ends)
        stoppers = [threading.Thread(target=lambda k=k: stopped.__setitem__(k, machines[k].stop())) for k in (0, 1)]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(300)
        print(f"\ntwo machines, timeline (s): {marks}, both stopped at {time.monotonic() - t0:.1f}")
    assert tally.total == 65 and sum(tally.counts.values()) == 65, tally  # 15 + 25 + 25 sessions, each once
    assert sum(c["counted"] for c in counted) == 65, counted
    assert sorted(k for c in counted for k in c["refused"]) == ["errors.poll.answered"] * 15, counted
    assert stopped == [(0, []), (0, [])], stopped
    # through the pages: every student on the replica its cookie names, the form gone once sent, each counted once
    once = [x for x in seen if not x["twice"]]
    assert [(x["srv"], x["form"], x["after"], x["counted"], x["exceptions"]) for x in once] == \
        [(srv, True, False, True, []) for srv in ["web1"] * STUDENTS + ["remote1"] * (STUDENTS - len(TWICE))], once
    # a double tap: counted once, and the page shows it counted, either at once or (its session's state lost the
    # answer, seen on Streamlit 1.67 when the second tap's run interrupts the first) when it is sent again: the
    # store's answer is read back (ui.polls._send), never a refusal
    twice = [x for x in seen if x["twice"]]
    assert len(twice) == len(TWICE) and all(x["srv"] == "remote1" and not x["exceptions"] and x["counted"]
                                            and not x["after"] and not x["refused"] for x in twice), twice
    print(f"double taps: {[('counted, sent again' if x['again'] else 'counted') for x in twice]}")
    assert page_tally.total == 2 * STUDENTS and sum(page_tally.counts.values()) == 2 * STUDENTS, page_tally
    assert sorted(page_tally.counts.items()) == [(str(v), 2 * STUDENTS // 5) for v in range(5)], page_tally
    shown = [int(m.group(1)) for text in projector if (m := re.match(r"^\*\*(\d+) answers\*\*", text))]
    assert shown == [2 * STUDENTS], projector


def test_an_unreachable_database_stops_the_start_with_its_reason(tmp_path):
    """``--database`` naming a database that isn't there: the script says so and exits before starting anything."""
    port = free_port()  # nothing listens there
    env = dict(os.environ, PYTHON=sys.executable, SUPERVISORD=SUPERVISORD, CONVOLUTION_EXPLAINER_RUNS=str(tmp_path))
    t0 = time.monotonic()
    r = subprocess.run(["bash", str(ROOT / "deploy" / "classroom.sh"), "--run-dir", str(tmp_path / "run"),
                        "--database", f"postgresql://course:secret@127.0.0.1:{port}/course"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "the database (--database) can't be used" in r.stderr, (r.stdout, r.stderr[-2000:])
    assert "OperationalError" in r.stderr and "Connection refused" in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "secret" not in r.stderr, r.stderr  # one line: the reason, no password
    assert not (tmp_path / "run" / "supervisord.conf").exists() and time.monotonic() - t0 < 60
