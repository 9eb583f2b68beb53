"""The writer: embeddings -> Parquet shards, then a committed store (store.py says the format).

A run writes each batch as a shard (ShardWriter locally; Ray's actors write the same rows), then `commit`
merges the reused rows and the run's shards into the catalogue and vectors, in listing order; once the
manifest is written, the runner deletes the shards (every embedding is then in vectors.npy). A commit
writes the catalogue, vectors and index under temporary names and renames them, and the manifest last, so
an interrupted run leaves the previous store intact (its shards are simply embedded again next time).
Writers of one store folder in this process take turns (`store_lock`); two processes writing the same
store at once are not supported.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from .store import CATALOG, FORMAT, MANIFEST, SHARDS, VECTORS, read_manifest

# a lock lives while someone holds it: one per store being written, not one per store ever written
_locks: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


def store_lock(folder: str | os.PathLike) -> threading.RLock:
    """The lock that writers of the store at `folder` (and whoever opens it right after writing) hold."""
    key = Path(folder).expanduser().resolve()
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.RLock()
        return lock


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


def prepare(folder: Path, model: str, fingerprint: str, backend: str, dim: int) -> tuple[dict, pd.DataFrame, Path]:
    """Open (or start) the store at `folder` for a run: its manifest, its catalogue, and a new shard folder.

    Raises:
        InputError: the store was built by another model or backend (its vectors would not be comparable).
    """
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(folder)
    if manifest is None:
        manifest = {"format": FORMAT, "model": model, "fingerprint": fingerprint, "backend": backend, "dim": dim,
                    "count": 0, "next_id": 0, "runs": 0}
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
    next_id = int(max(manifest["next_id"], catalog["id"].max() + 1 if len(catalog) else 0))
    manifest.pop("shards", None)  # stores written before shards were deleted listed them here
    manifest.update(count=len(catalog), next_id=next_id, runs=manifest["runs"] + 1,
                    updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
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
