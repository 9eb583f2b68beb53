"""Recall@K for image-text retrieval, both directions: the one definition, with one tie rule.

    image -> text: an image is a hit at K when one of its true texts is among its K best texts.
    text -> image: a text is a hit at K when one of its true images is among its K best images.

**Ties count against the model.** A query's rank is the number of wrong candidates scoring *at least as
high* as its best true one (`>=`): a wrong candidate tied with the true one ranks above it. So a model that
gives every candidate the same score finds nothing (R@K = 0 while K is at most the number of wrong
candidates), and no ordering of equal scores can make a result look better than the model earned.

Used by the Recall@K evaluation (`python -m clipdemo eval`, the Search tab) and by the embedding map.
The sampled protocol draws `n` images with all their texts, `repeats` times, and reports mean and std.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KS = (1, 5, 10)
DIRECTIONS = ("image_to_text", "text_to_image")


def truth_matrix(truth, n_images: int, n_texts: int) -> np.ndarray:
    """Which texts match which images, as an [I, C] bool matrix.

    Args:
        truth: [C] ints, the image of each text (a caption belongs to one image), or an [I, C] bool matrix
            (any number of matches each way), or a sequence of (image index, text index) pairs.
    """
    if isinstance(truth, np.ndarray) and truth.dtype == bool:
        return truth
    arr = np.asarray(truth)
    matrix = np.zeros((n_images, n_texts), bool)
    if arr.ndim == 1:  # the image of each text
        matrix[arr.astype(int), np.arange(n_texts)] = True
    else:  # (image, text) pairs
        matrix[arr[:, 0].astype(int), arr[:, 1].astype(int)] = True
    return matrix


def ranks(similarity: np.ndarray, truth) -> dict[str, np.ndarray]:
    """0-based rank of each query's best true match, by the tie rule above (ties count against the model).

    Args:
        similarity: [I, C] image x text scores (cosines, in [-1, 1], or any monotone score).
        truth: see `truth_matrix`.
    Returns:
        {"image_to_text": [I'] ranks of the images that have a true text, "text_to_image": [C'] ranks of the
        texts that have a true image}; each rank in [0, number of wrong candidates].
    """
    similarity = np.asarray(similarity, np.float64)
    truth = truth_matrix(truth, *similarity.shape)
    best_text = np.where(truth, similarity, -np.inf).max(1)  # [I] each image's best true text
    best_image = np.where(truth, similarity, -np.inf).max(0)  # [C] each text's best true image
    i2t = ((similarity >= best_text[:, None]) & ~truth).sum(1)
    t2i = ((similarity >= best_image[None, :]) & ~truth).sum(0)
    return {"image_to_text": i2t[truth.any(1)], "text_to_image": t2i[truth.any(0)]}


def recall_at_k(similarity: np.ndarray, truth, ks: Sequence[int] = KS) -> dict[str, dict[int, float]]:
    """Recall@K both ways (ties count against the model; see the module docstring).

    Args:
        similarity: [I, C] image x text scores.
        truth: [C] ints (the image of each text), an [I, C] bool matrix, or (image, text) pairs.
        ks: the K values.
    Returns:
        {"image_to_text": {k: R@k}, "text_to_image": {k: R@k}}, each in [0, 1].
    """
    r = ranks(similarity, truth)
    return {d: {k: float((r[d] < k).mean()) if len(r[d]) else float("nan") for k in ks} for d in DIRECTIONS}


def sampled_recall(similarity: np.ndarray, image_of_text: np.ndarray, n_images: int = 10, repeats: int = 50,
                   seed: int = 0, ks: Sequence[int] = KS) -> dict[str, dict[int, tuple[float, float] | None]]:
    """Mean and std of Recall@K over `repeats` draws of `n_images` images with all their texts.

    Args:
        similarity: [I, C] image x text scores.
        image_of_text: [C] ints, the image of each text.
    Returns:
        {"image_to_text": {k: (mean, std)}, "text_to_image": {k: (mean, std)}}, means in [0, 1]; None where
        K reaches the candidates of every sample (text -> image: the images drawn; image -> text: the
        fewest texts a sample held), so the recall is 1 by construction and measures nothing.
    """
    image_of_text = np.asarray(image_of_text, int)
    rng = np.random.default_rng(seed)
    n_images = min(n_images, similarity.shape[0])
    runs, fewest_texts = [], similarity.shape[1]
    for _ in range(repeats):
        chosen = rng.choice(similarity.shape[0], n_images, replace=False)
        remap = {int(old): new for new, old in enumerate(chosen)}
        cols = np.flatnonzero(np.isin(image_of_text, chosen))
        owner = np.array([remap[int(i)] for i in image_of_text[cols]], dtype=int)
        runs.append(recall_at_k(similarity[np.ix_(chosen, cols)], owner, ks))
        fewest_texts = min(fewest_texts, len(cols))
    candidates = {"image_to_text": fewest_texts, "text_to_image": n_images}
    return {d: {k: None if k >= candidates[d] else
                (float(np.mean([r[d][k] for r in runs])), float(np.std([r[d][k] for r in runs]))) for k in ks}
            for d in DIRECTIONS}
