"""Held-out zero-shot accuracy of a scenes model, per attribute: `python -m clipdemo.train.evaluate`.

Each attribute is a probe suite over freshly rendered held-out scenes (a random stream training never
drew from), scored with the engine exactly as the app scores, once per renderer style (clipdemo.scenes):
"robust" is the bundled model's own training renderer (in distribution), "unseen-family" draws only the
background kinds and font families that training never used, "shifted" is the first recipe's unseen
renderer. Digits are also checked on scans that were never rendered at all: scikit-learn's load_digits.
"""

from __future__ import annotations

import argparse
import itertools

from ..analysis.probes import ProbeItem, ProbeReport, evaluate_items
from ..scenes import STYLES as SCENE_STYLES
from ..scenes import (COLOURS, COUNTS, DIGITS, SHAPES, canonical_caption, digit_scene, group_scene,
                      relation_scene, scene_rng)
from ..scenes.grammar import relation_phrase

TEMPLATE = "a photo of {}."
COLOUR_KEYS = [("group", 1, c, None) for c in COLOURS]
SHAPE_KEYS = [("group", 1, None, s) for s in SHAPES]
SHAPE_COLOUR_KEYS = [("group", 1, c, s) for c in COLOURS for s in SHAPES]
COUNT_KEYS = [("group", n, None, None) for n in COUNTS]
FULL_KEYS = [("group", n, c, s) for n in COUNTS for c in COLOURS for s in SHAPES]
DIGIT_KEYS = [("digit", d) for d in DIGITS]


def scene_item(scene, keys, name: str = "") -> ProbeItem:
    """A zero-shot item: the scene's image against the captions of `keys`, the true one the key that
    describes it (its own, or the one of its truths among `keys`: a red circle is "a circle" among shapes)."""
    return ProbeItem(scene.image, [canonical_caption(k) for k in keys], keys.index(scene.key if scene.key in keys
                     else next(k for k in keys if k in scene.truths)), name)


def _relation_item(rng, rels, style, name) -> ProbeItem:
    true_rel = rels[rng.integers(2)]
    wrong_rel = rels[1 - rels.index(true_rel)]
    scene = relation_scene(rng, rel=true_rel, style=style)
    a, b = scene.objects
    captions = [relation_phrase((a.colour, a.shape), r, (b.colour, b.shape)) for r in (true_rel, wrong_rel)]
    order = rng.permutation(2)
    return ProbeItem(scene.image, [captions[i] for i in order], int(list(order).index(0)), name)


def attribute_items(attribute: str, n: int, seed: int = 0, style: str = "train", size: int = 96) -> list[ProbeItem]:
    """n held-out items for one attribute (see ATTRIBUTES)."""
    rng = scene_rng(seed, "heldout")
    items = []
    for i in range(n):
        name = f"{attribute} {i}"
        if attribute == "colour":
            items.append(scene_item(group_scene(rng, n=1, size=size, style=style), COLOUR_KEYS, name))
        elif attribute == "shape":
            items.append(scene_item(group_scene(rng, n=1, size=size, style=style), SHAPE_KEYS, name))
        elif attribute == "shape+colour":
            items.append(scene_item(group_scene(rng, n=1, size=size, style=style), SHAPE_COLOUR_KEYS, name))
        elif attribute == "digit":
            items.append(scene_item(digit_scene(rng, size=size, style=style), DIGIT_KEYS, name))
        elif attribute == "count":
            items.append(scene_item(group_scene(rng, size=size, style=style), COUNT_KEYS, name))
        elif attribute == "count+colour+shape":
            items.append(scene_item(group_scene(rng, size=size, style=style), FULL_KEYS, name))
        elif attribute == "left/right":
            items.append(_relation_item(rng, ("left of", "right of"), style, name))
        elif attribute == "above/below":
            items.append(_relation_item(rng, ("above", "below"), style, name))
        else:
            raise ValueError(f"unknown attribute {attribute!r}; use one of {', '.join(ATTRIBUTES)}")
    return items


ATTRIBUTES = ("colour", "shape", "shape+colour", "digit", "count", "count+colour+shape", "left/right", "above/below")


def scanned_digit_items(n: int, seed: int = 0, size: int = 96) -> list[ProbeItem]:
    """n of scikit-learn's 1,797 scanned 8x8 handwritten digits, upscaled (bicubic) to `size` px: every
    other one white ink on black as load_digits stores them, the rest dark ink on white, as on paper."""
    import numpy as np
    from PIL import ImageOps

    from ..probes.suites import scanned_digit, scanned_digits

    _, target = scanned_digits()
    captions = [canonical_caption(k) for k in DIGIT_KEYS]
    items = []
    for j, i in enumerate(np.random.default_rng(seed).permutation(len(target))[:n]):
        image = scanned_digit(i, size)
        image = (ImageOps.invert(image) if j % 2 else image).convert("RGB")
        items.append(ProbeItem(image, captions, int(target[i]), f"load_digits #{i}"))
    return items


DEFAULT_STYLES = ("robust", "unseen-family", "shifted")
SCANNED = "load_digits"  # the column of the scanned-digit check


def evaluate(engine, n: int = 500, seed: int = 0, styles=DEFAULT_STYLES, attributes=ATTRIBUTES,
             scanned: bool = True) -> list[tuple[str, str, ProbeReport]]:
    """[(attribute, style, report)] for every attribute and renderer style; with `scanned`, also
    ("digit", "load_digits", report) for n scanned digits."""
    rows = [(a, s, evaluate_items(engine, attribute_items(a, n, seed, s), a, TEMPLATE))
            for a, s in itertools.product(attributes, styles)]
    if scanned and "digit" in attributes:
        rows.append(("digit", SCANNED, evaluate_items(engine, scanned_digit_items(n, seed), "digit", TEMPLATE)))
    return rows


def format_table(rows, markdown: bool = False) -> str:
    """One line per attribute: accuracy with each renderer (and on scans, for digits), chance, items."""
    styles = list(dict.fromkeys(s for _, s, _ in rows))
    table = {(a, s): r for a, s, r in rows}
    attributes = list(dict.fromkeys(a for a, _, _ in rows))
    head = ["attribute", *[s if s == SCANNED else f"{s} renderer" for s in styles], "chance", "items"]
    first = {a: next(table[a, s] for s in styles if (a, s) in table) for a in attributes}
    body = [[a, *[f"{table[a, s].accuracy:.1%}" if (a, s) in table else "-" for s in styles],
             f"{first[a].chance:.1%}", str(first[a].n)] for a in attributes]
    if markdown:
        return "\n".join("| " + " | ".join(r) + " |" for r in [head, ["---"] * len(head), *body])
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in [head, *body])


def main(argv=None) -> int:
    from ..engine import ClipEngine

    p = argparse.ArgumentParser(prog="python -m clipdemo.train.evaluate", description=__doc__)
    p.add_argument("--model", default="tiny-scenes")
    p.add_argument("-n", type=int, default=500, help="items per attribute and renderer")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--styles", nargs="+", default=list(DEFAULT_STYLES), choices=SCENE_STYLES,
                   help="renderers to evaluate on (default: %(default)s)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table (for the model card)")
    args = p.parse_args(argv)
    print(format_table(evaluate(ClipEngine.load(args.model), args.n, args.seed, args.styles), args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
