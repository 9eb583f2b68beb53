"""Contrastive training of a tiny CLIP or SigLIP on synthetic scenes, with a learned temperature.

The loss follows the model's family: CLIP's symmetric InfoNCE (a softmax over the batch) or SigLIP's
pairwise sigmoid loss, where every image-caption pair is its own binary question (Zhai et al. 2023).

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
from ..engine.families import family_of
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
    pool_parts: int = 1  # render `pool` scenes this many times over, from independent streams, in parallel
    replay_parts: int = 0  # and this many more parts in the first renderer ("train"): rehearsal of what it taught
    hard_negatives: float = 0.5  # share of images that add a false caption one edit away
    symmetries: bool = False  # turn and mirror group scenes at random (see ScenePool.batch)
    render_size: int = 96
    mix: dict[str, float] = field(default_factory=lambda: dict(TRAIN_MIX))  # kinds of scene in the pool
    relation_captions: dict[str, float] = field(default_factory=lambda: dict(RELATION_CAPTIONS))
    schedule: str = "cosine"  # or "constant" after the warmup
    stop_after: int | None = None  # end the phase after this step, its schedule still set by `steps`
    style: str = "train"  # the renderer (clipdemo.scenes.STYLES): "robust" varies all a caption leaves open
    image_size: int | None = None  # the model's input size from this phase on (model.with_image_size); None: as is
    vision_layers: int | None = None  # deepen the vision tower to this many layers (model.with_vision_layers)
    bf16: bool = False  # the towers' matrix products and attention in bfloat16 (autocast); weights, logits: float32


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
    logit_bias: float | None = None  # SigLIP's learned bias b; None for the softmax loss


class ScenePool:
    """`size` x (`parts` + `replay`) rendered scenes as a uint8 tensor [N, S, S, 3] at the model's input size,
    plus their truths.

    Part k is `size` scenes from its own stream (scene_rng(seed, "train", k)); part 0 is the pool a single
    part has always been. The `parts` are drawn in `style`; `replay` more follow them, drawn by the first
    renderer (style "train") whatever `style` is. Several parts are rendered in parallel, one process per
    core."""

    def __init__(self, size: int, image_size: int, seed: int = 0, render_size: int = 96, progress=None,
                 mix: dict[str, float] = TRAIN_MIX, style: str = "train", parts: int = 1, replay: int = 0):
        if parts < 1 or replay < 0:
            raise ValueError(f"a pool has at least one part and no negative replay, not {parts} and {replay}")
        job = dict(size=size, image_size=image_size, seed=seed, render_size=render_size, mix=mix)
        styles = [style] * parts + ["train"] * replay  # the style of each part, in order
        if len(styles) == 1:
            rendered = [_render_part((0, style), progress=progress, **job)]
        else:
            import multiprocessing as mp
            import os
            from functools import partial

            workers = min(len(styles), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
                          os.cpu_count() or 1)
            # fork where there is one: the children only draw with PIL and numpy, never touch torch
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            with mp.get_context(method).Pool(workers) as procs:
                rendered = []
                for part in procs.imap(partial(_render_part, **job), enumerate(styles)):
                    rendered.append(part)
                    if progress:
                        progress(len(rendered) * size, len(styles) * size)
        # one part is used as rendered: concatenating a single array would only copy it
        pixels = rendered[0][0] if len(rendered) == 1 else np.concatenate([pixels for pixels, _ in rendered])
        self.pixels = torch.from_numpy(pixels)
        self.scenes = [scene for _, scenes in rendered for scene in scenes]

    def batch(self, rng: np.random.Generator, batch_size: int, hard_negatives: float = 0.5,
              relation_captions: dict[str, float] = RELATION_CAPTIONS, symmetries: bool = False):
        """pixel_values [B, 3, S, S] normalised as CLIP does; captions [B + H]: one true caption per image,
        then H hard negatives (false captions one edit away, for a `hard_negatives` share of the images);
        truth [B, B + H] bool: truth[i, j] = caption j is true of image i.

        With `symmetries`, each group scene is shown in one of the square's 8 symmetries (turned by a
        multiple of 90 degrees, mirrored or not), drawn at random: all of a group's captions stay true (a
        square stays a square, a diamond a diamond, a count its count), so the pool's groups count eight
        times over. Digits and two-object scenes are shown as drawn: a turn or mirror changes their captions."""
        idx = rng.choice(len(self.scenes), batch_size, replace=False)
        pixels = self.pixels[idx]  # a copy (indexing with an array), turned in place below
        if symmetries:
            for j, i in enumerate(idx):
                if self.scenes[i].kind == "group":
                    turned = torch.rot90(pixels[j], int(rng.integers(4)), (0, 1))
                    pixels[j] = turned.flip(1) if rng.random() < 0.5 else turned
        captions, keys = map(list, zip(*(training_caption(self.scenes[i], rng, relation_captions) for i in idx)))
        for key in list(keys):
            if rng.random() < hard_negatives and (negative := hard_negative(key, rng)) is not None:
                captions.append(describe(negative, rng))
                keys.append(negative)
        truth = torch.tensor([[k in self.scenes[i].truths for k in keys] for i in idx])
        return normalise(pixels), captions, truth


def _render_part(part_style: tuple[int, str], size: int, image_size: int, seed: int, render_size: int,
                 mix: dict[str, float], progress=None) -> tuple[np.ndarray, list]:
    part, style = part_style
    rng = scene_rng(seed, "train", part)
    pixels = np.empty((size, image_size, image_size, 3), np.uint8)
    scenes = []
    for i in range(size):
        scene = random_scene(rng, size=render_size, mix=mix, style=style)
        # the same resample as CLIPImageProcessor's PIL backend: bicubic, shortest edge to image_size
        pixels[i] = np.asarray(scene.image.resize((image_size, image_size), Image.BICUBIC))
        scenes.append(scene.__class__(image=None, kind=scene.kind, key=scene.key, truths=scene.truths))
        if progress and (i + 1) % 500 == 0:
            progress(i + 1, size)
    return pixels, scenes


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
        out = model(**tokenize(model, tokenizer, captions), pixel_values=pixel_values)
    return out.image_embeds.numpy(), out.text_embeds.numpy()


def tokenize(model, tokenizer, captions: list[str]) -> dict[str, torch.Tensor]:
    """Captions as the model's family reads them (SigLIP: padded to max_length, the last position pooled).

    For SigLIP the padded batch is compressed without changing a number: with the attention mask, the
    pooled last position attends only to the real tokens, and the pads between them are never attended
    to nor read. So each row keeps its real tokens and one pad at the last column, at the last position
    id (position_ids say where each token sits). The text tower then costs what CLIP's does, not 5x.
    """
    max_tokens = model.config.text_config.max_position_embeddings
    family = family_of(model.config)
    if not family.independent:
        return family.pad_texts(tokenizer, captions, max_tokens)
    full = family.pad_texts(tokenizer, captions, max_tokens)
    mask, ids = full["attention_mask"], full["input_ids"]
    width = int(mask.sum(1).max()) + 1
    last = ids.shape[1] - 1
    compact_ids = ids[:, last:].repeat(1, width)  # the pad token everywhere, then the real tokens over it
    compact_mask = torch.zeros(len(captions), width, dtype=mask.dtype)
    positions = torch.full((len(captions), width), last)
    for i, n in enumerate(mask.sum(1).tolist()):
        compact_ids[i, :n], compact_mask[i, :n] = ids[i, :n], 1
        positions[i, :n] = torch.arange(n)
    return {"input_ids": compact_ids, "attention_mask": compact_mask, "position_ids": positions}


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


def sigmoid_loss(logits_per_image: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """SigLIP's pairwise sigmoid loss: -(1/|B|) sum_ij log sigmoid(z_ij * logits_ij).

    Args:
        logits_per_image: [B, T] t * cosine(image_i, text_j) + b, T >= B.
        truth: [B, T] bool; z_ij = +1 where caption j is true of image i, else -1.
    With T = B and truth = identity this is exactly the paper's loss. Each pair is an independent
    binary question, so no row or column is normalised against the others.
    """
    z = truth.float() * 2 - 1
    return -F.logsigmoid(z * logits_per_image).sum() / logits_per_image.shape[0]


def float32_logits(model, out) -> torch.Tensor:
    """The forward's logits_per_image, recomputed in float32 from its embeddings.

    Under bfloat16 autocast the forward's own product of embeddings is bfloat16: 8 bits of mantissa, so
    a cosine near 0.9 is off by up to 0.002 and, times a logit scale of 33, its logit by up to 0.07."""
    image = F.normalize(out.image_embeds.float(), dim=-1)
    text = F.normalize(out.text_embeds.float(), dim=-1)
    logits = image @ text.T * model.logit_scale.exp()
    bias = getattr(model, "logit_bias", None)
    return logits if bias is None else logits + bias


def loss_for(model):
    """The loss the model's family is trained with: contrastive_loss (CLIP) or sigmoid_loss (SigLIP)."""
    return sigmoid_loss if family_of(model.config).independent else contrastive_loss


