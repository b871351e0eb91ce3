"""Server CPU of a full rerun: one student toggles the sidebar's language (or presenter mode, or predict first)
back and forth on one lesson, so every figure is already in the cache after the first two toggles. It tells a
full rerun's floor (what a lesson costs to draw, its figures cached) apart from its cold figure builds, which
``bench/clicks.py`` mixes. Prints the median and p95 per toggle, per page, and the load average.

    MNIST_DIR=../shared/mnist .venv/bin/python bench/toggles.py --pages backprop,network --toggles 20
    # cProfile every run (CPU time) into a folder, to read with pstats
    CPUHOOK_PROFILE_DIR=/tmp/prof .venv/bin/python bench/toggles.py --pages backprop
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics

from common import ROOT  # noqa: F401 — the repository on sys.path, MNIST_DIR

from clicks import HookedServer, _settled  # noqa: E402
from classroom import Session, _pct  # noqa: E402


async def walk(server: HookedServer, page: str, key: str, toggles: int) -> list[float]:
    s = Session(server.url, timeout=120)
    out = []
    try:
        await s.open(page)
        await _settled(server, server.counters())
        for i in range(toggles + 2):
            before = server.counters()
            if key == "lang":
                await s.choose("lang", (i + 1) % 2)
            else:
                await s.toggle(key)
            after, _ = await _settled(server, before)
            if i >= 2:  # both states seen once: every figure is cached now
                out.append((after[0] - before[0] + after[1] - before[1]) * 1000)
    finally:
        await s.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pages", default="backprop")
    p.add_argument("--keys", default="lang,presenter,predict")
    p.add_argument("--toggles", type=int, default=12)
    a = p.parse_args()
    server = HookedServer(ROOT, os.environ.get("CPUHOOK_PROFILE_DIR"))
    try:
        print("| page | toggle | n | median ms | p95 ms |\n|---|---|---|---|---|")
        for page in a.pages.split(","):
            for key in a.keys.split(","):
                ms = asyncio.run(walk(server, page, key, a.toggles))
                print(f"| {page} | {key} | {len(ms)} | {statistics.median(ms):.0f} | {_pct(ms, .95):.0f} |", flush=True)
    finally:
        server.stop()
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
