"""Stage ``embed_texts``: one L2-normalised text embedding per class of the split's dataset.

From a pre-computed ``.npy`` (row i = class i, e.g. MSF's CLIP ViT-B/32 label features) or from a
text encoder over the class names (``assets/classes/<dataset>.txt``) in the configured prompt mode.
Writes ``RUN/text/class_embeddings.npy`` and ``RUN/text/meta.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import ZsarError
from engine.types import ClassSet
from trainer.config import RunConfig
from trainer.data.splits import load_split
from trainer.runs import Run

STAGE = "embed_texts"


def run(run: Run, config: RunConfig, events=None, should_stop=None) -> dict:
    split = load_split(config.split)
    text = config.text
    if text.features:
        path = Path(text.features)
        try:
            emb = np.load(path, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise ZsarError(f"{path}: not a readable .npy of text features ({exc})") from None
        if emb.ndim != 2 or emb.shape[0] != split.num_classes:
            raise ZsarError(f"{path}: text features must be ({split.num_classes}, D) for {split.dataset}, "
                            f"got {emb.shape}")
        source = {"features": str(path.resolve()), "encoder_id": f"table:{path.stem}"}
    else:
        from engine.text import create_text_encoder
        from engine.text.prompts import encode_class_set

        encoder = create_text_encoder(text.encoder, **text.options)
        emb = encode_class_set(encoder, ClassSet(split.names()), text.mode)
        source = {"encoder": text.encoder, "encoder_id": encoder.id, "mode": text.mode}
    if not np.isfinite(emb).all():
        raise ZsarError("text features hold NaN or infinite values")
    # Per-class L2 normalisation, as every method of the SynSE family does before use.
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    run.write_npy("text/class_embeddings.npy", emb)
    meta = {**source, "dim": int(emb.shape[1]), "classes": int(emb.shape[0])}
    run.write_json("text/meta.json", meta)
    return meta
