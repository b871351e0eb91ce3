"""The run store: save and load a run, unguessable ids, size cap with the oldest evicted, quotas, the copy of an older
store — on SQLite and on a real PostgreSQL (the ``db_url`` fixture: tests/conftest.py, tests/pgcluster.py)."""
from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import threading
import time

import numpy as np
import pytest
import sqlalchemy as sa
import torch

from explainer.errors import UserError
from explainer.engine.db import Database
from explainer.engine.runstore import RUNS, WEIGHTS, RunStore, parse_ids, valid_id
from explainer.learning.runs import STORED_FIELDS, KeptRun
from explainer.learning.train import TrainConfig, save_checkpoint


@pytest.fixture
def make(db_url, tmp_path):
    """``make(**caps)``: a RunStore on this test's database (each engine), its folder ``tmp_path``; every
    ``Database`` made is disposed of at the end."""
    made = []

    def go(folder=None, **kw):
        db = Database(db_url, busy_timeout=kw.get("timeout", 10.0))
        made.append(db)
        return RunStore(folder or tmp_path, db=db, **kw)

    yield go
    for db in made:
        db.dispose()


def _weights(store) -> list[str]:
    """The run ids that have weights in the database."""
    with store.db.read() as conn:
        return sorted(conn.execute(sa.select(WEIGHTS.c.run_id)).scalars())


def _run(label="run 1"):
    from explainer.learning.models import build_model

    torch.manual_seed(0)
    config = TrainConfig(model="mlp")
    model = build_model("mlp")
    run = KeptRun(label=label, config=config, history=[{"epochs_done": 0.5, "train_acc": 0.9, "test_acc": float("nan")}],
                  test_accuracy=0.91, seconds=1.5, ips=1000.0, stopped=True, device="cpu")
    return run, model, save_checkpoint(model, config)


def test_save_and_load_round_trip(make, tmp_path):
    store = make()
    run, model, blob = _run()
    run_id = store.save(run, blob)
    assert valid_id(run_id) and _weights(store) == [run_id]
    back = make().load(run_id)  # a new process: the same database
    assert back.label == "run 1" and back.config.model == "mlp" and back.stopped is True
    assert back.history[0]["test_acc"] is None and math.isclose(back.test_accuracy, 0.91)
    for a, b in zip(model.state_dict().values(), back.model.state_dict().values()):
        assert torch.equal(a, b)
    other = tmp_path / "another-machine"  # another cache folder (another machine's), the same database
    assert make(other).load(run_id).checkpoint == blob and not (other.exists() and any(other.iterdir()))


def test_ids_are_unguessable_and_bad_ids_are_refused(make):
    store = make()
    run, _, blob = _run()
    ids = {store.save(run, blob) for _ in range(5)}
    assert len(ids) == 5 and all(len(i) == 22 for i in ids)  # 128 random bits each
    for bad in ("", "x", "../../etc/passwd", "a" * 23, "' OR 1=1 --aaaaaaaaaaaa", None, 5):
        assert store.load(bad) is None and store.meta(bad) is None
    assert store.load("A" * 22) is None  # well-formed but unknown
    assert parse_ids("A" * 22 + ",../x," + "B" * 22 + "," + "A" * 22) == ["A" * 22, "B" * 22]


def test_cap_evicts_the_oldest(make):
    run, _, blob = _run()
    store = make(max_bytes=3 * len(blob))
    ids = [store.save(dataclasses.replace(run, label=f"run {k}"), blob) for k in range(5)]
    assert store.ids() == ids[::-1][:3]  # the three newest stay
    assert store.total_bytes() <= 3 * len(blob)
    assert store.load(ids[0]) is None and store.checkpoint(ids[0]) is None
    assert _weights(store) == sorted(ids[2:])  # an evicted run's weights went with it
    assert store.load(ids[-1]).label == "run 4"
    small = make(max_runs=2)
    small.evict()
    assert small.ids() == ids[::-1][:2] and _weights(small) == sorted(ids[3:])


def test_ids_match_in_full():
    """A trailing newline (``$`` matches before it) or any other extra character is not an id (issue 21 item 8)."""
    good = "A" * 22
    assert valid_id(good)
    for bad in (good + "\n", good + "\r\n", "\n" + good, good + " ", good + "\x00"):
        assert not valid_id(bad), repr(bad)
    assert parse_ids(good + "\n") == [good]  # the link's value is stripped first: the same run


