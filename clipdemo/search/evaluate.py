"""Recall@K evaluation on paired images and captions: read the pairs, embed them, score them.

The pairs are a CSV with the columns image, caption (one row per caption; an image may have several).
Where its image paths may point is the one difference between the server and the command line:

- the server (the Search tab, an uploaded .zip) resolves every path inside the zip's folder and refuses
  the rest (clipdemo.safe_paths), so a CSV cannot read or probe the server's files;
- the command line (`python -m clipdemo eval`) reads the user's own files: absolute paths as written,
  relative ones against `--images DIR` (default: the CSV's folder), as Flickr30k's and COCO's annotation
  files need; the server's row limit does not apply there either.

Recall@K itself, with its tie rule, is clipdemo.analysis.recall.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..images import open_image
from ..limits import MAX_PAIR_ROWS, MAX_TEXT_CHARS
from ..safe_paths import extract_zip, resolve_inside

FORMAT = ("a CSV named pairs.csv with the columns image, caption (one row per caption; an image may have several "
          "rows; image paths relative to the CSV), in a .zip with the images")


@dataclass
class Pairs:
    images: list[str]  # distinct image paths (on the server, each inside the CSV's folder)
    captions: list[str]
    image_of_caption: np.ndarray  # [C] index into images
    skipped: list[str] = field(default_factory=list)  # rows and images left out, each with its reason
    full_paths: bool = False  # messages name an image by its path (the user's own files), not just its name

    def keep_images(self, keep: list[int], skipped: list[str] = ()) -> Pairs:
        """These pairs restricted to the images at `keep` (and their captions), with more reasons noted."""
        remap = {old: new for new, old in enumerate(keep)}
        cols = [c for c, i in enumerate(self.image_of_caption) if int(i) in remap]
        return Pairs([self.images[i] for i in keep], [self.captions[c] for c in cols],
                     np.array([remap[int(self.image_of_caption[c])] for c in cols], dtype=int),
                     self.skipped + list(skipped), self.full_paths)


def load_pairs(path: str, images: str | os.PathLike | None = None, local: bool = False) -> Pairs:
    """Read a pairs CSV (or a folder holding pairs.csv).

    Args:
        path: the CSV, or a folder holding pairs.csv.
        images: the folder relative image paths start from (default: the CSV's folder).
        local: the command line's rule, for the user's own files: absolute paths are taken as written and
            relative ones need not stay inside `images`, and there is no row limit. False (the server's
            rule): every path must resolve inside the CSV's folder (clipdemo.safe_paths); others are left out.
    Returns:
        Pairs; a bad row (a refused path, an empty or over-long caption) is left out and noted in `skipped`.
        The images themselves are opened later, batch by batch, by `encode_pairs`.
    Raises:
        InputError: no such CSV, not the right columns, too many rows (server), or no usable row.
    """
    path = Path(path).expanduser()
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
    if len(rows) > MAX_PAIR_ROWS and not local:
        raise InputError(f"{path.name} has {len(rows)} rows; the limit is {MAX_PAIR_ROWS}.")
    root = Path(images).expanduser() if images is not None else path.parent
    images_found, index, captions, owner, skipped = [], {}, [], [], []
    for line, row in enumerate(rows, start=2):
        caption = (row["caption"] or "").strip()
        if not caption or len(caption) > MAX_TEXT_CHARS:
            skipped.append(f"line {line}: the caption is empty or over {MAX_TEXT_CHARS} characters")
            continue
        name = (row["image"] or "").strip()
        if local:
            if not name:
                skipped.append(f"line {line}: no image path")
                continue
            p = str(root / Path(name).expanduser())  # an absolute path replaces `root`
        else:
            try:
                p = str(resolve_inside(root, name, f"line {line}: the image"))
            except InputError as exc:
                skipped.append(str(exc))
                continue
        if p not in index:
            index[p] = len(images_found)
            images_found.append(p)
        captions.append(caption)
        owner.append(index[p])
    if not captions:
        raise InputError(f"{path.name}: no usable row. " + " ".join(skipped[:3]))
    return Pairs(images_found, captions, np.array(owner, dtype=int), skipped, full_paths=local)


@contextlib.contextmanager
def open_pairs(path: str, images: str | os.PathLike | None = None, local: bool = False) -> Iterator[Pairs]:
    """Pairs from a .zip (pairs.csv and its images, extracted safely and removed afterwards; its paths stay
    inside it, on the command line too), or from a CSV or a folder holding pairs.csv (`load_pairs`).

    Raises:
        InputError: see `load_pairs`; a zip without a CSV; `images` given with a zip (a zip holds its images).
    """
    if Path(path).suffix.lower() != ".zip":
        yield load_pairs(path, images, local)
        return
    if images is not None:
        raise InputError(f"{Path(path).name}: a zip holds its own images; --images is for a CSV.")
    folder = extract_zip(path)
    try:
        found = sorted(folder.rglob("pairs.csv"), key=lambda p: len(p.parts)) or sorted(folder.rglob("*.csv"))
        if not found:
            raise InputError(f"{Path(path).name}: no pairs.csv inside. The zip must hold {FORMAT}.")
        yield load_pairs(str(found[0]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pairs_from_upload(path: str):
    """Pairs from an uploaded .zip, or from a CSV on the server whose images sit beside it: the server's rule."""
    return open_pairs(path)


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
                name = pairs.images[i] if pairs.full_paths else Path(pairs.images[i]).name
                batch.append(open_image(pairs.images[i], name).image)
                keep.append(i)
            except InputError as exc:
                skipped.append(str(exc))
        if batch:
            features.append(engine.encode_images(batch, cache=False).numpy())  # each image once: nothing to cache
        if progress:
            progress(min(start + batch_size, len(pairs.images)), len(pairs.images))
    kept = pairs.keep_images(keep, skipped)
    if not kept.captions:
        raise InputError("None of the images could be read: " + " ".join(kept.skipped[:3]))
    return np.concatenate(features) @ engine.encode_texts(kept.captions).numpy().T, kept


def format_recall(title: str, report: dict) -> str:
    """Recall@K as a text table: a row per direction, a column per K; cells "R" or "mean ± std"."""

    def cell(v):
        if v is None:  # a sampled K that reaches every candidate: 1 by construction
            return "-"
        return f"{v[0]:6.1%} ± {v[1]:5.1%}" if isinstance(v, tuple) else f"{v:6.1%}"

    ks = list(report["image_to_text"])
    lines = [title, f"{'direction':<15}" + "".join(f"{'R@' + str(k):>17}" for k in ks)]
    for d in ("image_to_text", "text_to_image"):
        lines.append(f"{d.replace('_', ' '):<15}" + "".join(f"{cell(report[d][k]):>17}" for k in ks))
    return "\n".join(lines)
