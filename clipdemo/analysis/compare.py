"""Two models on the same images and labels: where their answers agree, and where they part.

Each model keeps its own kind of score (softmax over the labels for CLIP, an independent sigmoid per pair
for SigLIP), so scores are never compared across models as numbers. What is compared is what both kinds
share: each image's top-1 label and the order of its labels (Spearman's rank correlation), and the cosines
themselves, side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from ..text import check_template, fill

REJECTED_BELOW = 0.01  # a label both models score under this, both reject: how they order it is noise


@dataclass(frozen=True)
class ModelScores:
    """One model's answers on images x labels.

    Attributes:
        name: the model's name.
        score_kind: "softmax" (each image's scores sum to 1 over the labels) or "sigmoid" (each stands alone).
        cosine: [I, L] cosine(image i, label j's text features), in [-1, 1].
        scores: [I, L] the family's scores of those cosines, in [0, 1].
    """

    name: str
    score_kind: str
    cosine: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class Disagreement:
    image: str
    label: str
    rank_a: int  # 1 = the label model A ranks first for this image
    rank_b: int
    score_a: float  # in each model's own kind of score
    score_b: float


@dataclass(frozen=True)
class Comparison:
    """Model A against model B on the same images and labels.

    Attributes:
        top1_a, top1_b: [I] index of each image's top label under each model.
        agreement: [I] bool, the two top-1 labels are the same.
        rank_correlation: [I] Spearman's rho of each image's label order (the two rows of scores), in [-1, 1];
            nan for a single label.
        disagreements: (image, label) pairs whose rank differs most between the models, largest first,
            leaving out those both models score under REJECTED_BELOW.
    """

    a: ModelScores
    b: ModelScores
    images: list[str]
    labels: list[str]
    top1_a: np.ndarray
    top1_b: np.ndarray
    agreement: np.ndarray
    rank_correlation: np.ndarray
    disagreements: list[Disagreement]

    @property
    def agreement_rate(self) -> float:
        """Share of images whose top-1 label is the same under both models, in [0, 1]."""
        return float(self.agreement.mean())

    @property
    def mean_rank_correlation(self) -> float:
        """Mean over images of Spearman's rho (nan when there is one label)."""
        rho = self.rank_correlation[~np.isnan(self.rank_correlation)]
        return float(rho.mean()) if rho.size else float("nan")


def score_model(engine, images: Sequence[Image.Image], candidate_labels: Sequence[str],
                hypothesis_template: str = "{}") -> ModelScores:
    """`engine`'s cosines and own scores for every image against every label (one template).

    Returns:
        ModelScores with cosine and scores of shape [I, L].
    """
    template = check_template(hypothesis_template)
    if not images or not candidate_labels:
        raise InputError("Give at least one image and one label.")
    with torch.no_grad():
        image_features = engine.encode_images(list(images))  # [I, D], unit vectors
        text_features = engine.encode_texts([fill(template, label) for label in candidate_labels])  # [L, D]
        cosine = image_features.float() @ text_features.float().T  # [I, L]
        scores = engine.probabilities(cosine, dim=-1)  # softmax over the labels, or sigmoid per pair
    return ModelScores(engine.info.name, engine.info.score, cosine.numpy(), scores.numpy())


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = smallest, ties sharing their average rank (as Spearman's rho needs)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    for index in np.ndindex(values.shape[:-1]):
        row = values[index]
        order = np.argsort(row, kind="mergesort")
        ranked = np.empty(row.size)
        ranked[order] = np.arange(1, row.size + 1)
        for value in np.unique(row):  # ties: the mean of the ranks they span
            tied = row == value
            if tied.sum() > 1:
                ranked[tied] = ranked[tied].mean()
        out[index] = ranked
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation of each row of `a` [I, L] with the same row of `b` [I, L] -> [I] in
    [-1, 1]; nan where a row is constant (or L < 2)."""
    ra, rb = ranks(a), ranks(b)
    ra -= ra.mean(axis=-1, keepdims=True)
    rb -= rb.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((ra ** 2).sum(-1) * (rb ** 2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(-1) / denominator, np.nan)


def compare(a: ModelScores, b: ModelScores, images: Sequence[str], candidate_labels: Sequence[str],
            most: int = 10) -> Comparison:
    """Compare two models' answers on the same images [I] and labels [L].

    Args:
        a, b: each model's scores (score_model), both [I, L].
        images, candidate_labels: the names of the rows and columns.
        most: how many of the most disagreeing (image, label) pairs to keep. A pair both models score under
            REJECTED_BELOW is left out, whatever its ranks: below a confident softmax's winner every label scores
            under 0.1%, and the order of labels both reject says nothing about where the models part.
    """
    if a.scores.shape != b.scores.shape:
        raise ValueError(f"shapes differ: {a.scores.shape} vs {b.scores.shape}")
    top1_a, top1_b = a.scores.argmax(-1), b.scores.argmax(-1)
    # rank 1 = highest score; the order within a row is the same for cosines and for either kind of score
    rank_a = a.scores.shape[-1] + 1 - ranks(a.scores)
    rank_b = b.scores.shape[-1] + 1 - ranks(b.scores)
    gap = np.where((a.scores >= REJECTED_BELOW) | (b.scores >= REJECTED_BELOW), np.abs(rank_a - rank_b), 0)
    pairs = sorted(np.ndindex(gap.shape), key=lambda ij: (-gap[ij], min(rank_a[ij], rank_b[ij])))
    disagreements = [Disagreement(images[i], candidate_labels[j], int(round(rank_a[i, j])), int(round(rank_b[i, j])),
                                  float(a.scores[i, j]), float(b.scores[i, j]))
                     for i, j in pairs[:most] if gap[i, j] > 0]
    return Comparison(a, b, list(images), list(candidate_labels), top1_a, top1_b, top1_a == top1_b,
                      spearman(a.scores, b.scores), disagreements)


# -- two accuracies on the same probe items: a gap, or noise ---------------------------------------------

def noise(accuracy_a: float, accuracy_b: float, n: int) -> float:
    """Two standard errors of the difference of two accuracies over n items each (binomial, treated as
    independent: a little wider than the paired error, so a gap called real is real)."""
    return 2 * float(np.sqrt((accuracy_a * (1 - accuracy_a) + accuracy_b * (1 - accuracy_b)) / max(n, 1)))


def ahead(accuracy_a: float, accuracy_b: float, n: int) -> str:
    """"A" or "B" when one accuracy beats the other by more than `noise`, else "" (within noise)."""
    gap = accuracy_a - accuracy_b
    return "" if abs(gap) <= noise(accuracy_a, accuracy_b, n) else ("A" if gap > 0 else "B")


def below_chance(accuracy: float, chance: float, n: int) -> bool:
    """Below chance by more than two standard errors of chance itself over n items."""
    return accuracy < chance - 2 * float(np.sqrt(chance * (1 - chance) / max(n, 1)))
