"""Contrastive training of a tiny CLIP on synthetic scenes: symmetric InfoNCE, learned temperature.

One difference from plain CLIP: in a batch of synthetic scenes several captions are often true of
one image ("the digit 7" twice, "a red shape" for a red star and a red circle). Plain InfoNCE would
push those true pairs apart. Each scene knows which caption keys are true of it, so the targets are
the true pairs of the batch, spread evenly (a multi-positive InfoNCE, as in SupCon).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..constants import MAX_LOGIT_SCALE, OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from ..scenes import (RELATION_CAPTIONS, TRAIN_MIX, describe, hard_negative, random_scene, scene_rng,
                      training_caption)


@dataclass
class TrainConfig:
    steps: int = 3600
    batch_size: int = 192
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.1
    seed: int = 0
    pool: int = 30_000  # scenes rendered once up front; captions are re-drawn every time
    hard_negatives: float = 0.5  # share of images that add a false caption one edit away
    render_size: int = 96
    mix: dict[str, float] = field(default_factory=lambda: dict(TRAIN_MIX))  # kinds of scene in the pool
    relation_captions: dict[str, float] = field(default_factory=lambda: dict(RELATION_CAPTIONS))
    schedule: str = "cosine"  # or "constant" after the warmup


@dataclass
class StepReport:
    step: int
    steps: int
    loss: float
    logit_scale: float  # exp(logit_scale), the inverse temperature
    lr: float
    seconds: float
    similarity: np.ndarray | None = None  # [k, k] cosine of the batch's first k images x captions
    captions: list[str] | None = None


class ScenePool:
    """`size` rendered scenes as a uint8 tensor [N, S, S, 3] at the model's input size, plus their truths."""

    def __init__(self, size: int, image_size: int, seed: int = 0, render_size: int = 96, progress=None,
                 mix: dict[str, float] = TRAIN_MIX):
        rng = scene_rng(seed, "train")
        pixels = np.empty((size, image_size, image_size, 3), np.uint8)
        self.scenes = []
        for i in range(size):
            scene = random_scene(rng, size=render_size, mix=mix)
            # the same resample as CLIPImageProcessor's PIL backend: bicubic, shortest edge to image_size
            pixels[i] = np.asarray(scene.image.resize((image_size, image_size), Image.BICUBIC))
            self.scenes.append(scene.__class__(image=None, kind=scene.kind, key=scene.key, truths=scene.truths))
            if progress and (i + 1) % 500 == 0:
                progress(i + 1, size)
        self.pixels = torch.from_numpy(pixels)

    def batch(self, rng: np.random.Generator, batch_size: int, hard_negatives: float = 0.5,
              relation_captions: dict[str, float] = RELATION_CAPTIONS):
        """pixel_values [B, 3, S, S] normalised as CLIP does; captions [B + H]: one true caption per image,
        then H hard negatives (false captions one edit away, for a `hard_negatives` share of the images);
        truth [B, B + H] bool: truth[i, j] = caption j is true of image i."""
        idx = rng.choice(len(self.scenes), batch_size, replace=False)
        captions, keys = map(list, zip(*(training_caption(self.scenes[i], rng, relation_captions) for i in idx)))
        for key in list(keys):
            if rng.random() < hard_negatives and (negative := hard_negative(key, rng)) is not None:
                captions.append(describe(negative, rng))
                keys.append(negative)
        truth = torch.tensor([[k in self.scenes[i].truths for k in keys] for i in idx])
        return normalise(self.pixels[idx]), captions, truth


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> float [B, 3, H, W] with CLIP's mean and std."""
    x = pixels.permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def embed_batch(model, tokenizer, pixel_values: torch.Tensor, captions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unit image and text features of a fixed batch, without gradients: ([B, D], [C, D]) numpy arrays.

    For watching the two clouds move during training; leaves the model's mode and weights alone."""
    with torch.no_grad():
        text = tokenizer(captions, padding=True, return_tensors="pt")
        out = model(input_ids=text["input_ids"], attention_mask=text["attention_mask"], pixel_values=pixel_values)
    return out.image_embeds.numpy(), out.text_embeds.numpy()


def contrastive_loss(logits_per_image: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Symmetric multi-positive InfoNCE, with extra negative captions allowed.

    Args:
        logits_per_image: [B, T] logit_scale * cosine(image_i, text_j), T >= B; text i < B belongs to image i.
        truth: [B, T] bool, truth[i, j] = caption j is true of image i; truth[i, i] is always true.
    Image -> text runs over all T captions; text -> image over the B captions that have an image.
    With T = B and truth = identity this is exactly CLIP's loss: (CE(logits, arange) + CE(logits.T, arange)) / 2.
    """
    b = logits_per_image.shape[0]
    t = truth.float()
    image_to_text = -(t / t.sum(1, keepdim=True) * F.log_softmax(logits_per_image, 1)).sum(1).mean()
    tt = t[:, :b].T
    text_to_image = -(tt / tt.sum(1, keepdim=True) * F.log_softmax(logits_per_image[:, :b].T, 1)).sum(1).mean()
    return (image_to_text + text_to_image) / 2


def _param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "embedding" in name or "logit_scale" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def train(model, tokenizer, config: TrainConfig, pool: ScenePool | None = None,
          stop: threading.Event | None = None, report_every: int = 10, similarity_k: int = 8) -> Iterator[StepReport]:
    """Train `model` in place, yielding a StepReport every `report_every` steps (and the last).

    Stops early, after the current step, when `stop` is set.
    """
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    pool = pool or ScenePool(config.pool, model.config.vision_config.image_size, config.seed, config.render_size,
                             mix=config.mix)
    opt = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr, betas=(0.9, 0.98), eps=1e-6)
    start = time.perf_counter()
    model.train()
    for step in range(1, config.steps + 1):
        lr = config.lr * min(1.0, step / config.warmup)
        if config.schedule == "cosine":
            lr = lr * 0.5 * (1 + math.cos(math.pi * step / config.steps))  # as before: same bits, same run
        for g in opt.param_groups:
            g["lr"] = lr
        pixels, captions, truth = pool.batch(rng, config.batch_size, config.hard_negatives, config.relation_captions)
        text = tokenizer(captions, padding=True, return_tensors="pt")
        out = model(input_ids=text["input_ids"], attention_mask=text["attention_mask"], pixel_values=pixels)
        loss = contrastive_loss(out.logits_per_image, truth)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(MAX_LOGIT_SCALE))
        last = step == config.steps or (stop is not None and stop.is_set())
        if step % report_every == 0 or last:
            k = min(similarity_k, config.batch_size)
            sim = (out.image_embeds[:k] @ out.text_embeds[:k].T).detach().numpy()
            yield StepReport(step, config.steps, loss.item(), float(model.logit_scale.detach().exp()), lr,
                             time.perf_counter() - start, sim, captions[:k])
        if last:
            break
    model.eval()
