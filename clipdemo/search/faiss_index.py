"""Which FAISS index a store gets, chosen by size, with its recall@10 against exact search measured.

    < 100,000 vectors      exact: IndexFlatIP (what a query costs: N x D multiply-adds; ~25 ms at 100k here)
    < 1,000,000            HNSW32 over the flat vectors, efSearch tuned
    >= 1,000,000           IVF{nlist},PQ{m}: nlist ~ 4 sqrt(N) (a power of two), m = D/8 bytes per vector
                           (64 B at 512-d, against 2 KB in fp32), nprobe tuned; the PQ codes pick
                           RERANK x k candidates and their exact cosines, read from the store's
                           memory-mapped vectors, rank them (PQ alone tops out near 0.5-0.7 recall@10)

The rules follow autofaiss's (criteo/autofaiss `get_optimal_index_keys_v2`: flat while a brute-force
search stays fast, then graph or IVF-PQ with ~4 sqrt(N) cells and a code size chosen by memory) without
its dependency pins. The search parameter (efSearch or nprobe) is the smallest that reaches
TARGET_RECALL on tuning queries; recall@10 is then measured on other, held-out queries (vectors never used
for training or tuning) and written to the manifest with every parameter.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

EXACT_BELOW = 100_000
HNSW_BELOW = 1_000_000
TARGET_RECALL = 0.95
K = 10
RERANK = 10  # IVF-PQ: candidates per wanted hit, re-scored exactly


@dataclass
class IndexChoice:
    kind: str  # exact | hnsw | ivfpq
    factory: str  # faiss.index_factory string
    params: dict = field(default_factory=dict)


def choose_index(n: int, dim: int, exact_below: int = EXACT_BELOW, hnsw_below: int = HNSW_BELOW) -> IndexChoice:
    """The index for `n` vectors of `dim`: exact below `exact_below`, HNSW below `hnsw_below`, else IVF-PQ."""
    if n < exact_below:
        return IndexChoice("exact", "Flat")
    if n < hnsw_below:
        return IndexChoice("hnsw", "HNSW32,Flat", {"M": 32, "efConstruction": 80})
    nlist = 2 ** round(math.log2(4 * math.sqrt(n)))
    nlist = max(1, min(nlist, n // 64))  # FAISS wants >= 39 training points per cell; keep a margin
    m = max(d for d in range(1, max(dim // 8, 1) + 1) if dim % d == 0)  # sub-quantisers: D/8 (or a divisor)
    return IndexChoice("ivfpq", f"IVF{nlist},PQ{m}", {"nlist": nlist, "m": m, "nbits": 8, "rerank": RERANK})


def thresholds(kind: str) -> tuple[float, float]:
    """(exact_below, hnsw_below) that make `choose_index` pick `kind` ("exact" or "hnsw") at any size: what the
    Search tab's Index choice passes.

    Raises:
        InputError: another kind.
    """
    if kind == "exact":
        return math.inf, math.inf
    if kind == "hnsw":
        return 0, math.inf
    raise InputError(f"Unknown index kind {kind!r}; use exact or hnsw.")


def build(vectors: np.ndarray, choice: IndexChoice, seed: int = 0, queries: int = 200):
    """Build `choice` over unit vectors [N, D] (a memmap is fine), tune it, measure it.

    Returns:
        (index, report): report has kind, factory, params (tuned parameter included), recall_at_10
        in [0, 1] on held-out queries (1.0 for exact, by construction), queries, build_seconds.
    """
    import faiss

    start = time.perf_counter()
    n = len(vectors)
    report = {"kind": choice.kind, "factory": choice.factory, "params": dict(choice.params), "k": K}
    if choice.kind == "exact":
        index = new_index(vectors, choice)
        report.update(recall_at_10=1.0, queries=0, build_seconds=round(time.perf_counter() - start, 3))
        return index, report
    rng = np.random.default_rng(seed)
    picked = rng.choice(n, min(2 * queries, n), replace=False)
    tune_q, held_q = np.sort(picked[: len(picked) // 2]), np.sort(picked[len(picked) // 2:])
    if not len(tune_q):  # one vector: tune on the held-out query (nothing to hold out from a gallery of one)
        tune_q = held_q
    index = new_index(vectors, choice, exclude=picked, rng=rng)
    name, grid = ("efSearch", [16, 32, 64, 128, 256, 512]) if choice.kind == "hnsw" else \
        ("nprobe", [p for p in (1, 2, 4, 8, 16, 32, 64, 128, 256) if p <= choice.params["nlist"]])
    truth_tune, truth_held = _exact(vectors, tune_q), _exact(vectors, held_q)
    space = faiss.ParameterSpace()
    rerank = choice.params.get("rerank", 0)
    best = -1.0
    for value in grid:
        space.set_index_parameter(index, name, value)
        recall = _recall(index, vectors, tune_q, truth_tune, rerank)
        if recall >= TARGET_RECALL or recall <= best + 0.002:  # reached, or no longer improving
            break
        best = recall
    report["params"][name] = value
    report.update(recall_at_10=round(_recall(index, vectors, held_q, truth_held, rerank), 4), queries=len(held_q),
                  target=TARGET_RECALL, build_seconds=round(time.perf_counter() - start, 3))
    return index, report


def new_index(vectors: np.ndarray, choice: IndexChoice, exclude: np.ndarray | None = None,
              rng: np.random.Generator | None = None):
    """The index `choice` over unit vectors [N, D], trained (IVF-PQ: on up to 200,000 vectors not in
    `exclude`, the queries kept out for measuring) and filled; its search parameter left at FAISS's default."""
    import faiss

    n, dim = vectors.shape
    index = faiss.index_factory(dim, choice.factory, faiss.METRIC_INNER_PRODUCT)
    if choice.kind == "hnsw":
        index.hnsw.efConstruction = choice.params["efConstruction"]
    elif choice.kind == "ivfpq":
        rng = rng if rng is not None else np.random.default_rng(0)
        rest = np.setdiff1d(np.arange(n), exclude if exclude is not None else [])
        train_n = min(len(rest), max(64 * choice.params["nlist"], 256 * 39), 200_000)
        train = np.ascontiguousarray(vectors[np.sort(rng.choice(rest, train_n, replace=False))], np.float32)
        index.train(train)
    _add(index, vectors)
    return index


