"""What a model's card says about reading it: its own prompt template, its words, its measured weak spots.

A bundled checkpoint's README.md front matter carries them (issue 27, points 2 and 4):

    default_template: "{}"                      # the prompt it was trained with
    vocabulary: a above an and ...              # every word of its training captions
    weak_spots:
      - left/right | 70.3% held out (chance 50%) | \\b(left|right)\\b
      - unseen words | ... | @vocabulary        # any word outside `vocabulary`

Each weak spot is `name | measured figure | a regex over the lowercased text` (or `@vocabulary`). A model
without a card (a hub CLIP) gets CLIP's "a photo of a {}." and no listed weak spots.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from .prompts import DEFAULT_TEMPLATE
from .registry import BUNDLED_DIR, bundled_models

SCENE_TEMPLATE = "{}"  # a model trained on bare captions, with no card that says otherwise


@dataclass(frozen=True)
class WeakSpot:
    name: str  # "left/right"
    figure: str  # what was measured: "70.3% held out (chance 50%)"
    pattern: str  # a regex over the lowercased text, or "@vocabulary"


@dataclass(frozen=True)
class ModelCard:
    default_template: str = DEFAULT_TEMPLATE
    vocabulary: frozenset[str] = frozenset()
    weak_spots: tuple[WeakSpot, ...] = ()
    extra: dict = field(default_factory=dict)

    def touched(self, text: str) -> list[WeakSpot]:
        """The weak spots that `text` (a label or caption) touches, in the card's order."""
        low = text.lower()
        found = []
        for spot in self.weak_spots:
            if spot.pattern == "@vocabulary":
                hit = self.vocabulary and any(w not in self.vocabulary for w in re.findall(r"[a-z0-9]+", low))
            else:
                hit = re.search(spot.pattern, low) is not None
            if hit:
                found.append(spot)
        return found

    def unseen_words(self, text: str) -> list[str]:
        if not self.vocabulary:
            return []
        return [w for w in dict.fromkeys(re.findall(r"[a-z0-9]+", text.lower())) if w not in self.vocabulary]


@functools.lru_cache(maxsize=16)  # a bundled card is read from disk once
def read_card(folder: Path | str, knows_photos: bool = True) -> ModelCard:
    """The card in `folder`/README.md, or the defaults (CLIP's template; "{}" for a model of no photos)."""
    fallback = DEFAULT_TEMPLATE if knows_photos else SCENE_TEMPLATE
    path = Path(folder) / "README.md"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []
    if not lines or lines[0].strip() != "---":
        return ModelCard(default_template=fallback)
    values: dict[str, str] = {}
    spots: list[WeakSpot] = []
    key = None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        if line.strip().startswith("#") or not line.strip():
            continue
        if line.startswith((" ", "\t")) and line.strip().startswith("- ") and key == "weak_spots":
            parts = [p.strip() for p in line.strip()[2:].split(" | ")]
            if len(parts) == 3:
                spots.append(WeakSpot(*parts))
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        values[key] = value.split(" #")[0].strip()
    template = values.get("default_template", "").strip().strip('"').strip("'") or fallback
    return ModelCard(template, frozenset(values.get("vocabulary", "").split()), tuple(spots), values)


def card_for(info) -> ModelCard:
    """The card of an engine's model (`engine.info`): a bundled checkpoint's, else the defaults."""
    if info.source in bundled_models():
        return read_card(BUNDLED_DIR / info.source, info.knows_photos)
    return ModelCard(default_template=DEFAULT_TEMPLATE if info.knows_photos else SCENE_TEMPLATE)
