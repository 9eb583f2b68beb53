"""Embedding a gallery past one process: reader -> mapper -> writer, composed by a runner.

As in clip-retrieval's `clip_inference`: the *reader* lists a source (a folder, or a Parquet/CSV table of
image paths, local or fsspec) and reads bytes; the *mapper* turns a batch of paths into embeddings with the
model loaded once; the *writer* turns each batch into a Parquet shard and, at the end, commits the store
(catalogue, memory-mappable vectors, FAISS index, manifest). The *runner* composes them; `--engine local`
runs the mapper in this process, `--engine ray` on Ray Data actors. Only where the mapper runs changes.
"""

from .runner import IndexReport, index_source
from .store import Store, open_store

__all__ = ["IndexReport", "Store", "index_source", "open_store"]
