"""Opening untrusted images safely: a format allowlist, pixel limits, bounded memory, any mode to RGB."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError
from .limits import MAX_FILE_BYTES, MAX_PIXELS, MAX_SIDE

ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")


@dataclass
class LoadedImage:
    image: Image.Image  # RGB, upright, longest side <= MAX_SIDE
    name: str
    notes: list[str] = field(default_factory=list)  # what was done to it ("first frame of 12", ...)


def open_image(source: str | os.PathLike | bytes | Image.Image, name: str | None = None) -> LoadedImage:
    """Open an untrusted image file (path or bytes) or take a PIL image, and return it RGB and upright.

    Raises:
        InputError: not an image, a format outside ALLOWED_FORMATS, corrupt or truncated, more than
            MAX_PIXELS pixels, or a file over MAX_FILE_BYTES. The message names the file.
    """
    if isinstance(source, Image.Image):
        return _normalise(source, name or "image", [])
    name = name or (Path(source).name if not isinstance(source, bytes) else "image")
    data = _read(source, name)
    try:
        return _decode(data, name)
    except (InputError, MemoryError):
        raise
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image in a supported format ({', '.join(ALLOWED_FORMATS)}).") from None
    except Image.DecompressionBombError:
        raise InputError(f"{name}: too many pixels (a possible decompression bomb); the limit is "
                         f"{MAX_PIXELS / 1e6:.0f} megapixels.") from None
    except Exception as exc:  # Pillow's decoders raise many types on damaged files (found by tests/test_fuzz_images.py)
        reason = f"{type(exc).__name__}: {str(exc)[:100]}"
        raise InputError(f"{name}: the file is corrupt or truncated ({reason}).") from None


def _decode(data: bytes, name: str) -> LoadedImage:
    im = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    w, h = im.size
    if w * h > MAX_PIXELS or w <= 0 or h <= 0:
        raise InputError(f"{name}: {w}x{h} is too many pixels (a possible decompression bomb); the limit is "
                         f"{MAX_PIXELS / 1e6:.0f} megapixels.")
    notes = []
    if getattr(im, "is_animated", False):  # not n_frames: that walks every frame of the file
        notes.append("animated: the first frame is used")
    im.seek(0)
    if im.format == "JPEG":
        im.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at reduced scale: bounded memory for huge JPEGs
    im.load()
    return _normalise(im, name, notes)


def _read(source, name: str) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{name}: file not found.")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{name}: {path.stat().st_size / 2**20:.1f} MB is over the "
                             f"{MAX_FILE_BYTES / 2**20:.0f} MB limit for one image.")
        data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{name}: over the {MAX_FILE_BYTES / 2**20:.0f} MB limit for one image.")
    if not data:
        raise InputError(f"{name}: the file is empty.")
    return data


def _normalise(im: Image.Image, name: str, notes: list[str]) -> LoadedImage:
    """EXIF orientation, then any mode (16-bit, CMYK, palette, alpha) to 8-bit RGB, then downscale."""
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block should not lose the image
        notes.append("its EXIF orientation could not be read")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        im = Image.fromarray(a.astype(np.uint8), "L")
        notes.append("high bit depth: rescaled to 8 bits")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.new("RGB", rgba.size, (255, 255, 255))
        im.paste(rgba, mask=rgba.getchannel("A"))
    elif im.mode != "RGB":
        im = im.convert("RGB")
    if max(im.size) > MAX_SIDE:
        im = im.copy()
        im.thumbnail((MAX_SIDE, MAX_SIDE), Image.BICUBIC)
    return LoadedImage(im, name, notes)


def open_images(sources, names=None) -> tuple[list[LoadedImage], list[str]]:
    """Open several images; a bad one is reported in the returned errors and the rest still load."""
    loaded, errors = [], []
    for i, src in enumerate(sources):
        try:
            loaded.append(open_image(src, names[i] if names else None))
        except InputError as exc:
            errors.append(str(exc))
    return loaded, errors
