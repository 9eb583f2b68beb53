"""Searching a store: the one function `python -m clipdemo search` and the Search tab both call.

A query (a text, or an image) is embedded by the engine, checked against the model the store was built
with, and looked up in the store's FAISS index; the hits come back best first, each with its cosine and
file. Which backend answers is one rule too (`serving_backend`): a store built with a CPU backend (int8,
ONNX) is served with that backend on a CPU machine and with the model itself on a GPU, where those backends
do not run; their vectors agree with fp32 to a cosine of at least 0.995 (clipdemo.engine.backends), so either
searches the same store.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from ..errors import InputError
from ..images import open_image
from .reader import read_bytes
from .store import Store, check_model

THUMBNAIL = 384  # longest side of a result image as the Search tab shows it


@dataclass(frozen=True)
class Hit:
    rank: int  # 1 for the best match
    score: float  # cosine similarity of the query and the image, in [-1, 1]
    path: str  # the image file as the store's catalogue names it (a local path or a URL)
    row: int  # its row in the store's catalogue and vectors

    @property
    def name(self) -> str:
        """The file's name without its folder."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]


def serving_backend(stored_backend: str | None, device: str | None = None) -> str | None:
    """The backend to serve a store with: its own on a CPU device, None (the model as loaded) on a GPU.

    Args:
        stored_backend: the store manifest's backend (torch, int8, onnx, onnx-int8), or None without a store.
        device: the device asked for (None: the best available, as the engine picks it).
    """
    from ..engine import pick_device

    return stored_backend if pick_device(device).type == "cpu" else None


def load_engine_for(store: Store, model: str | None = None, device: str | None = None):
    """The engine the command line searches `store` with: `model`, else the store's, on `serving_backend`."""
    from ..engine import ClipEngine

    return ClipEngine.load(model or store.manifest["model"], device,
                           backend=serving_backend(store.manifest["backend"], device) or "torch")


def search_store(store: Store, engine, query: str | Image.Image, k: int = 10) -> list[Hit]:
    """The `k` images of `store` nearest to a text or image query, best first.

    Args:
        store: an opened store (store.open_store).
        engine: the model to embed the query with; it must be the store's (same fingerprint).
        query: a text, or an RGB PIL image.
        k: how many hits at most (fewer when the store holds fewer images).
    Returns:
        Hits with rank 1, 2, ... and cosine scores in [-1, 1], non-increasing.
    Raises:
        InputError: `engine` is not the store's model, or the text is empty.
    """
    check_model(store, engine)
    if isinstance(query, str):
        if not query.strip():
            raise InputError("Give a text query, or an image.")
        vector = engine.encode_texts([query])[0]
    else:
        vector = engine.encode_images([query])[0]
    scores, rows = store.search(vector.numpy(), k)
    found = [(float(s), int(r)) for s, r in zip(scores[0], rows[0]) if r >= 0]
    return [Hit(rank, score, str(store.catalog["path"].iat[row]), row) for rank, (score, row) in enumerate(found, 1)]


def read_thumbnails(hits: list[Hit], size: int = THUMBNAIL) -> list[Image.Image | None]:
    """Each hit's image, read now (a store's files may be anywhere) and shrunk to `size` px on its longest
    side; None for a file that can no longer be read (moved or deleted since it was indexed)."""
    images = []
    for hit in hits:
        try:
            image = open_image(read_bytes(hit.path), name=hit.name).image
        except (InputError, OSError):
            images.append(None)
            continue
        image.thumbnail((size, size))
        images.append(image)
    return images
