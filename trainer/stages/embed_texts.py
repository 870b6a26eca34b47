"""Stage ``embed_texts``: one L2-normalised text embedding per class of the split's dataset.

From a pre-computed ``.npy`` (row i = class i, e.g. MSF's CLIP ViT-B/32 label features) or from a
text encoder over the class names (``assets/classes/<dataset>.txt``) in the configured prompt mode.
Modes that read descriptions (``global``, ``local``, the fused ``name+global+local`` ...) get the
split's dataset descriptions (``assets/descriptions``; a combined dataset such as ``zsar_default``
joins those of its parts); where there are none the names stand in, and ``meta.json`` says so.
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


def _dataset_entries(dataset: str) -> tuple[list[dict] | None, list[str]]:
    """The descriptions of ``dataset`` in class order and the datasets they came from; for a
    combined dataset the parts' descriptions joined (None for a part without any)."""
    from engine.text.descriptions import load_descriptions
    from trainer.data.splits import combined_split

    combined = combined_split(dataset)
    if combined is not None:
        entries, sources = [], []
        for split_name in combined.parts:
            part_split = load_split(split_name)
            part, part_sources = _dataset_entries(part_split.dataset)
            if part is None:
                part = [None] * part_split.num_classes
            entries.extend(part)
            sources.extend(part_sources)
        return entries, sources
    try:
        return list(load_descriptions(dataset)), [dataset]
    except KeyError:
        return None, []


def split_descriptions(split) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], dict]:
    """The split's class names, their global descriptions, their local descriptions (``""`` where
    there is none), and a record of where they came from (``{"descriptions": [datasets], "described":
    n, "missing": [names]}``). A combined dataset may name a class twice ("throw" in NW-UCLA and
    MSRC-12): the lists follow the class ids, duplicates included.

    An entry is used only where its name is the split's class name (case aside), so a class list
    that moved out of step with its descriptions falls back to names instead of mislabelling."""
    names = split.names()
    entries, sources = _dataset_entries(split.dataset)
    if entries is None or len(entries) != len(names):
        entries = [None] * len(names)
        sources = []
    globals_, locals_, missing = [], [], []
    for name, entry in zip(names, entries):
        if entry is not None and entry["name"].lower() == name.lower():
            globals_.append(entry["global"])
            locals_.append(entry["local"])
        else:
            globals_.append("")
            locals_.append("")
            missing.append(name)
    record = {"descriptions": sources if len(missing) < len(names) else [],
              "described": len(names) - len(missing), "missing": missing}
    if not record["descriptions"]:
        record["fallback"] = "names"  # no descriptions at all: every text is the class name
    return tuple(names), tuple(globals_), tuple(locals_), record


def encode_classes(encoder, names, mode: str, descriptions=None, local=None) -> np.ndarray:
    """One embedding per class id: each distinct name (case aside) encoded once, in ``mode``, then
    spread back over the ids that share it (a class set cannot hold one name twice)."""
    from engine.text.prompts import encode_class_set

    row_of: dict[str, int] = {}
    pick: list[int] = []  # the first class id of each distinct name
    rows: list[int] = []  # each class id's row among the distinct names
    for i, name in enumerate(names):
        key = " ".join(name.lower().split())
        if key not in row_of:
            row_of[key] = len(pick)
            pick.append(i)
        rows.append(row_of[key])
    class_set = ClassSet(tuple(names[i] for i in pick), tuple(descriptions[i] for i in pick) if descriptions else ())
    emb = encode_class_set(encoder, class_set, mode,
                           local_descriptions=[local[i] for i in pick] if local is not None else None)
    return emb[rows]


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
        from engine.text.prompts import DESCRIPTION_MODES, text_mode_spec

        spec = text_mode_spec(text.mode)  # an unknown mode fails here, before the encoder loads
        encoder = create_text_encoder(text.encoder, **text.options)
        source = {"encoder": text.encoder, "encoder_id": encoder.id, "mode": text.mode}
        if "parts" in spec:
            source["parts"] = spec["parts"]
        if text.mode in DESCRIPTION_MODES:
            names, descriptions, local, record = split_descriptions(split)
            emb = encode_classes(encoder, names, text.mode, descriptions, local)
            source.update(record)
        else:
            emb = encode_classes(encoder, split.names(), text.mode)
    if not np.isfinite(emb).all():
        raise ZsarError("text features hold NaN or infinite values")
    # Per-class L2 normalisation, as every method of the SynSE family does before use.
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    run.write_npy("text/class_embeddings.npy", emb)
    meta = {**source, "dim": int(emb.shape[1]), "classes": int(emb.shape[0])}
    run.write_json("text/meta.json", meta)
    return meta