def save(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_index(path: Path, report: dict):
    """Read a saved index; exact and HNSW indexes map their vectors from the file instead of copying them."""
    import faiss

    flags = faiss.IO_FLAG_MMAP_IFC if report["kind"] in ("exact", "hnsw") else 0
    index = faiss.read_index(str(path), flags)
    for name in ("efSearch", "nprobe"):
        if name in report["params"]:
            faiss.ParameterSpace().set_index_parameter(index, name, report["params"][name])
    return index


def search(index, queries: np.ndarray, k: int, vectors=None, rerank: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit queries [Q, D] -> (scores [Q, k], rows [Q, k]; -1 where none). With `rerank`, the index proposes
    rerank x k rows and their exact cosines against `vectors` [N, D] (a memmap: only those rows are read) rank them.
    """
    queries = np.ascontiguousarray(queries, np.float32)
    if not rerank or vectors is None:
        return index.search(queries, k)
    _, cand = index.search(queries, min(k * rerank, index.ntotal))
    scores = np.full((len(queries), k), -np.inf, np.float32)
    rows = np.full((len(queries), k), -1, np.int64)
    for q, ids in enumerate(cand):
        ids = np.sort(ids[ids >= 0])  # sorted reads from the memmap
        exact = np.asarray(vectors[ids], np.float32) @ queries[q]
        top = np.argsort(-exact)[:k]
        scores[q, :len(top)], rows[q, :len(top)] = exact[top], ids[top]
    return scores, rows


def _add(index, vectors, step: int = 65_536) -> None:
    for start in range(0, len(vectors), step):
        index.add(np.ascontiguousarray(vectors[start:start + step], np.float32))


def _exact(vectors, rows) -> np.ndarray:
    import faiss

    q = np.ascontiguousarray(vectors[rows], np.float32)
    _, ids = faiss.knn(q, np.ascontiguousarray(vectors), min(K, len(vectors)), metric=faiss.METRIC_INNER_PRODUCT)
    return ids


def _recall(index, vectors, rows, truth, rerank: int = 0) -> float:
    _, ids = search(index, np.asarray(vectors[rows], np.float32), truth.shape[1], vectors, rerank)
    return float(np.mean([len(set(a) & set(t)) / len(t) for a, t in zip(ids, truth)]))


def describe(report: dict) -> str:
    params = ", ".join(f"{k}={v}" for k, v in report["params"].items())
    line = f"index: {report['kind']} ({report['factory']}{'; ' + params if params else ''})"
    if report["kind"] != "exact":
        line += f", recall@10 against exact {report['recall_at_10']:.3f} on {report['queries']} held-out queries"
    return line


__all__ = ["EXACT_BELOW", "HNSW_BELOW", "IndexChoice", "build", "choose_index", "describe", "load_index", "new_index",
           "search", "thresholds"]
