"""The seen/unseen gate for generalized zero-shot recognition (GZSL), as in the ZSSAR reference code.

One gate is shared by the SynSE -> SA-DVAE -> MSF -> FS-VAE line (docs/methods.md#the-gzsl-gate):
``skelemoa/synse-zsl: synse/gating_synse_model_{training,eval}.py``, copied into
``pha123661/SA-DVAE: gating_train.py, gating_eval.py`` and ``EHZ9NIWI7/MSF-GZSSAR: gating_*.py``
(which FS-VAE runs). Per test sample there are two classifiers: the zero-shot classifier over the
``k`` unseen classes (a softmax) and the skeleton encoder's seen-class head (logits). A binary
logistic regression on class-agnostic confidence features decides which one answers:

* features (:func:`gate_features`): ``[top-k sorted ZSL softmax, top-k sorted softmax(seen / T)]``,
  ``k`` = number of unseen classes, sorted descending so the gate never sees which class is which
  (docs/methods.md#reproduction-quirks, quirk 7) and transfers from the validation fold's classes to the test split's;
* fitting (:func:`fit_gate`) on the validation fold (seen = val-seen classes, "unseen" = val-unseen
  classes), label unseen = 0, seen = 1, searching the temperature ``T`` and threshold ``theta``;
* routing (:meth:`Gate.predict`): ``1 - p_unseen > theta`` -> the seen head's argmax over the seen
  classes, else the ZSL classifier's argmax over the unseen classes (``gating_eval.py``).

Where this differs from the reference code, on purpose:

* The reference *selects* ``theta`` with ``p_unseen > theta -> unseen`` (``gating_train.py``) but
  *applies* it with ``1 - p_unseen > theta -> seen`` (``gating_eval.py``): the same rule only at
  ``theta = 0.5``. By default the search here scores each ``theta`` with the rule that
  :meth:`Gate.predict` applies; ``threshold_rule="reference"`` selects as the reference does, to
  reproduce its numbers.
* Logistic regression is binomial with ``C = 2 * C_reference``, which is the same model as the
  reference's two-class multinomial fit (see :func:`_fit_logistic`).
* The reference softmaxes the seen head over all of its outputs (the Shift-GCN head has one per
  dataset class, unseen columns included); here ``seen_logits`` are whatever columns the caller
  gives, normally the seen classes only.

The fitted gate is plain numbers (:class:`Gate`, :meth:`Gate.to_dict`), so a run can write it as
JSON and a bundle can carry it without pickle.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

# The reference searches T in range(1, 10) and theta in range(25, 75) / 100 (0.25 ... 0.74). The
# grid is built from integers so 0.29 is exactly 29 / 100, as there (np.arange(0.25, 0.75, 0.01)
# accumulates float error).
DEFAULT_TEMPERATURES: tuple[float, ...] = tuple(float(t) for t in range(1, 10))
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(th / 100 for th in range(25, 75))
DEFAULT_SEED = 5  # every reference script seeds numpy with 5

ThresholdRule = Literal["consistent", "reference"]
_FORMAT = "zsar.gzsl_gate"
_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class GateProtocol:
    """How one reference repository turns the validation outputs into gate training data.

    Attributes:
        name: the variant key.
        subsample_seen: draw as many val-seen samples as there are val-unseen ones (SA-DVAE).
        held_out: ``(n_samples, is_seen) -> count`` held out from gate training to pick ``theta``.
        max_iter: the ``LogisticRegression`` iteration cap (the fit converges long before either).
        source: where it comes from.
    """

    name: str
    subsample_seen: bool
    held_out: Callable[[int, bool], int]
    max_iter: int
    source: str


PROTOCOLS: dict[str, GateProtocol] = {
    p.name: p
    for p in (
        GateProtocol(
            "sa_dvae", True, lambda n, _seen: min(300, n // 6), 50000, "pha123661/SA-DVAE: gating_train.py"
        ),
        GateProtocol(
            "msf", False, lambda n, _seen: n // 5, 5000, "EHZ9NIWI7/MSF-GZSSAR: gating_train.py (FS-VAE)"
        ),
        # SynSE holds out a fixed 300 val-unseen and 400 val-seen samples (its NTU folds are large:
        # 1,367 val-unseen on NTU-60 55/5); smaller folds (our real datasets) keep half for training.
        GateProtocol(
            "synse", False, lambda n, seen: min(400 if seen else 300, n // 2), 5000,
            "skelemoa/synse-zsl: synse/gating_synse_model_training.py",
        ),
    )
}


def temperature_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Row softmax of ``logits / T``, the reference's ``temp_scale``: ``exp((x + 1e-12) / T) / sum``.

    The row maximum is subtracted before ``exp`` so large logits cannot overflow; that and the
    ``1e-12`` shift cancel in the ratio, so the values are the reference's wherever it is finite.

    Args:
        logits: ``(N, C)`` seen-head logits.
        temperature: ``T > 0``; larger flattens.

    Returns:
        ``(N, C)`` float64 probabilities.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    z = (np.asarray(logits, dtype=np.float64) + 1e-12) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _top_k_sorted(p: np.ndarray, k: int) -> np.ndarray:
    return -np.sort(-p, axis=1)[:, :k]  # descending, as the reference's -np.sort(-p)


def _features(unseen_probs: np.ndarray, seen_logits: np.ndarray, temperature: float) -> np.ndarray:
    k = unseen_probs.shape[1]
    seen_probs = temperature_softmax(seen_logits, temperature)
    return np.concatenate([_top_k_sorted(unseen_probs, k), _top_k_sorted(seen_probs, k)], axis=1)


def _check_pair(
    unseen_probs: Any, seen_logits: Any, k: int | None, what: str
) -> tuple[np.ndarray, np.ndarray]:
    u = np.asarray(unseen_probs, dtype=np.float64)
    s = np.asarray(seen_logits, dtype=np.float64)
    if u.ndim != 2 or s.ndim != 2:
        raise ValueError(f"{what}: unseen_probs and seen_logits must be 2-D, got {u.shape} and {s.shape}")
    if len(u) != len(s):
        raise ValueError(f"{what}: unseen_probs has {len(u)} rows but seen_logits has {len(s)}")
    if k is not None and u.shape[1] != k:
        raise ValueError(
            f"{what}: the gate was fitted for k={k} unseen classes but unseen_probs has {u.shape[1]} columns"
        )
    if s.shape[1] < u.shape[1]:
        raise ValueError(
            f"{what}: seen_logits has {s.shape[1]} columns, fewer than the k={u.shape[1]} unseen classes "
            "whose top-k the gate needs"
        )
    if not (np.isfinite(u).all() and np.isfinite(s).all()):
        raise ValueError(f"{what}: inputs contain NaN or inf")
    return u, s


def gate_features(unseen_probs: np.ndarray, seen_logits: np.ndarray, temperature: float) -> np.ndarray:
    """Class-agnostic gate features ``[top-k sorted ZSL softmax, top-k sorted softmax(seen / T)]``.

    Args:
        unseen_probs: ``(N, k)`` ZSL-classifier softmax over the ``k`` unseen classes.
        seen_logits: ``(N, C_s)`` seen-head logits, ``C_s >= k``.
        temperature: softmax temperature of the seen head.

    Returns:
        ``(N, 2k)`` float64 features, each half sorted in descending order.
    """
    u, s = _check_pair(unseen_probs, seen_logits, None, "gate_features")
    return _features(u, s, temperature)


def _p_unseen(x: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    # scikit-learn's binary predict_proba: p_seen = expit(decision), column 0 = 1 - p_seen. Computed
    # the same way so a saved gate routes exactly as the fitted estimator did.
    return 1.0 - expit(x @ coef + intercept)


def _route_seen(p_unseen: np.ndarray, threshold: float) -> np.ndarray:
    return (1.0 - p_unseen) > threshold  # gating_eval.py: pred_test = 1 - prob_gate[:, 0] > thresh


def _fit_logistic(
    x: np.ndarray, y: np.ndarray, c_reference: float, max_iter: int
) -> tuple[np.ndarray, float]:
    """Fit the gate's logistic regression; returns ``(coef (2k,), intercept)`` of the seen log-odds.

    The reference fits ``LogisticRegression(C=1, solver="lbfgs", multi_class="multinomial")``.
    scikit-learn 1.9 has no ``multi_class`` and fits a two-class problem as a binomial model. The two
    are one model family, ``p_seen = sigmoid(w.x + b)`` with ``w = w_1 - w_0``, but the multinomial
    penalty ``(|w_0|^2 + |w_1|^2) / 2`` is smallest at ``w_1 = -w_0 = w / 2``, i.e. ``|w|^2 / 4``,
    half the binomial ``|w|^2 / 2``. So multinomial ``C`` equals binomial ``2 C`` (checked in
    ``tests/engine/test_gating.py`` against a direct minimisation of the multinomial objective).
    """
    model = LogisticRegression(C=2.0 * c_reference, solver="lbfgs", max_iter=max_iter)
    model.fit(x, y)
    return model.coef_[0].astype(np.float64), float(model.intercept_[0])


def _best_threshold(
    p_unseen: np.ndarray, y: np.ndarray, thresholds: Iterable[float], rule: ThresholdRule
) -> tuple[float, float]:
    best_acc, best_th = -1.0, float("nan")
    for th in thresholds:
        if rule == "reference":
            seen = ~(p_unseen > th)  # gating_train.py: y = prob[:, 0] > th; acc of (1 - y) == labels
        else:
            seen = _route_seen(p_unseen, th)
        acc = float(np.mean(seen == (y == 1)))
        if acc > best_acc:  # strict: the first (smallest) threshold wins ties, as in the reference
            best_acc, best_th = acc, float(th)
    return best_th, best_acc


@dataclasses.dataclass(frozen=True)
class Gate:
    """A fitted seen/unseen gate: plain numbers, JSON-safe through :meth:`to_dict`.

    Attributes:
        temperature: ``T`` of the seen-head softmax, for the features and the seen prediction.
        threshold: ``theta``; a sample goes to the seen head when ``1 - p_unseen > theta``.
        coef: ``(2k,)`` logistic-regression weights of the seen-vs-unseen log-odds (class 1 = seen).
        intercept: its bias.
        k: number of unseen classes the gate was fitted for (the top-k of each feature half).
        held_out_accuracy: gate accuracy on the held-out validation samples at ``(T, theta)``.
        variant: the reference protocol it was fitted with (:data:`PROTOCOLS`).
    """

    temperature: float
    threshold: float
    coef: tuple[float, ...]
    intercept: float
    k: int
    held_out_accuracy: float
    variant: str

    def __post_init__(self) -> None:
        # Tuples of Python floats keep the dataclass immutable, comparable with == and JSON-safe.
        object.__setattr__(self, "coef", tuple(float(c) for c in self.coef))
        for name in ("temperature", "threshold", "intercept", "held_out_accuracy"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "k", int(self.k))
        if self.k < 1:
            raise ValueError(f"Gate.k must be >= 1, got {self.k}")
        if len(self.coef) != 2 * self.k:
            raise ValueError(f"Gate.coef must have 2k = {2 * self.k} weights, got {len(self.coef)}")
        if not self.temperature > 0:
            raise ValueError(f"Gate.temperature must be positive, got {self.temperature}")
        if not np.isfinite(self.coef + (self.intercept, self.threshold)).all():
            raise ValueError("Gate coefficients and threshold must be finite")

    def features(self, unseen_probs: np.ndarray, seen_logits: np.ndarray) -> np.ndarray:
        """Gate features (:func:`gate_features`) at this gate's temperature, checking ``k``."""
        u, s = _check_pair(unseen_probs, seen_logits, self.k, "Gate")
        return _features(u, s, self.temperature)

    def p_unseen(self, unseen_probs: np.ndarray, seen_logits: np.ndarray) -> np.ndarray:
        """Probability that each sample belongs to an unseen class.

        Args:
            unseen_probs: ``(N, k)`` ZSL-classifier softmax over the unseen classes.
            seen_logits: ``(N, C_s)`` seen-head logits, ``C_s >= k``.

        Returns:
            ``(N,)`` float64 in [0, 1] (the reference's ``predict_proba[:, 0]``).
        """
        return _p_unseen(self.features(unseen_probs, seen_logits), np.asarray(self.coef), self.intercept)

    def route(self, unseen_probs: np.ndarray, seen_logits: np.ndarray) -> np.ndarray:
        """``(N,)`` bool: True where the sample goes to the seen head (``1 - p_unseen > theta``)."""
        return _route_seen(self.p_unseen(unseen_probs, seen_logits), self.threshold)

    def predict(
        self,
        unseen_probs: np.ndarray,
        seen_logits: np.ndarray,
        seen_ids: Iterable[int],
        unseen_ids: Iterable[int],
    ) -> np.ndarray:
        """GZSL prediction: route each sample, then take that classifier's argmax.

        Args:
            unseen_probs: ``(N, k)`` ZSL softmax; column ``j`` is class ``unseen_ids[j]`` (the
                reference uses the sorted unseen ids).
            seen_logits: ``(N, len(seen_ids))`` seen-head logits; column ``j`` is ``seen_ids[j]``.
            seen_ids: global ids of the seen classes.
            unseen_ids: global ids of the unseen classes.

        Returns:
            ``(N,)`` int64 global class ids.
        """
        seen = np.asarray(list(seen_ids), dtype=np.int64)
        unseen = np.asarray(list(unseen_ids), dtype=np.int64)
        u, s = _check_pair(unseen_probs, seen_logits, self.k, "Gate.predict")
        if u.shape[1] != len(unseen):
            raise ValueError(f"unseen_probs has {u.shape[1]} columns but {len(unseen)} unseen_ids were given")
        if s.shape[1] != len(seen):
            raise ValueError(f"seen_logits has {s.shape[1]} columns but {len(seen)} seen_ids were given")
        p_unseen = _p_unseen(_features(u, s, self.temperature), np.asarray(self.coef), self.intercept)
        to_seen = _route_seen(p_unseen, self.threshold)
        # argmax of softmax(seen / T) is the argmax of the logits: T changes the routing, not the class.
        return np.where(to_seen, seen[np.argmax(s, axis=1)], unseen[np.argmax(u, axis=1)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (Python floats round-trip exactly through ``json``)."""
        return {"format": _FORMAT, "version": _FORMAT_VERSION, **dataclasses.asdict(self),
                "coef": list(self.coef)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Gate:
        """Rebuild a gate written by :meth:`to_dict`.

        Raises:
            ValueError: when ``data`` is not a gate description of a known version.
        """
        if data.get("format") != _FORMAT or data.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"not a {_FORMAT} v{_FORMAT_VERSION} description (format={data.get('format')!r}, "
                f"version={data.get('version')!r})"
            )
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"gate description lacks {missing}")
        return cls(**{n: data[n] for n in names})


def fit_gate(
    unseen_probs_unseen: np.ndarray,
    seen_logits_unseen: np.ndarray,
    unseen_probs_seen: np.ndarray,
    seen_logits_seen: np.ndarray,
    *,
    variant: str = "sa_dvae",
    temperatures: Iterable[float] = DEFAULT_TEMPERATURES,
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    fixed_temperature: float | None = None,
    fixed_threshold: float | None = None,
    C: float = 1.0,
    max_iter: int | None = None,
    threshold_rule: ThresholdRule = "consistent",
    seed: int = DEFAULT_SEED,
) -> Gate:
    """Fit the seen/unseen gate on validation-fold outputs, searching ``(T, theta)``.

    For each temperature: build the features, hold out part of each side (the variant's protocol),
    fit a logistic regression on the rest (unseen = 0, seen = 1), and pick the threshold with the
    best held-out gate accuracy; keep the temperature whose best accuracy is highest. Ties keep the
    first temperature and the first threshold, as the reference does. The random draws replay the
    reference's ``np.random.seed(seed)`` sequence (seen sub-sample, then per temperature the two
    held-out draws and the shuffle), so with the same inputs the same samples are held out.

    Args:
        unseen_probs_unseen: ``(N_u, k)`` ZSL softmax on val-unseen samples (reference ``unseen_zs``).
        seen_logits_unseen: ``(N_u, C_s)`` seen-head logits on them (``ztest_out.npy``).
        unseen_probs_seen: ``(N_s, k)`` ZSL softmax on held-out val-seen samples (``seen_zs``).
        seen_logits_seen: ``(N_s, C_s)`` seen-head logits on them (``val_out.npy``).
        variant: ``"sa_dvae"``, ``"msf"`` (also FS-VAE) or ``"synse"`` (:data:`PROTOCOLS`).
        temperatures: the ``T`` grid, default 1 ... 9.
        thresholds: the ``theta`` grid, default 0.25 ... 0.74.
        fixed_temperature: use this ``T`` only (SA-DVAE NTU-120 and FS-VAE/MSF: 2).
        fixed_threshold: use this ``theta`` only (FS-VAE/MSF: 0.5).
        C: inverse L2 strength as the reference states it (multinomial ``C``; see :func:`_fit_logistic`).
        max_iter: L-BFGS iteration cap; default the variant's (50000 SA-DVAE, 5000 MSF/SynSE).
        threshold_rule: ``"consistent"`` scores each ``theta`` with the rule :meth:`Gate.predict`
            applies; ``"reference"`` with ``gating_train.py``'s mirrored rule (module docstring).
        seed: seed of the reference's numpy draws.

    Returns:
        The fitted :class:`Gate`.

    Raises:
        ValueError: on mismatched shapes, an unknown variant, empty grids, or too few samples to hold
            any out.
    """
    if variant not in PROTOCOLS:
        raise ValueError(f"unknown gate variant {variant!r}; known: {sorted(PROTOCOLS)}")
    if threshold_rule not in ("consistent", "reference"):
        raise ValueError(f"threshold_rule must be 'consistent' or 'reference', got {threshold_rule!r}")
    proto = PROTOCOLS[variant]
    zs_u, out_u = _check_pair(unseen_probs_unseen, seen_logits_unseen, None, "fit_gate (val-unseen)")
    zs_s, out_s = _check_pair(unseen_probs_seen, seen_logits_seen, None, "fit_gate (val-seen)")
    if zs_u.shape[1] != zs_s.shape[1]:
        raise ValueError(
            f"fit_gate: the ZSL softmax has {zs_u.shape[1]} columns on val-unseen samples but "
            f"{zs_s.shape[1]} on val-seen samples; both must be over the same k unseen classes"
        )
    if out_u.shape[1] != out_s.shape[1]:
        raise ValueError(
            f"fit_gate: seen logits have {out_u.shape[1]} columns on val-unseen samples but "
            f"{out_s.shape[1]} on val-seen samples"
        )
    k = zs_u.shape[1]
    temps = [float(fixed_temperature)] if fixed_temperature is not None else [float(t) for t in temperatures]
    ths = [float(fixed_threshold)] if fixed_threshold is not None else [float(t) for t in thresholds]
    if not temps or not ths:
        raise ValueError("fit_gate: empty temperature or threshold grid")
    if any(not t > 0 for t in temps):
        raise ValueError(f"fit_gate: temperatures must be positive, got {temps}")

    # RandomState, not default_rng: it replays np.random.seed(5) + np.random.choice of the reference.
    rng = np.random.RandomState(seed)
    if proto.subsample_seen:
        keep = rng.choice(np.arange(len(out_s)), min(len(out_u), len(out_s)), replace=False)
        zs_s, out_s = zs_s[keep], out_s[keep]
    n_u, n_s = len(zs_u), len(zs_s)
    h_u, h_s = proto.held_out(n_u, False), proto.held_out(n_s, True)
    if not (1 <= h_u < n_u and 1 <= h_s < n_s):
        raise ValueError(
            f"fit_gate ({variant}): {n_u} val-unseen and {n_s} val-seen samples are too few to hold out "
            f"{h_u} and {h_s} for choosing the threshold and still train on the rest"
        )
    iters = proto.max_iter if max_iter is None else int(max_iter)

    best: Gate | None = None
    for t in temps:
        f_u, f_s = _features(zs_u, out_u, t), _features(zs_s, out_s, t)
        val_u = rng.choice(np.arange(n_u), h_u, replace=False)
        val_s = rng.choice(np.arange(n_s), h_s, replace=False)
        tr_u, tr_s = np.setdiff1d(np.arange(n_u), val_u), np.setdiff1d(np.arange(n_s), val_s)
        x_tr = np.concatenate([f_u[tr_u], f_s[tr_s]])
        y_tr = np.array([0] * len(tr_u) + [1] * len(tr_s))
        x_val = np.concatenate([f_u[val_u], f_s[val_s]])
        y_val = np.array([0] * len(val_u) + [1] * len(val_s))
        order = np.arange(len(x_tr))
        rng.shuffle(order)  # only the sample order L-BFGS sees; kept so the draws stay in step
        coef, intercept = _fit_logistic(x_tr[order], y_tr[order], C, iters)
        th, acc = _best_threshold(_p_unseen(x_val, coef, intercept), y_val, ths, threshold_rule)
        logger.info("gate T=%g: held-out accuracy %.4f at theta=%.2f (%d train, %d held out)",
                    t, acc, th, len(x_tr), len(x_val))
        if best is None or acc > best.held_out_accuracy:
            best = Gate(t, th, tuple(coef), intercept, k, acc, variant)
    assert best is not None  # temps is non-empty
    logger.info("gate (%s): T=%g theta=%.2f held-out accuracy %.4f", variant, best.temperature,
                best.threshold, best.held_out_accuracy)
    return best
