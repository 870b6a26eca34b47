"""Left and right in action names: the text of an action's mirror image.

A mirrored "wave right hand" is a "wave left hand"; a circle drawn clockwise seen in a mirror turns
counter clockwise. Training mirrors clips and their class texts together (``trainer.data.augment``),
and a typed name without a description of its own may borrow the mirrored text of its twin's
(``engine.text.descriptions``). Sentence encoders barely tell the two sides apart (MiniLM cosine of
"wave left hand" and "wave right hand": 0.96), which is why the sides are handled as words here.
"""

from __future__ import annotations

import re

_SIDE_WORDS = re.compile(r"\b(left|right|counter[- ]?clockwise|anti[- ]?clockwise|clockwise)\b", re.IGNORECASE)


def _swap_side(match: re.Match) -> str:
    word = match.group(0)
    low = word.lower()
    if low == "left":
        out = "right"
    elif low == "right":
        out = "left"
    elif low == "clockwise":
        out = "counter clockwise"
    else:
        out = "clockwise"
    return out.capitalize() if word[0].isupper() else out


def mirror_text(text: str) -> str:
    """The text of the mirrored action: "left" and "right", "clockwise" and "counter clockwise" swapped."""
    return _SIDE_WORDS.sub(_swap_side, text)
