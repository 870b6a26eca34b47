"""Labels carried by file names, for each dataset's naming scheme.

``label_from_name(name)`` returns what the name tells: dataset, 0-based class id, class name and
metadata (subject, camera, view ...), or ``None`` when the name follows no known scheme.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.assets import class_names


@dataclass(frozen=True)
class NameLabel:
    dataset: str
    label_id: int
    label: str
    meta: dict[str, Any] = field(default_factory=dict)


def label_fields(named: NameLabel | None) -> dict[str, Any]:
    """The ``label``, ``label_id`` and ``dataset`` fields of a :class:`SkeletonSequence` (all None
    when the name told nothing)."""
    if named is None:
        return {"label": None, "label_id": None, "dataset": None}
    return {"label": named.label, "label_id": named.label_id, "dataset": named.dataset}


# NTU RGB+D: SsssCcccPpppRrrrAaaa (setup, camera, performer, replication, action; 1-based).
_NTU = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
# UTD-MHAD: aA_sS_tT_skeleton
_UTD = re.compile(r"^a(\d{1,9})_s(\d{1,9})_t(\d{1,9})(?:_skeleton)?$")
# NW-UCLA: aAA_sSS_eEE_vVV; the file action ids skip 7 and 10 (classes.txt maps them to labels 1..10)
_UCLA = re.compile(r"^a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})$")
_UCLA_ACTION_TO_LABEL = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 8: 6, 9: 7, 11: 8, 12: 9}
# Bandai-Namco: dataset-N_content_style_take
_BANDAI = re.compile(r"^dataset-([12])_([a-z-]+)_([a-z-]+)_(\d{3})$")


def label_from_name(name: str) -> NameLabel | None:
    """Parse a sample or file name (with or without suffix)."""
    stem = name.rsplit("/", 1)[-1]
    stem = re.sub(r"\.(skeleton|mat|json|bvh|txt|npy|npz)$", "", stem)
    m = _NTU.search(stem)
    if m:
        setup, camera, performer, replication, action = (int(g) for g in m.groups())
        dataset = "ntu60" if action <= 60 else "ntu120"
        names = class_names("ntu120")
        if 1 <= action <= len(names):
            meta = {"setup": setup, "camera": camera, "subject": performer, "replication": replication}
            return NameLabel(dataset, action - 1, names[action - 1], meta)
    m = _UTD.match(stem)
    if m:
        action, subject, trial = (int(g) for g in m.groups())
        names = class_names("utd_mhad")
        if 1 <= action <= len(names):
            return NameLabel("utd_mhad", action - 1, names[action - 1], {"subject": subject, "trial": trial})
    m = _UCLA.match(stem)
    if m:
        action, subject, episode, view = (int(g) for g in m.groups())
        if action in _UCLA_ACTION_TO_LABEL:
            idx = _UCLA_ACTION_TO_LABEL[action]
            meta = {"subject": subject, "episode": episode, "view": view}
            return NameLabel("nw_ucla", idx, class_names("nw_ucla")[idx], meta)
    m = _BANDAI.match(stem)
    if m:
        part, content, style, take = m.groups()
        dataset = f"bandai_namco{part}"
        names = class_names(dataset)
        readable = content.replace("-", " ")
        if readable in names:
            meta = {"style": style, "take": int(take)}
            return NameLabel(dataset, names.index(readable), readable, meta)
    return None
