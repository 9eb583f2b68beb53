"""Pillow drawing of shapes, digits and backgrounds on a square canvas.

Coordinates are in unit space ([0, 1] x [0, 1], y down) and scaled to the canvas size, so the same
scene can be drawn at 96 px for training and larger for the app's examples.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .grammar import COLOURS

# Fonts ship inside matplotlib's wheel, so digits render the same on every machine.
TRAIN_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf",
               "DejaVuSerif-Bold.ttf")
SHIFTED_FONTS = ("STIXGeneral.ttf", "cmr10.ttf", "cmss10.ttf", "DejaVuSans-Oblique.ttf")


@lru_cache(maxsize=None)
def _font_dir() -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf")


@lru_cache(maxsize=256)
def font(name: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(os.path.join(_font_dir(), name), size_px)


def background(size: int, rng: np.random.Generator, colours=(), style: str = "train") -> Image.Image:
    """A neutral background (light, grey or dark, slightly tinted), sometimes a gradient, blotches or noise.

    Light is avoided under yellow objects and dark under blue or purple ones, so every object stands
    out. style="shifted" adds stripes or checks: regular patterns, which training never sees.
    """
    levels = [(0.85, 1.0), (0.45, 0.7), (0.05, 0.25)]
    if "yellow" in colours:
        levels.remove((0.85, 1.0))
    if {"blue", "purple"} & set(colours):
        levels.remove((0.05, 0.25))
    base = rng.uniform(*levels[rng.integers(len(levels))])
    tint = rng.uniform(-0.04, 0.04, size=3)
    img = np.empty((size, size, 3), np.float32)
    img[:] = np.clip(base + tint, 0, 1)
    if style == "shifted":
        period = int(rng.integers(6, 16)) * size // 96 or 1
        yy, xx = np.mgrid[:size, :size]
        pattern = ((xx // period + (yy // period) * int(rng.integers(0, 2))) % 2).astype(np.float32)
        img += (pattern * rng.uniform(0.06, 0.12) * (1 if base < 0.5 else -1))[..., None]
    elif (u := rng.random()) < 0.3:
        ramp = np.linspace(-1, 1, size, dtype=np.float32) * rng.uniform(0.03, 0.1)
        img += ramp[None, :, None] if rng.random() < 0.5 else ramp[:, None, None]
    elif u < 0.6:
        img += (_blotches(size, rng) * (1 if base < 0.5 else -1))[..., None]
    if rng.random() < 0.4:
        img += rng.normal(0, rng.uniform(0.005, 0.03), size=img.shape).astype(np.float32)
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))


def _blotches(size: int, rng: np.random.Generator) -> np.ndarray:
    """Irregular texture in [0, 0.1]: soft clouds (a few cells, bicubic) or block noise (many cells, nearest)."""
    smooth = rng.random() < 0.5
    cells = int(rng.integers(2, 7)) if smooth else int(rng.integers(8, 25))
    grid = Image.fromarray(rng.uniform(0, 1, (cells, cells)).astype(np.float32))
    texture = np.asarray(grid.resize((size, size), Image.BICUBIC if smooth else Image.NEAREST))
    return np.clip(texture, 0, 1) * rng.uniform(0.04, 0.1)


def object_colour(name: str, rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(np.clip(v + rng.integers(-18, 19), 0, 255)) for v in COLOURS[name])


def _star(cx, cy, r, angle):
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else r * 0.45
        a = angle - math.pi / 2 + k * math.pi / 5
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    return pts


def _regular(cx, cy, r, sides, angle):
    return [(cx + r * math.cos(angle + 2 * math.pi * k / sides), cy + r * math.sin(angle + 2 * math.pi * k / sides))
            for k in range(sides)]


def _cross(cx, cy, r, angle):
    w = r * 0.36
    base = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w), (-r, -w), (-w, -w)]
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in base]


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float,
               fill: tuple[int, int, int], angle: float = 0.0) -> None:
    """Draw one shape of 'radius' r (pixels) centred at (cx, cy) (pixels); angle in radians, small."""
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        draw.polygon(_regular(cx, cy, r * 1.2, 4, math.pi / 4 + angle), fill=fill)
    elif shape == "diamond":
        draw.polygon(_regular(cx, cy, r, 4, angle), fill=fill)
    elif shape == "triangle":
        draw.polygon(_regular(cx, cy + r * 0.15, r * 1.15, 3, -math.pi / 2 + angle), fill=fill)
    elif shape == "star":
        draw.polygon(_star(cx, cy, r * 1.15, angle), fill=fill)
    elif shape == "cross":
        draw.polygon(_cross(cx, cy, r, angle), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def draw_text(img: Image.Image, text: str, font_name: str, height: float, cx: float, cy: float,
              fill: tuple[int, int, int]) -> None:
    """Draw `text` with its ink box of about `height` (unit) centred at (cx, cy) (unit)."""
    size = img.size[0]
    f = font(font_name, max(6, int(height * size * 1.35)))
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=f)
    draw.text((cx * size - (left + right) / 2, cy * size - (top + bottom) / 2), text, font=f, fill=fill)
