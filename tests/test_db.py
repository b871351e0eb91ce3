"""The database layer (explainer/engine/db.py) on SQLite and on a real PostgreSQL (tests/pgcluster.py)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
import sqlalchemy as sa

from explainer.engine import db as dbm
from explainer.engine.db import Database, Step
from tests.conftest import ROOT, release_together

PROBE = sa.Table("probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.String(20)))


def _steps(calls: list):
    def one(conn):
        calls.append(1)
        PROBE.create(conn)

    def two(conn):
        calls.append(2)
        conn.execute(PROBE.insert().values(note="step two"))

    return [Step(1, one), Step(2, two)]


def test_the_default_is_sqlite_in_the_cache_folder_and_the_environment_picks_postgresql(monkeypatch, tmp_path):
    monkeypatch.delenv(dbm.ENV_URL, raising=False)
    monkeypatch.setenv(dbm.ENV_FOLDER, str(tmp_path))
    assert dbm.default_url() == f"sqlite:///{tmp_path / 'explainer.sqlite'}"
    monkeypatch.delenv(dbm.ENV_FOLDER)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert dbm.default_url() == f"sqlite:///{tmp_path / 'cache' / 'convolution-explainer' / 'runs' / 'explainer.sqlite'}"
    monkeypatch.setenv(dbm.ENV_URL, "postgresql://u:p@db.example/course")
    assert dbm.default_url() == "postgresql://u:p@db.example/course"
    d = Database()  # no connection is made until it is used
    assert d.dialect == "postgresql" and d.url == "postgresql+psycopg://u:p@db.example/course"
    assert dbm.normalise_url("postgres://h/x") == "postgresql+psycopg://h/x"
    with pytest.raises(ValueError):
        Database("mysql://h/x")


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    d = Database(f"sqlite:///{tmp_path / 'sub' / 'x.sqlite'}", busy_timeout=7)
    with d.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    d.dispose()


def test_migrations_run_once_in_order_and_resume_where_they_stopped(db_url):
    d = Database(db_url)
    calls: list = []
    assert d.version("probe") == 0
    assert d.migrate("probe", _steps(calls)[:1]) == 1
    assert d.migrate("probe", _steps(calls)) == 2  # an app update adds step 2: only it runs
    assert d.migrate("probe", _steps(calls)) == 2  # idempotent
    assert calls == [1, 2] and d.version("probe") == 2
    with d.read() as conn:
        assert conn.execute(sa.select(PROBE.c.note)).scalars().all() == ["step two"]
    with pytest.raises(RuntimeError, match="newer"):  # an older app meets a newer schema
        d.migrate("probe", _steps(calls)[:1])
    with pytest.raises(ValueError):
        d.migrate("other", [Step(2, lambda conn: None)])
    d.dispose()


def test_a_failing_step_leaves_the_schema_and_version_as_they_were(db_url):
    d = Database(db_url)
    d.migrate("probe", _steps([])[:1])
    broken = sa.Table("half_done", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))

    def fails(conn):
        broken.create(conn)
        raise RuntimeError("step failed halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        d.migrate("probe", [*_steps([])[:1], Step(2, fails)])
    assert d.version("probe") == 1
    with d.read() as conn:
        assert not sa.inspect(conn).has_table("half_done")
    d.dispose()


def test_threads_migrating_at_once_run_each_step_once(db_url):
    d = Database(db_url)
    calls: list = []
    errors: list = []

    def go():
        try:
            d.migrate("probe", _steps(calls))
        except Exception as exc:  # noqa: BLE001 — collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and calls == [1, 2]
    d.dispose()


_PROCESS = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import sqlalchemy as sa
    from explainer.engine.db import Database, Step
    from explainer import polls
    probe = sa.Table("probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.String(20)))
    def slow(conn):
        conn.execute(probe.insert().values(note=sys.argv[1]))
        time.sleep(0.25)  # the other process arrives while this one migrates
    d = Database({url!r})
    print("ready", flush=True)
    sys.stdin.readline()  # both start together when the test says go
    d.migrate("polls", polls.STEPS)
    print(d.migrate("probe", [Step(1, lambda conn: probe.create(conn)), Step(2, slow)]))
""")


def test_two_processes_creating_the_schema_at_once(tmp_path, postgres):
    """Two processes per engine (SQLite, PostgreSQL), all four started together: each migration step runs once."""
    urls = [f"sqlite:///{tmp_path / 'explainer.sqlite'}", postgres.schema_url()]
    procs = [subprocess.Popen([sys.executable, "-c", _PROCESS.format(root=str(ROOT), url=url), name],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for url in urls for name in ("first", "second")]
    outs = release_together(procs, tail=1500)
    assert [p.returncode for p in procs] == [0] * 4, [o[1][-1500:] for o in outs]
    assert [o[0].strip() for o in outs] == ["2"] * 4
    for url in urls:
        d = Database(url)
        with d.read() as conn:
            assert len(conn.execute(sa.select(PROBE.c.note)).all()) == 1, url  # the slow step ran in one process
            assert {"polls", "poll_answers", "schema_version"} <= set(sa.inspect(conn).get_table_names())
        assert d.version("polls") == 1
        d.dispose()


def test_write_transactions_roll_back_on_an_error(db_url):
    d = Database(db_url)
    d.migrate("probe", _steps([])[:1])
    with pytest.raises(ZeroDivisionError):
        with d.write() as conn:
            conn.execute(PROBE.insert().values(note="not kept"))
            1 / 0
    with d.write() as conn:
        conn.execute(PROBE.insert().values(note="kept"))
    with d.read() as conn:
        assert conn.execute(sa.select(PROBE.c.note)).scalars().all() == ["kept"]
    d.dispose()
