"""A live training run, as the app's Train tab runs one: a fresh tiny model, its scenes, its settings, and
the engine it becomes.

Small enough to learn visibly in a minute on two CPU cores: a 3-layer ViT and a 1-layer text transformer,
96 wide, on a pool of pre-rendered scenes. The UI only steps through `LiveRun.steps` and draws.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..engine import ClipEngine
from ..scenes import canonical_caption
from .loop import ScenePool, StepReport, TrainConfig, embed_batch, normalise, train
from .model import build_model, tiny_processor
from .tokenizer import build_tokenizer

LIVE_MODEL = dict(width=96, vision_layers=3, text_layers=1)  # the Train tab's architecture
MIN_POOL = 1_000  # scenes rendered up front; at least 4 batches, so a batch seldom repeats a scene


@dataclass
class LiveRun:
    """A fresh model, the tokenizer it reads with, the scenes it learns from, and how it is trained."""

    model: torch.nn.Module  # a CLIPModel (loss "softmax") or SiglipModel (loss "sigmoid"), random weights
    tokenizer: object  # the tiny CLIPTokenizer
    pool: ScenePool
    config: TrainConfig

    def steps(self, stop: threading.Event | None = None) -> Iterator[StepReport]:
        """Train the model in place, one StepReport per step; stops after the current step once `stop` is set."""
        return train(self.model, self.tokenizer, self.config, pool=self.pool, stop=stop, report_every=1)

    def fixed_batch(self, n: int) -> tuple[torch.Tensor, list[str]]:
        """The pool's first `n` scenes, always the same ones: pixel_values [n, 3, S, S] and their captions."""
        return normalise(self.pool.pixels[:n]), [canonical_caption(sc.key) for sc in self.pool.scenes[:n]]

    def fixed_images(self, n: int) -> list:
        """The same `n` scenes as `fixed_batch`, as PIL images at the model's input size (for thumbnails)."""
        from PIL import Image

        return [Image.fromarray(px) for px in self.pool.pixels[:n].numpy()]

    def embed(self, pixel_values: torch.Tensor, captions: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Unit image and text features of a batch as the model is now: ([B, D], [C, D]), no gradients."""
        return embed_batch(self.model, self.tokenizer, pixel_values, captions)

    def engine(self, name: str) -> ClipEngine:
        """The model as an engine every tab can use (knows no photos: it saw only synthetic scenes)."""
        return ClipEngine(self.model, tiny_processor(self.tokenizer), name=name, source="memory", knows_photos=False)


def create_live_run(steps: int, batch_size: int, learning_rate: float, seed: int = 0,
                    loss: str = "softmax") -> LiveRun:
    """A fresh run: random weights from `seed`, scenes rendered from `seed`, a warmup of a tenth of the steps.

    Args:
        steps: training steps (>= 1).
        batch_size: scenes per step.
        learning_rate: AdamW's peak learning rate.
        seed: seeds the weights, the scenes and the batches.
        loss: "softmax" (CLIP's InfoNCE, a CLIPModel) or "sigmoid" (SigLIP's pairwise loss, a SiglipModel).
    """
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, seed=seed, loss=loss, **LIVE_MODEL)
    pool = ScenePool(max(MIN_POOL, 4 * batch_size), model.config.vision_config.image_size, seed)
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=float(learning_rate), warmup=max(1, steps // 10),
                         seed=seed)
    return LiveRun(model, tokenizer, pool, config)
