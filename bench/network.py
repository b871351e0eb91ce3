"""Inside the network: server time of a rerun at defaults and of a detail click, the overview figure's size as
sent to the browser (its Plotly JSON), per-input Grad-CAM, and the two engine jobs' work (timed in-process, as a
worker runs it).

Server time is measured two ways:

- on a real server (``bench/cpuhook.py`` around ``streamlit run``, one session spoken at the protocol level by
  ``bench/classroom.py``'s client): the script thread's CPU per click plus serialising its messages, as
  ``bench/clicks.py`` counts it, the whole server process's CPU (every thread: the event loop's too; 10 ms
  ticks, so a mean), and the wall time from sending the click to its ``script_finished``. A detail click (a new
  row) reruns only the detail fragment, as in a browser. Measuring starts once the server is quiet: the app
  imports PyTorch and freezes the GC in a background thread after the first page (``streamlit_app._warm_up``,
  seconds on two busy cores), and clicks made meanwhile share the interpreter with it;
- with AppTest (each ``run`` is a full run). AppTest compiles the page script again on every run (a server
  compiles it once per process: Streamlit's ScriptCache), so its wall time holds ~50 ms that no visitor's
  click costs; both are printed: the run's wall time as before, and the script thread's CPU with the page
  compiled once.

    MNIST_DIR=../shared/mnist .venv/bin/python bench/network.py [--runs 7] [--no-server | --server-only] [--no-jobs]

Prints medians and the load average; nothing is asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from common import ROOT  # the repository on sys.path, MNIST_DIR

from streamlit.runtime.scriptrunner import script_runner  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

SCRIPT_CPU: list[float] = []  # the script thread's CPU time of each AppTest run


def _count_script_cpu() -> None:
    """Record each script run's thread CPU time (as ``bench/cpuhook.py`` does on a server)."""
    orig = script_runner.ScriptRunner._run_script

    def _run_script(self, rerun_data):
        t0 = time.thread_time()
        try:
            return orig(self, rerun_data)
        finally:
            SCRIPT_CPU.append(time.thread_time() - t0)

    script_runner.ScriptRunner._run_script = _run_script


def _compile_once() -> None:
    """AppTest makes a fresh ScriptCache per run (the page compiled again each time); a server keeps one."""
    import streamlit.testing.v1.local_script_runner as lsr
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    shared = ScriptCache()
    lsr.ScriptCache = lambda: shared