# ---------------------------------------------------------------- quotas (issue 21 item 2)
RUN = KeptRun(label="r", config=TrainConfig(model="mlp"), history=[], test_accuracy=0.9)
K = 1024  # the attack of the issue at 1/1000 scale: 15.8 MB → 15.8 kB, the caps likewise


def test_one_visitor_cannot_evict_everyones_kept_runs(make):
    """Issue 21: 32 saves of a 15.8 MB checkpoint plus 44 small ones removed all 100 other runs. Now the visitor's
    own oldest runs make room, and with 20 sessions (20 owners) they still can't push out a run kept today."""
    store = make(max_runs=500, max_bytes=512 * K, owner_runs=20, owner_bytes=64 * K)
    others = [store.save(RUN, b"o" * (2 * K), owner=f"learner-{k % 10}") for k in range(100)]  # 200 kB
    for k in range(32):
        store.save(RUN, b"B" * int(15.8 * K), owner="attacker")
    for k in range(44):
        store.save(RUN, b"s" * 100, owner="attacker")
    assert set(others) <= set(store.ids())  # every other learner's run is still there
    assert len(store.owned("attacker")) <= 20
    refused = 0
    for k in range(40):  # one visitor, many sessions: each a new owner with its own quota
        try:
            store.save(RUN, b"B" * int(15.8 * K), owner=f"tab-{k}")
        except UserError as exc:
            assert exc.key == "errors.store_full"
            refused += 1
    assert set(others) <= set(store.ids()) and refused > 0
    assert store.total_bytes() <= 512 * K and len(store.ids()) <= 500
    assert _weights(store) == sorted(store.ids())


def test_an_owner_quota_evicts_that_owners_oldest_first(make):
    store = make(owner_runs=3, owner_bytes=10_000)
    a = [store.save(RUN, b"a" * 100, owner="a") for _ in range(3)]
    b = store.save(RUN, b"b" * 100, owner="b")
    a.append(store.save(RUN, b"a" * 100, owner="a"))  # a's 4th: a's oldest goes, not b's
    assert store.owned("a") == a[::-1][:3] and store.owned("b") == [b]
    a.append(store.save(RUN, b"a" * 9_950, owner="a"))  # over a's bytes: a's older runs go, oldest first
    assert store.owned("a") == [a[-1]] and store.owned("b") == [b]


def test_eviction_is_strictly_oldest_first(make):
    """Old small runs no longer survive while newer big ones go: the store's cap drops a prefix of the oldest."""
    store = make(max_bytes=10_000, grace=0)
    sizes = [100, 3000, 100, 3000, 100, 3000, 100]
    ids = [store.save(RUN, b"x" * s, owner=f"o{k}") for k, s in enumerate(sizes)]  # 9,400 bytes
    store.save(RUN, b"y" * 2000, owner="new")  # 11,400: the oldest two (100 + 3000) must go, no more, no other
    assert store.ids()[1:] == ids[2:][::-1]


def test_a_run_within_the_grace_period_is_not_pushed_out_by_another_owner(make):
    store = make(max_runs=3, grace=0.5)
    kept = [store.save(RUN, b"k", owner="learner") for _ in range(3)]
    with pytest.raises(UserError) as exc:
        store.save(RUN, b"x", owner="other")
    assert exc.value.key == "errors.store_full" and store.ids() == kept[::-1]
    assert _weights(store) == sorted(kept)  # the refused run left nothing behind
    mine = store.save(RUN, b"k", owner="learner")  # the owner's own oldest may go at once
    assert store.ids() == [mine] + kept[::-1][:2]
    time.sleep(0.6)  # past the grace: the oldest goes for anyone
    store.save(RUN, b"x", owner="other")
    assert kept[1] not in store.ids() and kept[2] in store.ids()


def test_the_owner_is_private(make, tmp_path):
    store = make()
    run_id = store.save(RUN, b"x", owner="session-secret-1234")
    assert "owner" not in store.meta(run_id) and "session-secret-1234" not in json.dumps(store.meta(run_id))
    with store.db.read() as conn:
        stored = [str(v) for row in conn.execute(sa.select(RUNS)).all() for v in row]
    assert stored and not any("session-secret-1234" in v for v in stored)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())  # the SQLite files, if any
    assert b"session-secret-1234" not in raw


