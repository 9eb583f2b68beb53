"""Where does a model misname shapes and miscount groups? Its errors sorted by what the renderer drew.

    python scripts/failures.py                         # the bundled tiny-scenes, held-out families
    python scripts/failures.py --model tiny-scenes-siglip --style wide -n 600

Single shapes ("a photo of a circle." ... over the six shapes), scored as the tests score them
(clipdemo.train.evaluate): by radius, filled or outlined, and shape, and the commonest confusions. Groups
of 1-4 ("a photo of a shape." ... "a photo of four shapes."): by filled or outlined and by true count, and
the commonest miscounts. Both lists start the held-out stream of seed 7 (the tests' items use seed 1,
the model card's tables seed 2), so two models are asked about the same scenes. Under a minute on 2 CPU
cores. The model cards report the answers.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

import numpy as np

from clipdemo.analysis.probes import evaluate_items
from clipdemo.engine import ClipEngine
from clipdemo.registry import bundled_path
from clipdemo.scenes import COUNTS, SHAPES, STYLES, group_scene, scene_rng
from clipdemo.train.evaluate import COUNT_KEYS, SHAPE_KEYS, TEMPLATE, scene_item

SIZES = ((0.0, 0.08, "radius under 0.08"), (0.08, 0.12, "0.08-0.12"), (0.12, 1.0, "0.12 and over"))
LOOKS = ("filled", "outlined")


def look(scene) -> str:
    """"filled" or "outlined": how the renderer drew the scene's objects (a group's are drawn alike)."""
    return LOOKS[scene.objects[0].outline > 0]


def scored(engine: ClipEngine, scenes, keys) -> tuple[np.ndarray, np.ndarray]:
    """(truth, guess): the index in `keys` of each scene's true caption and of the one the model picks, as
    the tests' evaluation builds and scores its items."""
    items = [scene_item(s, keys) for s in scenes]
    report = evaluate_items(engine, items, template=TEMPLATE)
    return np.array([it.answer for it in items]), np.array(report.predictions)


def breakdown(right: np.ndarray, groups, order) -> str:
    """'name right% (of n)' for each group in `order` that occurs, of a boolean array."""
    by = defaultdict(list)
    for g, ok in zip(groups, right):
        by[g].append(ok)
    return ", ".join(f"{g} {np.mean(by[g]):.1%} (of {len(by[g])})" for g in order if g in by)


def confusions(truth, guess, names, top: int = 3) -> str:
    """The `top` commonest (true, guessed) pairs among the errors: 'cross as star 19, ...'."""
    pairs = Counter((names[t], names[p]) for t, p in zip(truth, guess) if t != p)
    return ", ".join(f"{t} as {p} {k}" for (t, p), k in pairs.most_common(top)) or "none"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(bundled_path()), help="a checkpoint directory or a model name")
    p.add_argument("--style", choices=STYLES, default="unseen-family", help="the renderer (default: held-out families)")
    p.add_argument("-n", type=int, default=1000, help="single shapes, and as many groups")
    args = p.parse_args(argv)
    engine = ClipEngine.load(args.model)

    rng = scene_rng(7, "heldout")
    singles = [group_scene(rng, n=1, style=args.style) for _ in range(args.n)]
    truth, guess = scored(engine, singles, SHAPE_KEYS)  # indices in SHAPE_KEYS, which follow SHAPES
    right = guess == truth
    size = [next(name for lo, hi, name in SIZES if lo <= s.objects[0].r < hi) for s in singles]
    looks = [look(s) for s in singles]
    print(f"{args.model}, {args.style}: shapes {right.mean():.1%} of {args.n}")
    print("  by look and size:", breakdown(right, [f"{a}, {b}" for a, b in zip(looks, size)],
                                          [f"{a}, {b[2]}" for a in LOOKS for b in SIZES]))
    print("  by size:", breakdown(right, size, [b[2] for b in SIZES]))
    print("  by look:", breakdown(right, looks, LOOKS))
    print("  by shape:", breakdown(right, [SHAPES[t] for t in truth], SHAPES))
    print("  commonest confusions:", confusions(truth, guess, SHAPES))

    rng = scene_rng(7, "heldout")
    groups = [group_scene(rng, style=args.style) for _ in range(args.n)]
    truth, guess = scored(engine, groups, COUNT_KEYS)  # indices in COUNT_KEYS, which follow COUNTS
    right = guess == truth
    print(f"counts 1-4 {right.mean():.1%} of {args.n}")
    print("  by look:", breakdown(right, [look(s) for s in groups], LOOKS))
    print("  by count:", breakdown(right, [COUNTS[t] for t in truth], COUNTS))
    print("  commonest miscounts:", confusions(truth, guess, COUNTS))


if __name__ == "__main__":
    main()
