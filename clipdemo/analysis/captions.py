"""Caption ranking: one image, candidate captions, ranked by probability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image


@dataclass(frozen=True)
class CaptionScore:
    caption: str
    probability: float  # in [0, 1]: softmax over the candidate captions (CLIP), or independent sigmoid (SigLIP)
    cosine: float  # in [-1, 1]
    truncated: bool  # longer than the model's own token limit (engine.max_text_tokens): only that much was read


def rank_captions(engine, image: Image.Image, captions: Sequence[str]) -> list[CaptionScore]:
    """Score every caption against `image`; highest probability first, in the family's own score
    (`engine.family.score`: softmax over these captions, or an independent sigmoid per caption)."""
    text_features = engine.encode_texts(captions)  # [C, D]
    image_features = engine.encode_images([image])  # [1, D]
    cosine = (image_features @ text_features.T)[0]
    probs = engine.probabilities(cosine)
    limit = engine.max_text_tokens
    truncated = [n > limit for n in engine.token_counts(captions)]
    order = torch.argsort(probs, descending=True).tolist()
    return [CaptionScore(captions[j], float(probs[j]), float(cosine[j]), truncated[j]) for j in order]
