"""trainer.metrics on hand-made cases: top-1, per-class and mean-class accuracy, H, confusion, and the
GZSL S/U/H convention of the ZSSAR reference code (per-sample accuracy within seen / unseen)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.metrics import (
    confusion,
    gzsl_accuracies,
    harmonic_mean,
    mean_class_accuracy,
    per_class_accuracy,
    top1,
)


def test_top1():
    assert top1([0, 1, 2, 2], [0, 1, 1, 2]) == pytest.approx(0.75)
    assert top1(np.array([3]), np.array([3])) == 1.0
    assert top1([1, 1], [0, 0]) == 0.0


@pytest.mark.parametrize("s, u, h", [(0.5, 1.0, 2 / 3), (1.0, 0.5, 2 / 3), (0.0, 0.0, 0.0), (0.0, 0.9, 0.0),
                                     (1.0, 1.0, 1.0), (62.3, 70.8, 2 * 62.3 * 70.8 / 133.1)])
def test_harmonic_mean(s, u, h):
    assert harmonic_mean(s, u) == pytest.approx(h)


def test_harmonic_mean_rejects_negative():
    with pytest.raises(ValueError):
        harmonic_mean(-0.1, 0.5)


def test_per_class_and_mean_class_accuracy():
    labels = [0, 0, 0, 0, 1, 2, 2]
    pred = [0, 0, 0, 1, 0, 2, 1]
    acc = per_class_accuracy(pred, labels, [0, 1, 2, 3])
    assert acc[0] == pytest.approx(0.75) and acc[1] == 0.0 and acc[2] == pytest.approx(0.5)
    assert math.isnan(acc[3])  # no sample of class 3: visible, not 0
    assert list(acc) == [0, 1, 2, 3]
    assert mean_class_accuracy(pred, labels) == pytest.approx((0.75 + 0.0 + 0.5) / 3)
    assert mean_class_accuracy(pred, labels, [0, 2, 3]) == pytest.approx((0.75 + 0.5) / 2)
    with pytest.raises(ValueError):
        mean_class_accuracy(pred, labels, [7])


def test_confusion_rows_true_columns_predicted_and_sums():
    labels = np.array([0, 0, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 2, 0, 5])  # 5 is outside the class list: not counted (sklearn convention)
    m = confusion(pred, labels, [0, 1, 2])
    assert m.dtype == np.int64 and m.shape == (3, 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    assert m.sum() == 5
    np.testing.assert_array_equal(m.sum(axis=1), [2, 1, 2])
    assert np.trace(m) == 3
    # With every prediction inside the classes, the total is the sample count.
    assert confusion(labels, labels, [2, 1, 0]).sum() == len(labels)
    np.testing.assert_array_equal(np.diag(confusion(labels, labels, [2, 1, 0])), [3, 1, 2])


def test_gzsl_accuracies_are_per_sample_within_each_group():
    seen, unseen = [0, 1], [2, 3]
    # seen samples: class 0 x3 (all right), class 1 x1 (wrong) -> per-sample S = 3/4 (per-class would be 1/2)
    # unseen samples: class 2 x1 (right), class 3 x3 (one right) -> U = 2/4 (per-class would be 2/3)
    labels = [0, 0, 0, 1, 2, 3, 3, 3]
    pred = [0, 0, 0, 2, 2, 3, 0, 2]
    r = gzsl_accuracies(pred, labels, seen, unseen)
    assert r["seen"] == pytest.approx(0.75)
    assert r["unseen"] == pytest.approx(0.5)
    assert r["h"] == pytest.approx(2 * 0.75 * 0.5 / 1.25)
    assert set(r) == {"seen", "unseen", "h"}


def test_gzsl_trivial_routings_give_zero_h():
    seen, unseen = [0, 1], [2]
    labels = np.array([0, 1, 2, 2])
    all_seen = gzsl_accuracies([0, 1, 0, 1], labels, seen, unseen)
    assert all_seen == {"seen": 1.0, "unseen": 0.0, "h": 0.0}
    all_unseen = gzsl_accuracies([2, 2, 2, 2], labels, seen, unseen)
    assert all_unseen == {"seen": 0.0, "unseen": 1.0, "h": 0.0}


@pytest.mark.parametrize(
    "pred, labels, seen, unseen, match",
    [
        ([0, 1], [0], [0], [1], "length"),
        ([0, 1], [0, 1], [0, 1], [1], "overlap"),
        ([0, 4], [0, 4], [0], [1], "neither"),
        ([0, 0], [0, 0], [0], [1], "both seen and unseen"),
        ([0.5, 1.0], [0, 1], [0], [1], "integer"),
    ],
)
def test_gzsl_accuracies_rejects_bad_input(pred, labels, seen, unseen, match):
    with pytest.raises(ValueError, match=match):
        gzsl_accuracies(pred, labels, seen, unseen)


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        top1([], [])
    with pytest.raises(ValueError):
        top1([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError):
        confusion([0], [0], [0, 0])


def test_top_k_counts_a_label_among_the_first_k_ranks():
    from trainer.metrics import top_k

    ranked = np.array([[2, 0, 1], [0, 1, 2], [1, 2, 0], [2, 1, 0]])
    labels = [2, 1, 0, 0]
    assert top_k(ranked, labels, 1) == top1(ranked[:, 0], labels) == 0.25
    assert top_k(ranked, labels, 2) == 0.5
    assert top_k(ranked, labels, 3) == 1.0 == top_k(ranked, labels, 10)
    for bad in ((ranked, labels, 0), (ranked[0], labels, 1), (ranked[:0], [], 1)):
        with pytest.raises(ValueError):
            top_k(*bad)
