"""Class polls: the cost of one answer and of the presenter's tally, on SQLite and on PostgreSQL.

    .venv/bin/python bench/polls.py [--answers 400] [--url postgresql+psycopg://...]

Without ``--url`` it measures a SQLite file in a temporary folder and a throwaway PostgreSQL cluster
(``tests/pgcluster.py``, Debian's ``postgresql``). One process, one thread, over loopback: the database's and the
library's share of an interaction (the page's own rerun comes on top). Prints medians and p95 (ms) of
``Polls.answer`` (each a new session) and of ``Polls.tally`` with the poll holding that many answers.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=400)
    ap.add_argument("--url")
    args = ap.parse_args()
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
