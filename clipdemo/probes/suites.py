"""Probe suites: deterministic lists of (image, candidate captions, true index) for CLIP's known limits.

Every suite takes n (items), seed and returns ProbeItems; the prompt template is applied when scoring.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from ..analysis.probes import ProbeItem
from ..scenes import COLOURS, SHAPES, group_scene, relation_scene, scene_rng
from ..scenes.grammar import NUMBER_WORDS, noun_phrase, plural, relation_phrase
from ..scenes.render import SHIFTED_FONTS, TRAIN_FONTS, background, draw_text

WORDS = ("cat", "dog", "car", "tree", "house", "fish", "bird", "cup", "hat", "sun", "moon", "ship", "book", "door",
         "king", "rain", "milk", "lamp", "star", "road")


def _shuffle(rng, captions: list[str], classes: list[str], answer: int):
    order = rng.permutation(len(captions))
    return [captions[i] for i in order], [classes[i] for i in order], int(np.where(order == answer)[0][0])


def counting(n: int, seed: int = 0) -> list[ProbeItem]:
    """1-6 identical objects; candidates 'one red circle' ... 'six red circles', as words or digits (alternating)."""
    rng = scene_rng(seed, "probe")
    items = []
    for i in range(n):
        count = int(rng.integers(1, 7))
        colour, shape = list(COLOURS)[rng.integers(len(COLOURS))], SHAPES[rng.integers(len(SHAPES))]
        scene = group_scene(rng, n=count, colour=colour, shape=shape)
        style = "word" if i % 2 == 0 else "digit"
        captions = [noun_phrase(k, colour, shape, style if k > 1 else "word") for k in range(1, 7)]
        items.append(ProbeItem(scene.image, captions, count - 1, f"counting {i}", [str(k) for k in range(1, 7)]))
    return items


@lru_cache(maxsize=1)
def scanned_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 scanned handwritten digits: (images [N, 8, 8] in 0-16, targets [N])."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target


def scanned_digit(index: int, size: int = 96) -> Image.Image:
    """Scan `index` of `scanned_digits`, upscaled (bicubic) to `size` px: white ink on black, mode "L"."""
    pixels = (scanned_digits()[0][index] / 16 * 255).astype(np.uint8)
    return Image.fromarray(pixels, "L").resize((size, size), Image.BICUBIC)


def digits(n: int, seed: int = 0) -> list[ProbeItem]:
    """Real handwriting: scikit-learn's 1,797 8x8 digits, upscaled to 96 px, white ink on black."""
    images, target = scanned_digits()
    idx = np.random.default_rng(seed).permutation(len(images))[:n]
    captions = [f"the digit {d}" for d in range(10)]
    return [ProbeItem(scanned_digit(i).convert("RGB"), captions, int(target[i]), f"load_digits #{i}",
                      [str(d) for d in range(10)]) for i in idx]


def text(n: int, seed: int = 0) -> list[ProbeItem]:
    """Text in images: a printed word or number; pick it among 5 ('the word "cat"')."""
    rng = scene_rng(seed, "probe")
    fonts = TRAIN_FONTS + SHIFTED_FONTS
    items = []
    for i in range(n):
        pool = list(WORDS) if i % 2 == 0 else [str(v) for v in range(10, 100)]
        choice = [pool[j] for j in rng.choice(len(pool), 5, replace=False)]
        img = background(128, rng)
        lum = float(np.asarray(img).mean()) / 255
        draw_text(img, choice[0], fonts[rng.integers(len(fonts))], rng.uniform(0.2, 0.3), 0.5, 0.5,
                  (20, 20, 20) if lum > 0.4 else (240, 240, 240))
        captions, classes, answer = _shuffle(rng, [f'the word "{w}"' for w in choice], ["shown"] + ["other"] * 4, 0)
        items.append(ProbeItem(img, captions, answer, f"text {i}: {choice[0]}", classes))
    return items


