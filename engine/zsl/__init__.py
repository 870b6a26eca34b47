"""Zero-shot decision layer on top of a method's scores: the seen/unseen gate for GZSL
(:mod:`engine.zsl.gating`, the SynSE / SA-DVAE / MSF / FS-VAE gate). numpy and scikit-learn only."""

from engine.zsl.gating import (
    DEFAULT_SEED,
    DEFAULT_TEMPERATURES,
    DEFAULT_THRESHOLDS,
    PROTOCOLS,
    Gate,
    GateProtocol,
    fit_gate,
    gate_features,
    temperature_softmax,
)

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_TEMPERATURES",
    "DEFAULT_THRESHOLDS",
    "PROTOCOLS",
    "Gate",
    "GateProtocol",
    "fit_gate",
    "gate_features",
    "temperature_softmax",
]
