"""What a trained classifier gets wrong: the confusion matrix, the digits of one cell, the most confident mistakes.

Pure NumPy on the labels, predictions and class probabilities of a test set (the engine's worker
computes those; see ``explainer.engine.jobs``).
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, n_classes: int = 10) -> np.ndarray:
    """``cm[t, p]`` = how many examples of true class ``t`` were predicted as ``p`` (int64, n × n)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.shape[0] if y_true.ndim else 0} labels but "
                         f"{y_pred.shape[0] if y_pred.ndim else 0} predictions")
    ok = (y_true >= 0) & (y_true < n_classes) & (y_pred >= 0) & (y_pred < n_classes)
    return np.bincount(y_true[ok] * n_classes + y_pred[ok], minlength=n_classes * n_classes).reshape(
        n_classes, n_classes)


def cell_indices(y_true, y_pred, true: int, pred: int, limit: int = 24) -> np.ndarray:
    """Indices of (at most ``limit``) examples of class ``true`` predicted as ``pred``, in test-set order."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return np.flatnonzero((y_true == true) & (y_pred == pred))[:max(0, int(limit))]


def worst_mistakes(y_true, y_pred, probabilities, k: int = 16) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest confidence (probability of the
    predicted class), most confident first; ties keep test-set order."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    probabilities = np.asarray(probabilities)
    wrong = np.flatnonzero(y_true != y_pred)
    conf = probabilities[wrong, y_pred[wrong]]
    return wrong[np.argsort(-conf, kind="stable")][:max(0, int(k))]


def accuracy(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if y_true.size else float("nan")
