"""Run-store quotas and a failed save (issue 21 items 2 and 7): one visitor can't evict everyone's kept runs, the
store's cap drops strictly the oldest, and a save that fails leaves no file behind.

These tests speak only the store's API that the store before quotas had too (``RunStore(root, max_runs=,
max_bytes=)``, ``save(run, blob)``, ``ids()``, ``total_bytes()``), and pass the newer arguments (an owner, the
per-owner caps, the grace, the lock timeout) only where the store takes them: on the tree before the fix
(6923cc1) they fail on what they check — other learners' runs evicted, a newer big run dropped while an older
small one stays, the locked save's weights file left on disk — not on a signature. They are the witnesses that run on
both trees (SQLite only); tests/test_runstore.py checks the same behaviours on SQLite and PostgreSQL with the store's
current API (issue 24 moved the weights into the database: there are no files to leave or sweep any more)."""
from __future__ import annotations

import inspect
import json
import sqlite3
import time

import pytest

from explainer.errors import UserError

try:
    from explainer.engine.runstore import RunStore
except ImportError:  # the flat layout before issue 20 (6923cc1), where these tests show the defects
    from explainer.runstore import RunStore

K = 1024  # the attack of the issue at 1/1000 scale: 15.8 MB → 15.8 kB, the caps likewise


def _store(root, **options) -> RunStore:
    """A store with the options it takes (a store before quotas takes only its root, max_runs and max_bytes)."""
    takes = inspect.signature(RunStore).parameters
    return RunStore(root, **{k: v for k, v in options.items() if k in takes})


def _run():
    """A kept run as the store takes it: a ``KeptRun`` (a plain dict before issue 20's typed records)."""
    try:
        from explainer.learning.runs import KeptRun
        from explainer.learning.train import TrainConfig
    except ImportError:
        return {"label": "r", "config": {"model": "mlp"}, "history": [], "test_accuracy": 0.9}
    return KeptRun(label="r", config=TrainConfig(model="mlp"), history=[], test_accuracy=0.9)


RUN = _run()


def _save(store: RunStore, blob: bytes, owner: str) -> str:
    if "owner" in inspect.signature(store.save).parameters:
        return store.save(RUN, blob, owner=owner)
    return store.save(RUN, blob)  # a store without owners: every save is everyone's


def _weights(store, root) -> list[str]:
    """The runs that have weights: ``<id>.pt`` files (the old store) or rows of the database's weights table."""
    if not hasattr(store, "db"):
        return sorted(p.name for p in (root / "weights").iterdir())
    import sqlalchemy as sa

    from explainer.engine.runstore import WEIGHTS

    with store.db.read() as conn:
        return sorted(f"{i}.pt" for i in conn.execute(sa.select(WEIGHTS.c.run_id)).scalars())


# ---------------------------------------------------------------- quotas (issue 21 item 2)
def test_one_visitor_cannot_evict_everyones_kept_runs(tmp_path):
    """Issue 21: 32 saves of a 15.8 MB checkpoint plus 44 small ones removed all 100 other runs. Now the visitor's
    own oldest runs make room, and with 40 more sessions (40 owners) they still can't push out a run kept today."""
    store = _store(tmp_path, max_runs=500, max_bytes=512 * K, owner_runs=20, owner_bytes=64 * K)
    others = [_save(store, b"o" * (2 * K), f"learner-{k % 10}") for k in range(100)]  # 200 kB
    for k in range(32):
        _save(store, b"B" * int(15.8 * K), "attacker")
    for k in range(44):
        _save(store, b"s" * 100, "attacker")
    lost = len(set(others) - set(store.ids()))
    assert lost == 0, f"one visitor's 76 saves evicted {lost} of the 100 other learners' runs"
    attackers = len(store.ids()) - 100
    assert attackers <= 20, f"the visitor keeps {attackers} runs (quota 20)"
    refused = 0
    for k in range(40):  # one visitor, many sessions: each a new owner with its own quota
        try:
            _save(store, b"B" * int(15.8 * K), f"tab-{k}")
        except UserError as exc:
            assert exc.key == "errors.store_full"
            refused += 1
    lost = len(set(others) - set(store.ids()))
    assert lost == 0, f"40 sessions of one visitor evicted {lost} of the 100 other learners' runs"
    assert refused > 0
    assert store.total_bytes() <= 512 * K and len(store.ids()) <= 500
    assert _weights(store, tmp_path) == sorted(f"{i}.pt" for i in store.ids())


