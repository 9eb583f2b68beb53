"""Is this image likely a photo? A cheap, stated heuristic, so that a model trained on no photos warns
beside a result only when the input is one (issue 27, point 2).

The image is median-filtered (3 px: removes the scenes' pixel noise) and box-downsampled to 64 px. A
photo has either many colours (more than PHOTO_COLOURS distinct colours at 4 bits per channel) or texture
everywhere (median luminance step between neighbours above PHOTO_TEXTURE levels of 255). Flat-coloured
shapes on plain, gradient or blotched backgrounds have neither. Measured by `python scripts/photo_heuristic.py`
on examples/photos against examples/scenes, examples/pairs and 300 generated held-out scenes (150 on the
training renderer, 150 on the shifted one); the numbers are in docs/photo_heuristic.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

PHOTO_COLOURS = 60  # the scenes have at most ~52 at 64 px; colour photos have 130-390
PHOTO_TEXTURE = 4.5  # median neighbour step (0-510): the scenes' 95th percentile is ~3.7; grey photos 5-14


@dataclass(frozen=True)
class PhotoGuess:
    likely_photo: bool
    colours: int  # distinct colours at 4 bits per channel, at 64 px
    texture: float  # median |step| of luminance between neighbouring pixels, at 64 px (0-510)


def photo_guess(image: Image.Image) -> PhotoGuess:
    """Guess whether `image` is a photo (True) or a drawing/rendered scene (False), from its pixels alone."""
    im = image.convert("RGB").filter(ImageFilter.MedianFilter(3))
    im.thumbnail((64, 64), Image.BOX)
    a = np.asarray(im).astype(np.int32)  # [H, W, 3] in 0-255
    codes = (a[..., 0] >> 4) * 256 + (a[..., 1] >> 4) * 16 + (a[..., 2] >> 4)
    colours = int(len(np.unique(codes)))
    lum = a.mean(-1)
    steps = np.abs(np.diff(lum, axis=1))[:-1] + np.abs(np.diff(lum, axis=0))[:, :-1]
    texture = float(np.median(steps)) if steps.size else 0.0
    return PhotoGuess(colours > PHOTO_COLOURS or texture > PHOTO_TEXTURE, colours, texture)