def test_concurrent_saves_keep_the_caps(make):
    """Six threads (each its own connection, as replicas are) saving at once: the caps hold exactly, every
    evicted run's weights go with it."""
    store = make(max_runs=10, grace=0)
    errors = []

    def go(k):
        try:
            for i in range(5):
                store.save(RUN, b"c" * 100, owner=f"t{k}")
        except Exception as exc:  # noqa: BLE001 — asserted below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(store.ids()) == 10 and _weights(store) == sorted(store.ids())


# ---------------------------------------------------------------- a failed save leaves nothing (issue 21 item 7)
def test_a_save_on_a_locked_database_leaves_nothing(make, db_url):
    """Another process holds the database (SQLite: an exclusive transaction; PostgreSQL: the runs table locked): the
    save gives up after the store's timeout with the database's error, and nothing of the new run is kept."""
    store = make(timeout=0.3)
    keep = store.save(RUN, b"k" * 1000, owner="a")
    if db_url.startswith("sqlite"):
        lock = sqlite3.connect(db_url.split("///", 1)[1], timeout=0.3)
        lock.execute("BEGIN EXCLUSIVE")
    else:
        import psycopg

        u = sa.engine.make_url(db_url)
        lock = psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database,
                               options=u.query["options"], connect_timeout=10)
        lock.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
    try:
        t0 = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="locked|lock timeout"):
            store.save(RUN, b"B" * 100_000, owner="a")
        assert time.monotonic() - t0 < 5
    finally:
        lock.rollback()
        lock.close()
    assert store.ids() == [keep] and _weights(store) == [keep] and store.total_bytes() == 1000


# ---------------------------------------------------------------- the copy of an older store (issue 24 item 3)
_LEGACY_SCHEMA = """CREATE TABLE runs (
    id TEXT PRIMARY KEY, created REAL NOT NULL, label TEXT NOT NULL, config TEXT NOT NULL,
    history TEXT NOT NULL, test_accuracy REAL, seconds REAL, ips REAL, stopped INTEGER, device TEXT,
    size INTEGER NOT NULL, owner TEXT NOT NULL DEFAULT '')"""


def _legacy_store(folder, runs) -> None:
    """An older store, as the code before the database layer wrote it: runs.sqlite (WAL) and weights/<id>.pt."""
    (folder / "weights").mkdir(parents=True)
    with sqlite3.connect(folder / "runs.sqlite") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(_LEGACY_SCHEMA)
        for run_id, created, blob, owner in runs:
            db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       (run_id, created, f"legacy {run_id[:3]}", json.dumps(TrainConfig(model="mlp").to_dict()),
                        json.dumps([{"epochs_done": 1.0, "train_acc": 0.5, "test_acc": None}]), 0.5, 2.0, 100.0, 0,
                        "cpu", len(blob or b""), owner))
            if blob is not None:
                (folder / "weights" / f"{run_id}.pt").write_bytes(blob)
    db.close()


def test_an_older_store_is_copied_into_the_database_once(make, tmp_path):
    """Two machines' older stores (their own folders) start on one database: each copies its runs (weights included)
    once, in their order; a run whose weights file was gone is skipped; the old files are retired."""
    _, model, blob = _run()
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    now = time.time()
    _legacy_store(a, [("A" * 22, now - 30, blob, "tag-a"), ("B" * 22, now - 20, None, "tag-a")])
    _legacy_store(b, [("C" * 22, now - 25, blob, "tag-b")])
    (a / "weights" / ("O" * 22 + ".pt")).write_bytes(b"orphan")
    first = make(a)
    assert first.migrated == ["A" * 22] and first.ids() == ["A" * 22]
    second = make(b)
    assert second.migrated == ["C" * 22] and second.ids() == ["C" * 22, "A" * 22]  # newest first, by their times
    back = second.load("A" * 22)
    assert back.label == "legacy AAA" and back.checkpoint == blob and math.isclose(back.created, now - 30)
    for a_, b_ in zip(model.state_dict().values(), back.model.state_dict().values()):
        assert torch.equal(a_, b_)
    for folder in (a, b):
        assert sorted(p.name for p in folder.iterdir()) == ["runs.sqlite.migrated"], list(folder.iterdir())
    assert make(a).migrated == [] and len(second.ids()) == 2  # a restart copies nothing again
    assert first.save(RUN, b"n", owner="new") in second.ids()


# ---------------------------------------------------------------- the kept run as one record (issue 20 step 3)
def _result(model, config):
    from explainer.learning.train import TrainResult

    return TrainResult(model=model, history=[{"epochs_done": 1.0, "train_acc": 0.5, "test_acc": float("nan")}],
                       test_accuracy=0.75, train_seconds=3.25, images_per_second=1500.0, epochs_done=1.0,
                       device="cpu", config=config, stopped=True, predictions=np.arange(4) % 10,
                       probabilities=np.full((4, 10), 0.1, np.float32))


