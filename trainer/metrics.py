"""Evaluation metrics for zero-shot and generalized zero-shot action recognition (numpy only).

* ZSL (docs/methods.md#setting-and-metrics): :func:`top1` over the unseen-class test samples, classified among
  the unseen classes only.
* GZSL: :func:`gzsl_accuracies` gives the seen accuracy S, the unseen accuracy U and their
  :func:`harmonic_mean` H = 2SU / (S + U), computed as the ZSSAR reference code computes them
  (``skelemoa/synse-zsl: synse/gating_synse_model_eval.py``, copied unchanged into
  ``pha123661/SA-DVAE: gating_eval.py`` and ``EHZ9NIWI7/MSF-GZSSAR: gating_eval.py``): S and U are
  **per-sample** accuracies (``seen_count / tot_seen``), not means of per-class accuracies.
  :func:`mean_class_accuracy` is there for the per-class view (the image-GZSL convention), which
  these papers do not report.

Every value is a fraction in [0, 1]; the reporting layer multiplies by 100. Predictions and labels
are global class ids (indices into the dataset's class list).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def _as_label_pair(pred: Iterable[int], labels: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred)
    y = np.asarray(labels)
    if p.ndim != 1 or y.ndim != 1:
        raise ValueError(f"pred and labels must be 1-D, got shapes {p.shape} and {y.shape}")
    if p.shape != y.shape:
        raise ValueError(f"pred and labels differ in length: {len(p)} vs {len(y)}")
    for name, a in (("pred", p), ("labels", y)):
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must hold integer class ids, got dtype {a.dtype}")
    return p.astype(np.int64, copy=False), y.astype(np.int64, copy=False)


def _as_class_ids(classes: Iterable[int], name: str = "classes") -> np.ndarray:
    c = np.asarray(list(classes) if not isinstance(classes, np.ndarray) else classes)
    if c.ndim != 1 or (c.size and not np.issubdtype(c.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D sequence of integer class ids")
    if len(np.unique(c)) != len(c):
        raise ValueError(f"{name} has repeated class ids")
    return c.astype(np.int64, copy=False)


def top1(pred: Iterable[int], labels: Iterable[int]) -> float:
    """Top-1 accuracy: the fraction of samples whose prediction equals the label.

    Args:
        pred: ``(N,)`` predicted class ids.
        labels: ``(N,)`` true class ids.

    Returns:
        Accuracy in [0, 1].

    Raises:
        ValueError: on empty, mismatched or non-integer inputs.
    """
    p, y = _as_label_pair(pred, labels)
    if not len(y):
        raise ValueError("top1 of zero samples is undefined")
    return float(np.mean(p == y))


def top_k(ranked: np.ndarray, labels: Iterable[int], k: int) -> float:
    """Top-k accuracy: the fraction of samples whose label is among their first ``k`` ranked classes.

    Args:
        ranked: ``(N, C)`` class ids per sample, best first (``np.argsort(-scores, axis=1)``).
        labels: ``(N,)`` true class ids.
        k: how many ranks count (1 is :func:`top1` of the first column).

    Raises:
        ValueError: on empty or mismatched inputs, or k < 1.
    """
    r = np.asarray(ranked)
    if r.ndim != 2 or k < 1:
        raise ValueError(f"ranked must be (N, C) and k >= 1, got shape {r.shape} and k={k}")
    _, y = _as_label_pair(r[:, 0], labels)
    if not len(y):
        raise ValueError("top_k of zero samples is undefined")
    return float(np.mean((r[:, :k] == y[:, None]).any(axis=1)))


def per_class_accuracy(
    pred: Iterable[int], labels: Iterable[int], classes: Iterable[int]
) -> dict[int, float]:
    """Accuracy over the samples of each class (recall per class).

    Args:
        pred: ``(N,)`` predicted class ids.
        labels: ``(N,)`` true class ids.
        classes: the class ids to report, in the order wanted.

    Returns:
        ``{class_id: accuracy}``; a class with no samples in ``labels`` maps to ``nan`` so that a
        missing class is visible rather than silently 0.
    """
    p, y = _as_label_pair(pred, labels)
    out: dict[int, float] = {}
    for c in _as_class_ids(classes):
        mask = y == c
        out[int(c)] = float(np.mean(p[mask] == c)) if mask.any() else float("nan")
    return out


def mean_class_accuracy(
    pred: Iterable[int], labels: Iterable[int], classes: Iterable[int] | None = None
) -> float:
    """Mean of the per-class accuracies (every class weighs the same, whatever its sample count).

    Args:
        pred: ``(N,)`` predicted class ids.
        labels: ``(N,)`` true class ids.
        classes: the classes to average over; default the classes present in ``labels``. Classes
            with no samples are left out of the mean.

    Returns:
        Mean class accuracy in [0, 1].

    Raises:
        ValueError: when none of the classes has a sample.
    """
    _, y = _as_label_pair(pred, labels)
    ids = np.unique(y) if classes is None else classes
    accs = [a for a in per_class_accuracy(pred, labels, ids).values() if not np.isnan(a)]
    if not accs:
        raise ValueError("mean_class_accuracy: no class has any sample")
    return float(np.mean(accs))


def harmonic_mean(s: float, u: float) -> float:
    """Harmonic mean H = 2su / (s + u) of the seen and unseen accuracies; 0 when both are 0.

    Args:
        s: seen accuracy, a fraction (or percentage: H keeps the unit).
        u: unseen accuracy, same unit.

    Returns:
        H, in the unit of the inputs.
    """
    if s < 0 or u < 0:
        raise ValueError(f"accuracies must be non-negative, got s={s}, u={u}")
    # The reference code divides by s + u unguarded; a gate that routes everything one way gives
    # s + u == 0 only when both sides are wrong everywhere, and H = 0 is the limit there.
    return 0.0 if s + u == 0 else float(2.0 * s * u / (s + u))


def confusion(pred: Iterable[int], labels: Iterable[int], classes: Iterable[int]) -> np.ndarray:
    """Confusion matrix over ``classes``: rows are true classes, columns predicted classes.

    Follows scikit-learn's ``confusion_matrix(labels=classes)`` convention: a sample whose true or
    predicted class is not in ``classes`` is not counted, so the total is the number of samples with
    both in ``classes``.

    Args:
        pred: ``(N,)`` predicted class ids.
        labels: ``(N,)`` true class ids.
        classes: the ``K`` class ids, in row/column order.

    Returns:
        ``(K, K)`` int64 counts.
    """
    p, y = _as_label_pair(pred, labels)
    c = _as_class_ids(classes)
    index = {int(k): i for i, k in enumerate(c)}
    rows = np.array([index.get(int(v), -1) for v in y], dtype=np.int64)
    cols = np.array([index.get(int(v), -1) for v in p], dtype=np.int64)
    keep = (rows >= 0) & (cols >= 0)
    out = np.zeros((len(c), len(c)), dtype=np.int64)
    np.add.at(out, (rows[keep], cols[keep]), 1)
    return out


def gzsl_accuracies(
    pred: Iterable[int], labels: Iterable[int], seen_ids: Iterable[int], unseen_ids: Iterable[int]
) -> dict[str, float]:
    """GZSL seen accuracy S, unseen accuracy U and harmonic mean H.

    As in the reference ``gating_eval.py`` (module docstring): S is the fraction of the test samples
    of seen classes predicted exactly right among all classes, U the same over samples of unseen
    classes; both are per-sample, not per-class means.

    Args:
        pred: ``(N,)`` predicted global class ids (any of seen or unseen).
        labels: ``(N,)`` true global class ids, each in ``seen_ids`` or ``unseen_ids``.
        seen_ids: the seen (training) class ids.
        unseen_ids: the unseen class ids; disjoint from ``seen_ids``.

    Returns:
        ``{"seen": S, "unseen": U, "h": H}``, fractions in [0, 1].

    Raises:
        ValueError: on overlapping class sets, a label in neither set (the reference code would
            count it as unseen silently), or no test sample of one of the two sets.
    """
    p, y = _as_label_pair(pred, labels)
    seen = _as_class_ids(seen_ids, "seen_ids")
    unseen = _as_class_ids(unseen_ids, "unseen_ids")
    if np.intersect1d(seen, unseen).size:
        raise ValueError(f"seen_ids and unseen_ids overlap: {np.intersect1d(seen, unseen).tolist()}")
    is_seen = np.isin(y, seen)
    is_unseen = np.isin(y, unseen)
    if not np.all(is_seen | is_unseen):
        stray = np.unique(y[~(is_seen | is_unseen)]).tolist()
        raise ValueError(f"labels {stray[:10]} are in neither seen_ids nor unseen_ids")
    if not is_seen.any() or not is_unseen.any():
        raise ValueError(
            f"GZSL needs test samples of both seen and unseen classes, got {int(is_seen.sum())} seen "
            f"and {int(is_unseen.sum())} unseen"
        )
    s = float(np.mean(p[is_seen] == y[is_seen]))
    u = float(np.mean(p[is_unseen] == y[is_unseen]))
    return {"seen": s, "unseen": u, "h": harmonic_mean(s, u)}