def test_an_owner_quota_evicts_that_owners_oldest_first(tmp_path):
    store = _store(tmp_path, owner_runs=3, owner_bytes=10_000)
    a = [_save(store, b"a" * 100, "a") for _ in range(3)]
    b = _save(store, b"b" * 100, "b")
    a.append(_save(store, b"a" * 100, "a"))  # a's 4th: a's oldest goes, not b's
    assert store.ids() == [a[3], b, a[2], a[1]], "an owner's 4th run (quota 3) did not push out that owner's oldest"
    a.append(_save(store, b"a" * 9_950, "a"))  # over a's bytes: a's older runs go, oldest first
    assert store.ids() == [a[4], b], "an owner over its bytes quota kept its older runs"


def test_eviction_is_strictly_oldest_first(tmp_path):
    """Old small runs no longer survive while newer big ones go: the store's cap drops a prefix of the oldest."""
    store = _store(tmp_path, max_bytes=10_000, grace=0)
    sizes = [100, 3000, 100, 3000, 100, 3000, 100]
    ids = [_save(store, b"x" * s, f"o{k}") for k, s in enumerate(sizes)]  # 9,400 bytes
    new = _save(store, b"y" * 2000, "new")  # 11,400: the oldest two (100 + 3000) must go, no more, no other
    gone = [sizes[k] for k, i in enumerate(ids) if i not in store.ids()]
    assert store.ids() == [new] + ids[2:][::-1], f"evicted runs of {gone} bytes (oldest first: [100, 3000])"


def test_a_run_within_the_grace_period_is_not_pushed_out_by_another_owner(tmp_path):
    store = _store(tmp_path, max_runs=3, grace=0.5)
    kept = [_save(store, b"k", "learner") for _ in range(3)]
    try:
        _save(store, b"x", "other")
    except UserError as exc:
        assert exc.key == "errors.store_full"
    else:
        pytest.fail(f"another owner's save went through and left {3 - len(set(kept) & set(store.ids()))} "
                    "of the learner's 3 runs of a moment ago")
    assert store.ids() == kept[::-1]
    assert len(_weights(store, tmp_path)) == 3  # the refused run left nothing behind
    mine = _save(store, b"k", "learner")  # the owner's own oldest may go at once
    assert store.ids() == [mine] + kept[::-1][:2]
    time.sleep(0.6)  # past the grace: the oldest goes for anyone
    _save(store, b"x", "other")
    assert kept[1] not in store.ids() and kept[2] in store.ids()


def test_the_owner_is_private(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save(RUN, b"x", owner="session-secret-1234")
    assert "owner" not in store.meta(run_id) and "session-secret-1234" not in json.dumps(store.meta(run_id))
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"session-secret-1234" not in raw


# ---------------------------------------------------------------- a failed save leaves nothing (issue 21 item 7)
def test_a_save_on_a_locked_database_removes_its_weights_file(tmp_path):
    store = _store(tmp_path, timeout=0.3)
    keep = _save(store, b"k" * 1000, "a")
    name = "explainer.sqlite" if hasattr(store, "db") else "runs.sqlite"  # the database layer's file, or the old one
    lock = sqlite3.connect(tmp_path / name, timeout=0.3)
    lock.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        t0 = time.monotonic()
        with pytest.raises(Exception, match="locked"):  # sqlite3's error, or SQLAlchemy's wrapping it
            _save(store, b"B" * 100_000, "a")
        waited = time.monotonic() - t0
    finally:
        lock.rollback()
        lock.close()
    left = [n for n in _weights(store, tmp_path) if n != f"{keep}.pt"]
    assert not left, f"the failed save left weights {left}"
    assert waited < 5

