"""Embedding caches: content keys and a byte-bounded LRU of unit vectors."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import torch
from PIL import Image


def image_key(image: Image.Image) -> str:
    """A content hash of an image's pixels, mode and size: the image-cache key."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{image.mode}{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


_KEY_OVERHEAD = 100  # bytes of dict entry, key object and tensor header per cached item, roughly
_LONG_KEY = 128  # texts longer than this (in characters) are keyed by their hash


def text_key(text: str) -> str:
    """The text-cache key: the text itself, or a 32-character hash of a long one (keys count towards the bytes)."""
    if len(text) <= _LONG_KEY:
        return text
    return "#" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class LRU:
    """A least-recently-used map of key -> tensor, bounded by the bytes of its keys and values.

    Values are stored as their own copies: a row sliced from a batch would keep the whole batch alive.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes, self.bytes = max_bytes, 0
        self._d: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _size(key: str, value: torch.Tensor) -> int:
        return len(key) + value.untyped_storage().nbytes() + _KEY_OVERHEAD

    def get(self, key: str):
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
            return None

    def put(self, key: str, value: torch.Tensor) -> None:
        value = value.detach().clone()
        size = self._size(key, value)
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._d:
                self.bytes -= self._size(key, self._d.pop(key))
            self._d[key] = value
            self.bytes += size
            while self.bytes > self.max_bytes:
                old_key, old = self._d.popitem(last=False)
                self.bytes -= self._size(old_key, old)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._d), "bytes": self.bytes, "limit_bytes": self.max_bytes}

    def __len__(self):
        return len(self._d)
