"""The mapper: a batch of paths -> content hashes and unit image embeddings, the model loaded once.

One class serves both engines: `--engine local` calls it in this process; `--engine ray` hands the class to
Ray Data's `map_batches`, which constructs it once per actor. Images are opened as the app opens uploads
(format allowlist, pixel limits, EXIF orientation, RGB), so both engines see the same pixels.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import InputError
from ..images import open_image
from .reader import read_bytes


class ClipMapper:
    """Callable on a batch {"id": [B], "path": [B], "stamp": [B]} -> the same plus "hash" [B],
    "embedding" [B, D] float32 (unit rows; zeros where the file failed) and "error" [B] ("" when fine).

    The engine's image cache is neither read nor filled: an indexer sees each image once, and ten thousand
    cached rows would pin the heap between batches (peak memory grew 900 MB over a 10,000-image gallery).

    Args:
        model: a model name for `ClipEngine.load` (what Ray actors get), or `engine`: an engine already loaded.
        backend: torch, int8, onnx or onnx-int8 (clipdemo.engine.backends).
    """

    def __init__(self, model: str | None = None, backend: str = "torch", device: str | None = None, engine=None):
        if engine is None:
            from ..engine import ClipEngine

            engine = ClipEngine.load(model, device, backend=backend)
        self.engine = engine

    def __call__(self, batch: dict) -> dict:
        paths = [str(p) for p in batch["path"]]
        hashes, errors, images, ok = [], [], [], []
        for i, p in enumerate(paths):
            digest, error = "", ""
            try:
                data = read_bytes(p)
                digest = hashlib.sha256(data).hexdigest()
                images.append(open_image(data, name=p).image)
                ok.append(i)
            except InputError as exc:
                error = str(exc)  # names the file already
            except OSError as exc:  # missing, a folder, unreadable, a failed download
                error = f"{p}: {exc.strerror or exc}"
            hashes.append(digest)
            errors.append(error)
        dim = self.engine.info.embed_dim
        embedding = np.zeros((len(paths), dim), np.float32)
        if images:
            embedding[ok] = self.engine.encode_images(images, batch_size=len(images), cache=False).numpy()
        return {"id": np.asarray(batch["id"], np.int64), "path": np.asarray(paths, object),
                "stamp": np.asarray([str(s) for s in batch["stamp"]], object),
                "hash": np.asarray(hashes, object), "embedding": embedding, "error": np.asarray(errors, object)}
