"""Bundles: one self-describing file that the app and ``zsar recognize`` load without the trainer.

A bundle (docs/architecture.md#bundles) holds the skeleton encoder's and the method's weights, their resolved
configs, the preprocessing, the text encoder and text mode, the class set and split it was trained
on, the layout its training data came from ("train as you infer"), the streaming window, a model
card, a format version, the sha256 of the weights and the sha256 of all that (the manifest, whose
``weights_sha256`` covers the weights).

File format: a `safetensors <https://github.com/huggingface/safetensors>`_ file. Tensors are named
``encoder.*`` and ``method.*``; everything else is one JSON document in the header's
``__metadata__["zsar_bundle"]``. Opening a bundle never runs code from it: no pickle anywhere, and
a file that looks like a pickle or a torch zip checkpoint is refused before anything parses it.
Every way a file can be wrong (missing, truncated, damaged header or tensor entries, altered
manifest or weights, NaN weights, configs out of range or naming unknown entries, weights that do
not fit the configs, a newer format) is a one-line :class:`~engine.errors.ModelFileError` naming the
file, found before anything is built from the file (:mod:`engine.bundle_checks`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.atomic import atomic_write_bytes
from engine.errors import ModelFileError
from engine.skeleton.preprocess import PreprocessConfig
from engine.types import ClassSet

FORMAT = "zsar-bundle"
#: 2: the manifest is sealed by ``bundle_sha256`` (1: only the weights had a digest).
FORMAT_VERSION = 2
_OLDEST_VERSION = 1
SUFFIX = ".zsar"
_DIGEST_FIELD = "bundle_sha256"
_MAX_HEADER = 16 * 1024 * 1024  # a header past this is not a bundle's (ours are tens of kB)
_MAX_FILE = 1 << 30  # the largest shipped architecture is tens of MB; loading holds about 3x the file
_MAX_DEPTH = 32  # JSON nesting; a manifest needs about 5


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
    def from_dict(cls, d: dict[str, Any]) -> TextConfig:
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
    def from_dict(cls, d: dict[str, Any]) -> StreamingConfig:
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


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON (sorted keys, no spaces, ASCII), without its own
    ``bundle_sha256``. The manifest holds ``weights_sha256``, so this one digest covers the whole
    bundle: configs, class set, card and, through that field, every weight."""
    body = {k: v for k, v in manifest.items() if k != _DIGEST_FIELD}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def seal_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``manifest`` (as JSON gives it back) carrying its :func:`manifest_digest`: what
    :func:`save_bundle` writes, and what a tool that edits a manifest on purpose re-seals it with."""
    sealed = json.loads(json.dumps(manifest))  # the digest is of what a reader will parse: str keys, lists
    sealed[_DIGEST_FIELD] = manifest_digest(sealed)
    return sealed


def default_bundle_path() -> Path:
    """The embedded default model (``assets/models/default.zsar``; its card is ``MODEL_CARD.md``)."""
    from engine.assets import asset_path

    return asset_path("models", "default.zsar")


def resolve_bundle(path: str | os.PathLike | None = None) -> Path:
    """The bundle to use: ``path`` when given, else ``$ZSAR_BUNDLE``, else the default model.

    Raises:
        ModelFileError: nothing given and the default model is not installed.
    """
    if path:
        return Path(path)
    env = os.environ.get("ZSAR_BUNDLE")
    if env:
        return Path(env)
    default = default_bundle_path()
    if not default.exists():
        raise ModelFileError(default, "no bundle given and the default model is not installed; pass --bundle "
                                      "FILE (a .zsar written by zsar export)")
    return default


def save_bundle(bundle: Bundle, path: str | os.PathLike) -> str:
    """Write ``bundle`` to ``path`` atomically; returns the weights' sha256."""
    from safetensors.torch import save

    tensors = _tensors(bundle)
    bad = _first_non_finite(tensors)
    if bad is not None:
        # load_bundle refuses such a file; saying so now names the cause (a run that diverged)
        # instead of leaving a model that every later load rejects
        raise ModelFileError(path, f"not written: weights hold NaN or infinite values (first in tensor "
                                   f"{bad!r}); the training run diverged")
    digest = weights_digest(tensors)
    manifest = bundle.manifest()
    manifest["weights_sha256"] = digest
    manifest["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    blob = save(tensors, metadata={"zsar_bundle": json.dumps(seal_manifest(manifest), sort_keys=True)})
    atomic_write_bytes(path, blob)
    bundle.weights_sha256 = digest
    return digest


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON manifest of a bundle, checked for safety, format and integrity, without loading weights."""
    manifest, _ = _read(path, weights=False)
    return manifest


# --- reading ---------------------------------------------------------------------------------------

# safetensors dtype -> (torch dtype, bytes per element): the ones a module's state can hold
_DTYPES: dict[str, tuple[torch.dtype, int]] = {
    "BOOL": (torch.bool, 1), "U8": (torch.uint8, 1), "I8": (torch.int8, 1), "I16": (torch.int16, 2),
    "I32": (torch.int32, 4), "I64": (torch.int64, 8), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
    "F32": (torch.float32, 4), "F64": (torch.float64, 8),
}
_MAX_RANK = 8


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # JSON readers disagree on repeated keys (the first or the last wins): a file with any is refused
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return out


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if d <= _MAX_DEPTH:  # deeper is refused anyway: no need to walk it all
                stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def _parse_json(path: Path, text: str | bytes, what: str) -> Any:
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise ModelFileError(path, f"damaged {what}: the key {str(exc)[:80]!r} appears twice") from None
    except RecursionError:
        raise ModelFileError(path, f"damaged {what}: JSON nested more than {_MAX_DEPTH} levels deep") from None
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ModelFileError(path, f"damaged {what} (not valid JSON)") from None
    if _depth(value) > _MAX_DEPTH:
        raise ModelFileError(path, f"damaged {what}: JSON nested more than {_MAX_DEPTH} levels deep")
    return value


def _tensor_entries(path: Path, header: dict[str, Any],
                    data_len: int) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    """Check every tensor entry of a safetensors header the way the format requires (a known dtype, a
    shape of non-negative ints, ``data_offsets`` [begin, end] inside the data section holding exactly
    shape x dtype bytes, the entries tiling the data section without gap or overlap); returns each
    tensor's dtype and shape."""
    out: dict[str, tuple[torch.dtype, tuple[int, ...]]] = {}
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        where = f"damaged header: tensor {name[:80]!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(path, f"{where} is not a dtype, shape and data_offsets entry")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise ModelFileError(path, f"{where} has dtype {str(dtype)[:20]!r} "
                                       f"(a bundle holds {', '.join(_DTYPES)})")
        if (not isinstance(shape, list) or len(shape) > _MAX_RANK
                or not all(type(d) is int and d >= 0 for d in shape)):
            raise ModelFileError(path, f"{where} has a shape that is not a list of at most {_MAX_RANK} "
                                       f"non-negative integers")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise ModelFileError(path, f"{where} has data_offsets that are not two integers 0 <= begin <= end")
        begin, end = offsets
        if end > data_len:
            raise ModelFileError(path, f"truncated: tensor {name[:80]!r} ends at byte {end} of the weights, "
                                       f"the file holds {data_len}")
        torch_dtype, itemsize = _DTYPES[dtype]
        size = math.prod(shape) * itemsize
        if end - begin != size:
            raise ModelFileError(path, f"{where} spans {end - begin} bytes, its shape and dtype need {size}")
        out[name] = (torch_dtype, tuple(shape))
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            kind = "overlaps the tensor before it" if begin < position else "leaves a gap before it"
            raise ModelFileError(path, f"damaged header: tensor {name[:80]!r} {kind} (data_offsets)")
        position = end
    if position != data_len:
        raise ModelFileError(path, f"damaged: the tensors fill {position} bytes of a {data_len}-byte weights section")
    return out


