"""The store, opened for search: its format, the committed files memory-mapped, and the model check.

    STORE/
      manifest.json         format, model, fingerprint (clipdemo.engine.fingerprint), backend, dim, count,
                            index (kind, parameters, recall@10 against exact)
      shards/run-NNNN/part-*.parquet
                            while a run is going on: every embedding it computed, one shard per batch
                            (local) or block (Ray): id, path, stamp, hash (sha256 of the file), embedding
                            (float32 x dim), error; deleted when the run commits
      catalog.parquet       the live rows in vector order: id, path, stamp, hash (row i <-> vectors.npy[i])
      vectors.npy           [count, dim] float32 unit vectors, memory-mapped by readers
      index.faiss           a FAISS index whose row i is catalogue row i (faiss_index.py)

All of it is data (Parquet, .npy, FAISS's own format, JSON); nothing is pickled. writer.py writes it; this
module only reads. Every store is this one format: `python -m clipdemo index --out STORE`, the app's
`--store STORE`, its `--gallery DIR` (a store under the cache folder) and the Search tab's uploaded gallery
(a store in a temporary folder).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..engine.fingerprint import model_fingerprint
from ..errors import InputError

FORMAT = "clipdemo-store/2"  # 2: the fingerprint covers every weight (clipdemo.engine.fingerprint)
MANIFEST, CATALOG, VECTORS, INDEX, SHARDS = "manifest.json", "catalog.parquet", "vectors.npy", "index.faiss", "shards"


@dataclass
class Store:
    """A committed store, opened for search: the vectors memory-mapped, the index loaded once."""

    folder: Path
    manifest: dict
    catalog: pd.DataFrame  # id, path, stamp, hash; row i <-> vectors[i]
    vectors: np.ndarray  # [count, dim] float32, np.memmap: pages are read on demand and shared by processes
    _index: object = None
    label: str = ""  # how messages name it (default: its folder)

    @property
    def paths(self) -> list[str]:
        return self.catalog["path"].tolist()

    def __len__(self) -> int:
        return len(self.catalog)

    @property
    def index(self):
        """The FAISS index, mapped from its file on first use (exact and HNSW indexes are not copied)."""
        if self._index is None:
            from .faiss_index import load_index

            self._index = load_index(self.folder / INDEX, self.manifest["index"])
        return self._index

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Unit queries [Q, D] (or [D]) -> (scores [Q, k] cosines, rows [Q, k] catalogue rows; -1 where none)."""
        from .faiss_index import search

        queries = np.asarray(queries, np.float32).reshape(-1, self.vectors.shape[1])
        return search(self.index, queries, min(k, len(self)), self.vectors,
                      self.manifest["index"]["params"].get("rerank", 0))


def open_store(folder: str | os.PathLike, load_index: bool = False) -> Store:
    """Open a store (vectors memory-mapped, not read into RAM).

    Args:
        folder: the store folder.
        load_index: map the FAISS index now rather than on the first search.
    Raises:
        InputError: no store there, or one of another format.
    """
    folder = Path(folder).expanduser()
    manifest = read_manifest(folder)
    if manifest is None or not (folder / CATALOG).exists():
        raise InputError(f"{str(folder)!r} is not a clipdemo store (no {MANIFEST}); build one with "
                         "`python -m clipdemo index SOURCE --out STORE`.")
    catalog = pq.read_table(folder / CATALOG).to_pandas()
    vectors = np.load(folder / VECTORS, mmap_mode="r")
    store = Store(folder, manifest, catalog, vectors)
    if load_index:
        store.index
    return store


def read_manifest(folder: Path) -> dict | None:
    """The store's manifest, or None when there is none yet.

    Raises:
        InputError: a manifest of another format (an older clipdemo's store: build it again).
    """
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise InputError(f"{str(path)!r} is format {manifest.get('format')!r}; this clipdemo reads {FORMAT}. "
                         "Build the store again with `python -m clipdemo index SOURCE --out NEW_STORE`.")
    return manifest


def check_model(store: Store, engine) -> None:
    """Refuse an engine whose vectors are not comparable with the store's.

    Raises:
        InputError: `engine`'s model is not the one the store was built with; names both and what to do.
    """
    if model_fingerprint(engine.model) != store.manifest["fingerprint"]:
        built_by = store.manifest["model"]
        raise InputError(f"{store.label or repr(str(store.folder))} was built with model {built_by!r}, not "
                         f"{engine.info.name!r}, whose embeddings are not comparable with it: search it with "
                         f"{built_by!r} (--model {built_by}), or index it again.")
