"""bench/classroom.py's students when their replica dies (issue 19): a dropped websocket reconnects with the browser's
backoff, a click in flight on the dead replica is counted apart from the app's errors, drops are attributed to the
kill before them, and a trainer tells a training the app lost silently from one it shows (Retry, its run by link).

No server: the sessions here are scripted fakes of ``Session`` (no network), so this runs in about a second."""
from __future__ import annotations

import asyncio
import itertools
import time
import types

import pytest

from bench import classroom
from bench.classroom import ClickError, Results, Session, Widget
from tests.conftest import run_async

BASE = "http://127.0.0.1:9"


def _ws(replica: str):
    return types.SimpleNamespace(headers={"X-Explainer-Replica": replica}, close=lambda: None)


class Flaky(Session):
    """A session whose reopen fails ``failures`` times (the balancer has no live replica yet), then lands on web2."""

    def __init__(self, failures: int):
        super().__init__(BASE, timeout=5)
        self.failures, self.tries = failures, 0
        self.ws = _ws("web1")

    async def reopen(self) -> float:
        self.tries += 1
        if self.tries <= self.failures:
            raise ClickError("GET /_stcore/health: HTTP 503")
        self.closed = self.dropped = False
        self.ws = _ws("web2")
        return 0.01

    def drop(self) -> None:
        self.closed, self.dropped, self.dropped_at = True, True, time.monotonic()


@pytest.fixture
def quick_backoff(monkeypatch):
    monkeypatch.setattr(classroom, "BACKOFF_FIRST", 0.01)
    monkeypatch.setattr(classroom, "BACKOFF_CAP", 0.02)


def test_the_backoff_doubles_from_half_a_second_to_its_cap():
    assert list(itertools.islice(classroom.backoff_delays(0.5, 5.0), 7)) == [0.5, 1, 2, 4, 5, 5, 5]


def test_a_dropped_session_retries_until_a_replica_answers(quick_backoff):
    res, s = Results(), Flaky(failures=2)
    s.label = "clicker 1"
    s.drop()
    assert run_async(classroom._reconnect(res, s, limit=5), timeout=10)
    (d,) = res.drops
    assert (d.who, d.attempts, d.replica, d.replica_after) == ("clicker 1", 3, "web1", "web2")
    assert d.seconds is not None and d.seconds < 2 and s.reconnects == 1 and not s.gone


def test_reconnection_gives_up_within_its_limit(quick_backoff):
    res, s = Results(), Flaky(failures=10**6)
    s.drop()
    t0 = time.monotonic()
    assert not run_async(classroom._reconnect(res, s, limit=0.2), timeout=10)
    assert time.monotonic() - t0 < 2
    assert s.gone and res.drops[0].back is None and "503" in res.drops[0].why


def test_a_click_in_flight_on_a_dead_replica_is_no_error_but_a_real_failure_is(quick_backoff):
    res, s = Results(), Flaky(failures=0)

    async def killed_under_it(ss):
        ss.drop()
        raise ClickError("connection closed")

    async def broken(ss):
        raise ClickError("exception: ValueError: boom")

    async def go():
        assert not await classroom._act(res, s, "kernels.kernel", killed_under_it)
        assert not await classroom._act(res, s, "kernels.bias", broken)
        assert await classroom._act(res, s, "kernels.flip", lambda ss: asyncio.sleep(0, result=0.05))
    run_async(go(), timeout=10)
    assert [a for _, a in res.in_flight_lost] == ["kernels.kernel"]
    assert res.errors == {"kernels.bias": 1}
    assert len(res.drops) == 1 and res.drops[0].back is not None
    assert res.times["ALL clicks"] == [0.05]


