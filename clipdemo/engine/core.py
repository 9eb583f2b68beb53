"""A loaded dual encoder (CLIP, SigLIP, ...): batched encoding, caches, and the family's own scores."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from ..errors import ModelError
from ..limits import IMAGE_CACHE_BYTES, TEXT_CACHE_BYTES, TEXT_CACHE_ENTRIES
from .cache import LRU, image_key, text_key
from .families import Family, family_of

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)

# A fast tokenizer keeps its padding and truncation settings on its Rust backend and sets them on every call:
# two threads (one counting tokens, one padding a batch) interleave and one gets unpadded rows ("Unable to
# create tensor ..."; 1 call in 4,232 of a 20-minute soak). Tokenizing takes microseconds: one lock for all.
TOKENIZING = threading.Lock()


@dataclass(frozen=True)
class ModelInfo:
    name: str  # what the user asked for, or what we fell back to
    source: str  # hub id, or a checkpoint directory's base name: never a path on the server
    device: str
    dtype: str
    parameters: int
    load_seconds: float
    embed_dim: int
    image_size: int
    note: str = ""  # why this model runs (e.g. the fallback reason); empty when it is the one asked for
    knows_photos: bool = True  # False when its model card says it was trained on no photos (the bundled models)
    backend: str = "torch"  # where the towers run (engine.backends): torch, int8, onnx, onnx-int8 (never "auto")
    agreement: dict | None = None  # the backend's smallest cosine with fp32 on fixed probes
    family: str = "clip"  # engine.families: clip, metaclip_2, siglip, siglip2
    score: str = "softmax"  # how its scores read: softmax (over the candidates) or sigmoid (independent)
    max_text_tokens: int = 77  # the model's own text length; longer texts are cut there


def pooled(out) -> torch.Tensor:
    """The embedding in a get_*_features result: transformers 5 returns an output object whose
    pooler_output is the projected embedding; 4.x returned the tensor itself."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


