"""The contract analysis code types against: what any engine (a loaded dual encoder) offers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import torch
from PIL import Image

from .core import ModelInfo
from .families import Family


@runtime_checkable
class Engine(Protocol):
    """A dual image-text encoder, ready to encode and score.

    encode_* return float32 CPU unit vectors [N, D], so `image_features @ text_features.T` is the cosine
    in [-1, 1]. `probabilities` turns cosines into the family's own scores: a softmax over the candidates
    (CLIP) or an independent sigmoid per pair (SigLIP).
    """

    info: ModelInfo
    family: Family
    max_text_tokens: int  # the model's own text length in tokens; longer texts are cut there
    tokenizer: object
    image_processor: object

    @property
    def logit_scale(self) -> float: ...  # t = exp(model.logit_scale), the inverse temperature

    @property
    def logit_bias(self) -> float: ...  # b (SigLIP), 0.0 for softmax families

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256,
                     progress: Callable[[int, int], None] | None = None) -> torch.Tensor: ...

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 64,
                      progress: Callable[[int, int], None] | None = None,
                      cache: bool = True) -> torch.Tensor: ...  # cache=False: neither read nor fill the cache

    def token_counts(self, texts: Sequence[str]) -> list[int]: ...

    def text_inputs(self, texts: Sequence[str]) -> dict[str, torch.Tensor]: ...  # tokenized as trained

    def image_inputs(self, images: Sequence[Image.Image]) -> dict[str, torch.Tensor]: ...

    def logits(self, cosine: torch.Tensor) -> torch.Tensor: ...  # t * cosine + b

    def probabilities(self, cosine: torch.Tensor, dim: int = -1) -> torch.Tensor: ...

    @property
    def forward_lock(self) -> threading.Lock: ...  # held by every forward pass on this model

    def eager_model(self): ...  # the same weights with eager attention (saliency's own passes)
