"""The one model fingerprint: which weights made a set of embeddings.

A store of image embeddings records it and refuses a model with another one (its vectors would not be
comparable); the ONNX export cache is keyed by it. The rule, once:

    blake2b-96 over every state_dict entry, in order: its name, its shape, its values rounded to fp16.

- Every parameter and buffer counts, whatever the family (CLIP, SigLIP, a checkpoint trained here), so
  changing any weight changes the fingerprint.
- Rounding to fp16 makes a model loaded in fp32 (CPU) and the same model in fp16 (CUDA) agree: a store
  built on one machine is searchable from the other.
- Where the model was loaded from (hub id, folder) does not count: the same weights anywhere agree.

Hashing every weight reads the whole model (about a second for ViT-B/32 on one core), so the result is
kept per model object and recomputed only when a weight tensor was replaced or changed in place (torch
counts in-place writes in each tensor's version).
"""

from __future__ import annotations

import hashlib
import threading
import weakref

import torch

_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (weights key, fingerprint)
_lock = threading.Lock()


def _weights_key(state: dict[str, torch.Tensor]) -> tuple:
    """What changes when a weight does: each tensor's storage, dtype and in-place write count."""
    return tuple((name, t.data_ptr(), t.dtype, t._version) for name, t in state.items())


def model_fingerprint(model: torch.nn.Module) -> str:
    """A 24-hex-digit fingerprint of `model`'s weights (see the module docstring for the rule).

    Args:
        model: any torch module (a transformers CLIPModel or SiglipModel, on any device and dtype).
    Returns:
        24 lowercase hex digits; equal for the same weights in fp32 and fp16, different when any weight differs.
    """
    state = model.state_dict()
    key = _weights_key(state)
    with _lock:
        cached = _cache.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    h = hashlib.blake2b(digest_size=12)
    for name, tensor in state.items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().to("cpu", torch.float16).numpy().tobytes())
    digest = h.hexdigest()
    with _lock:
        _cache[model] = (key, digest)
    return digest
