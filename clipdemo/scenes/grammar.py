"""The meaning and wording of synthetic-scene captions.

A caption has a *key*: a hashable tuple that says what it claims, independent of its wording.
A scene knows every key that is true of it, so a training batch can tell which captions are
true of which images (several can be), and an evaluation can build candidate sets by meaning.

Keys:
    ("group", n, colour | None, shape | None)   n identical objects; None = attribute not named
    ("digit", d)                                one printed digit d in 0-9
    ("rel", (colour, shape), rel, (colour, shape)) rel in {"left of", "above"} (canonical order)
    ("pair", frozenset({(colour, shape), (colour, shape)}))  two different objects, no relation
    ("side", (colour, shape), side)              of two objects, this one is the one on `side`
                                                (left, right, top, bottom)
"""

from __future__ import annotations

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 225),
    "yellow": (240, 210, 30),
    "purple": (145, 60, 195),
    "orange": (245, 135, 25),
}
SHAPES = ("circle", "square", "triangle", "star", "diamond", "cross")
COUNTS = (1, 2, 3, 4)
DIGITS = tuple(range(10))
RELATIONS = ("left of", "right of", "above", "below")

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_PLURAL = {"cross": "crosses"}
_INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
# "on the left and ... on the right" binds each side to the noun just before it, as "red circle" binds
# colour to shape; meant as a bridge to the order-dependent "to the left of" (the bundled model did not
# cross it: see its model card)
_SIDES = {"left of": ("left", "right"), "above": ("top", "bottom")}
_SIDE_WORDS = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom"}
OPPOSITE_SIDE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
SIDES_SHARE = 0.4
_PREFIXES = ("", "", "a photo of ", "an image of ", "a picture of ", "a drawing of ", "a rendering of ")


def plural(shape: str) -> str:
    return _PLURAL.get(shape, shape + "s")


def noun_phrase(n: int, colour: str | None, shape: str | None, number_style: str = "word") -> str:
    """'a red circle', 'three red circles', 'two shapes', '3 blue stars' (number_style='digit')."""
    noun = shape or "shape"
    words = [colour] if colour else []
    if n == 1:
        article = "an" if (words or [noun])[0][0] in "aeiou" else "a"
        return " ".join([article, *words, noun])
    count = str(n) if number_style == "digit" else NUMBER_WORDS[n]
    return " ".join([count, *words, plural(noun)])


def relation_key(a: tuple[str, str], rel: str, b: tuple[str, str]) -> tuple:
    """Canonical key of 'a <rel> b': 'b right of a' and 'a left of b' mean the same."""
    if rel in ("right of", "below"):
        a, rel, b = b, _INVERSE[rel], a
    return ("rel", a, rel, b)


def _object(obj: tuple[str, str]) -> str:
    return noun_phrase(1, *obj)


def relation_phrase(a: tuple[str, str], rel: str, b: tuple[str, str]) -> str:
    """'a red circle to the left of a blue square', 'a red circle above a blue square'."""
    return f"{_object(a)} {'to the ' + rel if rel.endswith('of') else rel} {_object(b)}"


def side_phrase(obj: tuple[str, str], side: str) -> str:
    """'a red circle on the left', 'a blue square at the bottom'."""
    return f"{_object(obj)} {_SIDE_WORDS[side]}"


def object_sides(a: tuple[str, str], rel: str, b: tuple[str, str]) -> list[tuple]:
    """The two side keys that a canonical relation implies: a is on the left (top), b on the right (bottom)."""
    return [("side", a, _SIDES[rel][0]), ("side", b, _SIDES[rel][1])]


def sides_phrase(a: tuple[str, str], rel: str, b: tuple[str, str], first: str = "a") -> str:
    """'a red circle on the left and a blue square on the right' for a canonical `rel` (left of, above)."""
    parts = [side_phrase(a, _SIDES[rel][0]), side_phrase(b, _SIDES[rel][1])]
    return " and ".join(parts if first == "a" else parts[::-1])


def canonical_caption(key: tuple) -> str:
    """The one fixed wording of a key, used for evaluation candidate sets."""
    kind = key[0]
    if kind == "group":
        return noun_phrase(*key[1:])
    if kind == "digit":
        return f"the digit {key[1]}"
    if kind == "rel":
        _, a, rel, b = key
        return relation_phrase(a, rel, b)
    if kind == "pair":
        a, b = sorted(key[1])
        return f"{_object(a)} and {_object(b)}"
    if kind == "side":
        return side_phrase(key[1], key[2])
    raise ValueError(f"unknown caption key {key!r}")


def describe(key: tuple, rng: np.random.Generator) -> str:
    """A random wording of `key`, with an optional prefix such as 'a photo of '."""
    kind = key[0]
    if kind == "group":
        style = "digit" if rng.random() < 0.2 else "word"
        body = noun_phrase(*key[1:], number_style=style)
    elif kind == "digit":
        d = key[1]
        body = [f"the digit {d}", f"the number {d}", f"the number {NUMBER_WORDS[d]}", f"a {d}"][rng.integers(4)]
    elif kind == "rel":
        _, a, rel, b = key
        if rng.random() < SIDES_SHARE:
            body = sides_phrase(a, rel, b, first="a" if rng.random() < 0.5 else "b")
        elif rng.random() < 0.5:
            body = relation_phrase(b, _INVERSE[rel], a)
        else:
            body = relation_phrase(a, rel, b)
    elif kind == "pair":
        a, b = sorted(key[1])
        if rng.random() < 0.5:
            a, b = b, a
        body = f"{_object(a)} and {_object(b)}"
    elif kind == "side":
        body = side_phrase(key[1], key[2])
    else:
        raise ValueError(f"unknown caption key {key!r}")
    text = _PREFIXES[rng.integers(len(_PREFIXES))] + body
    return text + "." if rng.random() < 0.5 else text


def vocabulary_corpus() -> list[str]:
    """Every canonical caption plus the words of every wording: the tokenizer's training text."""
    lines = [noun_phrase(n, c, s, st) for n in COUNTS for c in (None, *COLOURS) for s in (None, *SHAPES)
             for st in ("word", "digit")]
    lines += [f"the digit {d}. the number {d}. the number {NUMBER_WORDS[d]}. a {d}" for d in DIGITS]
    lines += [f"{_object(('red', 'circle'))} to the {r} a blue square. {r}" for r in RELATIONS]
    lines += [p + "red circle and a blue square." for p in _PREFIXES]
    return lines
