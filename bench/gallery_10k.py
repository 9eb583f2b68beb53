"""Index a 10,000-image gallery and query it: time, memory, disk, and query latency.

    python bench/gallery_10k.py [--images 10000] [--model tiny-scenes]

Renders held-out scenes to a temp folder, indexes them as the app's --gallery DIR does (cold: everything
encoded into the folder's store), indexes them again as a restarted app would (warm: every vector from
the on-disk store), then times text queries end to end (clipdemo.search.search_store: encode the query +
FAISS exact search) against the same search done as a NumPy matmul.
Peak memory is the process's maximum resident set size, read before and after indexing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from clipdemo.engine import ClipEngine
from clipdemo.scenes import canonical_caption, random_scene, scene_rng


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--model", default="tiny-scenes")
    args = p.parse_args()
    folder, cache = Path(tempfile.mkdtemp(prefix="gallery-")), Path(tempfile.mkdtemp(prefix="store-"))
    os.environ["CLIPDEMO_CACHE"] = str(cache)  # where --gallery DIR's store goes
    from clipdemo.search import search_store
    from clipdemo.search.gallery import build_gallery
    from clipdemo.search.reader import list_images

    rng = scene_rng(5000, "heldout")
    start = time.perf_counter()
    captions = []
    for i in range(args.images):
        scene = random_scene(rng, size=128)
        scene.image.save(folder / f"{i:05d}.png")
        captions.append(canonical_caption(scene.key))
    render = time.perf_counter() - start
    paths = list_images(folder)
    disk_images = sum(Path(p).stat().st_size for p in paths) / 2**20

    engine = ClipEngine.load(args.model)
    before = peak_mb()
    start = time.perf_counter()
    last = [0.0]

    def progress(done, total):
        if time.perf_counter() - last[0] > 5:
            last[0] = time.perf_counter()
            print(f"  indexed {done}/{total}", flush=True)

    gallery = build_gallery(engine, folder=str(folder), progress=progress)
    cold = time.perf_counter() - start
    grew = peak_mb() - before
    start = time.perf_counter()
    again = build_gallery(engine, folder=str(folder))
    warm = time.perf_counter() - start
    assert again.report.embedded == 0 and np.array_equal(again.store.vectors, gallery.store.vectors)
    vectors = np.asarray(gallery.store.vectors)

    queries = [captions[i] for i in np.random.default_rng(0).choice(len(captions), 50, replace=False)]
    engine.encode_texts(["warm up"])
    faiss_ms, numpy_ms = [], []
    for q in queries:
        t0 = time.perf_counter()
        search_store(gallery.store, engine, q, 10)
        faiss_ms.append((time.perf_counter() - t0) * 1e3)
        vec = engine.encode_texts([q])[0].numpy()
        t0 = time.perf_counter()
        np.argsort(vectors @ vec)[::-1][:10]
        numpy_ms.append((time.perf_counter() - t0) * 1e3)
    store_bytes = sum(p.stat().st_size for p in gallery.store.folder.rglob("*") if p.is_file())
    print(f"model {engine.info.name}; {len(paths)} images ({disk_images:.0f} MB of PNG) rendered in {render:.0f}s")
    print(f"index cold (all encoded):      {cold:7.1f}s  ({len(paths) / cold:.0f} images/s), "
          f"peak RSS grew {grew:.0f} MB")
    print(f"index warm (from disk store):  {warm:7.1f}s  -> {cold / warm:.0f}x faster than cold")
    print(f"text query, encode + FAISS:    {statistics.median(faiss_ms):7.2f} ms median, "
          f"{max(faiss_ms):.2f} ms max over {len(queries)} queries")
    print(f"search alone, NumPy matmul:    {statistics.median(numpy_ms):7.2f} ms median (baseline)")
    print(f"embedding store on disk:       {store_bytes / 2**20:7.1f} MB for {len(gallery.store)} vectors "
          f"of {engine.info.embed_dim} floats (shards, vectors, index, catalogue)")


if __name__ == "__main__":
    main()
