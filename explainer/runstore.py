"""Trained runs kept on disk, so a reload or a link that names a run (``?run=<id>``) brings it back.

One SQLite database (``runs.sqlite``) holds each run's configuration, curves and scores; its
weights sit beside it as ``weights/<id>.pt`` (``explainer.train.save_checkpoint``'s bytes, loaded
back with ``weights_only=True``). The folder is the per-user cache
(``$XDG_CACHE_HOME/convolution-explainer/runs`` or ``~/.cache/...``), or ``$CONVOLUTION_EXPLAINER_RUNS``
(tests point it at a temporary folder). The store is capped: after every save the oldest runs are
evicted until at most ``max_runs`` runs and ``max_bytes`` bytes of weights remain.

Privacy: a run id is 128 random bits (``secrets.token_urlsafe``), so ids can't be guessed; the
store has no "list everything" for pages — a session only knows the ids it created or was given
in a link.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import sqlite3
import time
from pathlib import Path

ENV = "CONVOLUTION_EXPLAINER_RUNS"
MAX_RUNS = 500
MAX_BYTES = 512 * 1024 * 1024
MAX_LINKED = 12  # ids one link may name
_ID = re.compile(r"[A-Za-z0-9_-]{22}")

_SCHEMA = """CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, created REAL NOT NULL, label TEXT NOT NULL, config TEXT NOT NULL,
    history TEXT NOT NULL, test_accuracy REAL, seconds REAL, ips REAL, stopped INTEGER, device TEXT,
    size INTEGER NOT NULL)"""


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


def _clean(value):
    """JSON-safe: NaN/inf become None (curves may hold NaN before the first evaluation)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class RunStore:
    def __init__(self, root: str | os.PathLike | None = None, *, max_runs: int = MAX_RUNS,
                 max_bytes: int = MAX_BYTES):
        self.root = Path(root) if root else default_root()
        self.max_runs, self.max_bytes = int(max_runs), int(max_bytes)
        self.weights = self.root / "weights"
        self.weights.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.root / "runs.sqlite", timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def _path(self, run_id: str) -> Path:
        return self.weights / f"{run_id}.pt"

    def save(self, run: dict, checkpoint: bytes) -> str:
        """Keep ``run`` (label, config (a TrainConfig or dict), history, test_accuracy, seconds, ips,
        stopped, device) and its checkpoint bytes; returns the new run's id."""
        run_id = secrets.token_urlsafe(16)
        config = run.get("config")
        config = config.to_dict() if hasattr(config, "to_dict") else dict(config or {})
        tmp = self._path(run_id).with_suffix(".tmp")
        tmp.write_bytes(checkpoint)
        os.replace(tmp, self._path(run_id))
        with self._db() as db:
            db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (run_id, time.time(), str(run.get("label", "run"))[:200], json.dumps(_clean(config)),
                        json.dumps(_clean(list(run.get("history") or []))), _clean(float(run.get("test_accuracy", 0))),
                        float(run.get("seconds", 0.0)), float(run.get("ips", 0.0)), int(bool(run.get("stopped"))),
                        str(run.get("device", "cpu"))[:40], len(checkpoint)))
        self.evict()
        return run_id

    def evict(self) -> list[str]:
        """Drop the oldest runs until the caps hold; returns the evicted ids."""
        gone = []
        with self._db() as db:
            rows = db.execute("SELECT id, size FROM runs ORDER BY created DESC, rowid DESC").fetchall()
            kept, total = 0, 0
            for run_id, size in rows:
                if kept < self.max_runs and total + size <= self.max_bytes:
                    kept += 1
                    total += size
                else:
                    gone.append(run_id)
            db.executemany("DELETE FROM runs WHERE id = ?", [(g,) for g in gone])
        for g in gone:
            self._path(g).unlink(missing_ok=True)
        return gone

    def meta(self, run_id: str) -> dict | None:
        """The stored run without its weights, or None (unknown, evicted or malformed id)."""
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
        out["config"], out["history"] = json.loads(out["config"]), json.loads(out["history"])
        out["stopped"] = bool(out["stopped"])
        return out

    def checkpoint(self, run_id: str) -> bytes | None:
        if not valid_id(run_id):
            return None
        try:
            return self._path(run_id).read_bytes()
        except OSError:
            return None

    def load(self, run_id: str) -> dict | None:
        """The run as the Train page keeps it (with ``model`` and ``config``), or None."""
        from explainer.errors import UserError
        from explainer.train import load_checkpoint

        meta, blob = self.meta(run_id), self.checkpoint(run_id)
        if meta is None or blob is None:
            return None
        try:
            model, config = load_checkpoint(blob)
        except UserError:
            return None
        meta.update(model=model, config=config, _ckpt=blob)
        return meta

    def ids(self) -> list[str]:
        """Every stored id, newest first (for maintenance and tests; pages never list the store)."""
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT id FROM runs ORDER BY created DESC, rowid DESC")]

    def total_bytes(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM runs").fetchone()[0])