def test_a_trained_run_round_trips_through_the_store(tmp_path):
    """Every field the store keeps comes back as it went in (NaN as None in the curves); the session's working
    state (the evaluation, a scoring job) is not stored."""
    torch.manual_seed(3)
    config = TrainConfig(model="mlp", lr=0.01, seed=7)
    model = config.build()
    run = KeptRun.trained("Run 1 · MLP", _result(model, config))
    assert run.evaluation["accuracy"] == 0.75 and np.array_equal(run.evaluation["predictions"], np.arange(4) % 10)
    blob = save_checkpoint(model, config)
    before = time.time()
    run_id = RunStore(tmp_path).save(run, blob, owner="o")
    back = RunStore(tmp_path).load(run_id)
    assert isinstance(back, KeptRun) and back.id == run_id and back.checkpoint == blob and back.size == len(blob)
    assert before <= back.created <= time.time()
    assert (back.label, back.test_accuracy, back.seconds, back.ips, back.stopped, back.device) == \
        ("Run 1 · MLP", 0.75, 3.25, 1500.0, True, "cpu")
    assert back.history == [{"epochs_done": 1.0, "train_acc": 0.5, "test_acc": None}]
    assert back.config == config and back.config.learning_rate == 0.01
    assert back.evaluation is None and back.scoring is None and not back.score_asked  # scored again on the page
    for a, b in zip(model.state_dict().values(), back.model.state_dict().values()):
        assert torch.equal(a, b)
    assert back.stored() == dict(run.stored(), history=back.history)


def test_an_uploaded_run_is_unscored_and_its_nan_accuracy_survives(tmp_path):
    config = TrainConfig(model="mlp")
    run = KeptRun.uploaded("mine.pt", config.build(), config)
    assert run.score_asked and run.test_accuracy != run.test_accuracy and run.history == []
    assert run.stored()["test_accuracy"] is None  # JSON has no NaN
    store = RunStore(tmp_path)
    back = store.load(store.save(run, save_checkpoint(run.model, config)))
    assert back.test_accuracy != back.test_accuracy  # NaN again, not None ("…" on the page, not a crash)


