"""``clip-vit-b-32``: the text tower of CLIP ViT-B/32 (Radford et al., ICML 2021) through open_clip.

The text features many zero-shot skeleton papers use (MSF, FS-VAE, STAR use CLIP text towers); the
encoding follows open_clip's ``CLIP.encode_text``: BPE tokens, causal transformer, final LayerNorm,
the feature at the end-of-text token, ``text_projection``. 512-d.

No CLIP weights ship in any package (docs/text_encoders.md#staying-offline), so the weights come from:

1. ``checkpoint=PATH`` (the CLI's ``--clip-checkpoint PATH``), else ``$ZSAR_CLIP_CHECKPOINT``: a local
   ``.safetensors`` / ``.pt`` / ``.bin`` state dict, loaded into ``ViT-B-32-quickgelu`` because
   OpenAI's weights were trained with QuickGELU and a file does not carry that setting; or OpenAI's
   original TorchScript ``ViT-B-32.pt``, through ``open_clip.load_openai_model``.
2. ``pretrained=TAG`` (``"openai"``, ``"laion2b_s34b_b79k"``...): the Hugging Face cache, and the hub
   only with ``allow_download=True``. Otherwise huggingface_hub is held offline, so a miss fails in
   0.03 s instead of retrying for 46 s.
3. ``random_init=True``: seeded random weights, for tests and benchmarks only (the id says so).

Speed: open_clip pads every text to 77 tokens. With CLIP's causal attention mask no position sees a
later one, so the positions after the last end-of-text token of a batch cannot change any pooled
feature; :meth:`OpenCLIPTextEncoder.text_features` drops them and runs open_clip's own modules on
the shorter context (60 NTU labels: 13 tokens instead of 77, about 10x faster). A test checks it
against ``encode_text``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import TextEncoderError
from engine.text import _hub
from engine.text.base import TEXT_ENCODERS, TextEncoder, sha256_file

logger = logging.getLogger(__name__)

NAME = "clip-vit-b-32"
ARCH = "ViT-B-32"
CHECKPOINT_ENV = "ZSAR_CLIP_CHECKPOINT"
HUB_REPO = "timm/vit_base_patch32_clip_224.openai"
HUB_FILE = "open_clip_model.safetensors"
HUB_URL = f"https://huggingface.co/{HUB_REPO}/resolve/main/{HUB_FILE}"

# (weights key, quick_gelu, device) -> text-only open_clip CLIP module, shared within the process.
_MODELS: dict[tuple[str, bool, str], Any] = {}
_TOKENIZER: list[Any] = []
_LOCK = threading.Lock()


def weights_advice() -> str:
    """What a user without CLIP weights can do, in one sentence."""
    return (
        f"download {HUB_FILE} from the Hugging Face repository {HUB_REPO} (OpenAI's CLIP ViT-B/32 "
        f"weights: {HUB_URL}) and pass it with --clip-checkpoint PATH or set {CHECKPOINT_ENV}=PATH "
        "(checkpoint=PATH in Python); or, when online, allow the download with pretrained='openai', "
        "allow_download=True; or use the offline text encoder 'minilm'"
    )


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


def _import_open_clip():
    try:
        import open_clip
    except Exception as exc:  # noqa: BLE001  (ImportError, or torchvision's RuntimeError beside a CPU torch)
        raise TextEncoderError(
            f"the CLIP text encoder needs open_clip_torch and a torchvision that imports beside this torch "
            f"(pip install open_clip_torch); importing it failed: {_one_line(exc)}"
        ) from exc
    return open_clip


class _NoRandomInitNotice(logging.Filter):
    """open_clip logs "No pretrained weights loaded ... initialized randomly" on the root logger when
    it builds a model without weights; ours are loaded right after, so that line would mislead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No pretrained weights loaded")


@contextlib.contextmanager
def _quiet_random_init() -> Iterator[None]:
    flt = _NoRandomInitNotice()
    root = logging.getLogger()
    root.addFilter(flt)
    try:
        yield
    finally:
        root.removeFilter(flt)


def _build(open_clip, quick_gelu: bool, seed: int):
    """A randomly initialised ViT-B-32; the caller's torch RNG state is left as it was."""
    import torch

    name = f"{ARCH}-quickgelu" if quick_gelu else ARCH
    with torch.random.fork_rng(devices=[]), _quiet_random_init():
        torch.manual_seed(seed)
        return open_clip.create_model(name, pretrained=None, device="cpu")


