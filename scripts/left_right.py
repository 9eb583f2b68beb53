"""Why a contrastively trained CLIP stays blind to left/right: three measurements on one checkpoint.

    python scripts/left_right.py --model /tmp/tiny-scenes-base   # about 6 minutes on 2 CPU cores

/tmp/tiny-scenes-base is the first stage of `make checkpoint` (recipe "scenes"), blind to position;
the bundled model (the default --model) went on through recipe "spatial" and is not.

1. A logistic regression on the image embeddings: can "red object on the left" be read off them?
2. The same vision tower with a linear head, trained on those labels directly: can the ViT see position?
3. Contrastive training (the project's own loss and data, two-object scenes at 40%) from the tower of 2:
   does position stay in the images, and do the texts "... on the left" and "... on the right" part?
The model card of tiny-scenes reports the answers and what they mean.
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.linear_model import LogisticRegression

from clipdemo.engine import ClipEngine
from clipdemo.registry import bundled_path
from clipdemo.scenes import COLOURS, SHAPES, relation_scene, scene_rng
from clipdemo.train.loop import ScenePool, TrainConfig, normalise, train

CAPTIONS = ["a red circle on the left", "a red circle on the right"]


def red_scenes(n: int, seed: int):
    """n scenes of a red object and one of another colour, red on the left for even i; labels."""
    rng, others = scene_rng(seed, "heldout"), [c for c in COLOURS if c != "red"]
    images = [relation_scene(rng, a=("red", SHAPES[rng.integers(6)]),
                             b=(others[rng.integers(5)], SHAPES[rng.integers(6)]),
                             rel=("left of", "right of")[i % 2]).image for i in range(n)]
    return images, np.arange(n) % 2 == 0


def probe(engine: ClipEngine, images, labels, n_train: int) -> float:
    engine.clear_cache()
    x = engine.encode_images(images).numpy()
    clf = LogisticRegression(max_iter=2000, C=10).fit(x[:n_train], labels[:n_train])
    return clf.score(x[n_train:], labels[n_train:])


def train_head(model, images, labels, n_train: int, steps: int = 100) -> float:
    """Train model's vision tower + a linear head on the labels; held-out accuracy."""
    size = model.config.vision_config.image_size
    x = normalise(torch.from_numpy(np.stack([np.asarray(i.resize((size, size), Image.BICUBIC)) for i in images])))
    y = torch.from_numpy(labels).long()
    torch.manual_seed(0)  # the head's initial weights
    vision, head = model.vision_model, torch.nn.Linear(model.config.vision_config.hidden_size, 2)
    opt = torch.optim.AdamW([*vision.parameters(), *head.parameters()], lr=3e-4)
    g = torch.Generator().manual_seed(0)
    vision.train()
    for _ in range(steps):
        idx = torch.randint(0, n_train, (64,), generator=g)
        loss = F.cross_entropy(head(vision(pixel_values=x[idx]).pooler_output), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    vision.eval()
    with torch.no_grad():
        return (head(vision(pixel_values=x[n_train:]).pooler_output).argmax(1) == y[n_train:]).float().mean().item()


def text_cosine(engine: ClipEngine) -> float:
    engine.clear_cache()
    left, right = engine.encode_texts(CAPTIONS)
    return float(left @ right)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(bundled_path()), help="a checkpoint directory (default: the bundled one)")
    p.add_argument("--steps", type=int, default=300, help="contrastive steps in 3")
    args = p.parse_args()
    engine = ClipEngine.load(args.model)
    images, labels = red_scenes(3000, seed=7)
    print(f"1. regression on image embeddings: {probe(engine, images[:600], labels[:600], 400):.1%} "
          f"(chance 50%); texts left/right at cosine {text_cosine(engine):.4f}")

    model = copy.deepcopy(engine.model)
    print(f"2. vision tower + linear head, 100 steps: {train_head(model, images, labels, 2500):.1%} held out")

    config = TrainConfig(steps=args.steps, lr=3e-4, warmup=20, pool=10_000, seed=5)
    pool = ScenePool(config.pool, model.config.vision_config.image_size, config.seed,
                     mix={"group": 0.3, "relation": 0.4, "digit": 0.3})
    for _ in train(model, engine.tokenizer, config, pool=pool, report_every=config.steps):
        pass
    tuned = ClipEngine(model, tokenizer=engine.tokenizer, image_processor=engine.image_processor, name="after 3")
    print(f"3. after {args.steps} contrastive steps from 2: regression on image embeddings "
          f"{probe(tuned, images[:600], labels[:600], 400):.1%}; texts left/right at cosine {text_cosine(tuned):.4f}")


if __name__ == "__main__":
    main()
