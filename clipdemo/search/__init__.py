"""Image search: embed a gallery into a store, index it with FAISS, and search it by text or image.

One package for every way in: the Search tab's uploaded gallery, the app's `--gallery DIR` and
`--store STORE`, and `python -m clipdemo index` / `search`. As in clip-retrieval's `clip_inference`:

    reader.py      a source (a folder, a Parquet/CSV table of paths, local or fsspec, or a list of files)
                   -> a listing of (path, stamp); a path -> its bytes
    mapper.py      a batch of paths -> content hashes and unit image embeddings (the model loaded once)
    writer.py      a batch -> a Parquet shard; the shards -> a committed store
    store.py       the store's format, opened for search (vectors memory-mapped); the model check
    faiss_index.py which FAISS index a store gets, by size, with its recall@10 against exact measured
    runner.py      composes reader -> mapper -> writer -> index; `--engine local` runs the mapper here,
    ray_engine.py  `--engine ray` on Ray Data actors: only where the mapper runs changes
    query.py       the one search function (a text or image -> ranked hits) and the serving-backend rule
    gallery.py     the Search tab's galleries: uploads in a temporary store, --gallery DIR in a cached one
    evaluate.py    Recall@K evaluation on paired images and captions (analysis.recall scores it)

The model fingerprint a store records is clipdemo.engine.fingerprint's.
"""

from .query import Hit, search_store, serving_backend
from .runner import IndexReport, index_source
from .store import Store, open_store

__all__ = ["Hit", "IndexReport", "Store", "index_source", "open_store", "search_store", "serving_backend"]
