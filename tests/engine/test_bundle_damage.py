"""Damaged bundles: every copy of a bundle damaged one way either loads unchanged (harmless damage,
such as whitespace in the header) and scores a real clip with finite numbers, or is refused with a
one-line ModelFileError naming the file. Never another exception, never a traceback, never gigabytes.

The damaged copies (bit flips in the header, truncations, bad ``data_offsets``, wrong dtypes and
shapes, nested manifests, huge and negative config numbers, NaN weights, unknown registry keys,
pickles and torch checkpoints under a ``.zsar`` name, absurd header lengths, extra and missing
tensors) are made from a tiny bundle and, a subset, from the real default bundle. They are loaded in
a subprocess whose address space is capped (``RLIMIT_AS``), so a regression that allocates gigabytes
fails the test instead of taking the machine down. The default run loads a fixed sample of the cases;
``pytest -m fuzz`` loads all of them. Items 5-10 of the damage report each have their own test below.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.bundle import (
    StreamingConfig,
    TextConfig,
    load_bundle,
    new_bundle,
    read_manifest,
    save_bundle,
    seal_manifest,
    weights_digest,
)
from engine.errors import ModelFileError
from engine.skeleton.preprocess import PreprocessConfig
from engine.types import ClassSet
from tests.conftest import PROJECT_ROOT, SHARED_DATA
from tests.engine.fixtures import small_bundle

DEFAULT = PROJECT_ROOT / "assets" / "models" / "default.zsar"
NTU_SAMPLE = SHARED_DATA / "ntu_samples" / "S001C001P001R001A001.skeleton"
HEADROOM = 1 << 30  # address space the worker may add to what it holds after its imports
SAMPLE_EVERY = 4  # the default run loads every 4th case (and every case that must load)


def tiny_bundle():
    """A bundle of a few kB: a two-block TCN and a contrastive head on 16-d text, with the parts a
    damage can reach (a layout to harmonise to, a calibration, a non-ASCII card)."""
    torch.manual_seed(0)
    return new_bundle(
        "tcn", {"channels": [8, 16], "strides": [1, 2], "num_classes": 0}, "contrastive", None,
        TextConfig("minilm"), 16, ClassSet(("wave right hand", "squat", "clap", "jump")),
        preprocess=PreprocessConfig(style="view", window=16, num_bodies=1),
        train_layout="kinect_v1_20", streaming=StreamingConfig(window=24, stride=4, smoothing=0.0),
        split={"dataset": "procedural", "seen": [0, 1, 2, 3], "unseen": []},
        card={"note": "random weights, for tests", "author": "Zoë", "accuracy": {"top1": 12.5}},
        calibration={"temperature": 2.0},
    )


# --- taking a bundle apart and putting it back ----------------------------------------------------


def split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def join(header: dict, body: bytes, **dumps) -> bytes:
    text = json.dumps(header, **({"separators": (",", ":")} | dumps)).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads its header to 8 bytes with spaces
    return struct.pack("<Q", len(text)) + text + body


def with_manifest(data: bytes, change, seal: bool = True) -> bytes:
    """``data`` with its manifest changed by ``change(manifest)`` (re-sealed unless ``seal`` is False)."""
    header, body = split(data)
    manifest = json.loads(header["__metadata__"]["zsar_bundle"])
    change(manifest)
    if seal:
        manifest = seal_manifest(manifest)
    header["__metadata__"]["zsar_bundle"] = json.dumps(manifest, sort_keys=True)
    return join(header, body)


def with_tensors(data: bytes, change) -> bytes:
    """``data`` with its tensors changed by ``change(tensors)``, every digest made valid again."""
    from safetensors.torch import load, save

    header, _ = split(data)
    tensors = load(data)
    change(tensors)
    manifest = json.loads(header["__metadata__"]["zsar_bundle"])
    manifest["weights_sha256"] = weights_digest(tensors)
    return save(tensors, metadata={"zsar_bundle": json.dumps(seal_manifest(manifest), sort_keys=True)})


def with_entries(data: bytes, change) -> bytes:
    """``data`` with the tensor entries of its header changed by ``change(entries)`` (the bytes kept)."""
    header, body = split(data)
    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    change(entries)
    return join({"__metadata__": header["__metadata__"], **entries}, body)


def entry_names(data: bytes) -> list[str]:
    return sorted(k for k in split(data)[0] if k != "__metadata__")


def _set(path: str, value):
    """A manifest change setting the dotted ``path`` ("method.config.latent_size") to ``value``."""

    def change(m):
        *parents, last = path.split(".")
        node = m
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node, dict) else node[int(p)]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def nested(depth: int):
    value = "deep"
    for i in range(depth):
        value = [value] if i % 2 else {"x": value}
    return value


# --- the damaged copies ----------------------------------------------------------------------------

# (name, make, expect): make() gives the damaged bytes (made only for the cases a run loads); expect
# is "refuse", "load", or "either" (then loading means the damage was harmless: the loaded bundle
# must equal the undamaged one)


def config_cases(data: bytes, encoder: str) -> list[tuple]:
    """Manifest damage that keeps the digests valid, so only the manifest checks can catch it."""
    changes = {
        # huge and negative numbers (item 7)
        "channels_negative": _set("encoder.config.channels.0", -8),
        "channels_huge": _set("encoder.config.channels.0", 10**9),
        "channels_big_in_range": _set("encoder.config.channels", [16384, 16384]),
        "channels_float": _set("encoder.config.channels.0", 8.0),
        "channels_string": _set("encoder.config.channels.0", "8"),
        "channels_bool": _set("encoder.config.channels.0", True),
        "channels_long_list": _set("encoder.config.channels", [8] * 100_000),
        "channels_empty": _set("encoder.config.channels", []),
        "strides_zero": _set("encoder.config.strides.0", 0),
        "num_classes_huge": _set("encoder.config.num_classes", 10**12),
        "num_classes_in_range": _set("encoder.config.num_classes", 16000),
        "dropout_nan": _set("encoder.config.dropout", float("nan")),
        "dropout_huge": _set("encoder.config.dropout", 1e308),
        "encoder_config_list": _set("encoder.config", [1, 2]),
        "encoder_unknown_field": _set("encoder.config.wings", 2),
        "feature_dim_negative": _set("method.feature_dim", -256),
        "feature_dim_huge": _set("method.feature_dim", 2**40),
        "text_dim_zero": _set("method.text_dim", 0),
        "text_dim_in_range": _set("method.text_dim", 16000),
        "text_dim_string": _set("method.text_dim", "384"),
        "method_config_null_lr": _set("method.config.lr", None),
        "window_huge": _set("preprocess.window", 10**9),
        "window_negative": _set("preprocess.window", -1),
        "num_bodies_huge": _set("preprocess.num_bodies", 10**6),
        "p_interval_empty": _set("preprocess.p_interval", []),
        "torso_negative": _set("preprocess.torso_length", -0.5),
        "streaming_window_huge": _set("streaming.window", 10**9),
        "streaming_fps_zero": _set("streaming.fps", 0),
        "streaming_fps_inf": _set("streaming.fps", float("inf")),
        "streaming_smoothing_big": _set("streaming.smoothing", 3.0),
        "temperature_negative": _set("calibration.temperature", -1.0),
        "temperature_nan": _set("calibration.temperature", float("nan")),
        "temperature_string": _set("calibration.temperature", "3"),
        "class_names_numbers": _set("class_set.names", [1, 2, 3]),
        "class_names_empty": _set("class_set.names", []),
        "class_set_missing": lambda m: m.pop("class_set"),
        "encoder_missing": lambda m: m.pop("encoder"),
        "method_missing": lambda m: m.pop("method"),
        "preprocess_missing": lambda m: m.pop("preprocess"),
        "weights_sha_missing": lambda m: m.pop("weights_sha256"),
        "card_a_list": _set("card", ["x"]),
        "split_a_string": _set("split", "x"),
        # unknown registry keys (item 9)
        "encoder_name_unknown": _set("encoder.name", "resnet"),
        "encoder_name_number": _set("encoder.name", 7),
        "method_name_unknown": _set("method.name", "magic"),
        "text_encoder_unknown": _set("text.encoder", "bert"),
        "text_option_unknown": _set("text.options", {"fast": True}),
        "text_option_object": _set("text.options", {"checkpoint": {"a": 1}}),
        "text_mode_unknown": _set("text.mode", "poem"),
        "templates_without_name": lambda m: m["text"].update(mode="templates", templates=["a person"]),
        "train_layout_unknown": _set("train_layout", "kinect_v9"),
        "train_layout_null": _set("train_layout", None),
        "preprocess_style_unknown": _set("preprocess.style", "warp"),
        "format_unknown": _set("format", "zsar-bundel"),
        "format_version_newer": _set("format_version", 3),
        "format_version_zero": _set("format_version", 0),
        "format_version_string": _set("format_version", "2"),
        # deep nesting (item 6)
        "card_nested_40": _set("card.deep", nested(40)),
    }
    if encoder == "tcn":
        changes["kernel_even"] = _set("encoder.config.kernel", 4)
        changes["kernel_huge"] = _set("encoder.config.kernel", 10**6 + 1)
    cases = [(f"config_{name}", lambda c=change: with_manifest(data, c), "refuse") for name, change in changes.items()]

    def deep():
        # nested far deeper than Python's recursion limit (json.dumps could not even write it)
        header, body = split(data)
        text = header["__metadata__"]["zsar_bundle"]
        header["__metadata__"]["zsar_bundle"] = text[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
        return join(header, body)

    return cases + [("config_manifest_nested_100000", deep, "refuse")]


def weight_cases(data: bytes) -> list[tuple]:
    names = entry_names(data)
    floats = [n for n in names if "running" not in n and "num_batches" not in n]
    first, last = floats[0], floats[-1]

    def poison(name, value, index=0):
        def change(t):
            t[name] = t[name].clone()
            t[name].view(-1)[index] = value

        return change

    def drop(name):
        return lambda t: t.pop(name)

    def add(name, tensor):
        return lambda t: t.__setitem__(name, tensor)

    def flatten(t):
        name = next(k for k in sorted(t) if t[k].ndim > 1)
        t[name] = t[name].reshape(-1)

    def retype(name, dtype):
        return lambda t: t.__setitem__(name, t[name].to(dtype))

    changes = {
        "nan_first": poison(first, float("nan")),
        "nan_last": poison(last, float("nan"), -1),
        "inf": poison(first, float("inf"), 1),
        "minus_inf": poison(last, float("-inf")),
        "all_nan": lambda t: t.__setitem__(first, torch.full_like(t[first], float("nan"))),
        "missing_first": drop(first),
        "missing_last": drop(last),
        "missing_buffer": drop(next(n for n in names if "num_batches" in n or "running" in n)),
        "extra_encoder": add("encoder.extra.weight", torch.zeros(3, 3)),
        "extra_method": add("method.extra", torch.zeros(1)),
        "extra_stray": add("other.weight", torch.zeros(2)),
        "extra_empty": add("encoder.nothing", torch.zeros(0)),
        "flattened": flatten,
        "float64": retype(first, torch.float64),
        "float16": retype(last, torch.float16),
        "int32": retype(first, torch.int32),
        "bfloat16_nan": lambda t: t.__setitem__(first, torch.full_like(t[first], float("nan"), dtype=torch.bfloat16)),
    }
    return [(f"weights_{name}", lambda c=change: with_tensors(data, c), "refuse") for name, change in changes.items()]


def entry_cases(data: bytes) -> list[tuple]:
    """Damaged tensor entries of the safetensors header (item 5): the bytes after it stay as they were."""
    names = entry_names(data)
    a, b = names[0], names[len(names) // 2]

    def edit(name, key, value):
        return lambda e: e[name].__setitem__(key, value)

    def offsets(name, f):
        return lambda e: e[name].__setitem__("data_offsets", f(e[name]["data_offsets"]))

    changes = {
        "offsets_swapped": offsets(b, lambda o: [o[1], o[0]]),
        "offsets_negative": offsets(b, lambda o: [-4, o[1]]),
        "offsets_beyond_end": offsets(b, lambda o: [o[0], 10**12]),
        "offsets_huge": offsets(a, lambda o: [2**64, 2**64 + 4]),
        "offsets_three": offsets(a, lambda o: o + [0]),
        "offsets_one": offsets(a, lambda o: o[:1]),
        "offsets_empty": edit(a, "data_offsets", []),
        "offsets_strings": offsets(a, lambda o: [str(o[0]), str(o[1])]),
        "offsets_floats": offsets(a, lambda o: [float(o[0]), float(o[1])]),
        "offsets_bool": offsets(a, lambda o: [False, o[1]]),
        "offsets_null": edit(a, "data_offsets", None),
        "offsets_object": edit(a, "data_offsets", {"begin": 0}),
        "offsets_shifted": offsets(b, lambda o: [o[0] + 4, o[1] + 4]),
        "offsets_overlap": offsets(b, lambda o: [o[0] - 4, o[1] - 4]),
        "offsets_missing": lambda e: e[a].pop("data_offsets"),
        "dtype_unknown": edit(a, "dtype", "F33"),
        "dtype_same_size": edit(b, "dtype", "I32"),
        "dtype_smaller": edit(b, "dtype", "F16"),
        "dtype_number": edit(a, "dtype", 4),
        "dtype_missing": lambda e: e[a].pop("dtype"),
        "dtype_unsupported": edit(a, "dtype", "U16"),
        "shape_negative": edit(b, "shape", [-1]),
        "shape_float": edit(b, "shape", [1.5]),
        "shape_string": edit(b, "shape", "4"),
        "shape_huge": edit(b, "shape", [2**40, 2**40]),
        "shape_deep": edit(b, "shape", [1] * 100),
        "shape_extra_dim": lambda e: e[b].__setitem__("shape", e[b]["shape"] + [1]),
        "shape_product_wrong": lambda e: e[b].__setitem__("shape", [x * 2 for x in e[b]["shape"]]),
        "entry_a_list": lambda e: e.__setitem__(a, [1, 2, 3]),
        "entry_extra_key": edit(a, "offset", 0),
        "entry_dropped": lambda e: e.pop(b),
        "entry_added": lambda e: e.__setitem__("encoder.ghost", {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}),
        "entry_nested": edit(a, "shape", nested(50)),
    }
    return [(f"entries_{name}", lambda c=change: with_entries(data, c), "refuse") for name, change in changes.items()]


def flip(data: bytes, pos: int, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[pos] ^= 1 << bit
    return bytes(flipped)


def byte_cases(data: bytes, rng: random.Random, flips: int, cuts: int) -> list[tuple]:
    (n,) = struct.unpack("<Q", data[:8])
    cases = []
    # bit flips in the header (length field and JSON): most break the JSON or the digest; a flip that
    # means the same (an escape's hex digit changing case) may load, and then must change nothing
    for i in range(flips):
        pos = 8 + rng.randrange(n) if i % 8 else rng.randrange(8)
        bit = rng.randrange(8)
        cases.append((f"flip_byte{pos}_bit{bit}", lambda p=pos, b=bit: flip(data, p, b), "either"))
    # flips inside the weights: the sha256 catches every one
    for _ in range(max(2, flips // 10)):
        pos, bit = 8 + n + rng.randrange(len(data) - 8 - n), rng.randrange(8)
        cases.append((f"flip_weights_byte{pos}", lambda p=pos, b=bit: flip(data, p, b), "refuse"))
    points = {0, 1, 7, 8, 9, 10, 16, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1, len(data) - 1, len(data) - 4}
    while len(points) < cuts:
        points.add(rng.randrange(len(data)))
    cases += [(f"truncated_at_{p}", lambda p=p: data[:p], "refuse") for p in sorted(points)]
    cases.append(("appended_byte", lambda: data + b"\0", "refuse"))
    cases.append(("appended_kb", lambda: data + bytes(1024), "refuse"))
    return cases


def foreign_cases(data: bytes) -> list[tuple]:
    """Files that are no bundle at all, and absurd header lengths."""
    import io

    from safetensors.torch import save

    state = {"w": torch.zeros(2, 2)}

    def torch_file(legacy: bool) -> bytes:
        buf = io.BytesIO()
        torch.save(state, buf, _use_new_zipfile_serialization=not legacy)
        return buf.getvalue()

    def npy() -> bytes:
        buf = io.BytesIO()
        np.save(buf, np.zeros(4))
        return buf.getvalue()

    cases = [(f"pickle_protocol{p}", lambda p=p: pickle.dumps({"weights": [0.0] * 4}, protocol=p), "refuse")
             for p in range(pickle.HIGHEST_PROTOCOL + 1)]
    cases += [
        ("torch_save_zip", lambda: torch_file(False), "refuse"),
        ("torch_save_legacy", lambda: torch_file(True), "refuse"),
        ("numpy_npy", npy, "refuse"),
        ("random_bytes", lambda: np.random.default_rng(0).bytes(4096), "refuse"),
        ("zeros", lambda: bytes(4096), "refuse"),
        ("ones", lambda: b"\xff" * 4096, "refuse"),
        ("json_only", lambda: b'{"format": "zsar-bundle"}', "refuse"),
        ("empty", lambda: b"", "refuse"),
        ("safetensors_without_manifest", lambda: save(state), "refuse"),
        ("safetensors_other_metadata", lambda: save(state, metadata={"format": "pt"}), "refuse"),
    ]
    (n,) = struct.unpack("<Q", data[:8])
    for name, length in (("2_63", 2**63), ("2_64_minus_1", 2**64 - 1), ("2_32", 2**32), ("zero", 0),
                         ("header_minus_1", n - 1), ("header_plus_1", n + 1), ("whole_file", len(data) - 8),
                         ("max_header_plus_1", 16 * 1024 * 1024 + 1)):
        cases.append((f"header_length_{name}", lambda k=length: struct.pack("<Q", k) + data[8:], "refuse"))
    return cases


def harmless_cases(data: bytes) -> list[tuple]:
    """Damage that changes no value: whitespace and key order in the header and in the manifest."""
    header, body = split(data)
    manifest = json.loads(header["__metadata__"]["zsar_bundle"])

    def metadata(text: str) -> dict:
        return {**header, "__metadata__": {"zsar_bundle": text}}

    return [
        ("whitespace_header_indent", lambda: join(header, body, indent=1, separators=(", ", ": ")), "load"),
        ("whitespace_header_spaces", lambda: join(header, body, separators=(", ", ": ")), "load"),
        ("whitespace_manifest_indent", lambda: join(metadata(json.dumps(manifest, indent=2)), body), "load"),
        ("reordered_header_entries", lambda: join(dict(reversed(list(header.items()))), body), "load"),
        ("reordered_manifest_keys",
         lambda: join(metadata(json.dumps(dict(reversed(list(manifest.items()))))), body), "load"),
    ]


def unsealed_cases(data: bytes) -> list[tuple]:
    """Manifest edits without a new digest (item 10): the card, the classes, the calibration."""
    changes = {
        "card_text": _set("card.note", "random weights, for tests!"),
        "class_name": _set("class_set.names.0", "wave left hand"),
        "temperature": _set("calibration.temperature", 2.5),
        "train_layout": _set("train_layout", "ntu25"),
        "digest_removed": lambda m: m.pop("bundle_sha256"),
        "digest_truncated": lambda m: m.__setitem__("bundle_sha256", m["bundle_sha256"][:-1]),
        "created": _set("created", "2000-01-01T00:00:00Z"),
        "downgraded_to_v1_with_digest": _set("format_version", 1),
    }
    return [(f"unsealed_{name}", lambda c=change: with_manifest(data, c, seal=False), "refuse")
            for name, change in changes.items()]


def all_cases(tiny: bytes, default: bytes | None) -> list[tuple]:
    """Every damaged copy, in a fixed order: the tiny bundle's, then (when it is installed) a subset
    made from the default bundle."""
    rng = random.Random(20261203)
    cases = [("original", lambda: tiny, "load")]
    cases += harmless_cases(tiny)
    cases += byte_cases(tiny, rng, flips=64, cuts=30)
    cases += entry_cases(tiny)
    cases += weight_cases(tiny)
    cases += config_cases(tiny, "tcn")
    cases += unsealed_cases(tiny)
    cases += foreign_cases(tiny)
    cases = [(f"tiny_{name}", make, expect) for name, make, expect in cases]
    if default is not None:
        real = [("original", lambda: default, "load"), harmless_cases(default)[0]]
        real += byte_cases(default, rng, flips=24, cuts=6)
        real += rng.sample(entry_cases(default), 6) + rng.sample(weight_cases(default), 4)
        real += rng.sample(config_cases(default, "tcn"), 10) + unsealed_cases(default)[:3]
        cases += [(f"default_{name}", make, expect) for name, make, expect in real]
    seen: dict[str, int] = {}
    unique = []
    for name, make, expect in cases:  # two random flips or cuts may hit the same place
        seen[name] = seen.get(name, 0) + 1
        unique.append((name if seen[name] == 1 else f"{name}_{seen[name]}", make, expect))
    return unique


# --- loading them in a capped subprocess -----------------------------------------------------------

WORKER = textwrap.dedent(r'''
    import json, resource, sys, time, zlib
    import numpy as np, torch
    torch.set_num_threads(1)
    from engine.bundle import _tensors, load_bundle, weights_digest
    from engine.errors import ModelFileError
    from engine.streaming import StreamingRecognizer
    from engine.text.prompts import mode_parts
    from engine.types import ClassSet

    class StubText:
        """A deterministic text encoder (no model download): one unit vector per text."""
        def __init__(self, dim):
            self.dim, self.id = dim, "stub"
        def encode(self, texts):
            out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dim)
                            for t in texts]).astype(np.float32)
            return out / np.linalg.norm(out, axis=1, keepdims=True)

    def vm_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

    cases, clip_path, headroom = sys.argv[1], sys.argv[2], int(sys.argv[3])
    clip = np.load(clip_path)
    limit = vm_bytes() + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    print(json.dumps({"limit": limit, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
    actions = ClassSet(("wave right hand", "squat", "clap", "jump", "kick"))
    for path in json.load(open(cases)):
        start = time.perf_counter()
        out = {"path": path}
        try:
            bundle = load_bundle(path)
        except ModelFileError as exc:
            out.update(outcome="refused", message=str(exc))
        except BaseException as exc:
            out.update(outcome="other", message=f"{type(exc).__name__}: {exc}"[:500])
        else:
            try:
                manifest = bundle.manifest()
                out["signature"] = weights_digest(_tensors(bundle)) + json.dumps(manifest, sort_keys=True)
                text = StubText(bundle.method.text_dim // len(mode_parts(bundle.text.mode)))
                with StreamingRecognizer(bundle, actions, text_encoder=text) as rec:
                    logits = rec.logits([clip])
                    p = rec.predict_sequence(clip)
                out.update(outcome="loaded", finite=bool(np.isfinite(logits).all()
                                                          and np.isfinite(p.probabilities).all()),
                           best=p.names[0])
            except BaseException as exc:
                out.update(outcome="other", message=f"after loading: {type(exc).__name__}: {exc}"[:500])
        out["seconds"] = round(time.perf_counter() - start, 3)
        out["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(out), flush=True)
''')


def real_clip() -> np.ndarray:
    """A real recording (the NTU RGB+D sample) when the shared data is there, else the demo's clip."""
    if NTU_SAMPLE.exists():
        from engine.io import read_sequence

        return read_sequence(NTU_SAMPLE).joints
    from engine import synth

    return synth.generate("wave right hand", seed=0).joints


