"""The runner: list the source, skip what the store already holds, embed the rest on an engine, commit.

reader -> mapper -> writer -> store, as in clip-retrieval's `clip_inference`.

`--engine local` runs the mapper in this process with a progress bar; `--engine ray` runs it on Ray Data
(ray_engine.py). Both write the same shards, and the commit (catalogue, vectors, FAISS index, manifest)
is the same code, so the same images give the same store either way.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import faiss_index
from .mapper import ClipMapper
from .reader import list_source
from ..engine.fingerprint import model_fingerprint
from .store import INDEX, SHARDS, VECTORS
from .writer import ShardWriter, commit, prepare, store_lock, write_manifest

ENGINES = ("local", "ray")


@dataclass
class IndexReport:
    store: str
    count: int  # vectors in the store now
    embedded: int  # files embedded by this run
    reused: int  # files whose stored vector was kept (unchanged since the last run)
    seconds: float  # the whole run: listing, model load, embedding, commit, index
    engine: str
    index: dict  # the FAISS index's kind, parameters and measured recall@10
    failed: list[str] = field(default_factory=list)  # files that could not be read, with the reason
    embed_seconds: float = 0.0  # the embedding alone (Ray: from the dataset's start to its last shard)

    def summary(self) -> str:
        rate = self.embedded / self.embed_seconds if self.embed_seconds else 0.0
        lines = [f"{self.store}: {self.count} vectors ({self.embedded} embedded now, {self.reused} unchanged) "
                 f"in {self.seconds:.1f}s on --engine {self.engine}"
                 + (f"; embedding {self.embed_seconds:.1f}s, {rate:.0f} images/s" if self.embedded else ""),
                 faiss_index.describe(self.index)]
        if self.failed:
            lines.append(f"skipped {len(self.failed)}: " + "; ".join(self.failed[:3]))
        return "\n".join(lines)


def index_source(source: str | list[str], out: str, model: str = "tiny-scenes", engine: str = "local",
                 batch_size: int = 64, backend: str = "torch", device: str | None = None, column: str | None = None,
                 concurrency: int = 1, num_gpus: float = 0, clip_engine=None,
                 exact_below: int = faiss_index.EXACT_BELOW, hnsw_below: int = faiss_index.HNSW_BELOW,
                 progress: bool | Callable[[int, int], None] = True) -> IndexReport:
    """Embed every image of `source` into the store at `out`, resuming: only new or changed files are embedded.

    Args:
        source: a folder of images, or a .parquet/.csv table with an image-path column (local or fsspec URL),
            or a list of local image paths (reader.list_source).
        out: the store folder (created, or added to).
        model: what to load (short name, hub id, directory); `clip_engine` instead passes one already loaded
            (local engine only: the app's engine, tests), whose image cache is then left alone.
        engine: "local" (this process) or "ray" (Ray Data; RAY_ADDRESS picks a cluster).
        concurrency, num_gpus: Ray actors, and GPUs per actor.
        exact_below, hnsw_below: the FAISS size rules (see faiss_index.choose_index).
        progress: True: a progress bar and notes on stderr; a callable: called with (done, total) files
            after each batch; False: silent.
    Raises:
        InputError: a bad source, an unknown engine, or a store built by another model or backend.
    """
    if engine not in ENGINES:
        raise InputError(f"Unknown engine {engine!r}; use local or ray.")
    if engine == "ray" and clip_engine is not None:
        raise InputError("--engine ray loads the model in each actor: pass a model name, not an engine.")
    start = time.perf_counter()
    listing = list_source(source, column)
    own_engine = clip_engine is None
    if own_engine:
        from ..engine import ClipEngine

        clip_engine = ClipEngine.load(model, device, backend=backend if engine == "local" else "torch")
    name = model if clip_engine.info.name == model else clip_engine.info.name
    if engine == "local":
        backend = clip_engine.info.backend  # what the vectors were made with (a passed-in engine's own)
    folder = Path(out).expanduser()
    fingerprint = model_fingerprint(clip_engine.model)
    with store_lock(folder):
        manifest, prior, run_dir = prepare(folder, name, fingerprint, backend, clip_engine.info.embed_dim)
        known = prior.set_index(["path", "stamp"]).index
        todo = listing[~listing.set_index(["path", "stamp"]).index.isin(known)].reset_index(drop=True)
        choice = faiss_index.choose_index(len(listing), clip_engine.info.embed_dim, exact_below, hnsw_below)
        if not len(todo) and prior["path"].tolist() == listing["path"].tolist() and \
                manifest.get("index", {}).get("kind") == choice.kind and (folder / INDEX).exists():
            # nothing changed (no file, no order, no index kind): the committed store stands as it is
            return IndexReport(str(folder), len(prior), 0, len(prior), time.perf_counter() - start, engine,
                               manifest["index"])
        todo.insert(0, "id", range(manifest["next_id"], manifest["next_id"] + len(todo)))
        embed_start = time.perf_counter()
        if len(todo):
            if engine == "local":
                mapper = ClipMapper(engine=clip_engine)
                _run_local(todo, mapper, ShardWriter(run_dir), batch_size, progress)
            else:
                from .ray_engine import run_ray

                run_ray(todo, run_dir, name, backend, device, batch_size, concurrency, num_gpus)
        embed_seconds = time.perf_counter() - embed_start
        counts = commit(folder, manifest, listing, prior, run_dir)
        if not counts["count"]:
            raise InputError(f"None of the {len(listing)} files could be read: " + "; ".join(counts["failed"][:3]))
        vectors = np.load(folder / VECTORS, mmap_mode="r")
        choice = faiss_index.choose_index(len(vectors), vectors.shape[1], exact_below, hnsw_below)
        if progress is True:
            print(f"building the {choice.kind} index over {len(vectors)} vectors", file=sys.stderr)
        index, report = faiss_index.build(vectors, choice)
        faiss_index.save(index, folder / (INDEX + ".tmp"))
        (folder / (INDEX + ".tmp")).replace(folder / INDEX)
        manifest.update(index=report, engine=engine)
        write_manifest(folder, manifest)
        shutil.rmtree(folder / SHARDS, ignore_errors=True)  # merged into vectors.npy: a second copy of each embedding
    return IndexReport(str(folder), counts["count"], counts["embedded"], counts["reused"],
                       time.perf_counter() - start, engine, report, counts["failed"], embed_seconds)


def _run_local(todo, mapper: ClipMapper, writer: ShardWriter, batch_size: int,
               progress: bool | Callable[[int, int], None]) -> None:
    from tqdm import tqdm

    with tqdm(total=len(todo), unit="img", desc="embedding", disable=progress is not True, file=sys.stderr) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo.iloc[start:start + batch_size]
            writer.write(mapper({c: chunk[c].to_numpy() for c in ("id", "path", "stamp")}))
            bar.update(len(chunk))
            if callable(progress):
                progress(min(start + batch_size, len(todo)), len(todo))