class ClipEngine:
    """A dual image-text encoder with its tokenizer and image processor, encoding in batches, caching
    embeddings by content, and scoring the way its family was trained (`self.family`).

    Embeddings come back as float32 CPU tensors, L2-normalised, shape [N, D]; a row is a unit vector,
    so a dot product is the cosine similarity in [-1, 1].
    """

    towers = None  # an engine.backends.Towers when use_backend() picked one; None: the model itself

    def __init__(self, model, processor=None, *, tokenizer=None, image_processor=None, name: str,
                 source: str = "", load_seconds: float = 0.0, note: str = "", knows_photos: bool = True,
                 text_cache_bytes: int = TEXT_CACHE_BYTES, image_cache_bytes: int = IMAGE_CACHE_BYTES,
                 text_cache_entries: int | None = TEXT_CACHE_ENTRIES):
        self.model = model.eval()
        self.processor = processor  # the transformers processor when built from one (tests, training), else None
        self.tokenizer = tokenizer if tokenizer is not None else processor.tokenizer
        self.image_processor = image_processor if image_processor is not None else processor.image_processor
        self.family: Family = family_of(model.config)
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self._forward_lock = threading.Lock()  # one forward pass at a time: no thread oversubscription
        self._texts, self._images = LRU(text_cache_bytes, text_cache_entries), LRU(image_cache_bytes)
        self.max_text_tokens = int(model.config.text_config.max_position_embeddings)
        self.info = ModelInfo(name=name, source=source or name, device=str(self.device),
                              dtype=str(self.dtype).replace("torch.", ""),
                              parameters=sum(p.numel() for p in model.parameters()), load_seconds=load_seconds,
                              embed_dim=_embed_dim(model.config), image_size=_image_size(self.image_processor,
                                                                                         model.config),
                              note=note, knows_photos=knows_photos, family=self.family.name,
                              score=self.family.score, max_text_tokens=self.max_text_tokens)

    def use_backend(self, backend: str) -> None:
        """Run the towers on `backend` (engine.backends.CHOICES; "auto" picks onnx or torch and
        `info.backend` says which): same encode_* contract, same unit vectors.

        Measures the backend against fp32 first and reports it in `info.agreement`; raises ModelError when
        the smallest cosine is below backends.MIN_AGREEMENT. `self.model` stays the fp32 model.
        """
        from .backends import checked_towers

        towers, agreement = checked_towers(backend, self)
        self.towers = None if towers.name == "torch" else towers
        self.info = dataclasses.replace(self.info, backend=towers.name, agreement=agreement)
        self.clear_cache()

    # -- scores -------------------------------------------------------------------------------------

    @property
    def logit_scale(self) -> float:
        """exp(model.logit_scale): the learned inverse temperature t (100 for OpenAI's CLIP models)."""
        return float(self.model.logit_scale.detach().exp().float().cpu())

    @property
    def logit_bias(self) -> float:
        """SigLIP's learned bias b, added to t * cosine before the sigmoid; 0.0 for softmax families."""
        bias = getattr(self.model, "logit_bias", None)
        return 0.0 if bias is None else float(bias.detach().float().cpu())

    def logits(self, cosine: torch.Tensor) -> torch.Tensor:
        """t * cosine + b: the model's own logits (CLIPModel's and SiglipModel's logits_per_image)."""
        return self.logit_scale * cosine + self.logit_bias

    def probabilities(self, cosine: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """The family's scores for cosines: softmax over `dim` (CLIP) or an independent sigmoid per pair
        (SigLIP, never renormalised: a row need not sum to 1, and every entry can be low)."""
        return self.family.probabilities(self.logits(cosine), dim)

    # -- text ---------------------------------------------------------------------------------------

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, special tokens included; > max_text_tokens means it will be truncated."""
        with TOKENIZING:
            return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]]

    def text_inputs(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Texts tokenized as the family was trained (engine.families), on the model's device."""
        with TOKENIZING:
            batch = self.family.pad_texts(self.tokenizer, list(texts), self.max_text_tokens)
        return {k: v.to(self.device) for k, v in batch.items()}

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256,
                     progress: Progress | None = None) -> torch.Tensor:
        """Embed texts, cut at the model's max_text_tokens. Returns [len(texts), D] unit vectors (float32, CPU).

        Cached texts are not encoded again; the others are sorted by length and batched, so for families
        padded to the longest text, short labels are not padded to the longest text in the request.
        """
        texts = list(texts)
        found = {t: v for t in dict.fromkeys(texts) if (v := self._texts.get(text_key(t))) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            order = sorted(range(len(missing)), key=lambda i: len(missing[i]))
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                batch = self.text_inputs([missing[i] for i in chunk])
                with self._forward_lock, torch.inference_mode():
                    out = self._text_features(batch)
                for i, row in zip(chunk, self._normalise(out)):
                    found[missing[i]] = row
                    self._texts.put(text_key(missing[i]), row)
                if progress:
                    progress(min(start + batch_size, len(order)), len(order))
        return self._stack([found[t] for t in texts])

    # -- images -------------------------------------------------------------------------------------

    def image_inputs(self, images: Sequence[Image.Image]) -> dict[str, torch.Tensor]:
        """What the image processor makes of RGB images (pixel_values; NaFlex adds its patch mask and
        spatial shapes), on the model's device, floats in the model's dtype."""
        batch = self.image_processor(list(images), return_tensors="pt")
        return {k: v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device)
                for k, v in batch.items()}

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 64,
                      progress: Progress | None = None, cache: bool = True) -> torch.Tensor:
        """Embed RGB images. Returns [len(images), D] unit vectors (float32, CPU); cached by pixel content.

        cache=False neither reads nor fills the image cache: for callers that see each image once (the
        indexer), whose thousands of small cached rows would only pin the heap between batches.
        """
        if cache:
            keys = [image_key(im) for im in images]
            found = {k: v for k in dict.fromkeys(keys) if (v := self._images.get(k)) is not None}
        else:  # no hashing: each image is its own key
            keys, found = list(range(len(images))), {}
        todo = [(k, im) for k, im in dict(zip(keys, images)).items() if k not in found]
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            inputs = self.image_inputs([im for _, im in chunk])
            with self._forward_lock, torch.inference_mode():
                out = self._image_features(inputs)
            for (k, _), row in zip(chunk, self._normalise(out)):
                found[k] = row
                if cache:
                    self._images.put(k, row)
            if progress:
                progress(min(start + batch_size, len(todo)), len(todo))
        return self._stack([found[k] for k in keys])

    # -- a second path for explanations ------------------------------------------------------------

    def eager_model(self):
        """The same model with eager attention, for passes that need attention weights or gradients.

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
        """The same architecture, tokenizer and image processor with fresh random weights (seeded): the
        control for any measurement that claims the trained weights mean something."""
        torch.manual_seed(seed)
        model = type(self.model)(self.model.config).to(self.device, self.dtype)
        return ClipEngine(model, tokenizer=self.tokenizer, image_processor=self.image_processor,
                          name=f"{self.info.name} (random weights, seed {seed})", source="memory")

    @property
    def forward_lock(self) -> threading.Lock:
        """Held during every forward pass: other passes on this model (saliency) take it too."""
        return self._forward_lock

    # -- helpers ------------------------------------------------------------------------------------

    def _image_features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Image inputs -> [B, D] projected, not normalised; on the backend's towers when one is set."""
        if self.towers is not None:
            return self.towers.image_features(inputs)
        return pooled(self.model.get_image_features(**inputs))

    def _text_features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.towers is not None:
            return self.towers.text_features(inputs)
        return pooled(self.model.get_text_features(**inputs))

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
            self._texts = LRU(self._texts.max_bytes, self._texts.max_entries)
        if images:
            self._images = LRU(self._images.max_bytes)


def _embed_dim(config) -> int:
    """CLIP projects to projection_dim; SigLIP's towers end at their hidden size."""
    return int(getattr(config, "projection_dim", None) or config.text_config.hidden_size)


def _image_size(image_processor, config) -> int:
    """The side the image processor resizes to (NaFlex has none: its patch budget decides)."""
    size = getattr(config.vision_config, "image_size", None)
    if size:
        return int(size)
    crop = getattr(image_processor, "crop_size", None) or getattr(image_processor, "size", None) or {}
    return int(crop.get("height", 0) or crop.get("shortest_edge", 0)) if isinstance(crop, dict) else 0