def run_cases(tmp_path: Path, cases: list[tuple], timeout: float) -> dict:
    paths = []
    for name, make, _ in cases:
        p = tmp_path / f"{name}.zsar"
        p.write_bytes(make())
        paths.append(str(p))
    (tmp_path / "cases.json").write_text(json.dumps(paths))
    np.save(tmp_path / "clip.npy", real_clip())
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", WORKER, str(tmp_path / "cases.json"), str(tmp_path / "clip.npy"),
                           str(HEADROOM)], check=False, capture_output=True, text=True, timeout=timeout,
                          cwd=PROJECT_ROOT, env=env)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the worker printed nothing (exit {proc.returncode}): {proc.stderr[-2000:]}"
    results = {r["path"]: r for r in lines[1:]}
    done = len(results)
    assert proc.returncode == 0 and done == len(cases), (
        f"the worker died (exit {proc.returncode}) after {done} of {len(cases)} cases, "
        f"next: {paths[done] if done < len(paths) else '-'}: {proc.stderr[-2000:]}")
    return {"start": lines[0], "results": results, "seconds": time.perf_counter() - start}


def check_outcomes(folder: Path, cases: list[tuple], run: dict) -> dict:
    """Fail on any case that misbehaved; the figures of the run otherwise."""
    results = {name: run["results"][str(folder / f"{name}.zsar")] for name, _, _ in cases}
    originals = {name.split("_", 1)[0]: r for name, r in results.items() if name.endswith("_original")}
    failures = []
    counts = {"refused": 0, "loaded": 0, "other": 0}
    for name, _, expect in cases:
        r = results[name]
        counts[r["outcome"]] += 1
        if r["outcome"] == "other":
            failures.append(f"{name}: not a ModelFileError: {r['message']}")
        elif r["outcome"] == "refused":
            message = r["message"]
            if expect == "load":
                failures.append(f"{name}: harmless damage refused: {message}")
            if "\n" in message or "\r" in message or r["path"] not in message:
                failures.append(f"{name}: not one line naming the file: {message!r}")
        else:
            original = originals.get(name.split("_", 1)[0], {})
            if expect == "refuse":
                failures.append(f"{name}: loaded, should be refused")
            elif not r["finite"]:
                failures.append(f"{name}: loaded, scores not finite")
            elif r["signature"] != original.get("signature"):
                failures.append(f"{name}: loaded with a different content than the undamaged file")
    assert not failures, f"{len(failures)} of {len(cases)} damaged bundles misbehaved:\n" + "\n".join(failures)
    return {"cases": len(cases), **counts, "peak_rss_mb": round(max(r["rss_kb"] for r in results.values()) / 1024),
            "start_rss_mb": round(run["start"]["rss_kb"] / 1024), "rss_limit_mb": round(run["start"]["limit"] / 2**20),
            "slowest_s": max(r["seconds"] for r in results.values()), "worker_s": round(run["seconds"], 1)}


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    path = tmp_path_factory.mktemp("damage") / "tiny.zsar"
    save_bundle(tiny_bundle(), path)
    return path.read_bytes(), (DEFAULT.read_bytes() if DEFAULT.exists() else None)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The tests' small ST-GCN bundle (tests/engine/fixtures.py), saved."""
    path = tmp_path_factory.mktemp("small") / "small.zsar"
    save_bundle(small_bundle(), path)
    return path


