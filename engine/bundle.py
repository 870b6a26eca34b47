"""Bundles: one self-describing file that the app and ``zsar recognize`` load without the trainer.

A bundle (the architecture) holds the skeleton encoder's and the method's weights, their resolved
configs, the preprocessing, the text encoder and text mode, the class set and split it was trained
on, the layout its training data came from ("train as you infer"), the streaming window, a model
card, a format version and the sha256 of the weights.

File format: a `safetensors <https://github.com/huggingface/safetensors>`_ file. Tensors are named
``encoder.*`` and ``method.*``; everything else is one JSON document in the header's
``__metadata__["zsar_bundle"]``. Opening a bundle never runs code from it: no pickle anywhere, and
a file that looks like a pickle or a torch zip checkpoint is refused before anything parses it.
Every way a file can be wrong (missing, truncated, damaged header, altered weights, weights that do
not fit the configs, a newer format) is a :class:`~engine.errors.ModelFileError` naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.errors import ModelFileError
from engine.io.atomic import atomic_write_bytes
from engine.skeleton.preprocess import PreprocessConfig
from engine.types import ClassSet

FORMAT = "zsar-bundle"
FORMAT_VERSION = 1
SUFFIX = ".zsar"
_MAX_HEADER = 64 * 1024 * 1024  # a header past this is not a bundle's (ours are a few kB)


@dataclass(frozen=True)
class TextConfig:
    """Which text encoder makes the class embeddings, and from which texts.

    Attributes:
        encoder: text-encoder registry key (``"minilm"``, ``"clip-vit-b-32"``, ``"table"``).
        options: its options (JSON values), e.g. a CLIP checkpoint path.
        mode: text mode, one of ``engine.text.prompts.TEXT_MODES`` (``"name"``, ``"templates"``,
            ``"name+global+local"`` ...).
        templates: prompt templates for ``mode="templates"``.
        encoder_id: the id of the exact encoder + weights used in training; loading checks it.
    """

    encoder: str = "minilm"
    options: dict[str, Any] = field(default_factory=dict)
    mode: str = "name"
    templates: tuple[str, ...] | None = None
    encoder_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["templates"] = list(self.templates) if self.templates else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TextConfig":
        d = dict(d)
        if d.get("templates"):
            d["templates"] = tuple(d["templates"])
        return cls(**d)


@dataclass(frozen=True)
class StreamingConfig:
    """How the streaming recognizer cuts a live stream into windows.

    Attributes:
        window: frames in one window, at ``fps`` (60 frames = 2 s at 30 fps, about one NTU action).
        stride: frames between predictions at ``fps`` (8 = about 4 predictions a second).
        fps: the rate ``window`` and ``stride`` are counted at; input at another rate keeps the
            same durations.
        smoothing: weight of the previous probabilities in an exponential moving average
            (0 = no smoothing).
        min_present: fraction of a window's frames that must hold a person for a prediction.
    """

    window: int = 60
    stride: int = 8
    fps: float = 30.0
    smoothing: float = 0.5
    min_present: float = 0.5

    def __post_init__(self) -> None:
        if self.window < 2 or self.stride < 1:
            raise ValueError("window must be at least 2 frames and stride at least 1")
        if not 0 <= self.smoothing < 1:
            raise ValueError("smoothing must be in [0, 1)")
        if not 0 < self.min_present <= 1:
            raise ValueError("min_present must be in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StreamingConfig":
        return cls(**d)


@dataclass
class Bundle:
    """A loaded bundle: live modules plus everything needed to use them.

    Attributes:
        encoder_name / encoder: skeleton-encoder registry key and the module (eval mode).
        method_name / method: method registry key and the module (eval mode).
        preprocess: the preprocessing the encoder was trained with.
        text: the text side.
        class_set: the classes the method was trained on (the seen classes).
        split: the benchmark split (dataset, seen and unseen ids, name), if any.
        train_layout: source layout of the training data (``"ntu25"``, ``"kinect_v1_20"``, ...);
            live input is harmonised to it.
        streaming: window and stride for live use.
        card: the model card (training data and licences, measured accuracy, limits).
        calibration: how scores become probabilities: ``{"temperature": T, ...}``, the method's logits
            divided by T before the softmax (T fitted where the card says; 1 when absent).
        weights_sha256: digest of all tensors, checked at load.
        path: the file it was loaded from.
    """

    encoder_name: str
    encoder: nn.Module
    method_name: str
    method: nn.Module
    preprocess: PreprocessConfig
    text: TextConfig
    class_set: ClassSet
    split: dict[str, Any] = field(default_factory=dict)
    train_layout: str = "ntu25"
    streaming: StreamingConfig = field(default_factory=StreamingConfig)
    card: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str = ""
    path: str | None = None

    @property
    def temperature(self) -> float:
        """Divisor of the method's logits before the softmax (1.0 for a bundle never calibrated)."""
        t = self.calibration.get("temperature")
        t = 1.0 if t is None else float(t)  # a card may name the calibration before it is fitted
        return t if t > 0 else 1.0

    def manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "encoder": {"name": self.encoder_name, "config": self.encoder.config.to_dict()},
            "method": {
                "name": self.method_name,
                "config": self.method.config.to_dict(),
                "feature_dim": self.method.feature_dim,
                "text_dim": self.method.text_dim,
            },
            "preprocess": dataclasses.asdict(self.preprocess),
            "text": self.text.to_dict(),
            "class_set": self.class_set.to_dict(),
            "split": self.split,
            "train_layout": self.train_layout,
            "streaming": self.streaming.to_dict(),
            "card": self.card,
            "calibration": self.calibration,
        }


