"""State that every session of the server shares (issue 21 item 5): "Train small models" on How kernels learn,
pressed in six sessions at once. Before, two of them got the exception box (``dictionary changed size during
iteration``: a shared ``st.cache_resource`` dict changed by one session while another's fragment looped over it)
and one was told "You already have one job of this kind running" though it had started none (the small
trainings' owner was one string for the whole server). Now the shared jobs live in a ``ui.registry.SharedRegistry``
(locked, iterated over snapshots, started once) and each job's owner is the learner who started it."""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

from bench.classroom import ClickError, Server
from explainer.i18n import translate
from tests.conftest import run_async
from tests.protocol import Tab as _Tab


def test_six_sessions_pressing_train_small_models_at_once(mnist_dir, tmp_path):
    env = {"MNIST_DIR": str(mnist_dir), "CONVOLUTION_EXPLAINER_RUNS": str(tmp_path / "runs"),
           "EXPLAINER_ENGINE_WARM_UP": "0"}
    server = Server(env=env, name="six")
    one_job = translate("jobs.one_job", "en")

    async def scenario() -> list[str]:
        tabs = [_Tab(server.url, timeout=240) for _ in range(6)]
        for tab in tabs:
            tab.query = "bp_view=networks"  # the lesson's part with the small trainings
        problems: list[str] = []
        try:
            await asyncio.gather(*[t.open("backprop") for t in tabs])
            # all six press at the same moment (the first also starts the engine: the others wait meanwhile)
            outcome = await asyncio.gather(*[t.click("bp_train") for t in tabs], return_exceptions=True)
            problems += [f"tab {k}: {o}" for k, o in enumerate(outcome) if isinstance(o, BaseException)]
            end = time.monotonic() + 8  # the progress fragments tick in every tab, while trainings start
            while time.monotonic() < end:
                ticks = await asyncio.gather(*[t.tick() for t in tabs], return_exceptions=True)
                problems += [f"tick: {o}" for o in ticks if isinstance(o, BaseException)]
                await asyncio.sleep(0.1)
            for k, t in enumerate(tabs):
                problems += [f"tab {k}: {e}" for e in t.exceptions]
                problems += [f"tab {k}: {a}" for a in t.alerts if a == one_job or "already" in a]
                if not t.progress:
                    problems.append(f"tab {k}: no progress of the small trainings")
        finally:
            await asyncio.gather(*[t.close() for t in tabs], return_exceptions=True)
        return problems

    try:
        problems = run_async(scenario(), 500)
    finally:
        server.stop()
        if server.proc is not None:  # the embedded engine's worker processes belong to the server's group
            try:
                os.killpg(server.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not problems, problems[:5]


def test_a_registry_is_iterated_over_snapshots_and_starts_once():
    """The helper itself: six threads add while another iterates (a plain dict raises there), and six threads
    asking at once for a missing key start it once."""
    from ui.registry import SharedRegistry

    reg: SharedRegistry = SharedRegistry("test")
    stop, errors = threading.Event(), []

    def writer(n: int) -> None:
        k = 0
        while not stop.is_set():
            reg.put((n, k), k)
            k += 1

    def reader() -> None:
        try:
            while not stop.is_set():
                for _key, _value in reg.items():
                    time.sleep(0)  # let the writers run mid-iteration
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)] + [threading.Thread(target=reader)]
    for th in threads:
        th.start()
    time.sleep(0.5)
    stop.set()
    for th in threads:
        th.join()
    assert not errors and len(reg) > 6

    started, barrier = [], threading.Barrier(6)

    def start():
        started.append(1)
        time.sleep(0.05)  # starting takes a while (the engine's queue): the others ask meanwhile
        return object()

    got = []

    def ask():
        barrier.wait()
        got.append(reg.get_or_start("job", start))

    askers = [threading.Thread(target=ask) for _ in range(6)]
    for th in askers:
        th.start()
    for th in askers:
        th.join()
    assert len(started) == 1 and len({id(g) for g in got}) == 1
    capped = SharedRegistry("capped", max_entries=3, evictable=lambda v: v % 2 == 0)
    for v in (1, 2, 3, 4, 5, 7):
        capped.put(v, v)
    assert list(capped.snapshot()) == [1, 3, 5, 7]  # only evictable (even) values made room, oldest first


def test_a_registry_update_loses_no_concurrent_change():
    """``update`` reads, changes and writes under the lock: 8 threads × 500 increments of one key make 4,000 (a
    get-then-put would lose some), and the oldest keys go first beyond ``max_entries``."""
    from ui.registry import SharedRegistry

    reg: SharedRegistry = SharedRegistry("test", max_entries=3)

    def bump() -> None:
        for _ in range(500):
            reg.update("k", lambda v: (v or 0) + 1)
            time.sleep(0)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert reg.get("k") == 4000
    for key in ("a", "b", "c"):
        reg.update(key, lambda v: 1)
    assert sorted(reg.snapshot()) == ["a", "b", "c"]  # "k" was the oldest
