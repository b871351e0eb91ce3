"""Trained runs kept in the database, so a reload or a link that names a run (``?run=<id>``) brings it back — on any
replica, on any machine of the course.

A run is an ``explainer.learning.runs.KeptRun``. The store is the app's one database (``explainer.engine.db``:
SQLAlchemy Core; SQLite ``explainer.sqlite`` in the per-user cache folder by default, PostgreSQL when
``EXPLAINER_DATABASE_URL`` is set), in two tables of its own (component ``runs``, created and migrated on start):
``runs`` holds each run's configuration, curves and scores (``KeptRun.stored()``, read back by
``KeptRun.from_stored``), ``run_weights`` its checkpoint (``explainer.learning.train.save_checkpoint``'s bytes, loaded
back with ``weights_only=True``), at most ``min(RUNS_PER_OWNER_BYTES, RUNS_KEPT_BYTES)`` bytes each. The weights are
in the database on both engines: with PostgreSQL a run kept through one machine's replica opens through another's
(their cache folders hold nothing of it); on both, a run's row and its weights are written and removed in one
transaction, so a save that fails (a locked or unreachable database, a full store) leaves nothing behind and there
are no orphaned weights files to sweep.

``RunStore()`` uses the shared database (``explainer.engine.db.shared``: what the environment says);
``RunStore(folder)`` a SQLite file ``explainer.sqlite`` in ``folder`` (tests; a store of its own);
``RunStore(folder, db=Database(url))`` any database, ``folder`` being where an older store may lie.

An older store — ``runs.sqlite`` with ``weights/<id>.pt`` files beside it in the folder, from before the database
layer — is copied into the database once, when a store on that folder starts (one process of the machine does it,
the others wait for it; a run whose weights file is gone is skipped); then ``runs.sqlite`` is renamed
``runs.sqlite.migrated`` and the weights files are removed. A ``runs.sqlite`` that can't be read (damaged, not a
store) is renamed ``runs.sqlite.unreadable`` and left with its files for a person to look at. With PostgreSQL, each machine copies its own.

Quotas (``explainer/limits.py``): the store is shared by every visitor, so each save names its owner (the
session that made the run). First the owner's own oldest runs make room for the new one until the owner holds
at most ``RUNS_PER_OWNER`` runs and ``RUNS_PER_OWNER_BYTES`` bytes; then, while the whole store is over
``RUNS_KEPT`` runs or ``RUNS_KEPT_BYTES`` bytes, the oldest run that may go goes (strictly oldest first): the
owner's own, or another owner's older than ``RUNS_GRACE_SECONDS``. When that is not enough the save is refused
(``errors.store_full``) — one visitor can't push out the runs a class kept today. The plan and the insert are one
transaction that holds the store's write lock (SQLite's ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so
concurrent saves from several replicas see each other. The owner is stored only as a hash and never returned.

Privacy: a run id is 128 random bits (``secrets.token_urlsafe``), so ids can't be guessed; the
store has no "list everything" for pages — a session only knows the ids it created or was given
in a link.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import sqlite3
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from explainer import limits
from explainer.engine.db import BUSY_TIMEOUT_S, ENV_FOLDER, Database, Step, default_folder, shared
from explainer.errors import UserError

if TYPE_CHECKING:
    from explainer.learning.runs import KeptRun

ENV = ENV_FOLDER  # the per-user folder (explainer.engine.db.default_folder decides it)
default_root = default_folder
MAX_RUNS = limits.RUNS_KEPT
MAX_BYTES = limits.RUNS_KEPT_BYTES
MAX_LINKED = 12  # ids one link may name
_ID = re.compile(r"[A-Za-z0-9_-]{22}")
LEGACY = "runs.sqlite"  # the store before the database layer (with weights/<id>.pt beside it)

METADATA = sa.MetaData()
RUNS = sa.Table(
    "runs", METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # the order of saving (ties of ``created``)
    sa.Column("id", sa.String(22), nullable=False, unique=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("history", sa.Text, nullable=False),
    sa.Column("test_accuracy", sa.Float, nullable=True),
    sa.Column("seconds", sa.Float, nullable=True),
    sa.Column("ips", sa.Float, nullable=True),
    sa.Column("stopped", sa.Integer, nullable=True),
    sa.Column("device", sa.String(40), nullable=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("owner", sa.String(32), nullable=False, server_default=""),
    sa.Index("ix_runs_created", "created", "seq"),
    sa.Index("ix_runs_owner", "owner", "created"),
)
WEIGHTS = sa.Table(
    "run_weights", METADATA,
    sa.Column("run_id", sa.String(22), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
STEPS = [Step(1, lambda conn: METADATA.create_all(conn, tables=[RUNS, WEIGHTS]))]
_META = ("id", "created", "label", "config", "history", "test_accuracy", "seconds", "ips", "stopped", "device", "size")
_LOCK = zlib.crc32(b"convolution-explainer-runs:write") & 0x7FFFFFFF


def owner_tag(owner: str) -> str:
    """What the store keeps of an owner: a hash (the session's id itself is never written or shown)."""
    return hashlib.sha256(f"convolution-explainer-run-owner:{owner}".encode()).hexdigest()[:32] if owner else ""


def valid_id(run_id) -> bool:
    return isinstance(run_id, str) and _ID.fullmatch(run_id) is not None


def parse_ids(text: str) -> list[str]:
    """The run ids named in a ``run=`` URL value (comma-separated); malformed ones are dropped."""
    out = []
    for part in str(text or "").split(",")[:MAX_LINKED]:
        part = part.strip()
        if valid_id(part) and part not in out:
            out.append(part)
    return out


class RunStore:
    def __init__(self, root: str | os.PathLike | None = None, *, db: Database | None = None, max_runs: int = MAX_RUNS,
                 max_bytes: int = MAX_BYTES, owner_runs: int = limits.RUNS_PER_OWNER,
                 owner_bytes: int = limits.RUNS_PER_OWNER_BYTES, grace: float = limits.RUNS_GRACE_SECONDS,
                 timeout: float = BUSY_TIMEOUT_S):
        self.root = Path(root) if root else default_root()
        self.max_runs, self.max_bytes = int(max_runs), int(max_bytes)
        self.owner_runs, self.owner_bytes, self.grace = int(owner_runs), int(owner_bytes), float(grace)
        self.timeout = float(timeout)
        if db is None:
            url = f"sqlite:///{self.root / 'explainer.sqlite'}" if root else None
            db = shared(url) if self.timeout == BUSY_TIMEOUT_S else Database(url, busy_timeout=self.timeout)
        self.db = db
        self.db.migrate("runs", STEPS)
        self.migrated = self._copy_legacy()

    # ------------------------------------------------------------ saving, with the quotas
    def save(self, run: KeptRun, checkpoint: bytes, owner: str = "") -> str:
        """Keep ``run`` (its ``stored()`` values: label, config, history, test_accuracy, seconds, ips, stopped,
        device) and its checkpoint bytes for ``owner`` (the saving session's id); returns the new
        run's id. Makes room by the quotas (module docstring); ``UserError`` when the store is full of other
        owners' runs from within the grace period, ``sqlalchemy.exc.OperationalError`` when the database stays
        locked or can't be reached — in both cases nothing of the new run is kept."""
        from explainer.learning.runs import KeptRun

        if not isinstance(run, KeptRun):
            raise TypeError(f"RunStore.save takes a KeptRun, not {type(run).__name__}")
        values = run.stored()
        run_id = secrets.token_urlsafe(16)
        tag, size = owner_tag(owner), len(checkpoint)
        cap = min(self.owner_bytes, self.max_bytes)
        if size > cap:
            raise UserError("errors.store_run_too_big", mb=limits.mb(size), max=limits.mb(cap))
        with self.db.write() as conn:
            self._lock(conn)  # the plan and the insert see the same store (concurrent saves, several replicas)
            now = time.time()
            rows = conn.execute(sa.select(RUNS.c.id, RUNS.c.created, RUNS.c.owner, RUNS.c.size)
                                .order_by(RUNS.c.created, RUNS.c.seq)).all()
            gone = self._plan(rows, tag, size, now)
            if gone is None:
                raise UserError("errors.store_full", hours=int(self.grace // 3600))
            self._delete(conn, gone)
            conn.execute(RUNS.insert().values(
                id=run_id, created=now, label=values["label"][:200], config=json.dumps(values["config"]),
                history=json.dumps(values["history"]), test_accuracy=values["test_accuracy"], seconds=values["seconds"],
                ips=values["ips"], stopped=int(values["stopped"]), device=values["device"][:40], size=size, owner=tag))
            conn.execute(WEIGHTS.insert().values(run_id=run_id, data=bytes(checkpoint)))
        return run_id

    def _lock(self, conn) -> None:
        """The store's write lock for this transaction (SQLite's ``write()`` already began ``IMMEDIATE``)."""
        if self.db.dialect == "postgresql":  # waits at most the store's timeout, as SQLite's busy timeout does
            conn.execute(sa.text(f"SET LOCAL lock_timeout = {int(self.timeout * 1000)}"))
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})

    @staticmethod
    def _delete(conn, ids: list[str]) -> None:
        for start in range(0, len(ids), 200):
            part = ids[start:start + 200]
            conn.execute(WEIGHTS.delete().where(WEIGHTS.c.run_id.in_(part)))
            conn.execute(RUNS.delete().where(RUNS.c.id.in_(part)))

    def _plan(self, rows, tag: str, size: int, now: float) -> list[str] | None:
        """The runs to evict so that a new run of ``size`` bytes by ``tag`` fits (``rows``: id, created, owner,
        size, oldest first), or None when it can't without pushing out another owner's run within the grace."""
        gone: list[str] = []
        mine = [r for r in rows if r[2] == tag]
        n, used = len(mine) + 1, sum(r[3] for r in mine) + size
        for run_id, _, _, s in mine:  # the owner's quota: their own oldest first
            if n <= self.owner_runs and used <= self.owner_bytes:
                break
            gone.append(run_id)
            n, used = n - 1, used - s
        dropped = set(gone)
        n = len(rows) - len(gone) + 1
        used = sum(r[3] for r in rows if r[0] not in dropped) + size
        for run_id, created, owner, s in rows:  # the store's cap: strictly the oldest that may go
            if n <= self.max_runs and used <= self.max_bytes:
                break
            if run_id in dropped or (owner != tag and now - created < self.grace):
                continue
            gone.append(run_id)
            n, used = n - 1, used - s
        return gone if n <= self.max_runs and used <= self.max_bytes else None

    def evict(self) -> list[str]:
        """Drop the oldest runs until the store's caps hold (after the caps were lowered, or stores merged by the
        copy of an older one); returns the evicted ids."""
        gone = []
        with self.db.write() as conn:
            self._lock(conn)
            rows = conn.execute(sa.select(RUNS.c.id, RUNS.c.size).order_by(RUNS.c.created, RUNS.c.seq)).all()
            n, used = len(rows), sum(r[1] for r in rows)
            for run_id, size in rows:  # strictly oldest first
                if n <= self.max_runs and used <= self.max_bytes:
                    break
                gone.append(run_id)
                n, used = n - 1, used - size
            self._delete(conn, gone)
        return gone

    # ------------------------------------------------------------ reading
    def meta(self, run_id: str) -> dict | None:
        """The stored run without its weights, as plain values (``KeptRun.from_stored``'s ``row``), or None
        (unknown, evicted or malformed id)."""
        if not valid_id(run_id):
            return None
        with self.db.read() as conn:
            row = conn.execute(sa.select(*(RUNS.c[k] for k in _META)).where(RUNS.c.id == run_id)).first()
        if row is None:
            return None
        out = dict(zip(_META, row))
        for name in ("config", "history"):
            try:
                out[name] = json.loads(out[name])
            except (TypeError, ValueError):  # not JSON: a row another version (or a hand) wrote
                raise UserError("errors.run_record_bad", field=name) from None
        return out

    def checkpoint(self, run_id: str) -> bytes | None:
        if not valid_id(run_id):
            return None
        with self.db.read() as conn:
            blob = conn.execute(sa.select(WEIGHTS.c.data).where(WEIGHTS.c.run_id == run_id)).scalar()
        return None if blob is None else bytes(blob)

    def load(self, run_id: str) -> KeptRun | None:
        """The run as the Train page keeps it (a ``KeptRun`` with its model and its checkpoint's configuration), or
        None (unknown id, or weights missing or not readable); ``UserError`` when its row is malformed (a missing,
        extra or mistyped field)."""
        from explainer.learning.runs import KeptRun
        from explainer.learning.train import load_checkpoint

        meta = self.meta(run_id)
        blob = self.checkpoint(run_id) if meta is not None else None
        if meta is None or blob is None:
            return None
        try:
            model, config = load_checkpoint(blob)
        except UserError:
            return None
        return KeptRun.from_stored(meta, model, config, blob)

    def ids(self) -> list[str]:
        """Every stored id, newest first (for maintenance and tests; pages never list the store)."""
        with self.db.read() as conn:
            return list(conn.execute(sa.select(RUNS.c.id).order_by(RUNS.c.created.desc(), RUNS.c.seq.desc())).scalars())

    def owned(self, owner: str) -> list[str]:
        """The ids ``owner`` saved, newest first (for tests and maintenance)."""
        with self.db.read() as conn:
            return list(conn.execute(sa.select(RUNS.c.id).where(RUNS.c.owner == owner_tag(owner))
                                     .order_by(RUNS.c.created.desc(), RUNS.c.seq.desc())).scalars())

    def total_bytes(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(RUNS.c.size), 0))).scalar())

    # ------------------------------------------------------------ the one-time copy of an older store
    def _copy_legacy(self) -> list[str]:
        """Copy ``runs.sqlite`` and its weights files into the database (module docstring); returns the copied ids."""
        legacy = self.root / LEGACY
        if not legacy.exists():
            return []
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one process of this machine copies; the others wait, then find it done
            if not legacy.exists():
                return []
            try:
                copied = self._copy_rows(legacy)
            except sqlite3.DatabaseError:  # not a store this app wrote (damaged, or no runs table): set aside, kept
                os.replace(legacy, self.root / f"{LEGACY}.unreadable")
                return []
            for suffix in ("-wal", "-shm"):
                Path(f"{legacy}{suffix}").unlink(missing_ok=True)
            os.replace(legacy, self.root / f"{LEGACY}.migrated")
            weights = self.root / "weights"
            if weights.is_dir():
                for entry in os.scandir(weights):
                    stem, suffix = os.path.splitext(entry.name)
                    if suffix in (".pt", ".tmp") and (suffix == ".tmp" or valid_id(stem)):
                        with contextlib.suppress(OSError):
                            os.unlink(entry.path)
                with contextlib.suppress(OSError):
                    weights.rmdir()
        finally:
            os.close(fd)
        if copied:
            self.evict()  # two machines' stores in one database may be over the caps together
        return copied

    def _copy_rows(self, legacy: Path) -> list[str]:
        old = sqlite3.connect(legacy, timeout=self.timeout)
        try:
            old.row_factory = sqlite3.Row
            rows = old.execute("SELECT * FROM runs ORDER BY created, rowid").fetchall()
        finally:
            old.close()  # the last connection: SQLite folds the WAL back into the file
        copied = []
        for row in rows:
            row = dict(row)
            run_id = row.get("id")
            if not valid_id(run_id):
                continue
            try:
                blob = (self.root / "weights" / f"{run_id}.pt").read_bytes()
            except OSError:
                continue  # its weights are gone: it could not be loaded before either
            values = {k: row.get(k) for k in _META if k != "size"}
            try:
                with self.db.write() as conn:
                    if conn.execute(sa.select(RUNS.c.seq).where(RUNS.c.id == run_id)).first() is not None:
                        continue  # copied before a crash interrupted the copy
                    conn.execute(RUNS.insert().values(**values, size=len(blob), owner=row.get("owner") or ""))
                    conn.execute(WEIGHTS.insert().values(run_id=run_id, data=blob))
            except (sa.exc.DataError, sa.exc.IntegrityError, sa.exc.ProgrammingError):
                continue  # a row this engine refuses (a hand-edited one): it could not be loaded either
            copied.append(run_id)
        return copied
