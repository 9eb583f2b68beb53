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
# The robust recipe (issue 25) draws every font family the packages ship but two, which it holds out whole:
# STIX (a Times-like book face) and Pillow's own Aileron (a grotesque sans); "pillow" names the latter.
ROBUST_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
                "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
                "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
                "DejaVuSansMono-BoldOblique.ttf", "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmti10.ttf", "cmtt10.ttf",
                "cmmi10.ttf")
HELDOUT_FONTS = ("STIXGeneral.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBol.ttf", "STIXGeneralBolIta.ttf", "pillow")
# Background kinds of the robust recipe, and those it holds out whole (regular patterns and vignettes).
ROBUST_BACKGROUNDS = ("flat", "gradient", "blotches", "noise", "paper")
HELDOUT_BACKGROUNDS = ("stripes", "checks", "radial")
# The "wide" renderer's kinds: the robust ones and two more clutters, neither of them periodic nor a vignette.
WIDE_BACKGROUNDS = (*ROBUST_BACKGROUNDS, "lines", "dots")


@lru_cache(maxsize=None)
def _font_dir() -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf")


@lru_cache(maxsize=256)
def font(name: str, size_px: int) -> ImageFont.FreeTypeFont:
    if name == "pillow":
        return ImageFont.load_default(size_px)
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


def _far_enough(base: np.ndarray, colours) -> bool:
    """Every object colour stands out from the background's mean colour (RGB distance in [0, 1] units)."""
    return all(np.linalg.norm(base - np.asarray(COLOURS.get(c, (128, 128, 128))) / 255) > 0.3 for c in colours)


def robust_background(size: int, rng: np.random.Generator, colours=(), kinds=ROBUST_BACKGROUNDS) -> Image.Image:
    """One background of a kind drawn from `kinds`, at any brightness from near black to near white, tinted.

    flat, gradient (any direction, up to 0.35 across), blotches, noise (a grain of 0.02-0.08), paper (a warm
    light tone with fibres); the "wide" renderer's lines and dots (faint clutter); the held-out kinds:
    stripes, checks (any period and angle), radial (a vignette or a spot). Brightness is redrawn until every
    object colour stands out from it.
    """
    kind = kinds[rng.integers(len(kinds))]
    for _ in range(50):
        if kind == "paper":
            base = rng.uniform(0.78, 0.96) * np.array([1.0, rng.uniform(0.93, 0.99), rng.uniform(0.8, 0.93)])
        else:
            base = np.clip(rng.uniform(0.03, 0.97) + rng.uniform(-0.06, 0.06, size=3), 0, 1)
        if _far_enough(base, colours):
            break
    img = np.empty((size, size, 3), np.float32)
    img[:] = base
    sign = 1 if base.mean() < 0.5 else -1
    yy, xx = (np.mgrid[:size, :size].astype(np.float32) + 0.5) / size
    if kind == "gradient":
        a = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5)) * rng.uniform(0.1, 0.35)
        img += (ramp * sign)[..., None]
    elif kind == "blotches":
        img += (_blotches(size, rng) * 1.5 * sign)[..., None]
    elif kind == "noise":
        img += rng.normal(0, rng.uniform(0.02, 0.08), size=img.shape).astype(np.float32)
    elif kind == "paper":
        fibres = np.asarray(Image.fromarray(rng.normal(0, 1, (size // 4, size)).astype(np.float32)).resize(
            (size, size), Image.BILINEAR))
        img -= (np.abs(fibres) * rng.uniform(0.01, 0.03))[..., None]
    elif kind in ("stripes", "checks"):
        a = rng.uniform(0, np.pi)
        period = rng.uniform(0.05, 0.2)
        u, v = np.cos(a) * xx + np.sin(a) * yy, -np.sin(a) * xx + np.cos(a) * yy
        pattern = (np.floor(u / period) % 2) if kind == "stripes" else (np.floor(u / period) + np.floor(v / period)) % 2
        img += (pattern * rng.uniform(0.06, 0.15) * sign)[..., None]
    elif kind in ("lines", "dots"):
        img += (_clutter(size, rng, kind) * rng.uniform(0.06, 0.15) * sign)[..., None]
    elif kind == "radial":
        cx, cy = rng.uniform(0.2, 0.8, 2)
        d = np.hypot(xx - cx, yy - cy) / 0.7
        img += ((d if rng.random() < 0.5 else 1 - d) * rng.uniform(0.1, 0.3) * sign)[..., None]
    if rng.random() < 0.3:
        img += rng.normal(0, rng.uniform(0.005, 0.03), size=img.shape).astype(np.float32)
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))


