"""Reading scenes back from their pixels, independently of the generator: colour masks, objects, shapes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull

from clipdemo.scenes import COLOURS


def colour_mask(image, colour: str) -> np.ndarray:
    """Pixels within a tolerance of the named palette colour."""
    a = np.asarray(image, np.int32)
    return np.abs(a - np.array(COLOURS[colour])).max(-1) < 45


def objects(image, colour: str, min_size: int = 8) -> list[np.ndarray]:
    """One boolean mask per connected blob of `colour` bigger than `min_size` pixels."""
    labels, n = ndimage.label(colour_mask(image, colour))
    return [m for m in (labels == i for i in range(1, n + 1)) if m.sum() > min_size]


def shape_of(mask: np.ndarray) -> str:
    """circle, square, triangle, star, diamond or cross, from three measures of the blob:
    solidity (area / convex hull: stars and crosses are concave), fill (area / the disc through its
    farthest pixel: 0.9 for circles, 0.6 for squares and diamonds, 0.4 for triangles) and extent
    (area / bounding box: 0.75-1 for a square, 0.5 for a diamond)."""
    ys, xs = np.nonzero(mask)
    area = len(xs)
    radius = np.sqrt((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2).max() + 0.5
    corners = np.concatenate([np.c_[xs, ys] + d for d in ([-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5])])
    solidity = area / ConvexHull(corners).volume
    fill = area / (np.pi * radius**2)
    extent = area / ((np.ptp(xs) + 1) * (np.ptp(ys) + 1))
    if solidity < 0.65:
        return "star"
    if solidity < 0.82:
        return "cross"
    if fill > 0.8:
        return "circle"
    if fill < 0.5:
        return "triangle"
    return "square" if extent > 0.65 else "diamond"


def shapes_in(image, min_size: int = 30) -> set[str]:
    """Every shape drawn in any palette colour."""
    return {shape_of(m) for c in COLOURS for m in objects(image, c, min_size)}
