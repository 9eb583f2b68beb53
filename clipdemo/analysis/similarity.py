"""The image x text cosine-similarity matrix, and its readings as each family scores it.

CLIP's scores are softmaxes (over the texts for each image, or over the images for each text); SigLIP's
is one independent sigmoid per pair, sigmoid(t * cosine + b), never normalised along either axis.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

VIEWS = ("cosine", "softmax over texts", "softmax over images", "sigmoid (per pair)")
SIGMOID = VIEWS[3]


def views_for(score: str) -> tuple[str, ...]:
    """The readings offered for a family's score kind, its own first: sigmoid models default to the sigmoid."""
    return (SIGMOID, "cosine") if score == "sigmoid" else VIEWS[:3]


@dataclass(frozen=True)
class SimilarityMatrix:
    images: list[str]
    texts: list[str]
    cosine: np.ndarray  # [I, T] in [-1, 1]
    logit_scale: float
    logit_bias: float = 0.0  # SigLIP's b; 0 for CLIP
    score: str = "softmax"  # the model's own score kind (engine.families): "softmax" or "sigmoid"

    def view(self, kind: str = "cosine") -> np.ndarray:
        """'cosine', 'softmax over texts' (each image's row sums to 1: CLIPModel's logits_per_image.softmax),
        'softmax over images' (each text's column sums to 1: logits_per_text.softmax) or 'sigmoid (per pair)'
        (SiglipModel's sigmoid(logits_per_image): every cell on its own, in [0, 1])."""
        if kind == "cosine":
            return self.cosine
        logits = self.logit_scale * self.cosine + self.logit_bias
        if kind == SIGMOID:
            return 1 / (1 + np.exp(-logits))
        axis = {"softmax over texts": 1, "softmax over images": 0}[kind]
        e = np.exp(logits - logits.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def to_csv(self, kind: str = "cosine") -> str:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow([f"image \\ text ({kind})", *self.texts])
        for name, row in zip(self.images, self.view(kind)):
            w.writerow([name, *(f"{v:.6f}" for v in row)])
        return out.getvalue()


def similarity_matrix(engine, images: Sequence[Image.Image], texts: Sequence[str],
                      names: Sequence[str] | None = None) -> SimilarityMatrix:
    """Cosine similarity of every image with every text."""
    image_features = engine.encode_images(images)  # [I, D]
    text_features = engine.encode_texts(texts)  # [T, D]
    cosine = (image_features @ text_features.T).numpy()
    return SimilarityMatrix(list(names or [f"image {i + 1}" for i in range(len(images))]), list(texts),
                            cosine, engine.logit_scale, engine.logit_bias, engine.family.score)
