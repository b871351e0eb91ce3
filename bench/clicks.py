"""Server CPU per click, for values drawn at random from the declared schema (issue 19, item 1).

One student at a time, on a real server (``bench/cpuhook.py`` around ``streamlit run``): on every page it
opens the page, then makes ``--actions`` changes, each a widget drawn by ``bench/draws.py`` (a declared
setting set to a random value over its declared range, or a button pressed), one after the other. Per
click it reads the server's counters: the script thread's CPU time for the run(s) the click caused
(``time.thread_time`` around ``ScriptRunner._run_script``) plus the CPU of serialising the run's delta
messages, and the bytes sent. It reports p50/p95/max per page and per widget, the worst clicks with the
values that caused them, and the machine's load average. A click's wall time runs from sending the change to
the server's counters' last change (the 30 ms of quiet waited for after it, to catch a callback's rerun, is not
counted); it includes the loopback round trip and, on a loaded machine, the time the server waited for a CPU.

    MNIST_DIR=../shared/mnist .venv/bin/python bench/clicks.py --actions 40 --seed 0
    # the same clicks on the tree of another commit (git archive into a temporary folder): both servers run
    # side by side, page by page in turn
    .venv/bin/python bench/clicks.py --baseline HEAD~3 --pages kernels,stride
    # a fresh server per repeat (cold caches each time), medians of the repeats' percentiles
    .venv/bin/python bench/clicks.py --repeat 3
    # cProfile the 5 worst clicks (profiling slows the server: read shares, not times)
    .venv/bin/python bench/clicks.py --pages kernels --profile 5

Loopback only; each click gives up after ``--click-timeout`` s. Timings are printed, never asserted in tests.
The Optimizers race's own computation counts in its clicks (another change makes it inline).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT  # noqa: F401 — the repository on sys.path, MNIST_DIR

import cpuhook  # noqa: E402
import draws  # noqa: E402
from classroom import ClickError, Session, free_port, wait_healthy  # noqa: E402
from explainer.engine.jobcluster import stop_process  # noqa: E402
from ui.nav import available_lessons  # noqa: E402

HERE = Path(__file__).resolve().parent
BUDGET_MS = 40.0


@dataclass
class Click:
    page: str
    key: str
    value: object
    cpu: float      # script + serialisation, s
    script: float
    ser: float
    wall: float
    nbytes: float
    runs: tuple[int, int]  # script run indices [first, last) this click caused (profile file names)
    error: str = ""


@dataclass
class Tree:
    name: str
    root: Path
    clicks: list[Click] = field(default_factory=list)


class HookedServer:
    def __init__(self, root: Path, profile_dir: str | None = None):
        fd, self.counter = tempfile.mkstemp(prefix="clicks-", suffix=".cpu")
        os.close(fd)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ}
        if profile_dir:
            env["CPUHOOK_PROFILE_DIR"] = profile_dir
        cmd = [sys.executable, str(HERE / "cpuhook.py"), self.counter, "--", "run", str(root / "streamlit_app.py"),
               "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        log = os.environ.get("CLICKS_SERVER_LOG")  # a file for the server's output (tracebacks of failed clicks)
        out = open(log, "ab") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_healthy(self.url, self.proc, f"server in {root}")
        except SystemExit:
            self.stop()
            raise

    def counters(self):
        return cpuhook.read(self.counter)

    def stop(self) -> None:
        if self.proc.poll() is None:
            stop_process(self.proc, 20)
        os.unlink(self.counter)


async def _settled(server: HookedServer, before) -> tuple[tuple, float]:
    """The counters once the click's run(s) ended (the run count moved and then stays put for 30 ms), and when
    they last changed (``time.perf_counter``): the click's wall time ends there, not after the 30 ms of quiet
    this waits to be sure no callback's ``st.rerun`` follows (±5 ms: the counters are polled every 5 ms)."""
    end = time.monotonic() + 10
    now = server.counters()
    changed = time.perf_counter()
    while now[2] <= before[2] and time.monotonic() < end:
        await asyncio.sleep(0.005)
        now = server.counters()
        changed = time.perf_counter()
    while True:  # a callback's st.rerun can start one more run right after
        await asyncio.sleep(0.005)
        later = server.counters()
        if later != now:
            now, changed = later, time.perf_counter()
        elif time.perf_counter() - changed >= 0.03 or time.monotonic() > end:
            return now, changed