def test_drops_and_clicks_are_counted_against_the_kill_before_them():
    res = Results()
    res.kills = [(100.0, "web1"), (200.0, "worker1")]
    res.click_log = [(95.0, 9.0), (101.0, 0.2), (110.0, 0.4), (205.0, 0.1)]
    res.drops = [classroom.Drop("a", 100.4, "web1", 101.4, "web2"), classroom.Drop("b", 100.6, "web1", 103.6, "web2"),
                 classroom.Drop("c", 100.5, "web1")]
    res.in_flight_lost = [(100.4, "x.y")]
    res.error_log = [110.0, 250.0]
    web, worker = classroom.per_kill(res)
    assert (web["clicks"], web["p95"], web["disconnected"], web["reconnected"], web["moved"]) == (2, 0.4, 3, 2, 2)
    assert (web["reconnect_p50"], web["reconnect_max"], web["in_flight_lost"], web["errors"]) == (1.0, 3.0, 1, 1)
    assert (worker["clicks"], worker["disconnected"], worker["in_flight_lost"], worker["errors"]) == (1, 0, 0, 0)


def test_kill_takes_a_replica_and_refuses_a_program_the_deployment_lacks(tmp_path):
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\n\n[program:scheduler]\n\n[program:worker1]\n\n[program:web1]\n\n[program:web2]\n")
    a = classroom.parse(["--kill", "40:web1,100:worker1", "--supervisor", str(conf), "--duration", "150"])
    assert classroom._kills(a.kill) == [(40.0, "web1"), (100.0, "worker1")]
    with pytest.raises(SystemExit):
        classroom.parse(["--kill", "40:web3", "--supervisor", str(conf), "--duration", "150"])


class TrainTab(Session):
    """The Train page, scripted: Start begins a training in this session; the replica dies once mid-training (the new
    session on the other replica knows nothing of it) and once after the run finished (its ?run= link brings it
    back)."""

    def __init__(self, base, timeout=60.0):
        super().__init__(base, timeout=timeout)
        self.training = self.done = False
        self.starts = 0
        self.ws = _ws("web1")

    def _draw(self) -> None:
        from explainer.i18n import translate

        btn = lambda off: types.SimpleNamespace(disabled=off)  # noqa: E731
        self.widgets = {"tr_start": Widget("button", btn(self.training), "$$ID-a-tr_start", ""),
                        "tr_stop": Widget("button", btn(not self.training), "$$ID-b-tr_stop", "")}
        self.texts = [translate("train.runs_header", "en")] if self.done else []

    def _drop(self) -> None:
        self.closed, self.dropped, self.dropped_at = True, True, time.monotonic()

    def _finish(self) -> None:
        self.training, self.done, self.query = False, True, "run=abc"
        self._draw()
        asyncio.get_running_loop().call_later(1.0, self._drop)  # the replica dies after the run was kept

    async def open(self, page="", *, reconnect=False) -> float:
        self.page = page
        self._draw()
        return 0.01

    async def reopen(self) -> float:
        self.closed = self.dropped = False
        self.training = False  # the job was held by the dead replica's session
        self.ws = _ws("web2")
        return await self.open(self.page, reconnect=True)

    async def change(self, key, make) -> float:
        if self.dropped:
            raise ClickError("connection closed")
        if key == "tr_start":
            self.starts += 1
            self.training = True
            self._draw()
            loop = asyncio.get_running_loop()
            loop.call_later(0.2, self._drop if self.starts == 1 else self._finish)
        return 0.01

    async def close(self) -> None:
        self.closed, self.dropped = True, False


def test_a_trainer_reports_a_training_lost_silently_and_its_run_back_by_link(monkeypatch, quick_backoff):
    monkeypatch.setattr(classroom, "Session", TrainTab)
    res = Results()
    until = time.monotonic() + 2.5
    run_async(classroom.trainer(0, BASE, until, res, 0, (0.0, 0.01), 5.0, 0, 5.0), timeout=20)
    (rec,) = res.trainers
    assert rec.replica == "web1" and rec.lost_silently == 1 and rec.started_again == 1 and rec.retried == 0
    assert rec.outcome == "lost silently, started again, finished"
    assert rec.link_back == [True] and rec.drops == 2
    assert res.trainings_started == 1 and res.trainings_finished == 1 and not res.errors
    assert len(res.drops) == 2 and all(d.replica_after == "web2" for d in res.drops)
