"""Loading models: from a short name, hub id or directory to a ClipEngine, with honest failures.

This is the only code that touches the hub or the disk for models. Nothing loads at import time.

An explicit model that cannot load stops with the real reason: an unsupported architecture (with the
supported families listed), missing files, or not cached while offline. Only the default model
(`DEFAULT_MODEL`, used when no model is named) falls back to the bundled `tiny-scenes` when offline.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import torch

from ..errors import InputError, ModelError
from ..registry import BUNDLED_MODEL, DEFAULT_MODEL, resolve_model
from ..registry import knows_photos as card_knows_photos
from .core import ClipEngine
from .families import family_of

log = logging.getLogger("clipdemo.engine")

_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def pick_device(device: str | None = None) -> torch.device:
    """`device` if given, else CUDA, else Apple MPS, else CPU."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def display_source(source: str) -> str:
    """What the page may show of where a model came from: a hub id, or a directory's base name."""
    folder = os.path.expanduser(source)
    return Path(folder).resolve().name if os.path.isdir(folder) else source


def hub_unreachable(source: str) -> str | None:
    """Why a hub id cannot load right now (not cached and no connection), or None to just try.

    transformers retries an unreachable hub for about 30 s; this check takes at most 3 s.
    """
    import socket

    if os.path.isdir(source):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(source, "config.json"), str):
            return None  # cached: from_pretrained works offline
    except Exception:
        return None
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "HF_HUB_OFFLINE is set and the model is not in the Hugging Face cache"
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return None
    except OSError:
        return "huggingface.co cannot be reached and the model is not in the Hugging Face cache"


def check_loadable(name: str) -> str:
    """Everything that can be known about loading `name` without loading its weights; returns the source.

    Raises:
        InputError: not a short name, hub id or directory (the message lists the short names).
        ModelError: a directory without a config or weights, an unsupported architecture, or a hub id
            that is not cached while offline; each message says which and what to do.
    """
    source = resolve_model(name)
    if os.path.isdir(source):
        folder = Path(source)
        if not (folder / "config.json").is_file():
            raise ModelError(f"{folder.name!r} has no config.json: it is not a saved model "
                             "(save one with model.save_pretrained(DIR) and its processor's save_pretrained(DIR)).")
        if not any((folder / w).is_file() for w in _WEIGHTS):
            raise ModelError(f"{folder.name!r} has a config.json but no weights ({', '.join(_WEIGHTS[::2])}).")
        config = json.loads((folder / "config.json").read_text())
        family_of(config.get("model_type", ""))
        return source
    why = hub_unreachable(source)
    if why:
        raise ModelError(f"Cannot load {name!r}: {why}. Connect to the internet once (the model is then cached "
                         "in ~/.cache/huggingface), or pass --model /path/to/checkpoint.")
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(source, "config.json")
        if isinstance(cached, str):
            family_of(json.loads(Path(cached).read_text()).get("model_type", ""))
    except (ModelError, InputError):
        raise
    except Exception:  # an unreadable cache entry: from_pretrained will say more
        pass
    return source


def load(name: str = DEFAULT_MODEL, device: str | None = None, note: str = "", backend: str = "torch",
         display_name: str | None = None) -> ClipEngine:
    """Load `name` (short name, hub id or directory): any dual encoder that transformers' AutoModel loads
    with get_text_features and get_image_features, in a supported family (engine.families). fp16 on CUDA,
    else fp32; then its towers run on `backend` (see ClipEngine.use_backend).

    Raises:
        InputError, ModelError: see `check_loadable`; ModelError also when transformers fails to load it.
    """
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    source = check_loadable(name)
    dev = pick_device(device)
    dtype = torch.float16 if dev.type == "cuda" else torch.float32
    start = time.perf_counter()
    try:
        model = AutoModel.from_pretrained(source, dtype=dtype).to(dev)
        tokenizer = AutoTokenizer.from_pretrained(source)
        image_processor = AutoImageProcessor.from_pretrained(source)
    except (OSError, ValueError, RuntimeError, KeyError, ImportError) as exc:  # ImportError: a missing extra
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"Could not load {display_name or name!r}: {first}") from exc
    for method in ("get_text_features", "get_image_features"):
        if not hasattr(model, method):
            raise ModelError(f"{type(model).__name__} has no {method}: not a dual image-text encoder.")
    seconds = time.perf_counter() - start
    log.info("loaded model %s from %s on %s (%s) in %.1f s", name, display_source(source), dev,
             str(dtype).replace("torch.", ""), seconds)
    engine = ClipEngine(model, tokenizer=tokenizer, image_processor=image_processor,
                        name=display_name or display_source(name),
                        source=display_source(source), load_seconds=seconds, note=note,
                        knows_photos=card_knows_photos(source))
    if backend != "torch":
        engine.use_backend(backend)
    return engine


def load_with_fallback(name: str | None, device: str | None = None, backend: str = "torch") -> ClipEngine:
    """`load(name)`; with no name, the default model, which alone falls back to the bundled one when it
    cannot be loaded (offline and not cached), saying why in `info.note`."""
    if name:
        return load(name, device, backend=backend)
    try:
        return load(DEFAULT_MODEL, device, backend=backend)
    except ModelError as exc:
        reason = (f"{exc} Running the bundled '{BUNDLED_MODEL}' model instead: a tiny CLIP trained on synthetic "
                  "shapes, digits and colours, which knows nothing about photos.")
        log.warning(reason)
        return load(BUNDLED_MODEL, device, note=reason, backend=backend)