def _click(page, key, value, before, after, wall, error="") -> Click:
    script, ser = after[0] - before[0], after[1] - before[1]
    return Click(page, key, value, script + ser, script, ser, wall, after[3] - before[3],
                 (int(before[2]), int(after[2])), error)


async def walk_page(server: HookedServer, page: str, actions: int, seed: int, timeout: float) -> list[Click]:
    rng = random.Random(f"{seed}:{page}")
    params = draws.declared()
    out: list[Click] = []
    s = Session(server.url, timeout=timeout)
    try:
        before = server.counters()
        t0 = time.perf_counter()
        try:
            await s.open(page)
        except ClickError as exc:
            after, done = await _settled(server, before)
            return [_click(page, "(open)", "", before, after, done - t0, str(exc))]
        after, done = await _settled(server, before)
        out.append(_click(page, "(open)", "", before, after, done - t0))
        for _ in range(actions):
            d = draws.draw(rng, s.widgets, params)
            if d is None:
                break
            before = server.counters()
            t0 = time.perf_counter()
            err = ""
            try:
                await s.change(d.key, d.make)
            except ClickError as exc:
                err = str(exc)
                if s.closed:
                    break
            after, done = await _settled(server, before)
            out.append(_click(page, d.key, d.value, before, after, done - t0, err))
    finally:
        await s.close()
    return out


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))] if values else float("nan")


def ms(x):
    return "—" if x != x else f"{x * 1000:.0f}"


def table(rows_by_group: dict[str, list[list[Click]]], names: list[str], title: str) -> None:
    """One row per group: per tree, p50/p95/max CPU (medians over repeats) and the clicks over budget."""
    print(f"\n## {title} (server CPU per click, ms: script thread + serialisation; medians over repeats)")
    head = "| what | n |" + "".join(f" {n} p50 | {n} p95 | {n} max | {n} >40ms |" for n in names)
    print(head + "\n|" + "---|" * (2 + 4 * len(names)))
    for group, per_tree in rows_by_group.items():
        cells = []
        n = 0
        for reps in per_tree:
            n = max(n, max((len(r) for r in reps), default=0))
            p50 = statistics.median(pct([c.cpu for c in r], .5) for r in reps) if reps else float("nan")
            p95 = statistics.median(pct([c.cpu for c in r], .95) for r in reps) if reps else float("nan")
            mx = statistics.median(max((c.cpu for c in r), default=float("nan")) for r in reps) if reps else float("nan")
            over = sum(sum(c.cpu * 1000 > BUDGET_MS for c in r) for r in reps) / max(1, len(reps))
            cells.append(f" {ms(p50)} | {ms(p95)} | {ms(mx)} | {over:.0f} |")
        print(f"| {group} | {n} |" + "".join(cells))


def report(trees: list[list[Tree]], worst: int) -> None:
    names = [reps[0].name for reps in trees]

    def grouped(key):
        groups: dict[str, list[list[list[Click]]]] = {}
        for ti, reps in enumerate(trees):
            for ri, tree in enumerate(reps):
                for c in tree.clicks:
                    g = key(c)
                    if g is None:
                        continue
                    groups.setdefault(g, [[[] for _ in reps] for _ in trees])[ti][ri].append(c)
        return dict(sorted(groups.items()))

    table(grouped(lambda c: "ALL clicks" if c.key != "(open)" else None) | grouped(lambda c: c.page),
          names, "per page (opens included in the page's row)")
    table(grouped(lambda c: f"{c.page} · {c.key}"), names, "per page × widget")
    for reps in trees:
        clicks = [c for tree in reps for c in tree.clicks]
        print(f"\n## {reps[0].name}: the {worst} costliest clicks")
        print("| page · widget | value | CPU ms | script | serialise | wall ms | KiB sent | error |\n|---|---|---|---|---|---|---|---|")
        for c in sorted(clicks, key=lambda c: -c.cpu)[:worst]:
            v = repr(c.value)
            v = v if len(v) <= 40 else v[:37] + "…"
            print(f"| {c.page} · {c.key} | `{v}` | {c.cpu * 1000:.0f} | {c.script * 1000:.0f} | {c.ser * 1000:.1f} | "
                  f"{c.wall * 1000:.0f} | {c.nbytes / 1024:.0f} | {c.error[:60]} |")
        print("\n(wall: from sending the change to the server's last counter change; the bench's 30 ms settle wait "
              "is not in it)")
        errors = [c for c in clicks if c.error]
        if errors:
            print(f"\n{len(errors)} clicks ended with an error, e.g. {errors[0].page} · {errors[0].key} = "
                  f"{errors[0].value!r}: {errors[0].error}")


