"""Trained runs kept on disk, so a reload or a link that names a run (``?run=<id>``) brings it back.

A run is an ``explainer.learning.runs.KeptRun``; one SQLite database (``runs.sqlite``) holds each run's
configuration, curves and scores (``KeptRun.stored()``, read back by ``KeptRun.from_stored``); its
weights sit beside it as ``weights/<id>.pt`` (``explainer.learning.train.save_checkpoint``'s bytes, loaded
back with ``weights_only=True``). The folder is the per-user cache
(``$XDG_CACHE_HOME/convolution-explainer/runs`` or ``~/.cache/...``), or ``$CONVOLUTION_EXPLAINER_RUNS``
(tests point it at a temporary folder).

Quotas (``explainer/limits.py``): the store is shared by every visitor, so each save names its owner (the
session that made the run). First the owner's own oldest runs make room for the new one until the owner holds
at most ``RUNS_PER_OWNER`` runs and ``RUNS_PER_OWNER_BYTES`` bytes; then, while the whole store is over
``RUNS_KEPT`` runs or ``RUNS_KEPT_BYTES`` bytes, the oldest run that may go goes (strictly oldest first): the
owner's own, or another owner's older than ``RUNS_GRACE_SECONDS``. When that is not enough the save is refused
(``errors.store_full``) — one visitor can't push out the runs a class kept today. The owner is stored only as a
hash and never returned. A save that fails (a locked database) removes its weights file; weights files without
a row (a crash between the two) are swept after ``RUNS_ORPHAN_SECONDS``.

Privacy: a run id is 128 random bits (``secrets.token_urlsafe``), so ids can't be guessed; the
store has no "list everything" for pages — a session only knows the ids it created or was given
in a link.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from explainer import limits
from explainer.errors import UserError

if TYPE_CHECKING:
    from explainer.learning.runs import KeptRun

ENV = "CONVOLUTION_EXPLAINER_RUNS"
MAX_RUNS = limits.RUNS_KEPT
MAX_BYTES = limits.RUNS_KEPT_BYTES
MAX_LINKED = 12  # ids one link may name
_ID = re.compile(r"[A-Za-z0-9_-]{22}")

_SCHEMA = """CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, created REAL NOT NULL, label TEXT NOT NULL, config TEXT NOT NULL,
    history TEXT NOT NULL, test_accuracy REAL, seconds REAL, ips REAL, stopped INTEGER, device TEXT,
    size INTEGER NOT NULL, owner TEXT NOT NULL DEFAULT '')"""


def owner_tag(owner: str) -> str:
    """What the store keeps of an owner: a hash (the session's id itself is never written or shown)."""
    return hashlib.sha256(f"convolution-explainer-run-owner:{owner}".encode()).hexdigest()[:32] if owner else ""


def default_root() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "convolution-explainer" / "runs"


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
    def __init__(self, root: str | os.PathLike | None = None, *, max_runs: int = MAX_RUNS,
                 max_bytes: int = MAX_BYTES, owner_runs: int = limits.RUNS_PER_OWNER,
                 owner_bytes: int = limits.RUNS_PER_OWNER_BYTES, grace: float = limits.RUNS_GRACE_SECONDS,
                 orphan_age: float = limits.RUNS_ORPHAN_SECONDS, timeout: float = 10.0):
        self.root = Path(root) if root else default_root()
        self.max_runs, self.max_bytes = int(max_runs), int(max_bytes)
        self.owner_runs, self.owner_bytes, self.grace = int(owner_runs), int(owner_bytes), float(grace)
        self.orphan_age, self.timeout = float(orphan_age), float(timeout)
        self.weights = self.root / "weights"
        self.weights.mkdir(parents=True, exist_ok=True)
        with self._db() as db, db:
            db.execute(_SCHEMA)
            if "owner" not in {r[1] for r in db.execute("PRAGMA table_info(runs)")}:  # a store from before quotas
                db.execute("ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''")

    @contextlib.contextmanager
    def _db(self):
        db = sqlite3.connect(self.root / "runs.sqlite", timeout=self.timeout)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()

    def _path(self, run_id: str) -> Path:
        return self.weights / f"{run_id}.pt"

    def save(self, run: KeptRun, checkpoint: bytes, owner: str = "") -> str:
        """Keep ``run`` (its ``stored()`` values: label, config, history, test_accuracy, seconds, ips, stopped,
        device) and its checkpoint bytes for ``owner`` (the saving session's id); returns the new
        run's id. Makes room by the quotas (module docstring); ``UserError`` when the store is full of other
        owners' runs from within the grace period, ``sqlite3.Error`` when the database stays locked — in
        both cases nothing of the new run is left on disk."""
        from explainer.learning.runs import KeptRun

        if not isinstance(run, KeptRun):
            raise TypeError(f"RunStore.save takes a KeptRun, not {type(run).__name__}")
        values = run.stored()
        run_id = secrets.token_urlsafe(16)
        tag, size = owner_tag(owner), len(checkpoint)
        if size > min(self.owner_bytes, self.max_bytes):
            raise UserError("errors.store_run_too_big", mb=limits.mb(size), max=limits.mb(min(self.owner_bytes, self.max_bytes)))
        path = self._path(run_id)
        tmp = path.with_suffix(".tmp")
        gone: list[str] = []
        try:
            tmp.write_bytes(checkpoint)
            os.replace(tmp, path)
            with self._db() as db, db:
                db.execute("BEGIN IMMEDIATE")  # the plan and the insert see the same store (concurrent saves)
                now = time.time()
                rows = db.execute("SELECT id, created, owner, size FROM runs ORDER BY created, rowid").fetchall()
                gone = self._plan(rows, tag, size, now)
                if gone is None:
                    raise UserError("errors.store_full", hours=int(self.grace // 3600))
                db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                           (run_id, now, values["label"][:200], json.dumps(values["config"]),
                            json.dumps(values["history"]), values["test_accuracy"], values["seconds"], values["ips"],
                            int(values["stopped"]), values["device"][:40], size, tag))
                db.executemany("DELETE FROM runs WHERE id = ?", [(g,) for g in gone])
        except BaseException:
            tmp.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            raise
        for g in gone:
            self._path(g).unlink(missing_ok=True)
        self.sweep()
        return run_id

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
        """Drop the oldest runs until the store's caps hold (after the caps were lowered); returns the evicted ids."""
        gone = []
        with self._db() as db, db:
            rows = db.execute("SELECT id, size FROM runs ORDER BY created, rowid").fetchall()
            n, used = len(rows), sum(r[1] for r in rows)
            for run_id, size in rows:  # strictly oldest first
                if n <= self.max_runs and used <= self.max_bytes:
                    break
                gone.append(run_id)
                n, used = n - 1, used - size
            db.executemany("DELETE FROM runs WHERE id = ?", [(g,) for g in gone])
        for g in gone:
            self._path(g).unlink(missing_ok=True)
        return gone

    def sweep(self) -> list[str]:
        """Remove weights files (and half-written ``.tmp`` files) with no run in the database, older than
        ``orphan_age`` seconds (younger ones may belong to a save in progress); returns their names."""
        cutoff = time.time() - self.orphan_age
        candidates = []
        for entry in os.scandir(self.weights):
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    candidates.append(entry)
            except OSError:
                continue
        if not candidates:
            return []
        with self._db() as db:
            known = {r[0] for r in db.execute("SELECT id FROM runs")}
        removed = []
        for entry in candidates:
            stem, suffix = os.path.splitext(entry.name)
            if suffix == ".tmp" or stem not in known:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
        return removed

    def meta(self, run_id: str) -> dict | None:
        """The stored run without its weights, as plain values (``KeptRun.from_stored``'s ``row``), or None
        (unknown, evicted or malformed id)."""
        if not valid_id(run_id):
            return None
        with self._db() as db:
            row = db.execute("SELECT id, created, label, config, history, test_accuracy, seconds, ips, stopped, "
                             "device, size FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        keys = ("id", "created", "label", "config", "history", "test_accuracy", "seconds", "ips", "stopped",
                "device", "size")
        out = dict(zip(keys, row))
        for name in ("config", "history"):
            try:
                out[name] = json.loads(out[name])
            except (TypeError, ValueError):  # not JSON: a row another version (or a hand) wrote
                raise UserError("errors.run_record_bad", field=name) from None
        return out

    def checkpoint(self, run_id: str) -> bytes | None:
        if not valid_id(run_id):
            return None
        try:
            return self._path(run_id).read_bytes()
        except OSError:
            return None

    def load(self, run_id: str) -> KeptRun | None:
        """The run as the Train page keeps it (a ``KeptRun`` with its model and its checkpoint's configuration), or
        None (unknown id, or weights missing or not readable); ``UserError`` when its row is malformed (a missing,
        extra or mistyped field)."""
        from explainer.learning.runs import KeptRun
        from explainer.learning.train import load_checkpoint

        meta, blob = self.meta(run_id), self.checkpoint(run_id)
        if meta is None or blob is None:
            return None
        try:
            model, config = load_checkpoint(blob)
        except UserError:
            return None
        return KeptRun.from_stored(meta, model, config, blob)

    def ids(self) -> list[str]:
        """Every stored id, newest first (for maintenance and tests; pages never list the store)."""
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT id FROM runs ORDER BY created DESC, rowid DESC")]

    def owned(self, owner: str) -> list[str]:
        """The ids ``owner`` saved, newest first (for tests and maintenance)."""
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT id FROM runs WHERE owner = ? ORDER BY created DESC, rowid DESC",
                                             (owner_tag(owner),))]

    def total_bytes(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM runs").fetchone()[0])