def is_torchscript_archive(path: str | os.PathLike) -> bool:
    """True for a TorchScript archive (OpenAI's original ``ViT-B-32.pt``), which holds compiled
    code (``*/code/``, ``*/constants.pkl``) beside its tensors; ``torch.save`` files do not."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any("/code/" in n or n.endswith("/constants.pkl") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _load_file(open_clip, path: Path, quick_gelu: bool):
    """A CLIP module with the weights of ``path`` (state dict or OpenAI TorchScript archive)."""
    if is_torchscript_archive(path):
        try:
            with warnings.catch_warnings():
                # torch >= 2.10 deprecates torch.jit.load; OpenAI's file exists only in this format.
                warnings.simplefilter("ignore", FutureWarning)
                return open_clip.load_openai_model(str(path), precision="fp32", device="cpu")
        except Exception as exc:  # noqa: BLE001
            raise TextEncoderError(
                f"{path}: cannot be loaded as OpenAI's CLIP TorchScript file ({_one_line(exc)}); "
                + weights_advice()
            ) from exc
    if path.suffix.lower() == ".safetensors":
        _precheck_safetensors(path)
    model = _build(open_clip, quick_gelu, seed=0)  # every text weight is overwritten below
    try:
        incompatible = open_clip.load_checkpoint(model, str(path), strict=False)
    except Exception as exc:  # noqa: BLE001  (torch, safetensors and pickle each raise their own types)
        raise TextEncoderError(
            f"{path}: cannot be loaded as an open_clip {ARCH} checkpoint ({_one_line(exc)}); "
            + weights_advice()
        ) from exc
    # The image tower is not used: a text-only checkpoint is fine, a partial text tower is not.
    missing = [k for k in getattr(incompatible, "missing_keys", []) if not k.startswith("visual.")]
    unexpected = [k for k in getattr(incompatible, "unexpected_keys", []) if not k.startswith("visual.")]
    if missing or unexpected:
        what = f"missing {', '.join(missing[:4])}" if missing else f"unexpected {', '.join(unexpected[:4])}"
        raise TextEncoderError(
            f"{path}: not an open_clip {ARCH} checkpoint (text-tower keys {what}"
            f"{', ...' if len(missing or unexpected) > 4 else ''}); " + weights_advice()
        )
    return model


# A few keys every open_clip / OpenAI CLIP text tower has (the full check follows the load).
_TEXT_KEYS = ("token_embedding.weight", "positional_embedding", "ln_final.weight", "text_projection")


def _precheck_safetensors(path: Path) -> None:
    """Refuse an unreadable or non-CLIP ``.safetensors`` from its header alone, before the second
    it takes to build the model."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
    except Exception as exc:  # noqa: BLE001  (safetensors raises its own error type)
        raise TextEncoderError(
            f"{path}: cannot be loaded as an open_clip {ARCH} checkpoint ({_one_line(exc)}); "
            + weights_advice()
        ) from exc
    prefix = "module." if keys and all(k.startswith("module.") for k in keys) else ""
    missing = [k for k in _TEXT_KEYS if prefix + k not in keys]
    if missing:
        raise TextEncoderError(
            f"{path}: not an open_clip {ARCH} checkpoint (text-tower keys missing {', '.join(missing)}); "
            + weights_advice()
        )


def _resolve_tag(open_clip, tag: str, allow_download: bool) -> tuple[Path, bool]:
    """The local file of an open_clip pretrained tag (from the HF cache, or downloaded), and whether
    the tag's weights need QuickGELU."""
    cfg = open_clip.get_pretrained_cfg(ARCH, tag)
    if not cfg:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(ARCH))
        raise TextEncoderError(f"unknown open_clip pretrained tag {tag!r} for {ARCH} (known: {known})")
    with _hub.hub_access(allow_download):
        try:
            target = open_clip.download_pretrained(cfg)
        except Exception as exc:  # noqa: BLE001
            if allow_download:
                raise TextEncoderError(
                    f"could not download the CLIP weights {tag!r} ({_one_line(exc)}); check the network, "
                    "or " + weights_advice()
                ) from exc
            raise TextEncoderError(
                f"the CLIP weights {tag!r} are not in the local Hugging Face cache and downloads are off; "
                "allow the download (allow_download=True), or " + weights_advice()
            ) from exc
    if not target:
        raise TextEncoderError(f"open_clip knows no file for the pretrained tag {tag!r}; " + weights_advice())
    return Path(target), bool(cfg.get("quick_gelu", False))


def _tokenizer(open_clip):
    with _LOCK:
        if not _TOKENIZER:
            _TOKENIZER.append(open_clip.get_tokenizer(ARCH))
        return _TOKENIZER[0]


def _is_causal(mask) -> bool:
    import torch

    if mask is None or mask.ndim != 2 or mask.shape[0] != mask.shape[1]:
        return False
    upper = torch.triu(torch.ones_like(mask, dtype=torch.bool), diagonal=1)
    return bool(torch.isneginf(mask[upper]).all() and (mask[~upper] == 0).all())


