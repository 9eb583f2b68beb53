"""The one cached CLIP model: loading, device and dtype, batched encoding, embedding caches.

This is the only module that touches the hub or the disk for models. Nothing is loaded at import
time: `get_engine()` loads on first use, once per process, and every tab and user shares it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..errors import InputError, ModelError
from ..limits import IMAGE_CACHE_BYTES, TEXT_CACHE_BYTES
from ..registry import BUNDLED_MODEL, DEFAULT_MODEL, bundled_path, resolve_model
from ..registry import knows_photos as card_knows_photos

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class ModelInfo:
    name: str  # what the user asked for, or what we fell back to
    source: str  # hub id or directory passed to from_pretrained
    device: str
    dtype: str
    parameters: int
    load_seconds: float
    embed_dim: int
    image_size: int
    note: str = ""  # why this model runs (e.g. the fallback reason); empty when it is the one asked for
    knows_photos: bool = True  # False when its model card says it was trained on no photos (the bundled model)
    backend: str = "torch"  # where the towers run (clipdemo.backends): torch, int8, onnx, onnx-int8
    agreement: dict | None = None  # the backend's smallest cosine with fp32 on fixed probes


def pick_device(device: str | None = None) -> torch.device:
    """`device` if given, else CUDA, else Apple MPS, else CPU."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _embedding(out) -> torch.Tensor:
    """transformers 5 returns an output object whose pooler_output is the projected embedding; 4.x a tensor."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


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


class _LRU:
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


class ClipEngine:
    """A CLIP model with its processor, encoding in batches and caching embeddings by content.

    Embeddings come back as float32 CPU tensors, L2-normalised, shape [N, D]; a row is a unit vector,
    so a dot product is the cosine similarity in [-1, 1].
    """

    def __init__(self, model, processor, *, name: str, source: str = "", load_seconds: float = 0.0,
                 note: str = "", knows_photos: bool = True, text_cache_bytes: int = TEXT_CACHE_BYTES,
                 image_cache_bytes: int = IMAGE_CACHE_BYTES):
        self.model, self.processor = model.eval(), processor
        self.tokenizer = processor.tokenizer
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self._forward_lock = threading.Lock()  # one forward pass at a time: no thread oversubscription
        self._texts, self._images = _LRU(text_cache_bytes), _LRU(image_cache_bytes)
        vision = model.config.vision_config
        self.info = ModelInfo(name=name, source=source or name, device=str(self.device),
                              dtype=str(self.dtype).replace("torch.", ""),
                              parameters=sum(p.numel() for p in model.parameters()), load_seconds=load_seconds,
                              embed_dim=model.config.projection_dim, image_size=vision.image_size, note=note,
                              knows_photos=knows_photos)
        self.max_text_tokens = min(77, model.config.text_config.max_position_embeddings)

    towers = None  # a clipdemo.backends.Towers when use_backend() picked one; None: the model itself

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, device: str | None = None, note: str = "",
             backend: str = "torch") -> ClipEngine:
        """Load `name` (short name, hub id or directory) with `from_pretrained`, fp16 on CUDA, else fp32;
        then run its towers on `backend` (see `use_backend`)."""
        from transformers import CLIPModel, CLIPProcessor

        source = resolve_model(name)
        dev = pick_device(device)
        dtype = torch.float16 if dev.type == "cuda" else torch.float32
        start = time.perf_counter()
        model = CLIPModel.from_pretrained(source, dtype=dtype).to(dev)
        processor = CLIPProcessor.from_pretrained(source)
        seconds = time.perf_counter() - start
        log.info("loaded model %s from %s on %s (%s) in %.1f s", name, source, dev, str(dtype).replace("torch.", ""),
                 seconds)
        engine = cls(model, processor, name=name, source=source, load_seconds=seconds, note=note,
                     knows_photos=card_knows_photos(source))
        if backend != "torch":
            engine.use_backend(backend)
        return engine

    def use_backend(self, backend: str) -> None:
        """Run the towers on `backend` (clipdemo.backends.BACKENDS): same encode_* contract, same unit vectors.

        Measures the backend against fp32 first and reports it in `info.agreement`; raises ModelError when
        the smallest cosine is below backends.MIN_AGREEMENT. `self.model` stays the fp32 model.
        """
        import dataclasses

        from ..backends import checked_towers

        towers, agreement = checked_towers(backend, self.model, self.processor, self.tokenizer, self.max_text_tokens)
        self.towers = None if backend == "torch" else towers
        self.info = dataclasses.replace(self.info, backend=backend, agreement=agreement)
        self.clear_cache()

    @property
    def logit_scale(self) -> float:
        """exp(model.logit_scale): CLIP's learned inverse temperature (100 for OpenAI's models)."""
        return float(self.model.logit_scale.detach().exp().float().cpu())

    # -- text ---------------------------------------------------------------------------------------

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, start and end tokens included; > max_text_tokens means it will be truncated."""
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]]

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256,
                     progress: Progress | None = None) -> torch.Tensor:
        """Embed texts, truncated to 77 tokens. Returns [len(texts), D] unit vectors (float32, CPU).

        Cached texts are not encoded again; the others are sorted by token length and batched, so
        short labels are not padded to the longest text in the request.
        """
        texts = list(texts)
        found = {t: v for t in dict.fromkeys(texts) if (v := self._texts.get(text_key(t))) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            ids = self.tokenizer(missing, truncation=True, max_length=self.max_text_tokens)["input_ids"]
            order = sorted(range(len(missing)), key=lambda i: len(ids[i]))
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                batch = self.tokenizer.pad({"input_ids": [ids[i] for i in chunk]}, return_tensors="pt")
                with self._forward_lock, torch.inference_mode():
                    out = self._text_features(batch["input_ids"].to(self.device),
                                              batch["attention_mask"].to(self.device))
                for i, row in zip(chunk, self._normalise(out)):
                    found[missing[i]] = row
                    self._texts.put(text_key(missing[i]), row)
                if progress:
                    progress(min(start + batch_size, len(order)), len(order))
        return self._stack([found[t] for t in texts])

    # -- images -------------------------------------------------------------------------------------

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 64,
                      progress: Progress | None = None) -> torch.Tensor:
        """Embed RGB images. Returns [len(images), D] unit vectors (float32, CPU); cached by pixel content."""
        keys = [image_key(im) for im in images]
        found = {k: v for k in dict.fromkeys(keys) if (v := self._images.get(k)) is not None}
        todo = [(k, im) for k, im in dict(zip(keys, images)).items() if k not in found]
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            pixels = self.processor.image_processor([im for _, im in chunk], return_tensors="pt")["pixel_values"]
            with self._forward_lock, torch.inference_mode():
                out = self._image_features(pixels.to(self.device, self.dtype))
            for (k, _), row in zip(chunk, self._normalise(out)):
                found[k] = row
                self._images.put(k, row)
            if progress:
                progress(min(start + batch_size, len(todo)), len(todo))
        return self._stack([found[k] for k in keys])

    # -- a second path for explanations ------------------------------------------------------------

    def eager_model(self):
        """The same CLIPModel with eager attention, for passes that need attention weights or gradients.

        It shares every parameter and buffer with `self.model` (no copy of the weights), so it always
        explains the model that answers; only its config differs. The fast path (`encode_*`, SDPA) is
        untouched. Built once per engine.
        """
        with self._forward_lock:
            if getattr(self, "_eager", None) is None:
                import copy

                shared = {id(t): t for t in (*self.model.parameters(), *self.model.buffers())}
                twin = copy.deepcopy(self.model, memo=shared)
                twin.set_attn_implementation("eager")
                self._eager = twin.eval()
        return self._eager

    def random_twin(self, seed: int = 0) -> ClipEngine:
        """The same architecture, processor and tokenizer with fresh random weights (seeded): the control
        for any measurement that claims the trained weights mean something."""
        torch.manual_seed(seed)
        model = type(self.model)(self.model.config).to(self.device, self.dtype)
        return ClipEngine(model, self.processor, name=f"{self.info.name} (random weights, seed {seed})",
                          source="memory")

    @property
    def forward_lock(self) -> threading.Lock:
        """Held during every forward pass: other passes on this model (saliency) take it too."""
        return self._forward_lock

    # -- helpers ------------------------------------------------------------------------------------

    def _image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] -> [B, D] projected, not normalised; on the backend's towers when one is set."""
        if self.towers is not None:
            return self.towers.image_features(pixel_values)
        return _embedding(self.model.get_image_features(pixel_values=pixel_values))

    def _text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.towers is not None:
            return self.towers.text_features(input_ids, attention_mask)
        return _embedding(self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))

    @staticmethod
    def _normalise(features: torch.Tensor) -> torch.Tensor:
        features = features.float().cpu()
        if not torch.isfinite(features).all():
            raise ModelError("The model returned non-finite numbers (NaN or infinity). With fp16 on a GPU, "
                             "try --device cpu; otherwise the checkpoint may be damaged.")
        return features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def _stack(self, rows: list[torch.Tensor]) -> torch.Tensor:
        if not rows:
            return torch.empty(0, self.info.embed_dim)
        return torch.stack(rows)

    def cache_sizes(self) -> dict[str, dict[str, int]]:
        """Entries, bytes and byte limit of each embedding cache."""
        return {"texts": self._texts.stats(), "images": self._images.stats()}

    def clear_cache(self, texts: bool = True, images: bool = True) -> None:
        if texts:
            self._texts = _LRU(self._texts.max_bytes)
        if images:
            self._images = _LRU(self._images.max_bytes)