def degrade(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """What cameras, scanners and the web do to a drawing, none of which changes its caption: a small colour
    cast, a contrast change, blur, JPEG compression (each on a share of images)."""
    from io import BytesIO

    from PIL import ImageFilter

    if rng.random() < 0.5:
        x = np.asarray(img, np.float32) / 255
        x = x * (1 + rng.uniform(-0.06, 0.06, size=3))  # colour cast
        mean = x.mean()
        x = (x - mean) * rng.uniform(0.7, 1.15) + mean  # contrast
        img = Image.fromarray((np.clip(x, 0, 1) * 255).astype(np.uint8))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2) * img.size[0] / 96))
    if rng.random() < 0.4:
        buf = BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(15, 86)))
        img = Image.open(BytesIO(buf.getvalue())).convert("RGB")
    return img


def _clutter(size: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """[size, size] in [0, 1]: 3-12 straight lines right across at any angle ("lines"), or 15-79 small dots."""
    layer = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(3, 13) if kind == "lines" else rng.integers(15, 80))):
        x, y = rng.uniform(0, size, 2)
        if kind == "lines":
            dx, dy = 2 * size * np.array([np.cos(a := rng.uniform(0, np.pi)), np.sin(a)])
            width = max(1, round(rng.uniform(0.005, 0.03) * size))
            draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=255, width=width)
        else:
            r = rng.uniform(0.005, 0.025) * size
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(layer, np.float32) / 255


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
               fill: tuple[int, int, int], angle: float = 0.0, outline: int = 0) -> None:
    """Draw one shape of 'radius' r (pixels) centred at (cx, cy) (pixels); angle in radians (square and
    diamond only within +-0.26: a square turned 45 degrees is a diamond). outline > 0: only its outline,
    that many pixels wide."""
    paint = {"outline": fill, "width": outline} if outline else {"fill": fill}
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], **paint)
    elif shape == "square":
        draw.polygon(_regular(cx, cy, r * 1.2, 4, math.pi / 4 + angle), **paint)
    elif shape == "diamond":
        draw.polygon(_regular(cx, cy, r, 4, angle), **paint)
    elif shape == "triangle":
        draw.polygon(_regular(cx, cy + r * 0.15, r * 1.15, 3, -math.pi / 2 + angle), **paint)
    elif shape == "star":
        draw.polygon(_star(cx, cy, r * 1.15, angle), **paint)
    elif shape == "cross":
        draw.polygon(_cross(cx, cy, r, angle), **paint)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def draw_text(img: Image.Image, text: str, font_name: str, height: float, cx: float, cy: float,
              fill: tuple[int, int, int], angle: float = 0.0) -> None:
    """Draw `text` with its ink box of about `height` (unit) centred at (cx, cy) (unit), turned by `angle`
    degrees (anticlockwise) about its centre."""
    size = img.size[0]
    target = Image.new("L", img.size, 0) if angle else img
    _draw_centred(target, text, font_name, height, cx, cy, 255 if angle else fill)
    if angle:
        mask = target.rotate(angle, Image.BICUBIC, center=(cx * size, cy * size))
        img.paste(Image.new("RGB", img.size, fill), mask=mask)


def _draw_centred(target: Image.Image, text: str, font_name: str, height: float, cx: float, cy: float,
                  fill) -> None:
    """`text` drawn on `target` with its ink box centred at (cx, cy) (unit), at the font size that makes it
    about `height` (unit) tall: what draw_text and draw_warped_text share."""
    size = target.size[0]
    f = font(font_name, max(6, int(height * size * 1.35)))
    draw = ImageDraw.Draw(target)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=f)
    draw.text((cx * size - (left + right) / 2, cy * size - (top + bottom) / 2), text, font=f, fill=fill)


def draw_warped_text(img: Image.Image, text: str, font_name: str, height: float, cx: float, cy: float,
                     fill: tuple[int, int, int], angle: float = 0.0, shear: float = 0.0, aspect: float = 1.0,
                     weight: int = 0) -> None:
    """`draw_text`, with the glyphs sheared (x += shear * y), stretched across by `aspect` and their strokes
    thickened (weight > 0) or thinned (< 0) by that many pixels: what other typefaces and hands do to a digit
    while it stays that digit."""
    from PIL import ImageFilter

    size = img.size[0]
    mask = Image.new("L", img.size, 0)
    _draw_centred(mask, text, font_name, height, cx, cy, 255)
    x0, y0 = cx * size, cy * size
    # output (x, y) samples input (x0 + (x - x0) / aspect - shear * (y - y0), y)
    mask = mask.transform(img.size, Image.AFFINE, (1 / aspect, -shear, x0 - x0 / aspect + shear * y0, 0, 1, 0),
                          Image.BICUBIC)
    if weight:
        grow = ImageFilter.MaxFilter(2 * weight + 1) if weight > 0 else ImageFilter.MinFilter(1 - 2 * weight)
        mask = mask.filter(grow)
    if angle:
        mask = mask.rotate(angle, Image.BICUBIC, center=(x0, y0))
    img.paste(Image.new("RGB", img.size, fill), mask=mask)
