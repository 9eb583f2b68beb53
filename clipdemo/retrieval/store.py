"""Image embeddings on disk, keyed by the model's fingerprint and each file's content hash.

One SQLite file per model under ~/.cache/clipdemo/embeddings (or $CLIPDEMO_CACHE): restarting the app
or re-opening a folder encodes nothing again; a changed file has a new hash, so it is encoded alone
and its old vector is never served.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import sqlite3
import threading
from pathlib import Path

import numpy as np


def default_cache_dir() -> Path:
    return Path(os.environ.get("CLIPDEMO_CACHE", Path.home() / ".cache" / "clipdemo")) / "embeddings"


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_fingerprint(engine) -> str:
    """Changes whenever the weights that produce image embeddings change (a retrained checkpoint too)."""
    h = hashlib.blake2b(digest_size=12)
    h.update(engine.info.source.encode())
    for p in (engine.model.visual_projection.weight, engine.model.vision_model.post_layernorm.weight):
        h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


class EmbeddingStore:
    """hash -> float32 vector [D], persisted in SQLite (thread-safe)."""

    def __init__(self, engine, folder: str | os.PathLike | None = None):
        folder = Path(folder or default_cache_dir())
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{model_fingerprint(engine)}.sqlite"
        self.dim = engine.info.embed_dim
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def get_many(self, hashes: list[str]) -> dict[str, np.ndarray]:
        found = {}
        with self._lock:
            for start in range(0, len(hashes), 500):
                chunk = hashes[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT hash, vector FROM vectors WHERE hash IN ({marks})",
                                        chunk).fetchall()
                found.update({h: np.frombuffer(v, np.float32) for h, v in rows})
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                 [(h, np.asarray(v, np.float32).tobytes()) for h, v in items.items()])
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def disk_bytes(self) -> int:
        return self.path.stat().st_size

    def close(self) -> None:
        with self._lock:
            self._db.close()


_open: dict[Path, EmbeddingStore] = {}
_open_lock = threading.Lock()


def open_store(engine, folder: str | os.PathLike | None = None) -> EmbeddingStore:
    """The one store for this model and folder, opened on first use and shared by every request after;
    closed when the process exits (`close_stores`)."""
    path = Path(folder or default_cache_dir()).resolve() / f"{model_fingerprint(engine)}.sqlite"
    with _open_lock:
        if path not in _open:
            _open[path] = EmbeddingStore(engine, path.parent)
        return _open[path]


@atexit.register
def close_stores() -> None:
    """Close every store `open_store` opened."""
    with _open_lock:
        for store in _open.values():
            store.close()
        _open.clear()