# -- the process-wide engine -------------------------------------------------------------------------

_settings = {"model": DEFAULT_MODEL, "device": None, "backend": "torch"}
_engine: ClipEngine | None = None
_engine_lock = threading.Lock()


def configure(model: str | None = None, device: str | None = None, backend: str | None = None) -> None:
    """Choose what `get_engine()` will load; takes effect before the first load, or drops a loaded one."""
    global _engine
    with _engine_lock:
        _settings.update(model=model or DEFAULT_MODEL, device=device, backend=backend or "torch")
        _engine = None


def get_engine() -> ClipEngine:
    """The shared engine, loaded on first call (thread-safe). Falls back to the bundled model when the
    configured hub model cannot be loaded (offline and not cached), and says why in `info.note`."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = _load_with_fallback(_settings["model"], _settings["device"], _settings["backend"])
    return _engine


def set_engine(engine: ClipEngine | None) -> None:
    """Install an engine (tests, or a model trained in-process); None drops it so the next call loads."""
    global _engine
    with _engine_lock:
        _engine = engine


def _hub_unreachable(source: str) -> str | None:
    """Why a hub id cannot load right now (not cached and no connection), or None to just try.

    transformers retries an unreachable hub for about 30 s; this check takes at most 3 s.
    """
    import os
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


def _load_with_fallback(name: str, device: str | None, backend: str = "torch") -> ClipEngine:
    try:
        why = _hub_unreachable(resolve_model(name))
        if why:
            raise OSError(why)
        return ClipEngine.load(name, device, backend=backend)
    except (InputError, ModelError):
        raise
    except Exception as exc:  # offline, not cached, gated, corrupt: all leave the user with no model
        if name == BUNDLED_MODEL or resolve_model(name) == bundled_path():
            raise
        reason = (f"Could not load {name!r} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
                  f"Running the bundled '{BUNDLED_MODEL}' model instead: a tiny CLIP trained on synthetic "
                  "shapes, digits and colours, which knows nothing about photos. To use the real model, "
                  "connect to the internet once (it is then cached in ~/.cache/huggingface) or pass "
                  "--model /path/to/checkpoint.")
        log.warning(reason)
        return ClipEngine.load(BUNDLED_MODEL, device, note=reason, backend=backend)
