"""From a :class:`~engine.types.ClassSet` to one text embedding per class.

The text modes, named as data (:data:`TEXT_MODES`) so a bundle can record which one it was trained
with (:func:`text_mode_spec`):

* ``"name"``: the action name as typed (SynSE-style "label" text).
* ``"name_description"``: ``"name: description"`` where the class has a description, else the name
  (descriptions as in SA-DVAE / SMIE, which embed a sentence per class).
* ``"templates"``: each name in several sentence templates, the embeddings averaged and renormalised:
  the prompt ensembling of CLIP's zero-shot classifier (Radford et al. 2021; open_clip's
  ``build_zero_shot_classifier``). The templates are our own, written for people and skeletons.
* ``"global"``: the class's global description (the ClassSet's description; FS-VAE's ``ad``, "action
  description": what the whole body does), else the name.
* ``"local"``: the class's local description (FS-VAE's ``md``, "motion description": which body
  parts move and how), passed as ``local_descriptions``; else the name.
* ``"name_and_global"``: the name's and the global description's embeddings averaged and renormalised
  (the name alone where there is none): both the words a user types and what the body does, in one
  vector of the encoder's size; the default model's training texts (``docs/results.md``).
* fused modes ``"name+global"``, ``"name+local"``, ``"global+local"``, ``"name+global+local"``
  (FS-VAE's ``lb_ad``-style fusion, docs/text_encoders.md#text-modes: ``ad_md``, ``lb_ad_md``): each part embedded
  as its single mode, L2-normalised, the parts concatenated in the order named and the whole vector
  L2-normalised again; dimension ``len(parts) * encoder.dim`` (:func:`text_mode_dim`).

A description that is missing (a user typed only names, a dataset without descriptions) reads as the
class name, so every mode works on any class set and keeps its dimension.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.errors import TextEncoderError
from engine.text.base import TextEncoder, l2_normalize
from engine.types import ClassSet

#: The parts a fused mode concatenates: the name (FS-VAE ``lb``), the global description (``ad``) and
#: the local description (``md``).
TEXT_PARTS: tuple[str, ...] = ("name", "global", "local")

#: Fused modes: parts joined by ``+``, embedded one by one and concatenated in that order.
FUSED_TEXT_MODES: tuple[str, ...] = ("name+global", "name+local", "global+local", "name+global+local")

#: The text modes, in the order a GUI offers them.
TEXT_MODES: tuple[str, ...] = ("name", "name_description", "name_and_global", "templates", "global", "local",
                               *FUSED_TEXT_MODES)

#: Modes whose texts come from descriptions (a trainer passes the dataset's descriptions for them).
DESCRIPTION_MODES: tuple[str, ...] = ("name_description", "name_and_global", "global", "local", *FUSED_TEXT_MODES)

#: Templates of mode ``"templates"``; ``{name}`` is replaced by the action name. They avoid grammar
#: that only fits one verb form, since class names mix "drink water", "brushing teeth" and "falling".
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "{name}",
    "a person {name}",
    "a skeleton of a person {name}",
    "a person doing the action: {name}",
    "the human action of {name}",
    "motion capture of someone: {name}",
    "a 3D skeleton sequence of the action {name}",
)


def _check_mode(mode: str) -> None:
    if mode not in TEXT_MODES:
        raise TextEncoderError(f"unknown text mode {mode!r} (known: {', '.join(TEXT_MODES)})")


def _check_templates(templates: Sequence[str]) -> tuple[str, ...]:
    out = tuple(templates)
    if not out:
        raise TextEncoderError("text mode 'templates' needs at least one template")
    bad = [t for t in out if "{name}" not in t]
    if bad:
        raise TextEncoderError(f"template {bad[0]!r} has no {{name}} placeholder")
    return out


def mode_parts(mode: str) -> tuple[str, ...]:
    """The parts a mode concatenates: ``("name", "global")`` for ``"name+global"``, ``(mode,)`` for a
    single mode (``"name"``, ``"global"``, ``"templates"``, ...)."""
    _check_mode(mode)
    return tuple(mode.split("+"))


def text_mode_dim(mode: str, encoder_dim: int) -> int:
    """The embedding size of ``mode`` over an encoder of ``encoder_dim``: one encoder vector per part."""
    return len(mode_parts(mode)) * int(encoder_dim)


def needs_local_descriptions(mode: str) -> bool:
    return "local" in mode_parts(mode)


def _local_texts(class_set: ClassSet, local_descriptions: Any) -> list[str]:
    """One local description per class (``""`` where there is none)."""
    names = class_set.names
    if local_descriptions is None:
        return [""] * len(names)
    if isinstance(local_descriptions, Mapping):
        exact = {str(k).strip(): str(v or "").strip() for k, v in local_descriptions.items()}
        folded = {k.lower(): v for k, v in exact.items()}
        return [exact.get(n, folded.get(n.lower(), "")) for n in names]
    texts = [str(t or "").strip() for t in local_descriptions]
    if len(texts) != len(names):
        raise TextEncoderError(f"{len(texts)} local descriptions for {len(names)} classes")
    return texts


def _part_texts(class_set: ClassSet, part: str, local: list[str]) -> list[str]:
    if part == "name":
        return list(class_set.names)
    if part == "global":
        return [class_set.description(i) or name for i, name in enumerate(class_set.names)]
    return [text or name for text, name in zip(local, class_set.names)]


def class_prompts(
    class_set: ClassSet,
    mode: str = "name",
    templates: Sequence[str] | None = None,
    local_descriptions: Sequence[str] | Mapping[str, str] | None = None,
) -> list[list[str]]:
    """The texts to embed for each class: one per class, one per template in ``"templates"`` mode, or
    one per part in a fused mode (``[name, global, local]`` for ``"name+global+local"``).

    Args:
        class_set: the classes; their descriptions are the global descriptions.
        mode: one of :data:`TEXT_MODES`.
        templates: for ``"templates"``: strings with a ``{name}`` placeholder; default
            :data:`DEFAULT_TEMPLATES`.
        local_descriptions: for modes with a ``local`` part: one text per class (``""`` = none) or a
            mapping name -> text (names matched exactly, else ignoring case). Missing ones read as
            the class name.

    Raises:
        TextEncoderError: an unknown mode, a template without ``{name}``, or local descriptions of
            the wrong length.
    """
    _check_mode(mode)
    if mode == "name_description":
        out = []
        for i, name in enumerate(class_set.names):
            description = class_set.description(i)
            out.append([f"{name}: {description}" if description else name])
        return out
    if mode == "name_and_global":  # two prompts a class, averaged by encode_class_set
        return [[name, class_set.description(i) or name] for i, name in enumerate(class_set.names)]
    if mode == "templates":
        chosen = _check_templates(DEFAULT_TEMPLATES if templates is None else templates)
        # str.replace, not str.format: a template with other braces must not break.
        return [[t.replace("{name}", name) for t in chosen] for name in class_set.names]
    parts = mode_parts(mode)
    local = _local_texts(class_set, local_descriptions) if "local" in parts else []
    columns = [_part_texts(class_set, part, local) for part in parts]
    return [list(texts) for texts in zip(*columns)]


def encode_class_set(
    encoder: TextEncoder,
    class_set: ClassSet,
    mode: str = "name",
    templates: Sequence[str] | None = None,
    local_descriptions: Sequence[str] | Mapping[str, str] | None = None,
) -> np.ndarray:
    """One L2-normalised embedding per class of ``class_set``.

    All prompts go to the encoder in one call (batched inside it), so a cached encoder sees each
    text once.

    Args:
        encoder: any text encoder.
        class_set: the classes, in order (their descriptions are the global descriptions).
        mode: one of :data:`TEXT_MODES`.
        templates: see :func:`class_prompts`.
        local_descriptions: see :func:`class_prompts`.

    Returns:
        float32 ``(len(class_set), text_mode_dim(mode, encoder.dim))``, unit rows. A fused mode's
        row is the concatenation of its parts' unit vectors, renormalised (so each part weighs the
        same).
    """
    prompts = class_prompts(class_set, mode, templates, local_descriptions)
    per_class = len(prompts[0])
    flat = [p for group in prompts for p in group]
    vectors = encoder.encode(flat).reshape(len(prompts), per_class, encoder.dim)
    if mode in FUSED_TEXT_MODES:
        parts = l2_normalize(vectors.reshape(-1, encoder.dim)).reshape(len(prompts), per_class * encoder.dim)
        return l2_normalize(parts).astype(np.float32)
    return l2_normalize(vectors.mean(axis=1))


def text_mode_spec(mode: str = "name", templates: Sequence[str] | None = None) -> dict[str, Any]:
    """What a bundle records about how class texts were made: ``{"mode": ..., "templates": [...]}``
    (templates only in ``"templates"`` mode, spelled out so a later change of the defaults cannot
    silently change an old bundle; ``"parts"`` for a fused mode, the order of the concatenation)."""
    _check_mode(mode)
    spec: dict[str, Any] = {"mode": mode}
    if mode == "templates":
        spec["templates"] = list(_check_templates(DEFAULT_TEMPLATES if templates is None else templates))
    if mode in FUSED_TEXT_MODES:
        spec["parts"] = list(mode_parts(mode))
    return spec