def _apptest_script_cpu(runs: int) -> tuple[float, float]:
    """Median script-thread CPU (ms) of a rerun at defaults and of a row change, the page compiled once."""
    _compile_once()
    at = AppTest.from_file(str(ROOT / "pages" / "network.py"), default_timeout=120)
    at.run()
    at.run()
    SCRIPT_CPU.clear()
    for _ in range(runs):
        at.run()
    rerun = statistics.median(SCRIPT_CPU) * 1000
    SCRIPT_CPU.clear()
    for i in range(runs):
        at.number_input(key="nw_row").set_value(5 + i % 2)
        at.run()
    click = statistics.median(SCRIPT_CPU) * 1000
    assert not at.exception, at.exception
    return rerun, click


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread, 10 ms ticks) the process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _quiet(pid: int, limit: float = 60.0, window: float = 0.5, share: float = 0.04) -> float:
    """Wait (at most ``limit`` s) until process ``pid`` used under ``share`` of a CPU over ``window`` s; the seconds
    waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        c0 = _process_cpu(pid)
        await asyncio.sleep(window)
        if _process_cpu(pid) - c0 < share * window:
            break
    return time.perf_counter() - t0


async def _server(runs: int) -> dict:
    """Per click on a real server: script CPU + serialisation (s), wall from send to ``script_finished`` (s), the
    bytes sent, and the server process's CPU (s, all threads)."""
    import classroom
    import clicks

    server = clicks.HookedServer(ROOT)
    out: dict[str, list] = {}
    anchor = classroom.Session(server.url, timeout=300)
    s = classroom.Session(server.url, timeout=120)
    try:
        await anchor.open("network")  # a connected session keeps the compiled page (as a classroom's tabs do)
        await s.open("network")
        waited = await _quiet(server.proc.pid)
        print(f"server quiet {waited:.1f} s after the page opened (its warm-up thread)")

        async def measure(name, act):
            for i in range(runs):
                before = server.counters()
                c0 = _process_cpu(server.proc.pid)
                t0 = time.perf_counter()
                await act(i)  # returns at the click's script_finished
                wall = time.perf_counter() - t0
                after, _ = await clicks._settled(server, before)  # the counters once the run's messages are out (and when)
                out.setdefault(name, []).append(((after[0] - before[0]) + (after[1] - before[1]), wall,
                                                 after[3] - before[3], _process_cpu(server.proc.pid) - c0))

        await measure("rerun at defaults", lambda i: s._rerun(fragment_id=""))
        await measure("detail click (row changed; the detail fragment)", lambda i: s.number("nw_row", 5 + i % 2))
        await measure("input channel changed (the detail fragment)", lambda i: s.number("nw_in", i % 2))
        layers = s.options("nw_layer")
        await measure("layer change (full run)", lambda i: s.choose("nw_layer", (2, 5, 8)[i % 3] % len(layers)))
    finally:
        await s.close()
        await anchor.close()
        server.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-jobs", action="store_true", help="skip timing the engine jobs' work")
    ap.add_argument("--no-server", action="store_true", help="skip the real server's measurements")
    ap.add_argument("--server-only", action="store_true", help="only the real server's measurements")
    args = ap.parse_args()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    if not args.no_server:
        res = asyncio.run(_server(args.runs))
        print("## real server, one session (script thread CPU + serialisation, median of "
              f"{args.runs}; wall from send to script_finished; load average now "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        for name, rows in res.items():
            cpu = statistics.median(r[0] for r in rows) * 1000
            wall = statistics.median(r[1] for r in rows) * 1000
            kb = statistics.median(r[2] for r in rows) / 1024
            proc = statistics.mean(r[3] for r in rows) * 1000
            print(f"{name}: {cpu:.0f} ms CPU, {wall:.0f} ms wall, {kb:.0f} KiB sent; server process {proc:.0f} ms "
                  "CPU (mean, all threads)")
    if args.server_only:
        return
    _count_script_cpu()
    at = AppTest.from_file(str(ROOT / "pages" / "network.py"), default_timeout=120)
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    assert not at.exception, at.exception
    times, cpu = [], []  # wall time, and the process's CPU time (all threads): on a busy machine the second is the
    for _ in range(args.runs):  # fair figure for what a rerun costs the server
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    clicks, clicks_cpu = [], []
    for i in range(args.runs):
        at.number_input(key="nw_row").set_value(5 + i % 2)
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        clicks.append(time.perf_counter() - t0)
        clicks_cpu.append(time.process_time() - c0)
    layer_changes, layer_cpu = [], []
    for i in range(args.runs):
        at.selectbox(key="nw_layer").set_value((1, 4, 7)[i % 3])
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        layer_changes.append(time.perf_counter() - t0)
        layer_cpu.append(time.process_time() - c0)
    sizes = {}
    for shown_all in (False, True):
        at.toggle(key="nw_all").set_value(shown_all).run()
        specs = [len(c.proto.spec) for c in at.get("plotly_chart")]
        sizes["all" if shown_all else "default"] = (max(specs), sum(specs))
    med = lambda v: sorted(v)[len(v) // 2] * 1000  # noqa: E731
    print("## AppTest (full runs; wall and process CPU include compiling the page again each run)")
    print(f"first run (cold caches, MNIST load): {first * 1000:.0f} ms")
    print(f"rerun at defaults: median {med(times):.0f} ms wall, {med(cpu):.0f} ms CPU ({args.runs} runs)")
    print(f"row changed (a full run here: AppTest has no fragment reruns): median {med(clicks):.0f} ms wall, "
          f"{med(clicks_cpu):.0f} ms CPU")
    print(f"layer change (conv 1 / 2 / 3): median {med(layer_changes):.0f} ms wall, {med(layer_cpu):.0f} ms CPU")
    for k, (big, total) in sizes.items():
        print(f"overview {k}: largest figure {big / 1e6:.3f} MB, all figures on the page {total / 1e6:.3f} MB")
    rerun, click = _apptest_script_cpu(args.runs)
    print(f"script thread CPU, page compiled once: rerun {rerun:.0f} ms, row change (full run) {click:.0f} ms")

    from common import median_ms

    from explainer.learning import backprop as bp
    from explainer.learning import network as N
    from explainer.data.mnist import load_mnist

    x_test = load_mnist()[2]
    import torch

    # timed as an engine worker runs them: with the worker's threads (explainer.engine.worker: one per core), not the
    # web process's one (ui.speedups, which a page run above may have set in this process)
    torch.set_num_threads(os.cpu_count() or 1)
    model = N.reference_model()
    x = x_test[0].astype("float32") / 255.0
    cam = median_ms(lambda: N.grad_cam(model, x), args.runs, warm_up=True)
    sal = median_ms(lambda: bp.saliency(model, x, 7), args.runs, warm_up=True)
    occ = median_ms(lambda: bp.occlusion(model, x, 7, patch=8, stride=2), args.runs, warm_up=True)
    print(f"per input (the page's toggle, cached per model and input): Grad-CAM {cam:.1f} ms, saliency {sal:.1f} ms, "
          f"occlusion (121 patches) {occ:.1f} ms")
    if not args.no_jobs:
        for layer in (3, 7, 9):
            t0 = time.perf_counter()
            N.top_patches(model, x_test, layer)
            print(f"job top_patches, layer {layer}, 10,000 digits: {time.perf_counter() - t0:.2f} s")
        t0 = time.perf_counter()
        N.optimise_input(model, 7, 0)
        print(f"job optimise_input ({N.OPTIMISE_STEPS} steps): {time.perf_counter() - t0:.2f} s")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
