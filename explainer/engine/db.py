"""One database for everything the app shares between its processes and machines (class polls, the run store).

SQLAlchemy Core over either engine, the same code for both:

- **SQLite** by default: one file, ``explainer.sqlite``, in the per-user cache folder the run store uses
  (``$CONVOLUTION_EXPLAINER_RUNS``, else ``$XDG_CACHE_HOME/convolution-explainer/runs`` or ``~/.cache/...``), in WAL
  mode with a busy timeout, so several replicas on one machine share it safely;
- **PostgreSQL** when ``EXPLAINER_DATABASE_URL`` is set (``postgresql+psycopg://user:pass@host/db``; a plain
  ``postgresql://`` URL is read as psycopg 3): a course on several machines.

Schema: each part of the app (a *component*: ``polls``, ``runs``) owns its tables and an ordered list of
migration steps (``Step``: a version number and a function of an open connection). ``Database.migrate(component,
steps)`` runs, in one transaction, the steps above the version recorded in the ``schema_version`` table (one row per
component) and records the new version. It is idempotent (a second call finds nothing to do) and safe when several
processes start at once: on PostgreSQL the transaction first takes a transaction-scoped advisory lock, on SQLite it
begins ``IMMEDIATE`` (the write lock), so one process migrates while the others wait for it and then find the work
done. DDL is transactional on both engines, so a step that fails leaves the schema as it was.

Transactions: ``write()`` for anything that writes (on SQLite it takes the write lock at ``BEGIN``, so a
read-then-write never fails with "database is locked" halfway), ``read()`` for reads (WAL readers never wait for a
writer).

    db = Database("sqlite:////tmp/x.sqlite")        # or Database() for the default
    db.migrate("polls", [Step(1, lambda conn: TABLES.create_all(conn))])
    with db.write() as conn:
        conn.execute(table.insert().values(...))
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

ENV_URL = "EXPLAINER_DATABASE_URL"
ENV_FOLDER = "CONVOLUTION_EXPLAINER_RUNS"  # the per-user folder of the database file and the run store (default_folder)
FILE_NAME = "explainer.sqlite"
BUSY_TIMEOUT_S = 10.0  # how long a write waits for another process's write lock (SQLite), or a connection (pool)

METADATA = sa.MetaData()
SCHEMA_VERSION = sa.Table(
    "schema_version", METADATA,
    sa.Column("component", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)


@dataclass(frozen=True)
class Step:
    """One migration step of a component: after it runs, the component's schema is at ``version``."""

    version: int
    apply: Callable[[Connection], None]


def default_folder() -> Path:
    """The per-user cache folder of the SQLite file and of what the run store keeps beside it (``resume/``):
    ``$CONVOLUTION_EXPLAINER_RUNS``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/convolution-explainer/runs``. One
    place decides it; the run store's ``default_root`` is this function."""
    if os.environ.get(ENV_FOLDER):
        return Path(os.environ[ENV_FOLDER])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "convolution-explainer" / "runs"


def default_url() -> str:
    """``$EXPLAINER_DATABASE_URL``, else the SQLite file in ``default_folder()``."""
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return url
    return f"sqlite:///{default_folder() / FILE_NAME}"


def normalise_url(url: str) -> str:
    """psycopg 3 for every PostgreSQL URL (``postgres://``, ``postgresql://`` → ``postgresql+psycopg://``)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _lock_key(component: str) -> int:
    """A stable 31-bit number naming the migration lock (PostgreSQL advisory locks take a bigint)."""
    return zlib.crc32(f"convolution-explainer-schema:{component}".encode()) & 0x7FFFFFFF


class Database:
    """An engine with the project's settings, transactions, and migrations (module docstring)."""

    def __init__(self, url: str | None = None, *, busy_timeout: float = BUSY_TIMEOUT_S, pool_size: int = 5):
        self.url = normalise_url(url or default_url())
        self.busy_timeout = float(busy_timeout)
        u = sa.engine.make_url(self.url)
        self.dialect = u.get_backend_name()
        if self.dialect == "sqlite":
            if u.database and u.database != ":memory:":
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = sa.create_engine(
                self.url, connect_args={"timeout": self.busy_timeout, "check_same_thread": False},
                pool_size=pool_size, max_overflow=20, pool_timeout=self.busy_timeout)
            self._sqlite_events()
        elif self.dialect == "postgresql":
            self.engine = sa.create_engine(
                self.url, pool_size=pool_size, max_overflow=10, pool_timeout=self.busy_timeout, pool_pre_ping=True,
                connect_args={"connect_timeout": max(1, int(self.busy_timeout)), "application_name": "convolution-explainer"})
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")

    def _sqlite_events(self) -> None:
        busy_ms = int(self.busy_timeout * 1000)

        @sa.event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # the driver begins nothing itself; "begin" below does
            cur = dbapi_conn.cursor()
            # a fresh file's switch to WAL can meet another process's switch with SQLITE_BUSY without the busy
            # handler (tests/test_db.py: four processes creating the schema at once): retried within the timeout
            deadline = time.monotonic() + self.busy_timeout
            while True:
                try:
                    cur.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(self.engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that writes: committed at the end, rolled back on an exception."""
        with self.engine.connect() as conn:
            conn.execution_options(write=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def version(self, component: str) -> int:
        """The component's schema version (0: never migrated)."""
        with self.read() as conn:
            if not sa.inspect(conn).has_table("schema_version"):
                return 0
            v = conn.execute(sa.select(SCHEMA_VERSION.c.version).where(SCHEMA_VERSION.c.component == component)).scalar()
        return int(v or 0)

    def migrate(self, component: str, steps: Sequence[Step]) -> int:
        """Bring ``component``'s schema up to its last step (module docstring); returns the version now."""
        steps = sorted(steps, key=lambda s: s.version)
        if [s.version for s in steps] != list(range(1, len(steps) + 1)):
            raise ValueError("migration steps must be numbered 1, 2, 3 …")
        with self.write() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("all")})
            SCHEMA_VERSION.create(conn, checkfirst=True)
            row = conn.execute(sa.select(SCHEMA_VERSION.c.version).where(SCHEMA_VERSION.c.component == component)).first()
            current = int(row[0]) if row else 0
            if current > len(steps):
                raise RuntimeError(f"the database's {component} schema is version {current}, newer than this app "
                                   f"knows ({len(steps)}): update the app")
            for step in steps[current:]:
                step.apply(conn)
            target = len(steps)
            if row is None:
                conn.execute(SCHEMA_VERSION.insert().values(component=component, version=target))
            elif target != current:
                conn.execute(SCHEMA_VERSION.update().where(SCHEMA_VERSION.c.component == component).values(version=target))
        return target

    def dispose(self) -> None:
        self.engine.dispose()


_SHARED: dict[str, Database] = {}


def shared(url: str | None = None) -> Database:
    """One ``Database`` per URL in this process (its connection pool shared by every session)."""
    key = normalise_url(url or default_url())
    if key not in _SHARED:
        _SHARED[key] = Database(key)
    return _SHARED[key]