#: item 7: config numbers, each with what its message must say. Were a module built before its config
#: is checked, the wide ones would take gigabytes (a 16384-channel ST-GCN is 87 GB of float32): they
#: are loaded in the capped worker only.
CONFIG_NUMBERS = {
    "negative": (_set("encoder.config.channels.0", -64), "channels[0]"),
    "zero_stride": (_set("encoder.config.strides.0", 0), "strides[0]"),
    "huge": (_set("encoder.config.channels.0", 10**9), "out of range"),
    "huge_kernel": (_set("encoder.config.temporal_kernel", 2**40 + 1), "out of range"),
    "huge_text_dim": (_set("method.text_dim", 10**9), "out of range"),
    "nan_dropout": (_set("method.config.dropout", float("nan")), "finite"),
    "bool_channels": (_set("encoder.config.channels.1", True), "integer"),
    # within range, and gigabytes if built: the meta build shows they fit no stored weight
    "wide": (_set("encoder.config.channels", [16384] * 9 + [256]), "its config needs"),
    "wide_text": (_set("method.text_dim", 16000), "its config needs"),
    "wide_head": (_set("encoder.config.num_classes", 16000), "missing head"),
}


@pytest.fixture(scope="module")
def default_run(blobs, small, tmp_path_factory):
    """One capped worker (its start-up is most of the time) for the default run's cases: every
    SAMPLE_EVERY-th damaged copy plus those that must load, and item 7's config numbers."""
    cases = all_cases(*blobs)
    sample = [c for i, c in enumerate(cases) if c[2] == "load" or i % SAMPLE_EVERY == 0]
    data = small.read_bytes()
    numbers = [(f"small_config_{name}", lambda c=change: with_manifest(data, c), "refuse")
               for name, (change, _) in CONFIG_NUMBERS.items()]
    folder = tmp_path_factory.mktemp("default_run")
    return folder, sample, numbers, run_cases(folder, sample + numbers, timeout=180)


