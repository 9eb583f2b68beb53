"""A searchable gallery: file embeddings in a FAISS inner-product index (exact, or HNSW for large ones)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..images import open_image
from ..safe_paths import resolve_inside
from .store import EmbeddingStore, file_hash

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Hit:
    index: int  # position in the gallery (or caption list)
    name: str
    score: float  # cosine similarity in [-1, 1]


def make_index(vectors: np.ndarray, kind: str = "exact", hnsw_m: int = 32, ef_search: int = 128):
    """A FAISS index over unit vectors [N, D]: 'exact' (IndexFlatIP) or 'hnsw' (IndexHNSWFlat, inner product)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    d = vectors.shape[1]
    if kind == "exact":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = ef_search
    else:
        raise InputError(f"Unknown index kind {kind!r}; use exact or hnsw.")
    index.add(vectors)
    return index


@dataclass
class Gallery:
    paths: list[str]
    vectors: np.ndarray  # [N, D] unit image embeddings
    kind: str = "exact"
    encoded: int = 0  # how many files this build had to encode (the rest came from the store)
    skipped: list[str] = field(default_factory=list)  # files that could not be read, with the reason
    index: object = None
    folder: str | None = None  # where an uploaded zip was extracted: removed with the gallery

    def __post_init__(self):
        if self.index is None and len(self.paths):
            self.index = make_index(self.vectors, self.kind)

    def approximate_recall(self, k: int = 10, queries: int = 100, seed: int = 0) -> float:
        """Recall@k of this index against exact search, with gallery vectors as queries (1.0 when exact)."""
        if self.kind == "exact" or not len(self.paths):
            return 1.0
        rng = np.random.default_rng(seed)
        q = self.vectors[rng.choice(len(self.paths), min(queries, len(self.paths)), replace=False)]
        _, exact = make_index(self.vectors, "exact").search(q, k)
        _, approx = self.index.search(q, k)
        return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)]))

    def search(self, query: np.ndarray, k: int = 10) -> list[Hit]:
        """The k gallery images nearest to a unit query vector [D], best first."""
        if not len(self.paths):
            return []
        scores, ids = self.index.search(np.asarray(query, np.float32).reshape(1, -1), min(k, len(self.paths)))
        return [Hit(int(i), Path(self.paths[i]).name, float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]


def list_images(folder: str | os.PathLike) -> list[str]:
    """The image files under `folder`, sorted; a link that leads out of the folder is left out."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"Gallery folder {str(folder)!r} does not exist.")
    found = []
    for p in folder.rglob("*"):
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            inside = resolve_inside(folder, str(p.relative_to(folder)))
        except InputError:
            continue
        if inside.is_file():
            found.append(str(p))
    return sorted(found)


def build_gallery(engine, paths: list[str], store: EmbeddingStore | None = None, kind: str = "exact",
                  batch_size: int = 64, progress: Callable[[int, int], None] | None = None) -> Gallery:
    """Embed every file (in batches: memory holds one batch of pixels at a time), reusing stored vectors."""
    hashes = [file_hash(p) for p in paths]
    known = store.get_many(list(set(hashes))) if store is not None else {}
    todo = [(p, h) for p, h in dict(zip(paths, hashes)).items() if h not in known]
    skipped, encoded = [], 0
    for start in range(0, len(todo), batch_size):
        batch, images = [], []
        for p, h in todo[start:start + batch_size]:
            try:
                images.append(open_image(p).image)
                batch.append(h)
            except InputError as exc:
                skipped.append(str(exc))
        if images:
            vectors = engine.encode_images(images).numpy()
            fresh = dict(zip(batch, vectors))
            known.update(fresh)
            if store is not None:
                store.put_many(fresh)
            encoded += len(images)
        if progress:
            progress(min(start + batch_size, len(todo)), len(todo))
    keep = [(p, h) for p, h in zip(paths, hashes) if h in known]
    vectors = np.stack([known[h] for _, h in keep]) if keep else np.zeros((0, engine.info.embed_dim), np.float32)
    return Gallery([p for p, _ in keep], vectors, kind, encoded, skipped)
