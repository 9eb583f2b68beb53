"""Scoring probe items: each is an image, candidate captions and the index of the true one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..text import check_template, fill


@dataclass
class ProbeItem:
    image: Image.Image
    candidates: list[str]  # captions to choose between
    answer: int  # index of the true caption
    name: str = ""
    classes: list[str] | None = None  # what each candidate stands for ("3", "left of"): the confusion axes


@dataclass
class ProbeReport:
    suite: str
    accuracy: float  # fraction of items whose true caption scored highest, in [0, 1]
    chance: float  # expected accuracy of a uniform random guess: mean of 1 / len(candidates)
    n: int
    predictions: list[int] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)  # the model's own score of its prediction, in [0, 1]
    labels: list[str] | None = None  # the classes, when every item has the same set of them
    confusion: np.ndarray | None = None  # [true, predicted] counts over `labels`
    items: list[ProbeItem] = field(default_factory=list, repr=False)

    def most_confidently_wrong(self, k: int = 8) -> list[tuple[ProbeItem, int, float]]:
        """(item, predicted index, its probability) for the k wrong items the model was surest of."""
        wrong = [(it, p, c) for it, p, c in zip(self.items, self.predictions, self.confidence) if p != it.answer]
        return sorted(wrong, key=lambda t: -t[2])[:k]


def evaluate_items(engine, items: Sequence[ProbeItem], suite: str = "", template: str = "{}",
                   progress=None) -> ProbeReport:
    """Zero-shot accuracy of `engine` on `items`, each caption filled into `template`.

    Every image and every distinct caption is encoded once (the engine caches them).
    """
    template = check_template(template)
    image_features = engine.encode_images([it.image for it in items], progress=progress)  # [N, D]
    texts = list(dict.fromkeys(fill(template, c) for it in items for c in it.candidates))
    text_features = engine.encode_texts(texts)  # [U, D]
    index = {t: i for i, t in enumerate(texts)}
    preds, conf = [], []
    for feat, it in zip(image_features, items):
        probs = engine.probabilities(text_features[[index[fill(template, c)] for c in it.candidates]] @ feat)
        preds.append(int(probs.argmax()))
        conf.append(float(probs.max()))
    correct = [p == it.answer for p, it in zip(preds, items)]
    report = ProbeReport(suite, float(np.mean(correct)) if items else 0.0,
                         float(np.mean([1 / len(it.candidates) for it in items])) if items else 0.0,
                         len(items), preds, conf, items=list(items))
    classes = [it.classes or it.candidates for it in items]
    if items and all(sorted(c) == sorted(classes[0]) for c in classes):
        labels = list(dict.fromkeys(sorted(classes[0], key=classes[0].index)))
        confusion = np.zeros((len(labels), len(labels)), int)
        for p, it, c in zip(preds, items, classes):
            confusion[labels.index(c[it.answer]), labels.index(c[p])] += 1
        report.labels, report.confusion = labels, confusion
    return report
