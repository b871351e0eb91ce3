"""Class polls: the cost of one answer and of the presenter's tally; and a whole class through two replicas.

    .venv/bin/python bench/polls.py [--answers 400] [--url postgresql+psycopg://...]
    .venv/bin/python bench/polls.py --class [--students 100] [--database sqlite|postgresql|URL]

Without ``--class``: one process, one thread, over loopback: the database's and the library's share of an
interaction (the page's own rerun comes on top). Prints medians and p95 (ms) of ``Polls.answer`` (each a new session)
and of ``Polls.tally`` with the poll holding that many answers; without ``--url`` on a SQLite file in a temporary
folder and on a throwaway PostgreSQL cluster (``tests/pgcluster.py``, Debian's ``postgresql``).

``--class``: the issue's load check at protocol level. Two replicas (``streamlit run``, loopback) share one database
(a SQLite file in a shared folder, as replicas on one machine; or PostgreSQL, as on several) behind HAProxy (the
balancer of ``deploy/classroom.sh``: round robin, a cookie keeps a session's websocket on its replica). A poll is
opened; a presenter's session holds the lecturer's page (``/poll?cp_code=…&cp_key=…``, presenter mode), its live
histogram re-run by its fragment timer as a browser does; ``--students`` sessions (each its own cookies) open the
students' link, type an answer and send it, all within ``--within`` seconds. Reports: answers counted (by the
database) against sent, errors, the students' seconds per answer (open → sent) split into opening the poll (joining:
the page's HTTP requests, the websocket, the first run) and answering (typing: no run, the answer is a form; Send: one
run), the span from the first to the last answer counted, and how long after each answer the presenter's histogram
showed it (p95 must be ≤ 2 s), with the database used. The total counts from the first student's arrival to the last
answer counted, so the students' opening of the page is inside the 10 s, not only their answers.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import ROOT  # noqa: F401 — the repository on sys.path

from explainer.engine.db import Database  # noqa: E402
from explainer.polls import Polls  # noqa: E402
from explainer.questions import question  # noqa: E402


def _ms(samples: list[float]) -> str:
    s = sorted(samples)
    return f"median {1000 * statistics.median(s):6.2f}  p95 {1000 * s[int(0.95 * (len(s) - 1))]:6.2f}"


def measure(url: str, n: int) -> None:
    db = Database(url)
    polls = Polls(db, max_answers=max(n, 1))
    made = polls.create(question("stride.out_size").pose({"n": 5, "k": 3, "s": 2, "p": 1, "d": 1}).to_dict())
    answer, tally = [], []
    for i in range(n):
        t = time.perf_counter()
        polls.answer(made.code, f"session {i}", i % 9)
        answer.append(time.perf_counter() - t)
        if i % 4 == 0:
            t = time.perf_counter()
            polls.tally(made.code)
            tally.append(time.perf_counter() - t)
    assert polls.tally(made.code).total == n
    print(f"{db.dialect:10s} answer  {_ms(answer)}   tally ({n} answers at the end) {_ms(tally)}")
    db.dispose()


HAPROXY_CFG = """global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 120s
    timeout tunnel 1h
frontend class
    bind 127.0.0.1:{port}
    default_backend web