def _param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "embedding" in name or "logit_" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def train(model, tokenizer, config: TrainConfig, pool: ScenePool | None = None,
          stop: threading.Event | None = None, report_every: int = 10, similarity_k: int = 8) -> Iterator[StepReport]:
    """Train `model` in place, yielding a StepReport every `report_every` steps (and the last).

    Stops early, after the current step, when `stop` is set. A bfloat16 phase runs with eager attention (below);
    the model gets its own attention back, in eval mode, when the generator ends or is closed.
    """
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    pool = pool or ScenePool(config.pool, model.config.vision_config.image_size, config.seed, config.render_size,
                             mix=config.mix, style=config.style, parts=config.pool_parts,
                             replay=config.replay_parts)
    loss_fn = loss_for(model)
    opt = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr, betas=(0.9, 0.98), eps=1e-6)
    start = time.perf_counter()
    attention = model.config._attn_implementation
    if config.bf16:
        # PyTorch's fused CPU attention (sdpa) is slow to differentiate in bfloat16: with plain matmul and softmax
        # a tune step's backward takes 0.15 s instead of 0.38, the step 0.27 s instead of 0.51 (bench/train_step.py)
        model.set_attn_implementation("eager")
    model.train()
    try:
        for step in range(1, config.steps + 1):
            lr = config.lr * min(1.0, step / config.warmup)
            if config.schedule == "cosine":
                lr = lr * 0.5 * (1 + math.cos(math.pi * step / config.steps))  # as before: same bits, same run
            for g in opt.param_groups:
                g["lr"] = lr
            pixels, captions, truth = pool.batch(rng, config.batch_size, config.hard_negatives,
                                                 config.relation_captions, config.symmetries)
            with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=config.bf16):
                out = model(**tokenize(model, tokenizer, captions), pixel_values=pixels)
            loss = loss_fn(float32_logits(model, out) if config.bf16 else out.logits_per_image, truth)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(MAX_LOGIT_SCALE))
            last = step in (config.steps, config.stop_after) or (stop is not None and stop.is_set())
            if step % report_every == 0 or last:
                k = min(similarity_k, config.batch_size)
                sim = (out.image_embeds[:k].float() @ out.text_embeds[:k].float().T).detach().numpy()
                bias = getattr(model, "logit_bias", None)
                yield StepReport(step, config.steps, loss.item(), float(model.logit_scale.detach().exp()), lr,
                                 time.perf_counter() - start, sim, captions[:k],
                                 None if bias is None else float(bias.detach()))
            if last:
                break
    finally:
        model.set_attn_implementation(attention)
        model.eval()
