"""Untrusted images: every bad or unusual file gets a clear message or a correct RGB image."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from clipdemo.errors import InputError
from clipdemo.images import open_image, open_images
from clipdemo.limits import MAX_SIDE


def _png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def test_rgb_png_round_trips():
    im = Image.new("RGB", (40, 30), (10, 200, 30))
    out = open_image(_png_bytes(im), "x.png")
    assert out.image.mode == "RGB" and out.image.size == (40, 30)
    assert out.image.getpixel((5, 5)) == (10, 200, 30)


def test_non_image_file_says_so(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello, this is not a picture")
    with pytest.raises(InputError, match="notes.txt: not an image"):
        open_image(p)


def test_truncated_png_says_corrupt():
    data = _png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)))
    with pytest.raises(InputError, match="corrupt or truncated"):
        open_image(data[: len(data) // 2], "half.png")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        open_image(p)


def test_decompression_bomb_is_refused_before_decoding():
    # A valid PNG header that claims 40000 x 40000 pixels (1.6 gigapixels) with almost no data.
    header = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0))
    data = header + _chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + _chunk(b"IEND", b"")
    with pytest.raises(InputError, match="decompression bomb"):
        open_image(data, "bomb.png")


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "1", "CMYK", "I;16", "I", "F"])
def test_every_mode_becomes_rgb(mode):
    base = Image.new("RGB", (32, 32), (200, 40, 40))
    im = base.convert(mode) if mode not in ("I;16", "I", "F") else Image.fromarray(
        (np.linspace(0, 1, 32 * 32).reshape(32, 32) * (65535 if mode != "F" else 1)).astype(
            {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]), mode)
    fmt = "TIFF" if mode in ("CMYK", "I", "F") else "PNG"
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    out = open_image(buf.getvalue(), f"x.{fmt.lower()}")
    assert out.image.mode == "RGB"
    if mode in ("I;16", "I", "F"):  # high bit depth is rescaled to the full 8-bit range, not clipped
        a = np.asarray(out.image)
        assert a.min() == 0 and a.max() == 255
        assert "8 bits" in out.notes[0]


def test_transparent_pixels_become_white():
    im = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    out = open_image(_png_bytes(im), "clear.png")
    assert out.image.getpixel((0, 0)) == (255, 255, 255)


def test_exif_rotated_photo_is_shown_upright():
    # A 60 x 20 landscape image whose EXIF says "rotate 90 degrees" (orientation 6): upright it is portrait.
    im = Image.new("RGB", (60, 20), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 10, 20))  # red band on the left edge as stored
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif, quality=95)
    out = open_image(buf.getvalue(), "rotated.jpg")
    assert out.image.size == (20, 60)
    r, g, b = out.image.getpixel((10, 3))  # orientation 6 turns the left edge to the top
    assert r > 200 and b < 60


def test_animated_gif_uses_first_frame_and_says_so():
    frames = [Image.new("P", (16, 16), i) for i in (1, 2, 3)]
    for f, c in zip(frames, [(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        f.putpalette(list(c) * 256)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    out = open_image(buf.getvalue(), "anim.gif")
    assert "animated" in out.notes[0] and "first frame" in out.notes[0]
    assert out.image.getpixel((0, 0)) == (255, 0, 0)


def test_large_image_is_downscaled():
    out = open_image(_png_bytes(Image.new("RGB", (4000, 1000))), "wide.png")
    assert max(out.image.size) == MAX_SIDE and out.image.size[1] == MAX_SIDE // 4


def test_format_outside_allowlist_is_refused():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PPM")
    with pytest.raises(InputError, match="supported format"):
        open_image(buf.getvalue(), "x.ppm")


def test_bad_file_in_batch_does_not_lose_the_rest(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"definitely not a png")
    loaded, errors = open_images([good, bad, good])
    assert [im.name for im in loaded] == ["good.png", "good.png"]
    assert len(errors) == 1 and errors[0].startswith("bad.png:")
