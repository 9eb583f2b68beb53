"""Embedding caches: content keys and a byte-bounded LRU of unit vectors."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import torch
from PIL import Image


def image_key(image: Image.Image) -> str:
    """A content hash of an image's pixels, mode and size: the image-cache key."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{image.mode}{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


_ENTRY_OVERHEAD = 200  # bytes per cached item beyond its key's characters and its floats: the str and bytes
# headers and the OrderedDict's node (measured: tests/test_engine.py, RSS per entry over 40,000 entries)
_LONG_KEY = 128  # texts longer than this (in characters) are keyed by their hash


def text_key(text: str) -> str:
    """The text-cache key: the text itself, or a 32-character hash of a long one (keys count towards the bytes)."""
    if len(text) <= _LONG_KEY:
        return text
    return "#" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class LRU:
    """A least-recently-used map of key -> float32 vector, bounded by the memory its entries really take
    (`max_bytes`) and, if given, by their number (`max_entries`).

    A vector is kept as the bytes of its floats, not as a tensor: a tensor costs about 600 bytes of headers
    besides its data (a 128-d row took 1.2 KB), and a row sliced from a batch would keep the whole batch
    alive. `get` returns a fresh float32 tensor.
    """

    def __init__(self, max_bytes: int, max_entries: int | None = None):
        self.max_bytes, self.max_entries, self.bytes = max_bytes, max_entries, 0
        self._d: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _size(key: str, value: bytes) -> int:
        return len(key) + len(value) + _ENTRY_OVERHEAD

    def get(self, key: str) -> torch.Tensor | None:
        with self._lock:
            value = self._d.get(key)
            if value is None:
                return None
            self._d.move_to_end(key)
        return torch.from_numpy(np.frombuffer(value, dtype=np.float32).copy())

    def put(self, key: str, value: torch.Tensor) -> None:
        value = value.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        size = self._size(key, value)
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._d:
                self.bytes -= self._size(key, self._d.pop(key))
            self._d[key] = value
            self.bytes += size
            while self.bytes > self.max_bytes or (self.max_entries is not None and len(self._d) > self.max_entries):
                old_key, old = self._d.popitem(last=False)
                self.bytes -= self._size(old_key, old)

    def stats(self) -> dict[str, int]:
        with self._lock:
            out = {"entries": len(self._d), "bytes": self.bytes, "limit_bytes": self.max_bytes}
        if self.max_entries is not None:
            out["limit_entries"] = self.max_entries
        return out

    def __len__(self):
        return len(self._d)