def spatial(n: int, seed: int = 0) -> list[ProbeItem]:
    """'X to the left of Y' against the swapped caption (and above/below), two candidates."""
    rng = scene_rng(seed, "probe")
    items = []
    for i in range(n):
        rels = ("left of", "right of") if i % 2 == 0 else ("above", "below")
        rel = rels[rng.integers(2)]
        scene = relation_scene(rng, rel=rel)
        a, b = scene.objects
        flipped = rels[1 - rels.index(rel)]
        captions = [relation_phrase((a.colour, a.shape), r, (b.colour, b.shape)) for r in (rel, flipped)]
        captions, classes, answer = _shuffle(rng, captions, [rel, rels[1 - rels.index(rel)]], 0)
        items.append(ProbeItem(scene.image, captions, answer, f"spatial {i}", classes))
    return items


def binding(n: int, seed: int = 0) -> list[ProbeItem]:
    """'a red circle and a blue square' against 'a blue circle and a red square'."""
    rng = scene_rng(seed, "probe")
    items = []
    for i in range(n):
        scene = relation_scene(rng)
        a, b = scene.objects
        right = f"{noun_phrase(1, a.colour, a.shape)} and {noun_phrase(1, b.colour, b.shape)}"
        swapped = f"{noun_phrase(1, b.colour, a.shape)} and {noun_phrase(1, a.colour, b.shape)}"
        captions, classes, answer = _shuffle(rng, [right, swapped], ["bound right", "swapped"], 0)
        items.append(ProbeItem(scene.image, captions, answer, f"binding {i}", classes))
    return items


def negation(n: int, seed: int = 0) -> list[ProbeItem]:
    """'a picture with no circles' against 'a picture with circles'; half the scenes have them."""
    rng = scene_rng(seed, "probe")
    items = []
    for i in range(n):
        scene = group_scene(rng)
        shown = scene.key[3]
        asked = shown if i % 2 == 0 else [s for s in SHAPES if s != shown][rng.integers(len(SHAPES) - 1)]
        captions = [f"a picture with {plural(asked)}", f"a picture with no {plural(asked)}"]
        answer = 0 if asked == shown else 1
        captions, classes, answer = _shuffle(rng, captions, ["with", "without"], answer)
        items.append(ProbeItem(scene.image, captions, answer, f"negation {i}", classes))
    return items


# (file in skimage's data folder, noun, true count): facts checkable by eye (and, for coins, by tests)
_PHOTO_FACTS = (("coins.png", "coin", 24), ("chelsea.png", "cat", 1), ("astronaut.png", "person", 1),
                ("horse.png", "horse", 1), ("rocket.jpg", "rocket", 1), ("motorcycle_right.png", "motorcycle", 1),
                ("camera.png", "person", 1), ("coffee.png", "cup", 1))
_PLURALS = {"person": "people"}


def photos(n: int = 8, seed: int = 0) -> list[ProbeItem]:
    """scikit-image's sample photos where a count is checkable: 'a photo of 24 coins' against 12, 18, 30."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    items = []
    for file, noun, count in _PHOTO_FACTS[:n]:
        im = Image.open(folder / file).convert("RGB")
        options = [12, 18, 24, 30] if count > 4 else [1, 2, 3]
        words = [str(k) if k > 10 else NUMBER_WORDS[k] for k in options]
        captions = [f"a photo of {w} {noun if k == 1 else _PLURALS.get(noun, noun + 's')}"
                    for w, k in zip(words, options)]
        items.append(ProbeItem(im, captions, options.index(count), file.split(".")[0], [str(k) for k in options]))
    return items


SUITES: dict[str, Callable[..., list[ProbeItem]]] = {
    "counting": counting, "digits": digits, "text": text, "spatial": spatial, "binding": binding,
    "negation": negation, "photos": photos,
}


SHOWN = {"digits": "handwritten digits"}  # what a suite holds, where its CLI/API name says less


def suite_label(suite: str) -> str:
    """A suite's name on the page ("digits" holds handwritten digits; printed ones are fine)."""
    return SHOWN.get(suite, suite)


def suite_names(names) -> list[str]:
    """Expand 'all' and check the names; raises InputError naming the valid ones."""
    from ..errors import InputError

    names = [names] if isinstance(names, str) else list(names)
    if "all" in names:
        return list(SUITES)
    unknown = [s for s in names if s not in SUITES]
    if unknown or not names:
        raise InputError(f"Unknown probe suite {unknown[0] if unknown else '(none)'!r}; "
                         f"use {', '.join(SUITES)} or all.")
    return names
