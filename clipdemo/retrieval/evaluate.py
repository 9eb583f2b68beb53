"""Recall@K for image-text matching, both directions, on the whole set and by the sampled protocol.

Image -> text: an image is a hit at K if any of its captions is among the K nearest captions.
Text -> image: a caption is a hit at K if its image is among the K nearest images.
Ties count against the model: a wrong item scoring the same as the true one ranks above it.
The sampled protocol draws n images with all their captions, m times, and reports mean and std.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..images import open_image
from ..limits import MAX_PAIR_ROWS, MAX_TEXT_CHARS
from ..safe_paths import extract_zip, resolve_inside

KS = (1, 5, 10)
FORMAT = ("a CSV named pairs.csv with the columns image, caption (one row per caption; an image may have several "
          "rows; image paths relative to the CSV), in a .zip with the images")


@dataclass
class Pairs:
    images: list[str]  # distinct image paths, each inside the CSV's folder
    captions: list[str]
    image_of_caption: np.ndarray  # [C] index into images
    skipped: list[str] = field(default_factory=list)  # rows and images left out, each with its reason

    def keep_images(self, keep: list[int], skipped: list[str] = ()) -> Pairs:
        """These pairs restricted to the images at `keep` (and their captions), with more reasons noted."""
        remap = {old: new for new, old in enumerate(keep)}
        cols = [c for c, i in enumerate(self.image_of_caption) if int(i) in remap]
        return Pairs([self.images[i] for i in keep], [self.captions[c] for c in cols],
                     np.array([remap[int(self.image_of_caption[c])] for c in cols], dtype=int),
                     self.skipped + list(skipped))


def load_pairs(path: str) -> Pairs:
    """Read a pairs CSV (or a folder holding pairs.csv); image paths resolve inside the CSV's folder.

    A bad row (an unsafe path, an empty or over-long caption) is left out and noted in `skipped`; the
    images themselves are opened later, batch by batch, by `encode_pairs`.

    Raises:
        InputError: no such CSV, not the right columns, too many rows, or no usable row.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "pairs.csv"
    if not path.is_file():
        raise InputError(f"{path.name}: no such pairs CSV.")
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig", errors="replace"))))
    except csv.Error as exc:
        raise InputError(f"{path.name}: not a readable CSV ({exc}).") from None
    if not rows or not {"image", "caption"} <= set(rows[0]):
        raise InputError(f"{path.name}: the pairs must be {FORMAT}.")
    if len(rows) > MAX_PAIR_ROWS:
        raise InputError(f"{path.name} has {len(rows)} rows; the limit is {MAX_PAIR_ROWS}.")
    images, index, captions, owner, skipped = [], {}, [], [], []
    for line, row in enumerate(rows, start=2):
        caption = (row["caption"] or "").strip()
        if not caption or len(caption) > MAX_TEXT_CHARS:
            skipped.append(f"line {line}: the caption is empty or over {MAX_TEXT_CHARS} characters")
            continue
        try:
            p = str(resolve_inside(path.parent, row["image"] or "", f"line {line}: the image"))
        except InputError as exc:
            skipped.append(str(exc))
            continue
        if p not in index:
            index[p] = len(images)
            images.append(p)
        captions.append(caption)
        owner.append(index[p])
    if not captions:
        raise InputError(f"{path.name}: no usable row. " + " ".join(skipped[:3]))
    return Pairs(images, captions, np.array(owner, dtype=int), skipped)


@contextlib.contextmanager
def pairs_from_upload(path: str) -> Iterator[Pairs]:
    """Pairs from an uploaded .zip (pairs.csv and its images, extracted safely and removed afterwards),
    or from a CSV on this machine whose images sit beside it."""
    if Path(path).suffix.lower() != ".zip":
        yield load_pairs(path)
        return
    folder = extract_zip(path)
    try:
        found = sorted(folder.rglob("pairs.csv"), key=lambda p: len(p.parts)) or sorted(folder.rglob("*.csv"))
        if not found:
            raise InputError(f"{Path(path).name}: no pairs.csv inside. The zip must hold {FORMAT}.")
        yield load_pairs(str(found[0]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def encode_pairs(engine, pairs: Pairs, batch_size: int = 64, progress=None) -> tuple[np.ndarray, Pairs]:
    """Embed the images batch by batch (one batch of pixels in memory at a time) and every caption.

    An image that cannot be read is left out with its captions, and noted in the returned pairs' `skipped`.

    Returns:
        similarity [I, C] (cosine, images x captions) and the pairs it covers.
    """
    features, keep, skipped = [], [], []
    for start in range(0, len(pairs.images), batch_size):
        batch = []
        for i in range(start, min(start + batch_size, len(pairs.images))):
            try:
                batch.append(open_image(pairs.images[i], Path(pairs.images[i]).name).image)
                keep.append(i)
            except InputError as exc:
                skipped.append(str(exc))
        if batch:
            features.append(engine.encode_images(batch).numpy())
        if progress:
            progress(min(start + batch_size, len(pairs.images)), len(pairs.images))
    kept = pairs.keep_images(keep, skipped)
    if not kept.captions:
        raise InputError("None of the images could be read: " + " ".join(kept.skipped[:3]))
    return np.concatenate(features) @ engine.encode_texts(kept.captions).numpy().T, kept


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


def sampled_recall(similarity: np.ndarray, pairs: Pairs, n_images: int = 10, repeats: int = 50, seed: int = 0,
                   ks=KS) -> dict:
    """Mean and std of Recall@K over `repeats` draws of `n_images` images with all their captions.

    Args:
        similarity: [I, C] from `encode_pairs`, for exactly these pairs.
    """
    rng = np.random.default_rng(seed)
    n_images = min(n_images, len(pairs.images))
    runs = []
    for _ in range(repeats):
        chosen = rng.choice(len(pairs.images), n_images, replace=False)
        remap = {int(old): new for new, old in enumerate(chosen)}
        cols = np.flatnonzero(np.isin(pairs.image_of_caption, chosen))
        owner = np.array([remap[int(i)] for i in pairs.image_of_caption[cols]])
        runs.append(recall_at_k(similarity[np.ix_(chosen, cols)], owner, ks))
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
