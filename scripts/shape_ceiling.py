"""Why tiny-scenes misnames shapes off its first renderer: does it memorise, or does it not fit at all?

    python scripts/shape_ceiling.py                       # about 10 minutes on 2 CPU cores
    python scripts/shape_ceiling.py --steps 3000          # the supervised ceiling, about 40 minutes

1. Fit: zero-shot shape accuracy on group scenes of the pool the bundled model was last tuned on (the first
   part of recipe wide-replay's: its seed, wide renderer and mix), against fresh scenes of the same renderer
   and scenes of the held-out families. Equal figures mean the model does not memorise its pool: it underfits.
2. Ceiling: the same vision tower with linear heads for shape, count and digit, trained on those labels
   directly (groups turned and mirrored, AdamW at 1e-3 with cosine decay), read on held-out scenes every 500 steps. The
   strongest signal the tower can get: what contrastive training on captions can hope to approach.
   `--image-size 96 --patch 12` first resizes the patch kernel by area (FlexiViT's idea), so the tower
   starts as it was and sees 96 px images: does the detail lost at 64 px matter?
The model card of tiny-scenes reports the answers.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from clipdemo.engine import ClipEngine
from clipdemo.registry import bundled_path
from clipdemo.scenes import COUNTS, SHAPES, canonical_caption, digit_scene, group_scene, scene_rng
from clipdemo.train.loop import ScenePool, normalise
from clipdemo.train.recipes import RECIPES

LABELS = {"shape": 6, "count": 4, "digit": 10}


def zero_shot_shapes(engine: ClipEngine, images) -> np.ndarray:
    texts = engine.encode_texts([f"a photo of {canonical_caption(('group', 1, None, s))}." for s in SHAPES])
    return (np.asarray(engine.encode_images(images)) @ np.asarray(texts).T).argmax(1)


def fit(model: str, n: int) -> None:
    tune = RECIPES["wide-replay"][0]
    engine = ClipEngine.load(model)
    pool = ScenePool(n, 64, tune.seed, tune.render_size, mix=tune.mix, style=tune.style)
    groups = [i for i, s in enumerate(pool.scenes) if s.kind == "group"]
    seen = zero_shot_shapes(engine, [Image.fromarray(pool.pixels[i].numpy()) for i in groups])
    truth = np.array([SHAPES.index(pool.scenes[i].key[3]) for i in groups])
    print(f"1. shape, zero-shot: its own tuning scenes {np.mean(seen == truth):.1%} ({len(groups)} groups)", end="")
    for style in ("wide", "unseen-family"):
        rng = scene_rng(3, "heldout")
        scenes = [group_scene(rng, style=style) for _ in range(len(groups))]
        right = zero_shot_shapes(engine, [s.image for s in scenes]) == [SHAPES.index(s.key[3]) for s in scenes]
        print(f", fresh {style} scenes {np.mean(right):.1%}", end="")
    print(flush=True)


def _area(n_out: int, n_in: int) -> torch.Tensor:
    """[n_out, n_in]: each output pixel the mean of the input pixels it covers (a box resize)."""
    edges = np.arange(n_out + 1) * n_in / n_out
    weights = [[max(0.0, min(edges[o + 1], i + 1) - max(edges[o], i)) for i in range(n_in)] for o in range(n_out)]
    return torch.tensor(weights, dtype=torch.float32) * n_out / n_in


def tower(model: str, image_size: int, patch: int):
    from transformers import AutoModel, CLIPModel

    clip = AutoModel.from_pretrained(model)
    old = clip.config.vision_config
    if (image_size, patch) != (old.image_size, old.patch_size):
        if image_size // patch != old.image_size // old.patch_size:
            raise SystemExit("keep the grid: image-size / patch must equal the model's")
        config = clip.config.to_dict()
        config["vision_config"].update(image_size=image_size, patch_size=patch)
        state = clip.state_dict()
        key = "vision_model.embeddings.patch_embedding.weight"
        box = _area(old.patch_size, patch)  # a 64 px patch = box @ a 96 px patch, along each axis
        state[key] = torch.einsum("ocab,ai,bj->ocij", state[key], box, box)
        clip = CLIPModel(type(clip.config).from_dict(config))
        clip.load_state_dict(state)
    return clip.vision_model, clip.visual_projection


def ceiling(model: str, steps: int, pool_size: int, image_size: int, patch: int) -> None:
    torch.manual_seed(0)
    vision, projection = tower(model, image_size, patch)
    heads = nn.ModuleDict({k: nn.Linear(projection.out_features, n) for k, n in LABELS.items()})
    params = [*vision.parameters(), *projection.parameters(), *heads.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)
    pool = ScenePool(pool_size, image_size, 3, 96, mix={"group": 0.6, "digit": 0.4}, style="wide", parts=2)
    labels = torch.tensor([(SHAPES.index(s.key[3]), COUNTS.index(s.key[1]), -100) if s.kind == "group"
                           else (-100, -100, s.key[1]) for s in pool.scenes])
    rng = np.random.default_rng(0)
    for step in range(1, steps + 1):
        vision.train()
        for group in opt.param_groups:
            group["lr"] = 1e-3 * 0.5 * (1 + np.cos(np.pi * step / steps))
        idx = rng.choice(len(pool.scenes), 128, replace=False)
        pixels = pool.pixels[idx]
        for j, i in enumerate(idx):
            if pool.scenes[i].kind == "group":
                turned = torch.rot90(pixels[j], int(rng.integers(4)), (0, 1))
                pixels[j] = turned.flip(1) if rng.random() < 0.5 else turned
        embeds = projection(vision(pixel_values=normalise(pixels)).pooler_output)
        loss = sum(F.cross_entropy(heads[k](embeds), labels[idx, n], ignore_index=-100) for n, k in enumerate(LABELS))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == steps:
            print(f"2. supervised, {image_size} px / {patch} px patches, step {step}: loss {loss.item():.3f}; "
                  + "; ".join(_read(vision, projection, heads, style, image_size)
                              for style in ("robust", "unseen-family")), flush=True)


def _read(vision, projection, heads, style: str, image_size: int) -> str:
    vision.eval()
    rng = scene_rng(0, "heldout")
    groups = [group_scene(rng, style=style) for _ in range(400)]
    digits = [digit_scene(rng, style=style) for _ in range(300)]

    def predict(scenes, head):
        pixels = np.stack([np.asarray(s.image.resize((image_size, image_size), Image.BICUBIC)) for s in scenes])
        with torch.no_grad():
            return heads[head](projection(vision(pixel_values=normalise(torch.from_numpy(pixels))).pooler_output)
                               ).argmax(1).numpy()

    shape = np.mean(predict(groups, "shape") == [SHAPES.index(s.key[3]) for s in groups])
    count = np.mean(predict(groups, "count") == [COUNTS.index(s.key[1]) for s in groups])
    digit = np.mean(predict(digits, "digit") == [s.key[1] for s in digits])
    return f"{style} shape {shape:.1%} count {count:.1%} digit {digit:.1%}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(bundled_path()))
    p.add_argument("--fit-scenes", type=int, default=3000, help="scenes of the tuning pool to read (1.)")
    p.add_argument("--steps", type=int, default=500, help="supervised steps (2.); 0 skips it")
    p.add_argument("--pool", type=int, default=6000, help="scenes per part of the supervised pool (two parts)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--patch", type=int, default=8)
    args = p.parse_args()
    fit(args.model, args.fit_scenes)
    if args.steps:
        ceiling(args.model, args.steps, args.pool, args.image_size, args.patch)


if __name__ == "__main__":
    main()