def print_profiles(tree: Tree, profile_dir: str, worst: int) -> None:
    import io
    import pstats

    for c in sorted(tree.clicks, key=lambda c: -c.cpu)[:worst]:
        files = [os.path.join(profile_dir, f"{i}.prof") for i in range(*c.runs)]
        files = [f for f in files if os.path.exists(f)]
        if not files:
            continue
        buf = io.StringIO()
        st = pstats.Stats(*files, stream=buf)
        st.sort_stats("cumulative").print_stats(30)
        print(f"\n### profile: {c.page} · {c.key} = {c.value!r} ({c.cpu * 1000:.0f} ms unprofiled-equivalent "
              f"unknown; profiled)\n```")
        print("\n".join(buf.getvalue().splitlines()[4:45]))
        print("```")


def export_tree(ref: str) -> Path:
    """The tree of commit ``ref`` in a temporary folder (``git archive``; no worktree, nothing in .git changes)."""
    dest = Path(tempfile.mkdtemp(prefix="clicks-base-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


async def run_trees(roots: list[tuple[str, Path]], pages: list[str], a, profile_dir=None) -> list[Tree]:
    """One server per tree, all started and warmed first; then page by page, each tree in turn (the machine's
    load drifts: a page's clicks on both trees lie seconds apart, not minutes)."""
    servers, anchors = [], []
    try:
        for i, (name, root) in enumerate(roots):
            servers.append(HookedServer(root, profile_dir if i == len(roots) - 1 else None))
        for server in servers:
            # imports, MNIST, first-visit caches; the session then stays connected, as a classroom's tabs do:
            # a server with no session left clears its compiled scripts (Streamlit's ScriptCache), and every
            # page open would compile the page again (~50 ms), which a class never sees
            anchor = Session(server.url, timeout=max(a.click_timeout, 180))
            anchors.append(anchor)
            await anchor.open(pages[0])
            for p in pages[1:]:
                await anchor.goto(p)
        trees = [Tree(name, root) for name, root in roots]
        for page in pages:
            for server, tree in zip(servers, trees):
                done = await walk_page(server, page, a.actions, a.seed, a.click_timeout)
                tree.clicks += done
                print(f"  {tree.name}: {page}: {len(done)} clicks, p95 {ms(pct([c.cpu for c in done], .95))} ms CPU, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for anchor in anchors:
            await anchor.close()
        for server in servers:
            server.stop()
    return trees


def main(argv=None) -> None:
    lessons = [path for _, _, _, path in available_lessons()]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", default=",".join(lessons), help="comma-separated URL paths (default: every lesson)")
    p.add_argument("--actions", type=int, default=30, help="clicks per page")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=1, help="fresh servers, same clicks; medians of the percentiles")
    p.add_argument("--baseline", help="a git ref: the same clicks on that commit's tree, interleaved")
    p.add_argument("--click-timeout", type=float, default=120.0)
    p.add_argument("--worst", type=int, default=12, help="list this many costliest clicks")
    p.add_argument("--profile", type=int, default=0, help="cProfile the server; print the N costliest clicks' profiles")
    a = p.parse_args(argv)
    pages = [x for x in a.pages.split(",") if x]
    if not 1 <= a.actions <= 2000 or not 1 <= a.repeat <= 10:
        p.error("--actions 1…2000, --repeat 1…10")
    print(f"# clicks: pages {pages}, {a.actions} clicks each, seed {a.seed}, {a.repeat} repeat(s), "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    roots = []
    base = None
    if a.baseline:
        base = export_tree(a.baseline)
        roots.append((f"base {a.baseline}", base))
    roots.append(("this tree", ROOT))
    profile_dir = tempfile.mkdtemp(prefix="clicks-prof-") if a.profile else None
    trees: list[list[Tree]] = [[] for _ in roots]
    try:
        for r in range(a.repeat):  # fresh servers each time: the same clicks meet cold caches again
            for i, tree in enumerate(asyncio.run(run_trees(roots, pages, a, profile_dir))):
                trees[i].append(tree)
        print(f"\n# load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        report(trees, a.worst)
        if profile_dir:
            print_profiles(trees[-1][-1], profile_dir, a.profile)
    finally:
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
        if profile_dir:
            shutil.rmtree(profile_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
