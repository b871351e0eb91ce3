"""A kept run: a finished training (or a checkpoint a learner loaded) as the Train page keeps it, the other lessons
use it (Network, Backprop, Optimizers) and the run store (``explainer.engine.runstore``) writes it.

One dataclass, made in one place, here: ``KeptRun.trained`` (a training's result), ``KeptRun.uploaded`` (a loaded
checkpoint, scored later) and ``KeptRun.from_stored`` (a row of the run store, checked field by field: a missing,
extra or mistyped field is a ``UserError``, never a traceback); ``stored()`` gives the plain values the store
writes (JSON-able; NaN becomes None).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explainer.errors import UserError
from explainer.learning.train import TrainConfig, TrainResult

# what the run store keeps of a run besides its weights, and the types it reads back (sqlite gives ints for REALs
# written as whole numbers and 0/1 for a bool)
_NUMBER = (int, float)
STORED_FIELDS = {"id": str, "created": _NUMBER, "label": str, "config": dict, "history": list,
                 "test_accuracy": (*_NUMBER, type(None)), "seconds": _NUMBER, "ips": _NUMBER, "stopped": int,
                 "device": str, "size": int}


@dataclass(eq=False)  # compared by identity: a run holds a model and arrays
class KeptRun:
    label: str
    config: TrainConfig
    history: list[dict]                 # the curves: one dict per evaluation (epochs_done, train_acc, test_acc, …)
    test_accuracy: float                # NaN while its test score is on its way
    seconds: float = 0.0                # training time
    ips: float = 0.0                    # images per second while training
    stopped: bool = False               # stopped by the learner before its last epoch
    device: str = "cpu"
    model: Any = None                   # the trained torch module
    id: str | None = None               # the run store's id, once kept
    created: float | None = None        # when the store kept it (a run read back from the store)
    size: int | None = None             # its weights' bytes in the store (a run read back from the store)
    # this session's working state, never stored
    checkpoint: bytes | None = None     # ``save_checkpoint``'s bytes, made once
    evaluation: dict | None = None      # the worker's test evaluation: accuracy, predictions, probabilities
    scoring: Any = None                 # the engine's job scoring it (an ``EvaluationJob``) while it runs
    score_asked: bool = False           # a scoring was started (or could not be): it is not started again
    weights_key: str | None = None      # the weights' fingerprint (how the Network page names a run with no id)

    @classmethod
    def trained(cls, label: str, result: TrainResult) -> "KeptRun":
        """A finished training: the worker scored the test set, so its evaluation comes with it."""
        return cls(label=label, config=result.config, history=result.history, test_accuracy=result.test_accuracy,
                   seconds=result.train_seconds, ips=result.images_per_second, stopped=result.stopped,
                   device=result.device, model=result.model,
                   evaluation={"accuracy": result.test_accuracy, "predictions": result.predictions,
                               "probabilities": result.probabilities})

    @classmethod
    def uploaded(cls, label: str, model, config: TrainConfig, scoring=None) -> "KeptRun":
        """A checkpoint a learner loaded: no curves, its score ("…") on its way from ``scoring``."""
        return cls(label=label, config=config, history=[], test_accuracy=float("nan"), model=model,
                   scoring=scoring, score_asked=True)

    @classmethod
    def from_stored(cls, row: dict, model, config: TrainConfig, checkpoint: bytes | None = None) -> "KeptRun":
        """A run the store read back (``row``: exactly ``STORED_FIELDS``), with the model and configuration of its
        checkpoint; ``UserError("errors.run_record_bad")`` for a missing, extra or mistyped field."""
        if not isinstance(row, dict):
            raise UserError("errors.run_record_bad", field=type(row).__name__)
        odd = sorted(map(str, set(row) ^ set(STORED_FIELDS)))  # missing or extra
        if odd:
            raise UserError("errors.run_record_bad", field=odd[0][:40])
        for name, kind in STORED_FIELDS.items():
            value = row[name]
            if not isinstance(value, kind) or (isinstance(value, bool) and name != "stopped"):
                raise UserError("errors.run_record_bad", field=name)
        if row["stopped"] not in (0, 1):
            raise UserError("errors.run_record_bad", field="stopped")
        if not all(isinstance(h, dict) and all(isinstance(k, str) for k in h) for h in row["history"]):
            raise UserError("errors.run_record_bad", field="history")
        acc = row["test_accuracy"]
        return cls(label=row["label"], config=config, history=row["history"],
                   test_accuracy=float("nan") if acc is None else float(acc), seconds=float(row["seconds"]),
                   ips=float(row["ips"]), stopped=bool(row["stopped"]), device=row["device"], model=model,
                   id=row["id"], created=float(row["created"]), size=row["size"], checkpoint=checkpoint)

    def stored(self) -> dict:
        """What the run store writes besides the weights: plain, JSON-able values (NaN/inf → None)."""
        return {"label": str(self.label), "config": _clean(self.config.to_dict()),
                "history": _clean(list(self.history or [])), "test_accuracy": _clean(float(self.test_accuracy)),
                "seconds": float(self.seconds), "ips": float(self.ips), "stopped": bool(self.stopped),
                "device": str(self.device)}


def _clean(value):
    """JSON-safe: NaN/inf become None (curves may hold NaN before the first evaluation)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
