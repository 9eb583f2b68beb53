"""Query latency of the gallery search at 10k, 100k and 1M 512-d vectors: exact and approximate.

    python bench/faiss_search.py [--sizes 10000 100000 1000000] [--queries 200] [--uniform]

Vectors are random unit vectors drawn around 1,000 random centres (CLIP embeddings are clustered;
with --uniform they are uniform on the sphere, where no index beats brute force). Queries are database
vectors plus noise. Exact is FAISS IndexFlatIP (the gallery's default); approximate is IVF-Flat
(sqrt-sized lists, nprobe tuned for recall) and, up to 100k, HNSW. Recall@10 is against exact search.
Latency is per single query (one at a time, as the app sends them), median over the queries.
"""

from __future__ import annotations

import argparse
import statistics
import time

import faiss
import numpy as np

from clipdemo.search.faiss_index import IndexChoice, choose_index, new_index

DIM = 512


def vectors(n: int, rng, uniform: bool, centres=None) -> np.ndarray:
    if uniform:
        v = rng.standard_normal((n, DIM), dtype=np.float32)
    else:
        noise = rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
        v = centres[rng.integers(len(centres), size=n)] + 0.6 * noise
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_index(base: np.ndarray, kind: str):
    """The store's exact index, or its HNSW32 (the chooser's parameters) with efSearch fixed at 128."""
    if kind == "exact":
        return new_index(base, choose_index(len(base), DIM, exact_below=len(base) + 1))
    index = new_index(base, IndexChoice("hnsw", "HNSW32,Flat", {"M": 32, "efConstruction": 80}))
    index.hnsw.efSearch = 128
    return index


def per_query_ms(index, queries) -> float:
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q[None], 10)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def recall_at_10(index, queries, truth) -> float:
    _, got = index.search(queries, 10)
    return float(np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth)]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--uniform", action="store_true")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32) / np.sqrt(DIM)
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, "
          f"{'uniform' if args.uniform else 'clustered'} vectors, {args.queries} single queries")
    print(f"{'vectors':>9} {'index':<22} {'build s':>8} {'ms/query':>9} {'vs exact':>9} {'recall@10':>10}")
    for n in args.sizes:
        base = vectors(n, rng, args.uniform, centres)
        queries = base[rng.integers(n, size=args.queries)] + 0.02 * rng.standard_normal((args.queries, DIM),
                                                                                     dtype=np.float32) / np.sqrt(DIM)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        start = time.perf_counter()
        exact = make_index(base, "exact")
        build = time.perf_counter() - start
        exact_ms = per_query_ms(exact, queries)
        _, truth = exact.search(queries, 10)
        print(f"{n:9d} {'exact (FlatIP)':<22} {build:8.1f} {exact_ms:9.2f} {1:8.1f}x {1:10.3f}")
        nlist = int(4 * np.sqrt(n))
        start = time.perf_counter()
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(base[rng.choice(n, min(n, 50 * nlist), replace=False)])
        ivf.add(base)
        build = time.perf_counter() - start
        for nprobe in (8, 32):
            ivf.nprobe = nprobe
            ms = per_query_ms(ivf, queries)
            print(f"{n:9d} {f'IVF{nlist} nprobe={nprobe}':<22} {build:8.1f} {ms:9.2f} {exact_ms / ms:8.1f}x "
                  f"{recall_at_10(ivf, queries, truth):10.3f}")
        if n <= 100_000:
            start = time.perf_counter()
            hnsw = make_index(base, "hnsw")
            build = time.perf_counter() - start
            ms = per_query_ms(hnsw, queries)
            print(f"{n:9d} {'HNSW32 efSearch=128':<22} {build:8.1f} {ms:9.2f} {exact_ms / ms:8.1f}x "
                  f"{recall_at_10(hnsw, queries, truth):10.3f}")
        del base


if __name__ == "__main__":
    main()
