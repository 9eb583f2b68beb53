"""Does a saliency map tell the truth? The pointing game and the deletion curve on scenes whose answer
is known from the pixels.

- Pointing game (Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV 2016): a scene
  holds two different objects; the query names one ("red circle"); a hit is the map's maximum inside
  the named object's pixels, with the protocol's tolerance of 15 px at 224 px (scaled to the scene's
  size). A map that ignores the query hits about as often as the object's share of the image.
- Deletion (Petsiuk et al., "RISE", BMVC 2018): grey out the model-input patches in order of relevance,
  most relevant first, and follow the text's cosine; a map that finds what matters makes it fall fast.
  Reported as the area under the curve of the mean cosine's change from the full image's (0 at the start;
  in cosine units, lower is better) beside a random order. Not normalised by the fall to an all-grey
  image: for a model whose text is closer to the grey image than to the scene (tiny-scenes-siglip, and
  tiny-scenes' 4,500-step tune) that fall is small or a rise, and dividing by it blew the areas up and
  flipped their sign.

Baselines: "centre" is a map that peaks in the middle of the image, whatever the text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from ..scenes import object_mask, relation_scene, scene_rng
from .saliency import unit_image_features, padded_pixel_values, saliency, to_image_grid

POINTING_TOLERANCE = 15 / 224  # of the image side: the pointing game's 15 px at 224 px
QUERY = "{colour} {shape}"  # the Zero-shot tab's label wording


@dataclass(frozen=True)
class PointingResult:
    method: str
    scenes: int
    hits: float  # share of scenes whose map maximum is on the named object (with the tolerance), [0, 1]
    strict_hits: float  # the same with no tolerance
    other: float  # share whose maximum is on the other object instead (with the tolerance): a map
    #               that sees objects but not the text lands on each about equally often
    area: float  # mean share of the image within the tolerance of the named object: a blind map's rate


@dataclass(frozen=True)
class DeletionResult:
    method: str
    curve: np.ndarray  # [g*g + 1] mean cosine after deleting 0..g*g patches, minus the full image's (so 0 first)
    auc: float  # mean of the curve over the deleted fraction in [0, 1], in cosine units: lower = falls faster


def _named_scenes(n: int, seed: int, size: int):
    """n two-object scenes (probe split: never trained on) and, alternately, the first or second object."""
    for i in range(n):
        scene = relation_scene(scene_rng(seed + i, "probe"), size=size)
        yield scene, scene.objects[i % 2]


def centre_map(g: int) -> np.ndarray:
    """A [1, g, g] map that peaks at the image centre: the baseline that knows nothing of the text."""
    c = (np.arange(g) + 0.5) / g - 0.5
    return -np.hypot(c[None, :], c[:, None])[None]


def _map_for(engine, method: str, image, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(map over the image, per-patch grid) for a method name, "centre" included."""
    if method == "centre":
        g = engine.model.config.vision_config.image_size // engine.model.config.vision_config.patch_size
        grid = centre_map(g)
        return to_image_grid(grid, (image.size[0], 0, 0), image.size)[0], grid[0]
    result = saliency(engine, image, [text], method=method)
    return result.maps[0], result.grid[0]


def pointing_game(engine, method: str = "relevance", n: int = 100, seed: int = 0, size: int = 96,
                  query: str = QUERY) -> PointingResult:
    """The share of two-object scenes where `method`'s map points at the object the query names."""
    hits = strict = area = other = 0.0
    tolerance = max(1, round(POINTING_TOLERANCE * size))
    for scene, named in _named_scenes(n, seed, size):
        saliency_map, _ = _map_for(engine, method, scene.image, query.format(colour=named.colour, shape=named.shape))
        y, x = np.unravel_index(int(np.argmax(saliency_map)), saliency_map.shape)
        mask = object_mask(named, size)
        near = ndimage.binary_dilation(mask, iterations=tolerance)
        hits, strict, area = hits + near[y, x], strict + mask[y, x], area + near.mean()
        (unnamed,) = [o for o in scene.objects if o is not named]
        other += ndimage.binary_dilation(object_mask(unnamed, size), iterations=tolerance)[y, x] and not near[y, x]
    return PointingResult(method, n, hits / n, strict / n, other / n, area / n)


def _deletion_scores(engine, pixels: torch.Tensor, order: np.ndarray, text_features: torch.Tensor) -> np.ndarray:
    """Cosine with the text after greying out the first 0..g*g patches of `order` (most relevant first)."""
    vision = engine.model.config.vision_config
    p, g = vision.patch_size, vision.image_size // vision.patch_size
    steps = pixels.repeat(g * g + 1, 1, 1, 1)
    for k, patch in enumerate(order, start=1):
        r, c = divmod(int(patch), g)
        steps[k:, :, r * p:(r + 1) * p, c * p:(c + 1) * p] = 0
    return (unit_image_features(engine, steps) @ text_features.T)[:, 0].numpy()


def deletion_curve(engine, method: str = "relevance", n: int = 40, seed: int = 0, size: int = 96,
                   query: str = QUERY, rng_seed: int = 0) -> DeletionResult:
    """The mean deletion curve of `method`, minus the full image's cosine ("random" deletes in a random order)."""
    rng = np.random.default_rng(rng_seed)
    curves = []
    for scene, named in _named_scenes(n, seed, size):
        text = query.format(colour=named.colour, shape=named.shape)
        pixels, _ = padded_pixel_values(engine, scene.image)
        if method == "random":
            g = engine.model.config.vision_config.image_size // engine.model.config.vision_config.patch_size
            order = rng.permutation(g * g)
        else:
            _, grid = _map_for(engine, method, scene.image, text)
            order = np.argsort(-grid.ravel(), kind="stable")
        curves.append(_deletion_scores(engine, pixels, order, engine.encode_texts([text])))
    mean = np.mean(curves, axis=0)
    curve = mean - mean[0]
    return DeletionResult(method, curve, float(np.trapezoid(curve, dx=1 / (len(curve) - 1))))


def report(engines: dict[str, object], methods=("relevance", "occlusion", "centre"), n: int = 100,
           deletion_n: int = 40, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Pointing game and deletion AUC for every (model, method) that applies to the model's family
    (relevance needs a class token: not SigLIP): rows for a table."""
    rows = []
    for name, engine in engines.items():
        for method in (m for m in methods if m == "centre" or m in engine.family.saliency):
            if progress:
                progress(f"{name}: {method}")
            pg = pointing_game(engine, method, n)
            dl = deletion_curve(engine, method, deletion_n)
            rows.append(dict(model=name, method=method, pointing=pg.hits, pointing_strict=pg.strict_hits,
                             other=pg.other, area=pg.area, deletion_auc=dl.auc))
        rows.append(dict(model=name, method="random order", pointing=None, pointing_strict=None, other=None, area=None,
                         deletion_auc=deletion_curve(engine, "random", deletion_n).auc))
    return rows
