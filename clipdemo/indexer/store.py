"""The writer and the store: Parquet shards of embeddings, then a committed, searchable store.

    STORE/
      manifest.json         model, fingerprint, backend, dim, count, shards, index (type, parameters, recall@10)
      shards/run-NNNN/part-*.parquet
                            every embedding computed, one shard per batch (local) or block (Ray):
                            id, path, stamp, hash (sha256 of the file), embedding (float32 x dim), error
      catalog.parquet       the live rows in vector order: id, path, stamp, hash (row i <-> vectors.npy[i])
      vectors.npy           [count, dim] float32 unit vectors, memory-mapped by readers
      index.faiss           a FAISS index whose row i is catalogue row i (see faiss_index.py)

All of it is data (Parquet, .npy, FAISS's own format, JSON); nothing is pickled. A commit writes the
catalogue, vectors and index under temporary names and renames them, and writes the manifest last, so an
interrupted run leaves the previous store intact (its shards are simply embedded again next time).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError

FORMAT = "clipdemo-store/1"
MANIFEST, CATALOG, VECTORS, INDEX, SHARDS = "manifest.json", "catalog.parquet", "vectors.npy", "index.faiss", "shards"


def store_fingerprint(engine) -> str:
    """The weights that shape both towers' embeddings, hashed; unlike the app's cache key it leaves out where
    the model was loaded from, so a store built on a cluster is searchable from any checkout of the model."""
    import hashlib

    h = hashlib.blake2b(digest_size=12)
    model = engine.model
    for p in (model.visual_projection.weight, model.vision_model.post_layernorm.weight, model.text_projection.weight,
              model.text_model.final_layer_norm.weight):
        h.update(p.detach().half().float().cpu().numpy().tobytes())  # fp16 on CUDA, fp32 on CPU: the same hash
    return h.hexdigest()


def check_model(store: Store, engine) -> None:
    """Raises InputError unless `engine` is the model the store was built with (its vectors are comparable)."""
    if store_fingerprint(engine) != store.manifest["fingerprint"]:
        raise InputError(f"{str(store.folder)!r} was built with model {store.manifest['model']!r}, not "
                         f"{engine.info.name!r}; search it with --model {store.manifest['model']}.")


def shard_schema(dim: int) -> pa.Schema:
    return pa.schema([("id", pa.int64()), ("path", pa.string()), ("stamp", pa.string()), ("hash", pa.string()),
                      ("embedding", pa.list_(pa.float32(), dim)), ("error", pa.string())])


def to_table(batch: dict) -> pa.Table:
    """A mapper's output batch -> one shard's rows (the schema both engines write)."""
    embedding = np.ascontiguousarray(batch["embedding"], np.float32)
    dim = embedding.shape[1]
    columns = [pa.array(np.asarray(batch["id"], np.int64)), pa.array([str(x) for x in batch["path"]]),
               pa.array([str(x) for x in batch["stamp"]]), pa.array([str(x) for x in batch["hash"]]),
               pa.FixedSizeListArray.from_arrays(pa.array(embedding.reshape(-1)), dim),
               pa.array([str(x) for x in batch["error"]])]
    return pa.Table.from_arrays(columns, schema=shard_schema(dim))


class ShardWriter:
    """Writes each batch as shards/<run>/part-NNNNN.parquet (what the local engine uses; Ray writes the same rows)."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.parts = Path(run_dir), 0
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def write(self, batch: dict) -> None:
        pq.write_table(to_table(batch), self.run_dir / f"part-{self.parts:05d}.parquet")
        self.parts += 1


@dataclass
class Store:
    """A committed store, opened for search: the vectors memory-mapped, the index loaded once."""

    folder: Path
    manifest: dict
    catalog: pd.DataFrame  # id, path, stamp, hash; row i <-> vectors[i]
    vectors: np.ndarray  # [count, dim] float32, np.memmap: pages are read on demand and shared by processes
    _index: object = None

    @property
    def paths(self) -> list[str]:
        return self.catalog["path"].tolist()

    def __len__(self) -> int:
        return len(self.catalog)

    @property
    def index(self):
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


