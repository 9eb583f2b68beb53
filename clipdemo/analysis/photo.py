"""Is this image likely a photo? A cheap, stated heuristic, so that a model trained on no photos warns
beside a result only when the input is one (issue 27, point 2).

The image is median-filtered (3 px: removes the scenes' pixel noise) and box-downsampled to 64 px. A
photo has either many colours (more than PHOTO_COLOURS distinct colours at 4 bits per channel) or texture
everywhere (median luminance step between neighbours above PHOTO_TEXTURE levels of 255). Flat-coloured
shapes on plain, gradient or blotched backgrounds have neither. Measured by `python scripts/photo_heuristic.py`
on examples/photos against examples/scenes, examples/pairs and generated held-out scenes of every renderer
style; the numbers are in docs/photo_heuristic.md.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from ..engine.cache import image_key

PHOTO_COLOURS = 120  # colour photos have 130-390 at 64 px; flat scenes at most ~52, JPEG'd gradients ~115
PHOTO_TEXTURE = 4.5  # median neighbour step (0-510): the scenes' 95th percentile is ~3.7; grey photos 5-14


@dataclass(frozen=True)
class PhotoGuess:
    likely_photo: bool
    colours: int  # distinct colours at 4 bits per channel, at 64 px
    texture: float  # median |step| of luminance between neighbouring pixels, at 64 px (0-510)


_GUESSES: OrderedDict[str, PhotoGuess] = OrderedDict()  # by content: the same upload is asked about again
_GUESSES_MAX = 4096  # entries of about 200 bytes
_LOCK = threading.Lock()


def photo_guess(image: Image.Image) -> PhotoGuess:
    """Guess whether `image` is a photo (True) or a drawing/rendered scene (False), from its pixels alone.

    Remembered by the image's content (the embedding caches' key): the median filter costs about 7 ms on a
    192 px image and far more on a large one, and a page sends the same images again with new labels."""
    key = image_key(image)
    with _LOCK:
        if (guess := _GUESSES.get(key)) is not None:
            _GUESSES.move_to_end(key)
            return guess
    guess = _measure(image)
    with _LOCK:
        _GUESSES[key] = guess
        while len(_GUESSES) > _GUESSES_MAX:
            _GUESSES.popitem(last=False)
    return guess


def _measure(image: Image.Image) -> PhotoGuess:
    im = image.convert("RGB").filter(ImageFilter.MedianFilter(3))
    im.thumbnail((64, 64), Image.BOX)
    a = np.asarray(im).astype(np.int32)  # [H, W, 3] in 0-255
    codes = (a[..., 0] >> 4) * 256 + (a[..., 1] >> 4) * 16 + (a[..., 2] >> 4)
    colours = int(len(np.unique(codes)))
    lum = a.mean(-1)
    steps = np.abs(np.diff(lum, axis=1))[:-1] + np.abs(np.diff(lum, axis=0))[:, :-1]
    texture = float(np.median(steps)) if steps.size else 0.0
    return PhotoGuess(colours > PHOTO_COLOURS or texture > PHOTO_TEXTURE, colours, texture)
