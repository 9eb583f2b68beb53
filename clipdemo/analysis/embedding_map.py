"""The shape of CLIP's space: image and text embeddings in 2-D, and the modality gap between them.

Liang et al. ("Mind the Gap", NeurIPS 2022) found that CLIP's image and text embeddings sit in two
separate cones of the unit sphere: the centroids are far apart, so even a matching pair has a modest
cosine (about 0.2-0.3 for OpenAI's CLIP) and a wrong pair only a little less. Ranking still works
because only the differences matter, and the learned `logit_scale` (about 100) turns a 0.05 gap in
cosine into a factor of e^5 in odds. Removing each modality's mean (then renormalising) closes the gap;
what that does to retrieval is measured here, on the given set, not assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .recall import recall_at_k

PROJECTIONS = ("PCA", "gap axis", "UMAP")


@dataclass(frozen=True)
class ModalityGap:
    gap: float  # |mean(image_features) - mean(text_features)|, of unit vectors: in [0, 2]
    matched_cosine: float  # mean cosine of matching (image, text) pairs, in [-1, 1]
    unmatched_cosine: float  # mean cosine of every other (image, text) pair, in [-1, 1]


@dataclass(frozen=True)
class Retrieval:
    zero_shot_accuracy: float  # share of paired images whose best text (of all texts) is their own, [0, 1]
    recall: dict[str, float]  # "image->text R@K" and "text->image R@K", each in [0, 1] (analysis.recall)


@dataclass(frozen=True)
class EmbeddingMap:
    image_xy: np.ndarray  # [N, 2]
    text_xy: np.ndarray  # [M, 2]
    projection: str  # one of PROJECTIONS
    explained: tuple[float, ...]  # PCA: share of variance on each axis; UMAP: ()
    centred: bool  # the map shows embeddings with each modality's mean removed
    gap: ModalityGap  # of the embeddings as the model gives them
    gap_centred: ModalityGap  # after removing each modality's mean
    raw: Retrieval
    without_means: Retrieval


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12, None)


def remove_modality_means(image_features: np.ndarray, text_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subtract each modality's centroid, then renormalise: [N, D], [M, D] unit vectors in, the same out."""
    return _unit(image_features - image_features.mean(0)), _unit(text_features - text_features.mean(0))


def modality_gap(image_features: np.ndarray, text_features: np.ndarray,
                 pairs: Sequence[tuple[int, int]]) -> ModalityGap:
    """The centroid distance and the mean matched and unmatched cosines. Features: unit rows [N, D], [M, D]."""
    cosine = image_features @ text_features.T  # [N, M]
    matched = np.zeros_like(cosine, dtype=bool)
    for i, j in pairs:
        matched[i, j] = True
    return ModalityGap(float(np.linalg.norm(image_features.mean(0) - text_features.mean(0))),
                       float(cosine[matched].mean()) if matched.any() else float("nan"),
                       float(cosine[~matched].mean()) if (~matched).any() else float("nan"))


def retrieval(image_features: np.ndarray, text_features: np.ndarray, pairs: Sequence[tuple[int, int]],
              ks: Sequence[int] = (1, 5)) -> Retrieval:
    """Zero-shot accuracy (each image's best text among all texts is its own) and Recall@K both ways.

    Both come from `recall.recall_at_k`, so ties count against the model, as everywhere: a wrong text
    scoring the same as the true one ranks above it. Zero-shot accuracy is image -> text R@1.
    """
    result = recall_at_k(image_features @ text_features.T, np.asarray(pairs, int).reshape(-1, 2),
                         tuple(dict.fromkeys((1, *ks))))
    recall = {}
    for k in ks:
        recall[f"image->text R@{k}"] = result["image_to_text"][k]
        recall[f"text->image R@{k}"] = result["text_to_image"][k]
    return Retrieval(result["image_to_text"][1], recall)


def _pca(x: np.ndarray) -> tuple[np.ndarray, tuple[float, ...]]:
    centred = x - x.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt[:2]
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])[:, None]  # a fixed sign: frames do not flip
    var = s**2 / max((s**2).sum(), 1e-12)
    xy = centred @ vt.T
    return np.pad(xy, ((0, 0), (0, 2 - xy.shape[1]))), tuple(float(v) for v in var[:2])


