"""Seen/unseen class splits, read from ``assets/splits/<name>.json`` (facts with their sources)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from engine.assets import asset_path
from engine.errors import ZsarError


@dataclass(frozen=True)
class Split:
    """A zero-shot protocol over one dataset's classes (0-based ids).

    Attributes:
        val_seen / val_unseen: the validation fold inside the seen classes (empty when the split
            has none): models trained on ``val_seen`` and tested on ``val_unseen`` select epochs and
            fit the GZSL gate without looking at the test classes.
    """

    name: str
    dataset: str
    num_classes: int
    seen: tuple[int, ...]
    unseen: tuple[int, ...]
    val_seen: tuple[int, ...] = ()
    val_unseen: tuple[int, ...] = ()
    source: str = ""
    protocol: dict = field(default_factory=dict)  # which subjects / views train and test, when the split says
    class_names: tuple[str, ...] = ()  # only for datasets without assets/classes/<dataset>.txt
    # a combined dataset (its name is the split's): the splits whose classes it joins, in order (class ids
    # offset by the classes before), each cut into train/test by its own protocol; every sequence is
    # brought to the joint synthesis of layout ``harmonise_to`` so that the encoder sees one convention
    parts: tuple[str, ...] = ()
    harmonise_to: str | None = None

    def names(self) -> tuple[str, ...]:
        """Class names, index = class id."""
        if self.class_names:
            return self.class_names
        from engine.assets import class_names

        return class_names(self.dataset)

    @property
    def has_validation(self) -> bool:
        return bool(self.val_unseen)

    def to_dict(self) -> dict:
        return {"name": self.name, "dataset": self.dataset, "num_classes": self.num_classes,
                "seen": list(self.seen), "unseen": list(self.unseen), "val_seen": list(self.val_seen),
                "val_unseen": list(self.val_unseen), "source": self.source, "protocol": self.protocol,
                **({"parts": list(self.parts), "harmonise_to": self.harmonise_to} if self.parts else {})}


def class_positions(labels, classes: tuple[int, ...]):
    """Global class ids -> positions in ``classes`` (what a training step's labels index), a LongTensor."""
    import numpy as np
    import torch

    pos = np.full(max(max(classes), int(np.max(labels))) + 1, -1, np.int64)
    pos[list(classes)] = np.arange(len(classes))
    out = pos[np.asarray(labels, np.int64)]
    if (out < 0).any():
        missing = sorted(set(np.asarray(labels)[out < 0].tolist()))
        raise ValueError(f"labels {missing[:5]} are not among the expected classes")
    return torch.as_tensor(out)


def split_names() -> list[str]:
    return sorted(p.stem for p in asset_path("splits").glob("*.json"))


@cache
def load_split(name: str) -> Split:
    """A split by name (``assets/splits/<name>.json``) or by the path of a JSON file of that form."""
    path = Path(name) if name.endswith(".json") else asset_path("splits", f"{name}.json")
    if not path.exists():
        raise ZsarError(f"unknown split {name!r} (known: {', '.join(split_names())})")
    d = json.loads(path.read_text(encoding="utf-8"))
    parts = tuple(d.get("parts") or ())
    names = tuple(d.get("class_names") or ())
    if parts:  # a combined dataset: classes, and unless listed every class seen, from its parts
        names = tuple(n for part in parts for n in load_split(part).names())
        d.setdefault("num_classes", len(names))
        d.setdefault("seen", list(range(len(names))))
        d.setdefault("unseen", [])
        if d.get("val_unseen") and "val_seen" not in d:
            d["val_seen"] = [c for c in d["seen"] if c not in set(d["val_unseen"])]
    return Split(
        name=d["name"], dataset=d["dataset"], num_classes=d["num_classes"], seen=tuple(d["seen"]),
        unseen=tuple(d["unseen"]), val_seen=tuple(d.get("val_seen", ())), val_unseen=tuple(d.get("val_unseen", ())),
        source=d.get("source", ""), protocol=d.get("protocol") or {}, class_names=names, parts=parts,
        harmonise_to=d.get("harmonise_to"),
    )


def combined_split(dataset: str) -> Split | None:
    """The split that defines ``dataset`` as a combination of others (``zsar_default``), else None."""
    if not asset_path("splits", f"{dataset}.json").exists():
        return None
    split = load_split(dataset)
    return split if split.parts and split.dataset == dataset else None
