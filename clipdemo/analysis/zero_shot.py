"""Zero-shot classification with prompt templates (and CLIP's prompt ensembling)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from ..errors import InputError
from ..prompts import DEFAULT_TEMPLATE
from ..text import check_template, fill


@dataclass(frozen=True)
class LabelScore:
    label: str
    score: float  # in [0, 1]: softmax over the candidate labels (CLIP), or independent sigmoid (SigLIP)
    cosine: float  # cosine(image, label's text features), in [-1, 1]


@dataclass(frozen=True)
class ZeroShotResult:
    image: str  # the image's name
    scores: list[LabelScore]  # all candidate labels, highest score first
    score_kind: str = "softmax"  # "softmax": the scores sum to 1; "sigmoid": each stands alone


def text_classifier(engine, candidate_labels: Sequence[str], templates: Sequence[str] = (DEFAULT_TEMPLATE,),
                    progress=None) -> torch.Tensor:
    """One unit vector per label: the normalised mean of its normalised template embeddings.

    With one template this is just that prompt's text features. Returns [L, D].
    (openai/CLIP's ImageNet notebook and open_clip's build_zero_shot_classifier do the same.)
    """
    templates = [check_template(t) for t in templates]
    if not candidate_labels:
        raise InputError("No candidate labels given: enter one per line.")
    prompts = [fill(t, label) for label in candidate_labels for t in templates]
    features = engine.encode_texts(prompts, progress=progress)  # [L*T, D]
    features = features.view(len(candidate_labels), len(templates), -1).mean(dim=1)  # [L, D]
    return features / features.norm(dim=-1, keepdim=True)


def zero_shot(engine, images: Sequence[Image.Image], candidate_labels: Sequence[str],
              templates: Sequence[str] = (DEFAULT_TEMPLATE,), names: Sequence[str] | None = None,
              progress=None) -> list[ZeroShotResult]:
    """Rank `candidate_labels` for each image.

    Args:
        engine: an engine (clipdemo.engine.Engine); its family decides the score.
        images: RGB images.
        candidate_labels: the labels to choose between (probabilities are relative to these alone).
        templates: prompt templates with one `{}`; several are averaged (prompt ensembling).
    Returns:
        One ZeroShotResult per image, labels sorted by score: CLIP's softmax(t * cos) over the labels
        (relative to these candidates alone), or SigLIP's sigmoid(t * cos + b) per label (independent).
    """
    classifier = text_classifier(engine, candidate_labels, templates, progress=progress)
    image_features = engine.encode_images(images)
    cosine = image_features @ classifier.T  # [N, L]
    probs = engine.probabilities(cosine)  # [N, L]
    names = list(names or [f"image {i + 1}" for i in range(len(images))])
    results = []
    for i in range(len(images)):
        order = torch.argsort(probs[i], descending=True).tolist()
        results.append(ZeroShotResult(names[i], [LabelScore(candidate_labels[j], float(probs[i, j]),
                                                            float(cosine[i, j])) for j in order],
                                      engine.family.score))
    return results