@TEXT_ENCODERS.register(NAME)
class OpenCLIPTextEncoder(TextEncoder):
    """CLIP ViT-B/32 text tower (512-d) through open_clip.

    Args:
        checkpoint: a local weights file (``.safetensors``, ``.pt``, ``.bin``, or OpenAI's TorchScript
            ``ViT-B-32.pt``). When neither this nor ``pretrained`` is given, ``$ZSAR_CLIP_CHECKPOINT``.
        pretrained: an open_clip pretrained tag for ViT-B-32, looked up in the Hugging Face cache.
        allow_download: let ``pretrained`` be fetched from the hub when it is not cached.
        random_init: seeded random weights instead (tests and benchmarks only).
        seed: the seed of ``random_init``; part of the id, so two seeds never share a cache.
        quick_gelu: the activation of a ``checkpoint`` state dict: True for OpenAI and laion400m
            weights (the advised file), False for laion2b / DataComp ones. Tags and OpenAI's
            TorchScript file set it themselves.
        device: where the model runs (``"cpu"``, ``"cuda"``, ``"auto"``).
        trim_context: run on the context up to the batch's last end-of-text token instead of all 77
            positions (same output, about 10x faster for short labels).
        batch_size: texts per forward pass.

    Raises:
        TextEncoderError: no weights (with what to do), a missing or unusable file, an unknown tag,
            conflicting options, or open_clip not importable.
    """

    name = NAME

    def __init__(
        self,
        checkpoint: str | os.PathLike | None = None,
        pretrained: str | None = None,
        allow_download: bool = False,
        random_init: bool = False,
        seed: int = 0,
        quick_gelu: bool = True,
        device: str = "cpu",
        trim_context: bool = True,
        batch_size: int = 64,
    ):
        if random_init and (checkpoint is not None or pretrained is not None):
            raise TextEncoderError("random_init=True cannot be combined with checkpoint or pretrained")
        if checkpoint is not None and pretrained is not None:
            raise TextEncoderError("give either checkpoint=PATH or pretrained=TAG for CLIP, not both")
        source = "checkpoint"
        if not random_init and checkpoint is None and pretrained is None:
            env = os.environ.get(CHECKPOINT_ENV, "").strip()
            if not env:
                raise TextEncoderError(
                    "the CLIP text encoder needs weights and none ship with the program: " + weights_advice()
                )
            checkpoint, source = env, f"${CHECKPOINT_ENV}"
        if not allow_download:
            _hub.default_offline()

        from engine.device import resolve_device  # imports torch: kept out of `import engine.text`

        self.device = str(resolve_device(device))
        self.trim_context = trim_context
        self.batch_size = batch_size
        open_clip = _import_open_clip()

        if random_init:
            key, use_quick_gelu = f"random-seed{int(seed)}", quick_gelu
            path = None
        else:
            if pretrained is not None:
                path, use_quick_gelu = _resolve_tag(open_clip, pretrained, allow_download)
            else:
                path, use_quick_gelu = Path(checkpoint).expanduser(), quick_gelu
                if not path.is_file():
                    raise TextEncoderError(
                        f"CLIP checkpoint {path} (from {source}) not found; " + weights_advice()
                    )
            torchscript = is_torchscript_archive(path)
            use_quick_gelu = use_quick_gelu or torchscript  # OpenAI's archive is always QuickGELU
            key = sha256_file(path)[:12]
        self.id = f"{NAME}:{key}" if use_quick_gelu else f"{NAME}:{key}:gelu"
        self.checkpoint = path

        cache_key = (key, bool(use_quick_gelu), self.device)
        with _LOCK:
            model = _MODELS.get(cache_key)
            if model is None:
                if path is None:
                    model = _build(open_clip, use_quick_gelu, int(seed))
                else:
                    model = _load_file(open_clip, path, use_quick_gelu)
                # Only the text tower is used: dropping the image tower frees about 350 MB.
                model.visual = None
                model = model.to(self.device).eval().requires_grad_(False)
                _MODELS[cache_key] = model
                logger.info("loaded CLIP %s text tower (%s) on %s", ARCH, self.id, self.device)
        self.model = model
        self.tokenizer = _tokenizer(open_clip)
        proj = model.text_projection
        self.dim = int(proj.out_features if hasattr(proj, "out_features") else proj.shape[1])
        self._can_trim = (
            hasattr(model, "token_embedding")
            and getattr(model, "text_pool_type", None) == "argmax"
            and _is_causal(getattr(model, "attn_mask", None))
        )

    def tokenize(self, texts: list[str]):
        """CLIP BPE token ids, ``(len(texts), 77)`` int64 (long texts are truncated to 77 tokens)."""
        return self.tokenizer(texts)

    def text_features(self, tokens, trim_context: bool | None = None):
        """Unnormalised text features of token ids, as open_clip's ``encode_text`` computes them.

        Args:
            tokens: ``(N, 77)`` token ids on the model's device.
            trim_context: override of the encoder's ``trim_context`` (the test compares both).

        Returns:
            torch float tensor ``(N, dim)``.
        """
        import torch

        model = self.model
        trim = self.trim_context if trim_context is None else trim_context
        if not (trim and self._can_trim):
            return model.encode_text(tokens)
        # The end-of-text token has the largest id, so argmax finds it (open_clip's 'argmax' pooling).
        eot = tokens.argmax(dim=-1)
        length = int(eot.max()) + 1
        tokens = tokens[:, :length]
        cast_dtype = model.transformer.get_cast_dtype()
        x = model.token_embedding(tokens).to(cast_dtype)
        x = x + model.positional_embedding[:length].to(cast_dtype)
        x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
        x = model.ln_final(x)
        x = x[torch.arange(x.shape[0], device=x.device), eot]
        proj = model.text_projection
        return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self.tokenize(texts).to(self.device)
        with torch.inference_mode():
            features = self.text_features(tokens)
        return features.float().cpu().numpy()
