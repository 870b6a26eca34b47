"""The project's own class descriptions (``assets/descriptions/<dataset>.json``): per class a
``global`` sentence (what the whole body does) and a ``local`` one (which body parts move and how),
the texts of the description text modes (:mod:`engine.text.prompts`; FS-VAE's ``ad`` / ``md``).

    from engine.text.descriptions import class_set_with_descriptions, load_descriptions
    entries = load_descriptions("ntu60")                    # first 60 entries of ntu120.json
    classes = class_set_with_descriptions("utd_mhad", ids=[0, 3], kind="global")
    local = [e["local"] for e in entries]                   # encode_class_set(..., local_descriptions=local)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache

from engine.assets import asset_path
from engine.types import ClassSet

#: The kinds of description each entry holds.
DESCRIPTION_KINDS: tuple[str, ...] = ("global", "local")

#: Datasets read as the first N entries of another's file (NTU-60 = actions A001-A060 of NTU-120).
DERIVED: dict[str, tuple[str, int]] = {"ntu60": ("ntu120", 60)}


def description_datasets() -> list[str]:
    """The datasets that have descriptions, sorted (files, and those derived from them)."""
    files = {p.stem for p in asset_path("descriptions").glob("*.json")}
    return sorted(files | {d for d, (base, _) in DERIVED.items() if base in files})


@cache
def _read(dataset: str) -> tuple[tuple[str, str, str], ...]:
    if dataset in DERIVED:
        base, count = DERIVED[dataset]
        return _read(base)[:count]
    path = asset_path("descriptions", f"{dataset}.json")
    if not path.exists():
        known = ", ".join(description_datasets())
        raise KeyError(f"no descriptions for dataset {dataset!r} (known: {known})")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("dataset") != dataset or not isinstance(doc.get("classes"), list):
        raise ValueError(f"{path}: needs 'dataset': {dataset!r} and a 'classes' list")
    out = []
    for i, entry in enumerate(doc["classes"]):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k].strip()
                                                  for k in ("name", *DESCRIPTION_KINDS)):
            raise ValueError(f"{path}: class {i} needs non-empty 'name', 'global' and 'local' texts")
        out.append((entry["name"].strip(), entry["global"].strip(), entry["local"].strip()))
    return tuple(out)


def _pick(entries, ids, dataset):
    if ids is None:
        return entries
    bad = [i for i in ids if not 0 <= int(i) < len(entries)]
    if bad:
        raise IndexError(f"class ids {bad[:5]} out of range for {dataset!r} ({len(entries)} classes)")
    return [entries[int(i)] for i in ids]


def load_descriptions(dataset: str) -> tuple[dict, ...]:
    """``({"name", "global", "local"}, ...)`` of a dataset, in class-id order.

    ``"ntu60"`` is the first 60 entries of ``ntu120``. Each call returns fresh dicts.

    Raises:
        KeyError: no descriptions for ``dataset`` (the message lists the known datasets).
        ValueError: a malformed file.
    """
    return tuple({"name": n, "global": g, "local": loc} for n, g, loc in _read(dataset))


def class_set_with_descriptions(
    dataset: str, ids: Sequence[int] | None = None, kind: str = "global"
) -> ClassSet:
    """The dataset's class names (or the ``ids`` subset in that order) with the ``kind`` description
    of each (``"global"`` or ``"local"``) as the ClassSet's descriptions."""
    if kind not in DESCRIPTION_KINDS:
        raise ValueError(f"unknown description kind {kind!r} (known: {', '.join(DESCRIPTION_KINDS)})")
    chosen = _pick(_read(dataset), ids, dataset)
    column = 1 if kind == "global" else 2
    return ClassSet(tuple(e[0] for e in chosen), tuple(e[column] for e in chosen))


def local_descriptions(dataset: str, ids: Sequence[int] | None = None) -> tuple[str, ...]:
    """The local descriptions of a dataset's classes (or of ``ids``), for ``encode_class_set``."""
    return tuple(e[2] for e in _pick(_read(dataset), ids, dataset))


def descriptions_by_name(exclude: Sequence[str] = ()) -> dict[str, dict]:
    """Every known class name (lower case) -> its ``{"name", "global", "local"}``, over all
    description files but those of ``exclude`` (a benchmark's held-out dataset): for live class sets
    typed by name (first dataset in sorted order wins)."""
    out: dict[str, dict] = {}
    for dataset in description_datasets():
        if dataset in DERIVED or dataset in exclude:
            continue
        for entry in load_descriptions(dataset):
            out.setdefault(entry["name"].lower(), entry)
    return out


def _known_entry(known: dict[str, dict], name: str) -> dict | None:
    """Our entry for ``name``, or the mirror image of the entry for its mirrored name ("wave left hand"
    read from "wave right hand" with left and right swapped in the texts)."""
    from engine.text.sides import mirror_text

    entry = known.get(name.lower())
    if entry is None:
        twin = known.get(mirror_text(name).lower())
        if twin is not None and mirror_text(name).lower() != name.lower():
            entry = {k: mirror_text(v) for k, v in twin.items()}
    return entry


def with_known_descriptions(class_set: ClassSet, exclude: Sequence[str] = ()) -> tuple[ClassSet, list[str]]:
    """A typed class set brought to what description-mode training saw: each name's own description
    if the user gave one, else our global description of a known class of that name (or of its
    left/right mirror, mirrored); and the local descriptions of known names (``""`` elsewhere: the text
    modes then fall back to the name). ``exclude``: description files not to use (a benchmark's held-out
    dataset, whose descriptions were written knowing its classes)."""
    known = descriptions_by_name(tuple(exclude))
    entries = [_known_entry(known, n) for n in class_set.names]
    globals_ = [class_set.description(i) or (e["global"] if e else "") for i, e in enumerate(entries)]
    return ClassSet(class_set.names, tuple(globals_)), [e["local"] if e else "" for e in entries]