def test_a_sample_of_damaged_bundles_is_refused_or_harmless(default_run):
    folder, sample, _, run = default_run
    figures = check_outcomes(folder, sample, run)
    assert figures["loaded"] >= sum(expect == "load" for _, _, expect in sample), figures
    print(f"\ndamaged bundles (sample): {figures}")


@pytest.mark.fuzz
def test_every_damaged_bundle_is_refused_or_harmless(blobs, tmp_path):
    cases = all_cases(*blobs)
    assert len(cases) >= 200
    figures = check_outcomes(tmp_path, cases, run_cases(tmp_path, cases, timeout=900))
    print(f"\ndamaged bundles (all): {figures}")


# --- one regression test per finding -----------------------------------------------------------------


def refused(path: Path, blob: bytes, *needles: str) -> str:
    path.write_bytes(blob)
    with pytest.raises(ModelFileError) as info:
        load_bundle(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    for needle in needles:
        assert needle in message, message
    return message


def test_bad_data_offsets_are_refused_not_a_traceback(small, tmp_path):  # item 5
    data = small.read_bytes()
    name = entry_names(data)[3]
    for i, (offsets, needle) in enumerate([
        (None, "data_offsets"), ("0", "data_offsets"), ([0], "data_offsets"), ([8, 4], "data_offsets"),
        ([0, 2**70], "truncated"), ([-8, 0], "data_offsets"), ([0.0, 4.0], "data_offsets"),
    ]):
        blob = with_entries(data, lambda e, o=offsets: e[name].__setitem__("data_offsets", o))
        refused(tmp_path / f"offsets{i}.zsar", blob, needle)

    def shift(e):
        e[name]["data_offsets"] = [x + 4 for x in e[name]["data_offsets"]]

    refused(tmp_path / "gap.zsar", with_entries(data, shift), "gap")
    refused(tmp_path / "dtype.zsar", with_entries(data, lambda e: e[name].__setitem__("dtype", "X9")), "dtype")
    refused(tmp_path / "shape.zsar", with_entries(data, lambda e: e[name].__setitem__("shape", [-3])), "shape")
    refused(tmp_path / "entry.zsar", with_entries(data, lambda e: e.__setitem__(name, 5)), name)


def test_a_deeply_nested_manifest_is_refused(small, tmp_path):  # item 6
    data = small.read_bytes()
    refused(tmp_path / "nest40.zsar", with_manifest(data, _set("card.deep", nested(40))), "nested")
    header, body = split(data)
    manifest = header["__metadata__"]["zsar_bundle"]
    for depth in (1000, 200_000):
        header["__metadata__"]["zsar_bundle"] = manifest[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
        refused(tmp_path / f"nest{depth}.zsar", join(header, body), "nested")
    # the header itself nested, and one past the header size limit
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    refused(tmp_path / "header.zsar", struct.pack("<Q", len(deep)) + deep, "nested")
    refused(tmp_path / "big.zsar", struct.pack("<Q", 2**63) + data[8:], "not a zsar bundle")


def test_config_numbers_are_checked_before_anything_is_built(default_run):  # item 7
    folder, _, numbers, run = default_run
    figures = check_outcomes(folder, numbers, run)
    assert figures["refused"] == len(CONFIG_NUMBERS), figures
    for name, (_, needle) in CONFIG_NUMBERS.items():
        r = run["results"][str(folder / f"small_config_{name}.zsar")]
        assert needle in r["message"] and r["seconds"] < 5, r
    assert figures["peak_rss_mb"] - figures["start_rss_mb"] < 300, figures


def test_non_finite_weights_are_refused_naming_the_tensor(small, tmp_path):  # item 8
    data = small.read_bytes()
    name = entry_names(data)[-1]
    for value in (float("nan"), float("inf"), float("-inf")):
        def poison(t, value=value):
            t[name] = t[name].clone()
            t[name].view(-1)[0] = value

        refused(tmp_path / "nan.zsar", with_tensors(data, poison), "NaN or infinite", name)


def test_a_diverged_model_is_not_written(tmp_path):
    bundle = tiny_bundle()
    weight = next(p for p in bundle.method.parameters() if p.is_floating_point())
    with torch.no_grad():
        weight.view(-1)[0] = float("nan")
    target = tmp_path / "diverged.zsar"
    with pytest.raises(ModelFileError, match="not written: weights hold NaN") as err:
        save_bundle(bundle, target)
    assert str(target) in str(err.value) and "\n" not in str(err.value)
    assert not target.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("key, value, known", [
    ("train_layout", "kinect_v9", "kinect_v1_20"),
    ("encoder.name", "resnet", "stgcn"),
    ("method.name", "magic", "contrastive"),
    ("text.encoder", "bert", "minilm"),
    ("text.mode", "poem", "name_and_global"),
    ("text.options", {"fast": True}, "model_path"),
    ("preprocess.style", "warp", "ctr_gcn"),
    ("encoder.config.data_bn", "xyz", "mvc"),
])
def test_unknown_registry_keys_are_refused_at_load_listing_the_known(small, tmp_path, key, value, known):  # item 9
    message = refused(tmp_path / "key.zsar", with_manifest(small.read_bytes(), _set(key, value)), known)
    assert "known" in message or "options" in message, message


def test_the_manifest_is_covered_by_the_digest(small, tmp_path):  # item 10
    data = small.read_bytes()
    assert read_manifest(small)["format_version"] == 2 and "bundle_sha256" in read_manifest(small)
    refused(tmp_path / "card.zsar", with_manifest(data, _set("card.note", "edited"), seal=False), "sha256")
    refused(tmp_path / "names.zsar", with_manifest(data, _set("class_set.names.0", "run"), seal=False), "sha256")
    # every single-bit flip of a card character is caught
    (n,) = struct.unpack("<Q", data[:8])
    start = data.index(b"random weights, for tests", 8, 8 + n)
    for i in range(0, 25 * 8, 7):
        flipped = bytearray(data)
        flipped[start + i // 8] ^= 1 << (i % 8)
        refused(tmp_path / "flip.zsar", bytes(flipped))
    # a version 1 file (weights digest only) still loads; the default bundle has been re-sealed
    v1 = with_manifest(data, lambda m: (m.pop("bundle_sha256"), m.__setitem__("format_version", 1)), seal=False)
    (tmp_path / "v1.zsar").write_bytes(v1)
    assert load_bundle(tmp_path / "v1.zsar").card == read_manifest(small)["card"]
    if DEFAULT.exists():
        assert read_manifest(DEFAULT)["format_version"] == 2


def test_model_file_errors_are_one_line(tmp_path):
    err = ModelFileError(tmp_path / "m.zsar", "could not load the checkpoint:\n  Traceback ...\n\tKeyError: 'x'")
    assert "\n" not in str(err) and str(err).endswith("could not load the checkpoint: Traceback ... KeyError: 'x'")
    odd = ModelFileError("bad\nname.zsar", "damaged")
    assert str(odd) == "bad\\nname.zsar: damaged"