def _gap_axis(x: np.ndarray, n_images: int) -> tuple[np.ndarray, tuple[float, ...]]:
    """Axis 1: the direction from the text centroid to the image centroid; axis 2: the first principal
    component of what is left. The gap is then drawn at its true length along axis 1."""
    centred = x - x.mean(0)
    direction = x[:n_images].mean(0) - x[n_images:].mean(0)
    direction = direction / max(np.linalg.norm(direction), 1e-12)
    rest = centred - np.outer(centred @ direction, direction)
    _, _, vt = np.linalg.svd(rest, full_matrices=False)
    second = vt[0] * np.sign(vt[0][np.abs(vt[0]).argmax()])
    total = max((centred**2).sum(), 1e-12)
    xy = np.stack([centred @ direction, centred @ second], axis=1)
    return xy, tuple(float((xy[:, k] ** 2).sum() / total) for k in range(2))


def _umap(x: np.ndarray, seed: int) -> np.ndarray:
    try:
        import umap
    except ImportError:
        raise InputError("UMAP needs the optional package umap-learn (pip install umap-learn); "
                         "PCA and the gap axis work without it.") from None
    # init="pca": UMAP's default spectral start fails on a handful of points (scipy's eigsh needs k < N)
    return umap.UMAP(n_components=2, n_neighbors=max(2, min(15, len(x) - 1)), random_state=seed,
                     init="pca").fit_transform(x)


def embedding_map(image_features, text_features, pairs: Sequence[tuple[int, int]] | None = None,
                  projection: str = "PCA", centred: bool = False, seed: int = 0) -> EmbeddingMap:
    """Project images and texts to 2-D together and measure the gap.

    Args:
        image_features: [N, D] unit vectors (numpy or torch).
        text_features: [M, D] unit vectors.
        pairs: (image index, text index) of each matching pair; default image i with text i.
        projection: "PCA" (joint, on all N + M points), "gap axis" (axis 1 joins the two centroids,
            axis 2 is the first principal component of the rest) or "UMAP" (needs umap-learn).
        centred: project the embeddings with each modality's mean removed.
    Returns:
        An EmbeddingMap: coordinates, the gap before and after removing the means, and retrieval both ways.
    """
    image_features, text_features = np.asarray(image_features, np.float64), np.asarray(text_features, np.float64)
    n, m = len(image_features), len(text_features)
    if n < 1 or m < 1 or n + m < 3:
        raise InputError("The map needs at least one image and one text, and three points in all.")
    if projection not in PROJECTIONS:
        raise InputError(f"Unknown projection {projection!r}: use one of {', '.join(PROJECTIONS)}.")
    pairs = [(i, i) for i in range(min(n, m))] if pairs is None else list(pairs)
    if not pairs:
        raise InputError("No matching pairs: give texts in the same order as the images (text i describes image i).")
    images_c, texts_c = remove_modality_means(image_features, text_features)
    shown = np.concatenate([images_c, texts_c] if centred else [image_features, text_features])
    if projection == "PCA":
        xy, explained = _pca(shown)
    elif projection == "gap axis":
        xy, explained = _gap_axis(shown, n)
    else:
        xy, explained = _umap(shown, seed), ()
    return EmbeddingMap(xy[:n], xy[n:], projection, explained, centred,
                        modality_gap(image_features, text_features, pairs), modality_gap(images_c, texts_c, pairs),
                        retrieval(image_features, text_features, pairs), retrieval(images_c, texts_c, pairs))


def coordinates_csv(result: EmbeddingMap, image_names: Sequence[str], texts: Sequence[str]) -> str:
    """kind,index,name,x,y rows: every point of the map."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["kind", "index", "name", "x", "y"])
    for kind, names, xy in (("image", image_names, result.image_xy), ("text", texts, result.text_xy)):
        for i, (name, (x, y)) in enumerate(zip(names, xy)):
            w.writerow([kind, i, name, f"{x:.6f}", f"{y:.6f}"])
    return buf.getvalue()
