"""Confusion matrix, one cell's digits and the most confident mistakes, on small hand-made cases."""
from __future__ import annotations

import numpy as np
import pytest

from explainer.learning.evaluation import accuracy, cell_indices, confusion_matrix, worst_mistakes


def test_confusion_matrix_counts_each_pair():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    cm = confusion_matrix(y_true, y_pred, n_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert cm.dtype == np.int64 and cm.sum() == 6
    assert confusion_matrix([], [], 10).shape == (10, 10)


def test_confusion_matrix_agrees_with_a_loop():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    loop = np.zeros((10, 10), dtype=np.int64)
    for a, b in zip(t, p):
        loop[a, b] += 1
    assert np.array_equal(confusion_matrix(t, p), loop)


def test_confusion_matrix_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        confusion_matrix([1, 2], [1])


def test_cell_indices():
    y_true = np.array([4, 4, 9, 4, 4])
    y_pred = np.array([9, 4, 4, 9, 9])
    assert cell_indices(y_true, y_pred, 4, 9).tolist() == [0, 3, 4]
    assert cell_indices(y_true, y_pred, 4, 9, limit=2).tolist() == [0, 3]
    assert cell_indices(y_true, y_pred, 1, 1).tolist() == []


def test_worst_mistakes_most_confident_first():
    y_true = np.array([0, 1, 2, 3, 4])
    y_pred = np.array([0, 7, 5, 3, 6])  # wrong at 1, 2, 4
    probs = np.full((5, 10), 0.01)
    probs[1, 7], probs[2, 5], probs[4, 6] = 0.6, 0.95, 0.6  # 1 and 4 tie: test-set order
    probs[0, 0] = 0.99  # right answers never count, however confident
    assert worst_mistakes(y_true, y_pred, probs).tolist() == [2, 1, 4]
    assert worst_mistakes(y_true, y_pred, probs, k=1).tolist() == [2]
    assert worst_mistakes(y_true, y_true, probs).tolist() == []


def test_accuracy():
    assert accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75