backend web
    balance roundrobin
    cookie EXPLAINER_SRV insert indirect nocache httponly
{servers}
"""


def _p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[int(0.95 * (len(s) - 1))] if s else float("nan")


async def _class(base: str, code: str, secret: str, students: int, within: float) -> dict:
    import asyncio
    import re

    from bench.classroom import ClickError, Session

    presenter = Session(base, cookies={}, timeout=60)
    presenter.query = f"cp_code={code}&cp_key={secret}&presenter=1"
    await presenter.open("poll")
    seen: list[tuple[float, int]] = []  # (time, answers the projector showed)
    counted = re.compile(r"^\*\*(\d+) answers\*\*")

    def shown() -> int:
        found = [int(m.group(1)) for text in presenter.texts if (m := counted.match(text))]
        return found[-1] if found else -1

    sent: list[float] = []  # when each student's answer had been counted (its rerun finished)
    per_student: list[float] = []
    opening: list[float] = []  # a student's page open (HTTP, websocket, the first run): joining the poll
    answering: list[float] = []  # then typing the answer and sending it (two reruns): answering
    errors: list[str] = []
    done = asyncio.Event()

    async def watch():
        while not done.is_set() or (sent and shown() < len(sent)):
            await presenter.tick()
            seen.append((time.monotonic(), shown()))
            await asyncio.sleep(0.05)
            if done.is_set() and time.monotonic() - max(sent, default=0) > 10:
                break

    async def student(i: int):
        await asyncio.sleep(within * 0.8 * i / max(students, 1))  # arrivals spread over the first 80 % of the time
        s = Session(base, cookies={}, timeout=60)
        t0 = time.monotonic()
        try:
            s.query = f"cp_code={code}"
            await s.open("poll")
            t1 = time.monotonic()
            await s.number("cp_num", i % 5)
            await s.click("cp_send")
            if "cp_send" in s.widgets or s.exceptions:
                raise ClickError("not counted: " + "; ".join(s.exceptions)[:100])
            sent.append(time.monotonic())
            per_student.append(time.monotonic() - t0)
            opening.append(t1 - t0)
            answering.append(time.monotonic() - t1)
        except (ClickError, OSError) as exc:
            errors.append(f"student {i}: {exc}")
        finally:
            await s.close()

    watcher = asyncio.ensure_future(watch())
    start = time.monotonic()
    await asyncio.gather(*(student(i) for i in range(students)))
    finished = time.monotonic() - start
    done.set()
    await watcher
    await presenter.close()
    lags = []  # for the k-th answer: from its sending to the first projector state showing ≥ k answers
    for k, at in enumerate(sorted(sent), start=1):
        later = [t for t, n in seen if t >= at and n >= k]
        lags.append((later[0] - at) if later else float("inf"))
    first = min(sent) if sent else start
    return dict(sent=len(sent), errors=errors, seconds=finished, per_student=per_student, lags=lags, opening=opening,
                answering=answering, answers_span=(max(sent) - first) if sent else float("nan"))


def run_class(database: str, students: int, within: float) -> None:
    import asyncio
    import subprocess

    from bench.classroom import Server, free_port

    students = max(1, min(students, 200))
    with tempfile.TemporaryDirectory(prefix="ce-poll-bench-") as tmp:
        cluster = None
        env = {"CONVOLUTION_EXPLAINER_RUNS": tmp, "EXPLAINER_ENGINE_WARM_UP": "0"}
        if database == "postgresql":
            from tests.pgcluster import PgCluster

            cluster = PgCluster().start()
            database = cluster.schema_url()
        if database != "sqlite":
            env["EXPLAINER_DATABASE_URL"] = database
        url = database if database != "sqlite" else f"sqlite:///{tmp}/explainer.sqlite"
        servers, haproxy = [], None
        try:
            servers = [Server(env=env, name=f"replica{i + 1}") for i in range(2)]
            port = free_port()
            cfg = Path(tmp) / "haproxy.cfg"
            cfg.write_text(HAPROXY_CFG.format(port=port, servers="\n".join(
                f"    server web{i + 1} {s.url.split('//')[1]} cookie web{i + 1}" for i, s in enumerate(servers))))
            haproxy = subprocess.Popen(["/usr/sbin/haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            db = Database(url)
            polls = Polls(db)
            made = polls.create(question("stride.out_size").pose({"n": 5, "k": 3, "s": 2, "p": 1, "d": 1}).to_dict())
            result = asyncio.run(_class(f"http://127.0.0.1:{port}", made.code, made.secret, students, within))
            counted = polls.tally(made.code).total
            db.dispose()
        finally:
            if haproxy is not None:
                haproxy.terminate()
                haproxy.wait(10)
            for s in servers:
                s.stop()
            if cluster is not None:
                cluster.stop()
    lags, per = result["lags"], result["per_student"]
    print(f"database {url.split(':')[0].split('+')[0]}: {students} students through 2 replicas "
          f"behind HAProxy in {result['seconds']:.1f} s (target {within:.0f} s)")
    print(f"  counted {counted} of {result['sent']} sent, {len(result['errors'])} errors "
          f"{result['errors'][:3] if result['errors'] else ''}")
    print(f"  a student's open → answer counted: median {statistics.median(per) if per else float('nan'):.2f} s, "
          f"p95 {_p95(per):.2f} s")
    op, an = result["opening"], result["answering"]
    if op:
        print(f"  of which opening the poll (joining): median {statistics.median(op):.2f} s, p95 {_p95(op):.2f} s; "
              f"answering (type, send): median {statistics.median(an):.2f} s, p95 {_p95(an):.2f} s")
    print(f"  first to last answer counted: {result['answers_span']:.1f} s")
    print(f"  projector's histogram current after an answer: median "
          f"{statistics.median(lags) if lags else float('nan'):.2f} s, p95 {_p95(lags):.2f} s (target ≤ 2 s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=400)
    ap.add_argument("--url")
    ap.add_argument("--class", dest="klass", action="store_true", help="a class through two replicas and HAProxy")
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--within", type=float, default=10.0)
    ap.add_argument("--database", default="sqlite", help="sqlite, postgresql (a throwaway cluster) or a URL")
    args = ap.parse_args()
    if args.klass:
        run_class(args.database, args.students, args.within)
        return
    if args.url:
        measure(args.url, args.answers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{tmp}/bench.sqlite", args.answers)
    from tests.pgcluster import PgCluster

    cluster = PgCluster().start()
    try:
        measure(cluster.schema_url(), args.answers)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
