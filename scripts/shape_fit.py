"""Does tiny-scenes memorise the scenes it was tuned on, or has it not learned their shapes at all?

    python scripts/shape_fit.py                 # about 2 minutes on 2 CPU cores

Zero-shot shape accuracy ("a photo of a {shape}." over the six shapes) on the group scenes (1-4 objects) of
the pool the model was last tuned on (the first part of its recipe's pool: seed, renderer and mix), on
as many fresh scenes of the same renderer, and on as many drawn with the held-out families instead.

- own pool far above fresh scenes: it memorises its pool;
- own pool and fresh scenes both low: it has not learned the renderer's shapes;
- fresh scenes above the held-out families: the families it never saw cost it shapes.
The model card of tiny-scenes reports the answers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from clipdemo.engine import ClipEngine
from clipdemo.registry import bundled_path, resolve_model
from clipdemo.scenes import SHAPES, canonical_caption, group_scene, scene_rng
from clipdemo.train.loop import ScenePool
from clipdemo.train.recipes import RECIPES


def named_shapes(engine: ClipEngine, images) -> np.ndarray:
    """The index in SHAPES of the prompt each image is closest to."""
    texts = engine.encode_texts([f"a photo of {canonical_caption(('group', 1, None, s))}." for s in SHAPES])
    return (np.asarray(engine.encode_images(images)) @ np.asarray(texts).T).argmax(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(bundled_path()))
    p.add_argument("--recipe", choices=list(RECIPES),
                   help="the recipe of the model's last tuning, whose last phase's pool is read (default: the "
                        "one its training_args.json names)")
    p.add_argument("--scenes", type=int, default=3000, help="scenes of that pool to render (groups are a share)")
    args = p.parse_args()
    record = Path(resolve_model(args.model)) / "training_args.json"
    recipe = args.recipe or (json.loads(record.read_text())["recipe"] if record.exists() else None)
    if recipe not in RECIPES:
        p.error(f"say which recipe tuned {args.model} last: --recipe NAME")
    tune = RECIPES[recipe][-1]
    engine = ClipEngine.load(args.model)
    size = engine.model.config.vision_config.image_size
    pool = ScenePool(args.scenes, size, tune.seed, tune.render_size, mix=tune.mix, style=tune.style)
    groups = [i for i, s in enumerate(pool.scenes) if s.kind == "group"]
    seen = named_shapes(engine, [Image.fromarray(pool.pixels[i].numpy()) for i in groups])
    truth = [SHAPES.index(pool.scenes[i].key[3]) for i in groups]
    print(f"shape, zero-shot, {len(groups)} groups each: its own tuning scenes {np.mean(seen == truth):.1%}", end="")
    for style in (tune.style, "unseen-family"):
        rng = scene_rng(3, "heldout")
        scenes = [group_scene(rng, style=style) for _ in range(len(groups))]
        right = named_shapes(engine, [s.image for s in scenes]) == [SHAPES.index(s.key[3]) for s in scenes]
        print(f", fresh {style} scenes {np.mean(right):.1%}", end="")
    print()


if __name__ == "__main__":
    main()
