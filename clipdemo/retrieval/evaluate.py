"""Recall@K for image-text matching, both directions, on the whole set and by the sampled protocol.

Image -> text: an image is a hit at K if any of its captions is among the K nearest captions.
Text -> image: a caption is a hit at K if its image is among the K nearest images.
Ties count against the model: a wrong item scoring the same as the true one ranks above it.
The sampled protocol draws n images with all their captions, m times, and reports mean and std.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..images import open_image

KS = (1, 5, 10)


@dataclass
class Pairs:
    images: list[str]  # distinct image paths
    captions: list[str]
    image_of_caption: np.ndarray  # [C] index into images


def load_pairs(path: str) -> Pairs:
    """A CSV with columns image,caption (one row per caption; paths relative to the CSV), or a folder with pairs.csv."""
    path = Path(path)
    if path.is_dir():
        path = path / "pairs.csv"
    if not path.is_file():
        raise InputError(f"{path}: no such pairs CSV.")
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    if not rows or not {"image", "caption"} <= set(rows[0]):
        raise InputError(f"{path.name}: the pairs CSV needs the columns image and caption.")
    images, index = [], {}
    captions, owner = [], []
    for row in rows:
        p = str((path.parent / row["image"]).resolve())
        if p not in index:
            index[p] = len(images)
            images.append(p)
        captions.append(row["caption"].strip())
        owner.append(index[p])
    return Pairs(images, captions, np.array(owner))


def recall_at_k(similarity: np.ndarray, image_of_caption: np.ndarray, ks=KS) -> dict[str, dict[int, float]]:
    """similarity [I, C] image x caption. Returns {"image_to_text": {k: R@k}, "text_to_image": {k: R@k}}."""
    n_images, n_captions = similarity.shape
    truth = np.zeros((n_images, n_captions), bool)
    truth[image_of_caption, np.arange(n_captions)] = True
    # 0-based rank of the best true caption of each image: the wrong captions scoring at least as high
    best_true = np.where(truth, similarity, -np.inf).max(1)
    i2t_rank = ((similarity >= best_true[:, None]) & ~truth).sum(1)
    true_score = similarity[image_of_caption, np.arange(n_captions)]
    t2i_rank = ((similarity >= true_score[None, :]) & ~truth).sum(0)
    return {"image_to_text": {k: float((i2t_rank < k).mean()) for k in ks},
            "text_to_image": {k: float((t2i_rank < k).mean()) for k in ks}}


def similarity_for(engine, pairs: Pairs) -> np.ndarray:
    images = [open_image(p).image for p in pairs.images]
    return (engine.encode_images(images) @ engine.encode_texts(pairs.captions).T).numpy()


def recall_report(engine, pairs: Pairs, ks=KS) -> dict:
    return recall_at_k(similarity_for(engine, pairs), pairs.image_of_caption, ks)


def sampled_recall(engine, pairs: Pairs, n_images: int = 10, repeats: int = 50, seed: int = 0, ks=KS,
                   similarity: np.ndarray | None = None) -> dict:
    """Mean and std of Recall@K over `repeats` draws of `n_images` images with all their captions."""
    sim = similarity_for(engine, pairs) if similarity is None else similarity
    rng = np.random.default_rng(seed)
    n_images = min(n_images, len(pairs.images))
    runs = []
    for _ in range(repeats):
        chosen = rng.choice(len(pairs.images), n_images, replace=False)
        remap = {int(old): new for new, old in enumerate(chosen)}
        cols = np.flatnonzero(np.isin(pairs.image_of_caption, chosen))
        owner = np.array([remap[int(i)] for i in pairs.image_of_caption[cols]])
        runs.append(recall_at_k(sim[np.ix_(chosen, cols)], owner, ks))
    return {d: {k: (float(np.mean([r[d][k] for r in runs])), float(np.std([r[d][k] for r in runs]))) for k in ks}
            for d in ("image_to_text", "text_to_image")}


def format_recall(title: str, report: dict) -> str:
    def cell(v):
        return f"{v[0]:6.1%} ± {v[1]:5.1%}" if isinstance(v, tuple) else f"{v:6.1%}"

    ks = list(report["image_to_text"])
    lines = [title, f"{'direction':<15}" + "".join(f"{'R@' + str(k):>17}" for k in ks)]
    for d in ("image_to_text", "text_to_image"):
        lines.append(f"{d.replace('_', ' '):<15}" + "".join(f"{cell(report[d][k]):>17}" for k in ks))
    return "\n".join(lines)