def test_the_store_takes_only_a_kept_run(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(TypeError, match="KeptRun"):
        store.save({"label": "r", "config": {"model": "mlp"}, "history": [], "test_accuracy": 0.9}, b"x")
    assert store.ids() == [] and _weights(store) == []


def _row(tmp_path):
    store = RunStore(tmp_path)
    run, model, blob = _run()
    run_id = store.save(run, blob)
    row = store.meta(run_id)
    assert set(row) == set(STORED_FIELDS)
    return store, run_id, row, model, run.config


BAD_ROWS = [
    *[(f"missing {name}", {name: None}, name) for name in STORED_FIELDS],
    ("extra field", {"owner": "x"}, "owner"),
    ("label a number", {"label": 5}, "label"),
    ("config a list", {"config": ["mlp"]}, "config"),
    ("history a dict", {"history": {"epochs_done": 1}}, "history"),
    ("history of numbers", {"history": [1, 2]}, "history"),
    ("accuracy a string", {"test_accuracy": "0.9"}, "test_accuracy"),
    ("stopped 2", {"stopped": 2}, "stopped"),
    ("stopped a string", {"stopped": "yes"}, "stopped"),
    ("seconds a bool", {"seconds": True}, "seconds"),
    ("size a float", {"size": 1.5}, "size"),
    ("id missing its value", {"id": None}, "id"),
]


@pytest.mark.parametrize("what, change, field", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_a_stored_row_with_a_missing_extra_or_mistyped_field_is_refused(tmp_path, what, change, field):
    _, _, row, model, config = _row(tmp_path)
    assert KeptRun.from_stored(dict(row), model, config).label == "run 1"  # the good row reads
    if what.startswith("missing"):
        del row[field]
    else:
        row.update(change)
    with pytest.raises(UserError) as exc:
        KeptRun.from_stored(row, model, config)
    assert exc.value.key == "errors.run_record_bad" and exc.value.params["field"] == field


MALFORMED = [("label", b"\x00"), ("history", '{"epochs_done": 1}'), ("config", "not json"), ("stopped", "yes"),
             ("test_accuracy", "high"), ("seconds", None)]


@pytest.mark.parametrize("column, value", MALFORMED)
def test_a_malformed_row_in_the_database_is_refused_with_a_user_error(make, db_url, column, value):
    """A row another version (or a hand) wrote: load says which field, never a traceback from deep inside.
    PostgreSQL's typed columns refuse a number's column holding text (or text holding bytes) at the write:
    there only the text columns can be malformed."""
    if db_url.startswith("postgresql") and column in ("label", "stopped", "test_accuracy"):
        value = {"label": None, "stopped": 2, "test_accuracy": None}[column]
        if column == "label":
            column, value = "device", None  # a NOT NULL text column left empty by an older schema
    store = make()
    run, _, blob = _run()
    run_id = store.save(run, blob)
    with store.db.write() as conn:
        if store.db.dialect == "sqlite":  # as a hand would write it (SQLAlchemy's Float would refuse "high")
            conn.exec_driver_sql(f"UPDATE runs SET {column} = ? WHERE id = ?", (value, run_id))
        else:
            conn.execute(RUNS.update().where(RUNS.c.id == run_id).values({column: value}))
    if column == "test_accuracy" and value is None:  # None is a valid accuracy ("not scored"): loads
        assert math.isnan(store.load(run_id).test_accuracy)
        return
    with pytest.raises(UserError) as exc:
        store.load(run_id)
    assert exc.value.key == "errors.run_record_bad" and column in exc.value.params["field"]


def test_a_link_to_a_malformed_run_is_said_and_the_page_goes_on(mnist_dir):
    """The Train page given a link to a run whose row is malformed: the refusal as a notice, no run, no traceback."""
    from explainer.i18n import translate
    from tests.conftest import app_test

    store = RunStore()  # the tests' store (CONVOLUTION_EXPLAINER_RUNS), which the page reads
    run, _, blob = _run()
    run_id = store.save(run, blob)
    with store.db.write() as conn:
        conn.execute(RUNS.update().where(RUNS.c.id == run_id).values(history="[1, 2]"))
    at = app_test("train", timeout=60)
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception and at.session_state["tr_runs"] == []
    assert translate("errors.run_record_bad", "en", field="history") in [x.value for x in at.toast]


def test_a_link_when_the_database_is_down_is_said_and_the_page_goes_on(mnist_dir, monkeypatch):
    """The course's PostgreSQL unreachable (a closed port): a link's run is reported missing, no traceback."""
    from bench.classroom import free_port
    from explainer.i18n import translate
    from tests.conftest import app_test
    from ui import runs as ui_runs

    monkeypatch.setenv("EXPLAINER_DATABASE_URL", f"postgresql://u:p@127.0.0.1:{free_port()}/none")
    ui_runs.store.clear()  # the page's store is made anew, on that database
    try:
        at = app_test("train", timeout=60)
        at.query_params["run"] = "A" * 22
        at.run()
    finally:
        ui_runs.store.clear()
    assert not at.exception and at.session_state["tr_runs"] == []
    assert translate("train.run_missing_one", "en", n=1) in [x.value for x in at.toast], [x.value for x in at.toast]


def test_an_unreadable_older_store_is_set_aside(make, tmp_path):
    folder = tmp_path / "cache"
    (folder / "weights").mkdir(parents=True)
    (folder / "runs.sqlite").write_bytes(b"not a database" * 100)
    (folder / "weights" / ("A" * 22 + ".pt")).write_bytes(b"w")
    store = make(folder)
    assert store.migrated == [] and store.ids() == [] and store.save(RUN, b"x")
    assert sorted(p.name for p in folder.rglob("*")) == ["A" * 22 + ".pt", "runs.sqlite.unreadable", "weights"]


def test_processes_starting_at_once_copy_an_older_store_once(tmp_path):
    """Several replicas of one machine start together on an older store: one copies it, the others find it done."""
    _, _, blob = _run()
    folder = tmp_path / "cache"
    _legacy_store(folder, [(c * 22, time.time() - 10 + k, blob, "t") for k, c in enumerate("DEFG")])
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    copied, errors = [], []

    def start():
        try:
            db = Database(url)
            copied.append(RunStore(folder, db=db).migrated)
            db.dispose()
        except Exception as exc:  # noqa: BLE001 — asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sorted(map(len, copied)) == [0, 0, 0, 4], copied
    db = Database(url)
    assert RunStore(folder, db=db).ids() == [c * 22 for c in "GFED"]
    db.dispose()
