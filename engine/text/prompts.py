"""From a :class:`~engine.types.ClassSet` to one text embedding per class.

Three text modes, named as data (:data:`TEXT_MODES`) so a bundle can record which one it was trained
with (:func:`text_mode_spec`):

* ``"name"``: the action name as typed (SynSE-style "label" text).
* ``"name_description"``: ``"name: description"`` where the class has a description, else the name
  (descriptions as in SA-DVAE / SMIE, which embed a sentence per class).
* ``"templates"``: each name in several sentence templates, the embeddings averaged and renormalised:
  the prompt ensembling of CLIP's zero-shot classifier (Radford et al. 2021; open_clip's
  ``build_zero_shot_classifier``). The templates are our own, written for people and skeletons.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from engine.errors import TextEncoderError
from engine.text.base import TextEncoder, l2_normalize
from engine.types import ClassSet

#: The text modes, in the order a GUI offers them.
TEXT_MODES: tuple[str, ...] = ("name", "name_description", "templates")

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


def class_prompts(
    class_set: ClassSet, mode: str = "name", templates: Sequence[str] | None = None
) -> list[list[str]]:
    """The texts to embed for each class: one per class, or one per template in ``"templates"`` mode.

    Args:
        class_set: the classes.
        mode: one of :data:`TEXT_MODES`.
        templates: for ``"templates"``: strings with a ``{name}`` placeholder; default
            :data:`DEFAULT_TEMPLATES`.

    Raises:
        TextEncoderError: an unknown mode or a template without ``{name}``.
    """
    _check_mode(mode)
    if mode == "name":
        return [[name] for name in class_set.names]
    if mode == "name_description":
        out = []
        for i, name in enumerate(class_set.names):
            description = class_set.description(i)
            out.append([f"{name}: {description}" if description else name])
        return out
    chosen = _check_templates(DEFAULT_TEMPLATES if templates is None else templates)
    # str.replace, not str.format: a template with other braces must not break.
    return [[t.replace("{name}", name) for t in chosen] for name in class_set.names]


def encode_class_set(
    encoder: TextEncoder, class_set: ClassSet, mode: str = "name", templates: Sequence[str] | None = None
) -> np.ndarray:
    """One L2-normalised embedding per class of ``class_set``.

    All prompts go to the encoder in one call (batched inside it), so a cached encoder sees each
    text once.

    Args:
        encoder: any text encoder.
        class_set: the classes, in order.
        mode: one of :data:`TEXT_MODES`.
        templates: see :func:`class_prompts`.

    Returns:
        float32 ``(len(class_set), encoder.dim)``, unit rows.
    """
    prompts = class_prompts(class_set, mode, templates)
    per_class = len(prompts[0])
    flat = [p for group in prompts for p in group]
    vectors = encoder.encode(flat).reshape(len(prompts), per_class, encoder.dim)
    return l2_normalize(vectors.mean(axis=1))


def text_mode_spec(mode: str = "name", templates: Sequence[str] | None = None) -> dict[str, Any]:
    """What a bundle records about how class texts were made: ``{"mode": ..., "templates": [...]}``
    (templates only in ``"templates"`` mode, spelled out so a later change of the defaults cannot
    silently change an old bundle)."""
    _check_mode(mode)
    spec: dict[str, Any] = {"mode": mode}
    if mode == "templates":
        spec["templates"] = list(_check_templates(DEFAULT_TEMPLATES if templates is None else templates))
    return spec
