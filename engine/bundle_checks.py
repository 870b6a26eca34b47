"""Checks of a bundle's manifest and of the modules it describes, before anything is built from it.

A bundle's manifest is data from a file: a damaged or hand-edited one must be refused with a
:class:`~engine.errors.ModelFileError` naming the file, never reach a constructor that raises a
RuntimeError deep inside torch, allocates gigabytes for a latent size of 10^9, or fails minutes later
in ``recognize`` with a KeyError for a joint layout nobody registered. So, in this order:

1. :func:`check_manifest`: every part has the JSON type its dataclass field declares, every integer
   lies in a range (dimensions and frame counts well above any real model, far below what would
   exhaust memory), every float is finite, every registry key (skeleton encoder, method, text
   encoder and its options, text mode, joint layout, preprocessing style) names a registered entry;
   the message lists the known ones.
2. :func:`build_modules`: the encoder and the method are first built with their large tensors on
   PyTorch's ``meta`` device (shapes only, no memory), and the state they would have is compared with
   the stored tensors, names, shapes and dtypes; only a config that describes exactly the stored
   weights is then built for real. Any exception while building becomes a ModelFileError.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from engine.errors import ModelFileError

# Integer fields: by default a dimension or a count of something a model holds, so at least 1 (a
# stride or a width of 0 builds, then fails on the first input). 2^14 is 64x the widest layer any
# shipped config uses; the limit matters while the meta build runs (a few helpers build numpy tables
# proportional to a width before any shape can be compared).
_MAX_INT = 1 << 14
_MAY_BE_ZERO = frozenset({
    "num_classes",  # 0: no classification head
    "seed", "max_hop", "dct_split_freq",
    "epochs", "kl_start", "kl_ramp", "cr_start", "warmup_epochs", "lr_steps",  # training schedule
})
_INT_LIMITS: dict[str, int] = {
    "seed": (1 << 63) - 1,  # any seed torch.manual_seed takes
    # training schedule: never used once trained
    "epochs": 10**9, "kl_start": 10**9, "kl_ramp": 10**9, "cr_start": 10**9, "iterations_per_epoch": 10**9,
    "warmup_epochs": 10**9, "lr_steps": 10**9, "batch_size": 10**7,
    # refitted at every class-set change: samples x classes^2 floats and that many Adam steps
    "classifier_samples_per_class": 10_000, "classifier_steps": 100_000,
    # frames of one input window: the encoder's activations grow with them
    "window": 4096, "min_crop": 4096, "stride": 4096,
    # bodies per window (NTU holds 2; the input and the activations grow with them)
    "num_bodies": 16,
    # ST-GCN makes 2 partitions per hop up to max_hop, and no path in a 25-joint graph is longer than 24
    "max_hop": 24,
    # FS-VAE's frequency bands of a feature vector (30 in the paper), made one by one
    "dct_bands": 1024,
}
_MAX_ITEMS = 32  # entries of a list field (channels, strides, templates, p_interval ...); models have ~10
# feature_dim: FS-VAE builds a feature_dim^2 DCT matrix in its constructor (4096: 64 MB); shipped encoders
# give 256. text_dim: CLIP ViT-L gives 768, a fused text mode three times an encoder's size.
_MAX_FEATURE_DIM = 4096
_MAX_TEXT_DIM = 1 << 14
_MAX_FPS = 1000.0

#: Tensors with more elements than this are created on the meta device during the shape check; the
#: small ones stay real so that constructors can compute with them (index tables, masks).
_META_ABOVE = 1 << 12


@dataclass
class ManifestParts:
    """What a checked manifest describes, as the types :class:`~engine.bundle.Bundle` holds."""

    encoder_name: str
    encoder_config: Any
    method_name: str
    method_config: Any
    feature_dim: int
    text_dim: int
    preprocess: Any
    text: Any
    class_set: Any
    split: dict[str, Any]
    train_layout: str
    streaming: Any
    card: dict[str, Any]
    calibration: dict[str, Any]


def _known(names: Any) -> str:
    return ", ".join(sorted(names)) or "none"


class _Checker:
    def __init__(self, path: str | Path) -> None:
        self.path = path

    def fail(self, where: str, what: str) -> typing.NoReturn:
        raise ModelFileError(self.path, f"manifest {where}: {what}")

    def dict(self, where: str, value: Any, optional: bool = False) -> dict[str, Any]:
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            self.fail(where, f"must be a JSON object, got {_json_type(value)}")
        return value

    def str(self, where: str, value: Any) -> str:
        if not isinstance(value, str):
            self.fail(where, f"must be a string, got {_json_type(value)}")
        return value

    def int(self, where: str, value: Any, low: int = 0, high: int = _MAX_INT) -> int:
        if type(value) is not int:  # bool is an int subclass, and not a count
            self.fail(where, f"must be an integer, got {_json_type(value)}")
        if not low <= value <= high:
            self.fail(where, f"{value} is out of range (allowed {low} to {high})")
        return value

    def float(self, where: str, value: Any) -> float:
        if type(value) not in (int, float):
            self.fail(where, f"must be a number, got {_json_type(value)}")
        if not math.isfinite(value):
            self.fail(where, f"must be finite, got {value}")
        return float(value)

    def key(self, where: str, value: Any, known: Any, kind: str) -> str:
        self.str(where, value)
        if value not in known:
            self.fail(where, f"unknown {kind} {value!r} (known: {_known(known)})")
        return value

    def value(self, where: str, hint: Any, value: Any, field: str) -> None:
        """``value`` against a dataclass field's type hint (the types the configs use)."""
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return
            options = [a for a in args if a is not type(None)]
            if len(options) == 1:
                return self.value(where, options[0], value, field)
            errors = []
            for option in options:
                try:
                    return self.value(where, option, value, field)
                except ModelFileError as exc:
                    errors.append(exc.reason)
            self.fail(where, f"matches none of its types ({'; '.join(errors)})")
        if hint is typing.Any:
            return
        if origin is tuple:
            if not isinstance(value, list):
                self.fail(where, f"must be a list, got {_json_type(value)}")
            if len(value) > _MAX_ITEMS:
                self.fail(where, f"has {len(value)} entries (at most {_MAX_ITEMS})")
            if len(args) == 2 and args[1] is Ellipsis:
                item_hints = [args[0]] * len(value)
            else:
                if len(value) != len(args):
                    self.fail(where, f"must have {len(args)} entries, got {len(value)}")
                item_hints = list(args)
            for i, (h, v) in enumerate(zip(item_hints, value)):
                self.value(f"{where}[{i}]", h, v, field)
            return
        if origin is dict or hint is dict:
            self.dict(where, value)
            for k, v in value.items():
                if not _json_scalar(v):
                    self.fail(f"{where}.{k}", f"must be a string, number, true/false or null, got {_json_type(v)}")
            return
        if hint is bool:
            if type(value) is not bool:
                self.fail(where, f"must be true or false, got {_json_type(value)}")
        elif hint is int:
            self.int(where, value, 0 if field in _MAY_BE_ZERO else 1, _INT_LIMITS.get(field, _MAX_INT))
        elif hint is float:
            self.float(where, value)
        elif hint is str:
            self.str(where, value)
        else:  # a config type this checker does not know: leave it to the dataclass
            return

    def fields(self, where: str, cls: type, value: Any, optional: bool = False) -> dict[str, Any]:
        """A dataclass's fields from a JSON object: known names, each of its declared type."""
        d = self.dict(where, value, optional)
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        for key, v in d.items():
            if key in names:
                self.value(f"{where}.{key}", hints[key], v, key)
        return d

    def build(self, where: str, make: Callable[[], Any]) -> Any:
        """``make()``; the dataclasses' own checks (ValueError and friends) become ModelFileErrors."""
        try:
            return make()
        except ModelFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a constructor raises, the file is at fault
            self.fail(where, f"{type(exc).__name__}: {exc}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def _json_scalar(value: Any) -> bool:
    return value is None or type(value) in (bool, int, str) or (type(value) is float and math.isfinite(value))


def check_manifest(path: str | Path, manifest: dict[str, Any]) -> ManifestParts:
    """Every part of a bundle's manifest checked and turned into its config object.

    Raises:
        ModelFileError: naming the file and the part of the manifest that is wrong.
    """
    from engine.bundle import StreamingConfig, TextConfig
    from engine.encoders import SKELETON_ENCODERS
    from engine.methods import METHODS
    from engine.skeleton.layouts import LAYOUTS
    from engine.skeleton.preprocess import PreprocessConfig
    from engine.text import TEXT_ENCODERS
    from engine.text.prompts import TEXT_MODES
    from engine.types import ClassSet

    c = _Checker(path)

    enc = c.dict("encoder", manifest.get("encoder"))
    enc_name = c.key("encoder.name", enc.get("name"), SKELETON_ENCODERS.names(), "skeleton encoder")
    enc_cls = SKELETON_ENCODERS.get(enc_name).config_cls
    enc_dict = c.fields("encoder.config", enc_cls, enc.get("config"), optional=True)
    enc_config = c.build("encoder.config", lambda: enc_cls.from_dict(enc_dict))

    m = c.dict("method", manifest.get("method"))
    method_name = c.key("method.name", m.get("name"), METHODS.names(), "method")
    method_cls = METHODS.get(method_name).config_cls
    method_dict = c.fields("method.config", method_cls, m.get("config"), optional=True)
    method_config = c.build("method.config", lambda: method_cls.from_dict(method_dict))
    feature_dim = c.int("method.feature_dim", m.get("feature_dim"), 1, _MAX_FEATURE_DIM)
    text_dim = c.int("method.text_dim", m.get("text_dim"), 1, _MAX_TEXT_DIM)

    pre = c.fields("preprocess", PreprocessConfig, manifest.get("preprocess"))
    preprocess = c.build("preprocess", lambda: PreprocessConfig.from_dict(pre))
    for name in ("window", "min_crop", "num_bodies"):
        if getattr(preprocess, name) < 1:
            c.fail(f"preprocess.{name}", f"must be at least 1, got {getattr(preprocess, name)}")
    if preprocess.torso_length is not None and not preprocess.torso_length > 0:
        c.fail("preprocess.torso_length", f"must be positive or null, got {preprocess.torso_length}")

    t = c.fields("text", TextConfig, manifest.get("text"))
    text_encoder = c.key("text.encoder", t.get("encoder", TextConfig.encoder), TEXT_ENCODERS.names(),
                         "text encoder")
    accepted = [p for p in inspect.signature(TEXT_ENCODERS.get(text_encoder)).parameters if p != "self"]
    for option in t.get("options") or {}:
        if option not in accepted:
            c.fail(f"text.options.{option}", f"text encoder {text_encoder!r} has no such option "
                                             f"(options: {_known(accepted)})")
    c.key("text.mode", t.get("mode", TextConfig.mode), TEXT_MODES, "text mode")
    for i, template in enumerate(t.get("templates") or ()):
        if "{name}" not in template:
            c.fail(f"text.templates[{i}]", f"{template!r} has no {{name}} placeholder")
    text = c.build("text", lambda: TextConfig.from_dict(t))

    cs = c.dict("class_set", manifest.get("class_set"))
    for key in ("names", "descriptions"):
        items = cs.get(key) if key == "names" else (cs.get(key) or [])
        if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
            c.fail(f"class_set.{key}", "must be a list of strings")
    class_set = c.build("class_set", lambda: ClassSet.from_dict(cs))

    train_layout = c.key("train_layout", manifest.get("train_layout", "ntu25"), LAYOUTS.names(), "joint layout")
    s = c.fields("streaming", StreamingConfig, manifest.get("streaming"), optional=True)
    streaming = c.build("streaming", lambda: StreamingConfig.from_dict(s))
    if not 0 < streaming.fps <= _MAX_FPS:
        c.fail("streaming.fps", f"must be in (0, {_MAX_FPS:g}], got {streaming.fps}")

    calibration = c.dict("calibration", manifest.get("calibration"), optional=True)
    temperature = calibration.get("temperature")
    if temperature is not None and not c.float("calibration.temperature", temperature) > 0:
        c.fail("calibration.temperature", f"must be positive or null, got {temperature}")
    return ManifestParts(
        encoder_name=enc_name, encoder_config=enc_config, method_name=method_name, method_config=method_config,
        feature_dim=feature_dim, text_dim=text_dim, preprocess=preprocess, text=text, class_set=class_set,
        split=c.dict("split", manifest.get("split"), optional=True), train_layout=train_layout,
        streaming=streaming, card=c.dict("card", manifest.get("card"), optional=True), calibration=calibration,
    )


# --- building --------------------------------------------------------------------------------------


class _LargeTensorsOnMeta(TorchFunctionMode):
    """Tensors made by a factory function (empty, zeros, randn ...) without a device go to ``meta``
    when they are large: a constructor then runs without allocating its weights, while the small
    tensors it computes with (index tables, masks, counts) stay real, which a module built wholly on
    ``meta`` cannot do (``.item()`` or ``repeat_interleave`` of a meta tensor fail)."""

    # the factories that make weights, and arange, from which tables derived from a width are computed
    # (FS-VAE's DCT matrix is width^2); small aranges (indices) stay real
    _FACTORIES = frozenset({torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn,
                            torch.empty_strided, torch.arange})

    # random initialisers, which are no-ops on meta but whose first meta call imports torch's Python
    # decompositions (seconds)
    _INITIALISERS = frozenset(
        [getattr(torch.Tensor, n) for n in ("normal_", "uniform_", "exponential_", "bernoulli_", "random_",
                                             "log_normal_", "cauchy_", "geometric_", "erfinv_")]
        + [getattr(nn.init, n) for n in ("normal_", "uniform_", "trunc_normal_", "kaiming_normal_",
                                          "kaiming_uniform_", "xavier_normal_", "xavier_uniform_", "orthogonal_",
                                          "sparse_") if hasattr(nn.init, n)])

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self._INITIALISERS:
            target = args[0] if args else kwargs.get("tensor", kwargs.get("self"))  # nn.init passes tensor=
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        if func in self._FACTORIES and kwargs.get("device") is None:
            numel = _factory_numel(func, args, kwargs)
            if numel is not None and numel > _META_ABOVE:
                return func(*args, **{**kwargs, "device": "meta"})
        return func(*args, **kwargs)


def _factory_numel(func, args: tuple, kwargs: dict) -> int | None:
    """Elements a factory call will make, from its arguments (None when they are not plain numbers).
    Computed, not probed on ``meta``: the first ``arange`` there imports torch's decompositions."""
    try:
        if func is torch.arange:
            bounds = [*args, *(kwargs[k] for k in ("start", "end", "step") if k in kwargs)]
            if not all(isinstance(b, (int, float)) for b in bounds) or not 1 <= len(bounds) <= 3:
                return None
            start, end, step = (0, bounds[0], 1) if len(bounds) == 1 else (*bounds, 1)[:3]
            return max(0, math.ceil((end - start) / step))
        size = args[0] if func in (torch.full, torch.empty_strided) else (args or kwargs.get("size", ()))
        if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
            size = size[0]  # zeros((2, 3)) as well as zeros(2, 3)
        return math.prod(int(d) for d in size)
    except Exception:  # noqa: BLE001 - arguments of another form: leave the call as it is
        return None


def _describe(shape: tuple[int, ...], dtype: torch.dtype) -> str:
    return f"{list(shape)} {str(dtype).removeprefix('torch.')}"


def _compare(path: str | Path, part: str, module: nn.Module, stored: dict[str, torch.Tensor]) -> None:
    expected = {k: (tuple(v.shape), v.dtype) for k, v in module.state_dict().items()}
    have = {k: (tuple(v.shape), v.dtype) for k, v in stored.items()}
    missing = sorted(set(expected) - set(have))
    extra = sorted(set(have) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    if extra:
        problems.append(f"unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
    for k in sorted(set(expected) & set(have)):
        if expected[k] != have[k]:
            problems.append(f"{k} is {_describe(*have[k])}, its config needs {_describe(*expected[k])}")
            break
    if problems:
        raise ModelFileError(path, f"{part} weights do not fit its config: {'; '.join(problems)}")


def build_modules(path: str | Path, parts: ManifestParts,
                  tensors: dict[str, torch.Tensor]) -> tuple[nn.Module, nn.Module]:
    """The encoder and the method of a checked manifest, holding ``tensors`` (``encoder.*``,
    ``method.*``), in eval mode on the CPU.

    Raises:
        ModelFileError: the configs do not describe the stored weights, or building fails.
    """
    from engine.encoders import create_skeleton_encoder
    from engine.methods import create_method

    def encoder() -> nn.Module:
        return create_skeleton_encoder(parts.encoder_name, parts.encoder_config)

    def method() -> nn.Module:
        return create_method(parts.method_name, parts.method_config, parts.feature_dim, parts.text_dim)

    stored = {
        prefix: {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        for prefix in ("encoder", "method")
    }
    stray = sorted(k for k in tensors if not k.startswith(("encoder.", "method.")))
    if stray:
        raise ModelFileError(path, f"tensor {stray[0]!r} belongs to neither the encoder nor the method")
    built: dict[str, nn.Module] = {}
    for part, make in (("encoder", encoder), ("method", method)):
        try:
            with _LargeTensorsOnMeta():
                shapes_only = make()
        except Exception as exc:  # noqa: BLE001 - whatever a constructor raises, the file is at fault
            raise ModelFileError(path, f"the {part} config does not build ({type(exc).__name__}: {exc})") from None
        if part == "encoder":
            got = getattr(shapes_only, "feature_dim", parts.feature_dim)
            if got != parts.feature_dim:
                raise ModelFileError(path, f"encoder gives {got}-d features, method expects {parts.feature_dim}")
        _compare(path, part, shapes_only, stored[part])
        del shapes_only
        try:
            module = make()
            module.load_state_dict(stored[part], strict=True)
        except Exception as exc:  # noqa: BLE001
            raise ModelFileError(path, f"{part} weights do not fit its config ({type(exc).__name__}: {exc})") from None
        built[part] = module.eval()
    return built["encoder"], built["method"]
