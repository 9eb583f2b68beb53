"""How often does Saliency call a text "probably not in the image", and is it right? By kind of text.

    python scripts/absent_flags.py                                  # tiny-scenes, relevance
    python scripts/absent_flags.py --model tiny-scenes-siglip --method occlusion

On probe-split scenes (never trained on) of two objects and of one, three bare names per scene: one object's
("orange diamond"), an absent one that shares a colour or a shape with an object, and an absent one that
shares neither. For each kind, the share flagged by the weak-match line alone (the rule before) and by the
rule the app uses (analysis.saliency.probably_absent: weak, and no higher than the image's cosine with "a
photo."). A flag on a present name is a false claim. Under a minute on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import random

import numpy as np

from clipdemo.analysis.saliency import METHODS, probably_absent, saliency
from clipdemo.engine import load
from clipdemo.scenes import COLOURS, SHAPES, group_scene, relation_scene, scene_rng
from clipdemo.ui.reading import typical_for

KINDS = ("present", "absent, shares a colour or shape", "absent, shares neither")


def names(scene, named, rng: random.Random) -> list[str]:
    """The named object's name, then an absent name sharing a colour or shape, then one sharing neither."""
    here = {(o.colour, o.shape) for o in scene.objects}
    share = other = None
    while share is None or other is None:
        c, s = rng.choice(list(COLOURS)), rng.choice(list(SHAPES))
        if (c, s) in here:
            continue
        if any(c == a or s == b for a, b in here):
            share = share or f"{c} {s}"
        else:
            other = other or f"{c} {s}"
    return [f"{named.colour} {named.shape}", share, other]


def flags(engine, method: str, objects: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """([n, 3] flagged by the line alone, [n, 3] flagged by probably_absent) over KINDS."""
    typical, rng = typical_for(engine), random.Random(0)
    by_line, by_rule = [], []
    for i in range(n):
        scene = (relation_scene(scene_rng(i, "probe"), size=96) if objects == 2 else
                 group_scene(scene_rng(i, "probe"), n=1, size=96))
        result = saliency(engine, scene.image, names(scene, scene.objects[i % objects], rng), method=method)
        by_line.append([typical.is_weak(c) for c in result.cosine])
        by_rule.append(probably_absent(result, typical))
    return np.array(by_line), np.array(by_rule)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-scenes")
    p.add_argument("--method", default="relevance", choices=METHODS)
    p.add_argument("-n", type=int, default=100, help="scenes of each size")
    args = p.parse_args(argv)
    engine = load(args.model, "cpu")
    print(f"{engine.info.name}, {args.method}: share of bare names flagged, the line alone -> the app's rule")
    for objects in (2, 1):
        by_line, by_rule = flags(engine, args.method, objects, args.n)
        print(f"  {objects}-object scenes ({args.n}): " + "; ".join(
            f"{kind} {by_line[:, k].mean():.0%} -> {by_rule[:, k].mean():.0%}" for k, kind in enumerate(KINDS)))


if __name__ == "__main__":
    main()