def open_store(folder: str | os.PathLike) -> Store:
    """Open a store written by `python -m clipdemo index` (vectors memory-mapped, not read into RAM).

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
    return Store(folder, manifest, catalog, vectors)


def read_manifest(folder: Path) -> dict | None:
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise InputError(f"{str(path)!r} is format {manifest.get('format')!r}; this clipdemo reads {FORMAT}.")
    return manifest


def prepare(folder: Path, model: str, fingerprint: str, backend: str, dim: int) -> tuple[dict, pd.DataFrame, Path]:
    """Open (or start) the store at `folder` for a run: its manifest, its catalogue, and a new shard folder.

    Raises:
        InputError: the store was built by another model or backend (its vectors would not be comparable).
    """
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(folder)
    if manifest is None:
        manifest = {"format": FORMAT, "model": model, "fingerprint": fingerprint, "backend": backend, "dim": dim,
                    "count": 0, "next_id": 0, "runs": 0, "shards": []}
        catalog = pd.DataFrame({"id": pd.Series(dtype="int64"), "path": pd.Series(dtype=str),
                                "stamp": pd.Series(dtype=str), "hash": pd.Series(dtype=str)})
    else:
        if manifest["fingerprint"] != fingerprint:
            raise InputError(f"{str(folder)!r} was built with model {manifest['model']!r} (fingerprint "
                             f"{manifest['fingerprint']}), not this one; use --model {manifest['model']} or a new "
                             "--out.")
        if manifest["backend"] != backend:
            raise InputError(f"{str(folder)!r} was built with --backend {manifest['backend']}; pass the same "
                             "backend to add to it, or a new --out.")
        catalog = pq.read_table(folder / CATALOG).to_pandas()
    run_dir = folder / SHARDS / f"run-{manifest['runs']:04d}"
    return manifest, catalog, run_dir


def commit(folder: Path, manifest: dict, listing: pd.DataFrame, prior: pd.DataFrame, run_dir: Path) -> dict:
    """Merge the reused rows and this run's shards into the catalogue and vectors, in listing order.

    Returns:
        {"count", "reused", "embedded", "failed": [messages]}; files that failed are left out (and retried
        by the next run).
    """
    dim = manifest["dim"]
    prior = prior.assign(row=np.arange(len(prior)))
    merged = listing.merge(prior, on=["path", "stamp"], how="left")
    fresh = _read_run(run_dir, dim)
    failed = fresh[fresh["error"] != ""]
    fresh = fresh[fresh["error"] == ""].drop_duplicates("path", keep="last").set_index("path")
    reused = merged["row"].notna()
    is_fresh = ~reused & merged["path"].isin(fresh.index)
    keep = merged[reused | is_fresh].reset_index(drop=True)
    from_fresh = ~keep["row"].notna()
    fresh_rows = fresh.loc[keep.loc[from_fresh, "path"]]
    if from_fresh.any():
        keep.loc[from_fresh, "id"] = fresh_rows["id"].to_numpy().astype(np.int64)
        keep.loc[from_fresh, "hash"] = fresh_rows["hash"].to_numpy()

    old = np.load(folder / VECTORS, mmap_mode="r") if (folder / VECTORS).exists() else np.zeros((0, dim), np.float32)
    tmp = folder / (VECTORS + ".tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(keep), dim))
    rows = keep["row"].to_numpy()
    fresh_vectors = np.stack(fresh_rows["embedding"].to_numpy()) if len(fresh_rows) else None
    fresh_at = np.flatnonzero(from_fresh.to_numpy())
    step = 65_536  # bounded memory: copy old vectors through in chunks
    for start in range(0, len(keep), step):
        sel = np.arange(start, min(start + step, len(keep)))
        sel = sel[~from_fresh.to_numpy()[sel]]
        if len(sel):
            out[sel] = old[rows[sel].astype(np.int64)]
    if fresh_vectors is not None:
        out[fresh_at] = fresh_vectors
    out.flush()
    del out, old
    os.replace(tmp, folder / VECTORS)
    catalog = keep[["id", "path", "stamp", "hash"]].astype({"id": "int64"})
    pq.write_table(pa.Table.from_pandas(catalog, preserve_index=False), folder / (CATALOG + ".tmp"))
    os.replace(folder / (CATALOG + ".tmp"), folder / CATALOG)
    shards = sorted(str(p.relative_to(folder)) for p in Path(run_dir).glob("*.parquet"))  # none if no run dir
    next_id = int(max(manifest["next_id"], catalog["id"].max() + 1 if len(catalog) else 0))
    manifest.update(count=len(catalog), next_id=next_id, runs=manifest["runs"] + 1,
                    shards=manifest["shards"] + shards, updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
    return {"count": len(catalog), "reused": int(reused.sum()), "embedded": int(is_fresh.sum()),
            "failed": [e if e.startswith(p) else f"{p}: {e}" for p, e in zip(failed["path"], failed["error"])]}


def write_manifest(folder: Path, manifest: dict) -> None:
    tmp = Path(folder) / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, Path(folder) / MANIFEST)


def _read_run(run_dir: Path, dim: int) -> pd.DataFrame:
    files = sorted(Path(run_dir).glob("*.parquet")) if Path(run_dir).exists() else []
    if not files:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("id", "path", "stamp", "hash", "embedding", "error")})
    table = pa.concat_tables([pq.read_table(f, schema=shard_schema(dim)) for f in files])
    emb = table.column("embedding").combine_chunks()
    vectors = emb.values.to_numpy(zero_copy_only=False).reshape(-1, dim)
    frame = table.drop(["embedding"]).to_pandas()
    frame["embedding"] = list(vectors)
    return frame
