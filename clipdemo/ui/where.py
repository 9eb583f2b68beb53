"""The "where?" of every tab: a saliency result drawn over its image (Saliency, Zero-shot and Caption ranking)."""

from __future__ import annotations

import numpy as np

from ..analysis.saliency import SaliencyResult, probably_absent, saliency as run_saliency, shared_scale_maps
from ..map_figures import saliency_overlay
from ..text import fixed
from . import reading


def overlay(image, result: SaliencyResult, titles=None, absent=(), shared: bool = False):
    """The overlay figure: the image at the maps' size under each map; a panel per text, titled with its cosine.

    `absent` dims the panels of texts that probably are not in the image; `shared` draws every panel on one
    colour scale (analysis.saliency.shared_scale_maps) instead of each on its own."""
    h, w = result.maps.shape[1:]
    pixels = np.asarray(image.convert("RGB").resize((w, h)))
    titles = titles or [f"{t} (cosine {fixed(c, 3)})" for t, c in zip(result.texts, result.cosine)]
    maps = shared_scale_maps(result) if shared else result.maps
    return saliency_overlay(pixels, maps, titles, result.method_name, absent=absent, shared=shared)


def where(engine, image, texts, method: str = "relevance"):
    """The overlay of where in `image` each of `texts` matches: what a tab's "where?" button shows. A text
    that is probably not in the image gets a dimmed panel saying so, as in the Saliency tab."""
    result = run_saliency(engine, image, texts, method=method)
    return overlay(image, result, absent=probably_absent(result, reading.typical_for(engine)))
