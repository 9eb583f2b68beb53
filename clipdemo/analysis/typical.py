"""A model's own typical cosines: what a matching and a non-matching image-text pair score (issue 27, point 3).

CLIP's matching pairs sit around 0.3, tiny-scenes' around 0.6: an explanation that quotes one model's
numbers misleads about another's. Measured once per model on a few known pairs (the examples), so a
result can say "this winner's cosine is far below what this model gives a real match".
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class TypicalCosines:
    match: float  # median cosine of the known matching pairs, in [-1, 1]
    nonmatch: float  # median cosine of every other pair, in [-1, 1]
    pairs: int  # how many matching pairs it was measured on
    measured_on: str  # "the 8 example scenes and their captions"

    @property
    def weak_below(self) -> float:
        """A winner under this cosine is a weak match: nearer the model's non-matching level than its
        matching one (the midpoint of the two medians)."""
        return (self.match + self.nonmatch) / 2

    @property
    def separates(self) -> bool:
        """Whether the model scores its examples' matching pairs clearly above the rest (by 0.05 or more); a
        model with random weights does not, and then no single cosine reads as a match or a weak one."""
        return self.match - self.nonmatch >= 0.05

    def is_weak(self, cosine: float) -> bool:
        return self.separates and cosine < self.weak_below


def typical_cosines(engine, images: Sequence[Image.Image], texts: Sequence[str], measured_on: str) -> TypicalCosines:
    """Medians of the diagonal (image i with text i) and of the off-diagonal cosines.

    Args:
        engine: an engine (clipdemo.engine.Engine).
        images: N >= 2 images; texts: their N matching texts, in the same order.
    """
    cosine = (engine.encode_images(images) @ engine.encode_texts(texts).T).numpy()  # [N, N]
    diagonal = np.eye(len(images), dtype=bool)
    return TypicalCosines(float(np.median(cosine[diagonal])), float(np.median(cosine[~diagonal])), len(images),
                          measured_on)


_MEASURED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> TypicalCosines


def typical_for(engine, pairs: Callable[[], tuple[Sequence[Image.Image], Sequence[str], str]]) -> TypicalCosines:
    """typical_cosines measured once per engine: `pairs()` gives (images, their texts, what they are), and is
    called only the first time. Every reading of a cosine on the page (a weak match in the scoring tabs, a
    text probably not in the image in Saliency) uses this one measurement."""
    found = _MEASURED.get(engine)
    if found is None:
        found = _MEASURED[engine] = typical_cosines(engine, *pairs())
    return found


_ARTICLE = re.compile(r"^(a|an|the)\s", re.IGNORECASE)
_TEMPLATE_ARTICLE = re.compile(r"\b(a|an|the)\s+\{\}", re.IGNORECASE)


def doubled_articles(template: str, labels: Sequence[str]) -> list[str]:
    """The labels that start with an article when `template` already puts one before {} ("a photo of a
    {}." with "the digit 4" reads "a photo of a the digit 4.")."""
    if not _TEMPLATE_ARTICLE.search(template):
        return []
    return [label for label in labels if _ARTICLE.match(label.strip())]