def _read(path: str | os.PathLike, weights: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "no such bundle file")
    try:
        size = path.stat().st_size
        if size > _MAX_FILE:
            raise ModelFileError(path, f"{size} bytes: larger than any zsar bundle ({_MAX_FILE} at most)")
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(path, f"cannot be read ({exc.strerror or exc})") from None
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
    header = _parse_json(path, data[8 : 8 + header_len], "header")
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("zsar_bundle"), str):
        raise ModelFileError(path, "a safetensors file that is not a zsar bundle (or its header is damaged)")
    if not all(isinstance(v, str) for v in meta.values()):
        raise ModelFileError(path, "damaged header: __metadata__ values must be strings")
    manifest = _parse_json(path, meta["zsar_bundle"], "manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(path, "a safetensors file that is not a zsar bundle")
    version = manifest.get("format_version")
    if type(version) is not int or version < _OLDEST_VERSION:
        raise ModelFileError(path, f"damaged manifest: format_version {str(version)[:20]!r} never existed")
    if version > FORMAT_VERSION:
        raise ModelFileError(path, f"bundle format version {version} is newer than this zsar-studio "
                                   f"reads ({FORMAT_VERSION}); update zsar-studio")
    # Version 1 bundles (before the manifest digest) are still read: their weights are checked by
    # weights_sha256 and everything else by check_manifest; only a change to the card or another
    # value within range would pass. Version 2 seals the whole manifest; a sealed manifest is checked
    # whatever version it says (a damaged version number must not switch the check off).
    if (version >= 2 or _DIGEST_FIELD in manifest) and manifest.get(_DIGEST_FIELD) != manifest_digest(manifest):
        raise ModelFileError(path, "the manifest does not match its sha256: the file is damaged or was altered")
    if not isinstance(manifest.get("weights_sha256"), str):
        raise ModelFileError(path, "damaged manifest: no weights_sha256")
    entries = _tensor_entries(path, header, len(data) - 8 - header_len)
    if not weights:
        return manifest, {}
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(path, f"damaged weights ({exc})") from None
    if {k: (v.dtype, tuple(v.shape)) for k, v in tensors.items()} != entries:
        raise ModelFileError(path, "damaged weights: the tensors read differ from the header")
    digest = weights_digest(tensors)
    if digest != manifest["weights_sha256"]:
        raise ModelFileError(path, "weights do not match their sha256: the file is damaged or was altered")
    bad = _first_non_finite(tensors)
    if bad is not None:
        # a bundle of an older version may hold NaN weights with a valid digest; they would score NaN
        raise ModelFileError(path, f"weights hold NaN or infinite values (first in tensor {bad!r})")
    return manifest, tensors


def _first_non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The first tensor (by name) holding NaN or inf, or None."""
    for name in sorted(tensors):
        t = tensors[name]
        if t.is_floating_point():
            # numpy: torch's isfinite is many times slower on a busy CPU (thread start-up per small tensor)
            a = t.detach().cpu().float().numpy() if t.dtype == torch.bfloat16 else t.detach().cpu().numpy()
            if not np.isfinite(a).all():
                return name
    return None


def load_bundle(path: str | os.PathLike, device: str | torch.device = "cpu") -> Bundle:
    """Load a bundle; every problem with the file is a :class:`ModelFileError` naming it.

    The manifest is checked whole (types, ranges, registry keys) and the modules it describes are
    compared with the stored weights on the ``meta`` device before anything is built for real
    (:mod:`engine.bundle_checks`).
    """
    from engine.bundle_checks import build_modules, check_manifest

    manifest, tensors = _read(path, weights=True)
    parts = check_manifest(path, manifest)
    encoder, method = build_modules(path, parts, tensors)
    del tensors
    encoder.to(device)
    method.to(device)
    return Bundle(
        encoder_name=parts.encoder_name, encoder=encoder, method_name=parts.method_name, method=method,
        preprocess=parts.preprocess, text=parts.text, class_set=parts.class_set, split=parts.split,
        train_layout=parts.train_layout, streaming=parts.streaming, card=parts.card,
        calibration=parts.calibration, weights_sha256=manifest["weights_sha256"], path=str(path),
    )


def new_bundle(
    encoder_name: str,
    encoder_config: dict[str, Any] | None,
    method_name: str,
    method_config: dict[str, Any] | None,
    text: TextConfig,
    text_dim: int,
    class_set: ClassSet,
    preprocess: PreprocessConfig | None = None,
    **kwargs: Any,
) -> Bundle:
    """A bundle with freshly initialised weights (for training, benchmarks and tests)."""
    from engine.encoders import create_skeleton_encoder
    from engine.methods import create_method

    encoder = create_skeleton_encoder(encoder_name, encoder_config)
    method = create_method(method_name, method_config, encoder.feature_dim, text_dim)
    preprocess = preprocess if preprocess is not None else PreprocessConfig()
    return Bundle(encoder_name, encoder.eval(), method_name, method.eval(), preprocess, text, class_set, **kwargs)