def _tensors(bundle: Bundle) -> dict[str, torch.Tensor]:
    out = {}
    for prefix, module in (("encoder.", bundle.encoder), ("method.", bundle.method)):
        for name, t in module.state_dict().items():
            # clone: safetensors refuses tensors that share storage (tied or viewed weights)
            out[prefix + name] = t.detach().to("cpu").contiguous().clone()
    return out


def weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_bundle(bundle: Bundle, path: str | os.PathLike) -> str:
    """Write ``bundle`` to ``path`` atomically; returns the weights' sha256."""
    from safetensors.torch import save

    tensors = _tensors(bundle)
    digest = weights_digest(tensors)
    manifest = bundle.manifest()
    manifest["weights_sha256"] = digest
    manifest["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    blob = save(tensors, metadata={"zsar_bundle": json.dumps(manifest, sort_keys=True)})
    atomic_write_bytes(path, blob)
    bundle.weights_sha256 = digest
    return digest


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON manifest of a bundle, checked for safety and format, without loading weights."""
    manifest, _ = _read(path, weights=False)
    return manifest


def _read(path: str | os.PathLike, weights: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "no such bundle file")
    data = path.read_bytes()
    if len(data) < 10:
        raise ModelFileError(path, f"empty or truncated ({len(data)} bytes): not a zsar bundle")
    if data[:2] == b"PK":
        raise ModelFileError(path, "a zip archive (a torch checkpoint?), not a zsar bundle; "
                                   "bundles never carry pickled code, so it is not opened")
    (header_len,) = struct.unpack("<Q", data[:8])
    safetensors_like = header_len <= _MAX_HEADER and data[8:9] == b"{"
    # 0x80 opens a pickle, but it is also the low byte of a safetensors header of 128 + 256k bytes:
    # only the rest of the file tells them apart
    if data[0] == 0x80 and not safetensors_like:
        raise ModelFileError(path, "a Python pickle, refused: opening it could run code; "
                                   "zsar bundles are safetensors files")
    if not safetensors_like:
        raise ModelFileError(path, "not a zsar bundle (no safetensors header)")
    if 8 + header_len > len(data):
        raise ModelFileError(path, f"truncated: the header says {header_len} bytes, the file has {len(data) - 8}")
    try:
        header = json.loads(data[8 : 8 + header_len])
        manifest = json.loads(header["__metadata__"]["zsar_bundle"])
    except (ValueError, KeyError, TypeError):
        raise ModelFileError(path, "damaged header, or a safetensors file that is not a zsar bundle") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(path, "a safetensors file that is not a zsar bundle")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(path, f"bundle format version {version} is newer than this zsar-studio "
                                   f"reads ({FORMAT_VERSION}); update zsar-studio")
    if not weights:
        return manifest, {}
    # Sizes first: safetensors would report a short file as a generic error.
    end = max((max(v["data_offsets"]) for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + header_len + end > len(data):
        raise ModelFileError(path, f"truncated: weights end at byte {8 + header_len + end}, the file has {len(data)}")
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(path, f"damaged weights ({exc})") from None
    digest = weights_digest(tensors)
    if digest != manifest.get("weights_sha256"):
        raise ModelFileError(path, "weights do not match their sha256: the file is damaged or was altered")
    return manifest, tensors


def load_bundle(path: str | os.PathLike, device: str | torch.device = "cpu") -> Bundle:
    """Load a bundle; every problem with the file is a :class:`ModelFileError` naming it."""
    from engine.encoders import create_skeleton_encoder
    from engine.methods import create_method

    manifest, tensors = _read(path, weights=True)
    try:
        enc_name = manifest["encoder"]["name"]
        encoder = create_skeleton_encoder(enc_name, manifest["encoder"]["config"])
        m = manifest["method"]
        method = create_method(m["name"], m["config"], m["feature_dim"], m["text_dim"])
        preprocess = PreprocessConfig.from_dict(manifest["preprocess"])
        text = TextConfig.from_dict(manifest["text"])
        class_set = ClassSet.from_dict(manifest["class_set"])
        streaming = StreamingConfig.from_dict(manifest.get("streaming") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(path, f"configs do not describe a usable model ({type(exc).__name__}: {exc})") from None
    if getattr(encoder, "feature_dim", m["feature_dim"]) != m["feature_dim"]:
        raise ModelFileError(path, f"encoder gives {encoder.feature_dim}-d features, method expects {m['feature_dim']}")
    for prefix, module in (("encoder.", encoder), ("method.", method)):
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0:2]
            raise ModelFileError(path, f"{prefix[:-1]} weights do not fit its config: {' '.join(first)}") from None
    encoder.to(device).eval()
    method.to(device).eval()
    return Bundle(
        encoder_name=enc_name, encoder=encoder, method_name=m["name"], method=method, preprocess=preprocess,
        text=text, class_set=class_set, split=manifest.get("split") or {},
        train_layout=manifest.get("train_layout", "ntu25"), streaming=streaming, card=manifest.get("card") or {},
        calibration=manifest.get("calibration") or {}, weights_sha256=manifest["weights_sha256"], path=str(path),
    )


def new_bundle(
    encoder_name: str,
    encoder_config: dict[str, Any] | None,
    method_name: str,
    method_config: dict[str, Any] | None,
    text: TextConfig,
    text_dim: int,
    class_set: ClassSet,
    preprocess: PreprocessConfig = PreprocessConfig(),
    **kwargs: Any,
) -> Bundle:
    """A bundle with freshly initialised weights (for training, benchmarks and tests)."""
    from engine.encoders import create_skeleton_encoder
    from engine.methods import create_method

    encoder = create_skeleton_encoder(encoder_name, encoder_config)
    method = create_method(method_name, method_config, encoder.feature_dim, text_dim)
    return Bundle(encoder_name, encoder.eval(), method_name, method.eval(), preprocess, text, class_set, **kwargs)
