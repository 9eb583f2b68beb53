"""Fuzzing the image loader: whatever bytes arrive, only the project's InputError comes out, in bounded time
and memory.

Inputs: random bytes; real PNG, JPEG, GIF, TIFF, WebP and BMP files truncated or with bits flipped; headers
that declare huge sizes. Hypothesis runs derandomized (the same cases on every machine); a case that ever
failed is pinned with @example so it runs first forever.
"""

from __future__ import annotations

import contextlib
import io
import resource
import struct
import subprocess
import sys
import zlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from clipdemo.errors import InputError
from clipdemo.images import open_image
from clipdemo.limits import MAX_SIDE

FORMATS = ("PNG", "JPEG", "GIF", "TIFF", "WEBP", "BMP")
MEMORY_HEADROOM = 1 << 30  # the loader may allocate at most 1 GB beyond what the process already has
FUZZ = settings(derandomize=True, database=None, max_examples=300, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.too_slow])


def _sample(fmt: str) -> bytes:
    """A small real photo-like image (noise over gradients) saved in `fmt`, animated for GIF."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:64]
    pixels = np.stack([x * 4, y * 5, (x + y) * 2], -1) + rng.integers(0, 40, (48, 64, 3))
    im = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    if fmt == "GIF":
        im.save(buf, format="GIF", save_all=True, append_images=[im.rotate(90), im.rotate(180)])
    else:
        im.save(buf, format=fmt)
    return buf.getvalue()


SAMPLES = {fmt: _sample(fmt) for fmt in FORMATS}


@contextlib.contextmanager
def _memory_bound(headroom: int = MEMORY_HEADROOM):
    """Cap the process's data segment at its current size + `headroom`: a decode that tries to allocate
    more raises MemoryError (which the test reports) instead of exhausting the machine."""
    with open("/proc/self/status") as f:
        current = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = current + headroom if hard == resource.RLIM_INFINITY else min(hard, current + headroom)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _check(data: bytes) -> None:
    """The contract: an upright RGB image no larger than MAX_SIDE, or an InputError naming the file."""
    with _memory_bound():
        try:
            out = open_image(data, "fuzz.bin")
        except InputError as exc:
            assert "fuzz.bin" in str(exc)
            return
    assert out.image.mode == "RGB" and max(out.image.size) <= MAX_SIDE and min(out.image.size) >= 1


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    _check(data)


@FUZZ
@given(st.sampled_from(FORMATS), st.floats(0, 1))
@example("GIF", 0.6875)  # IndexError from Pillow's GIF reader while counting frames (fixed: any decoder error)
def test_truncated_real_files(fmt, fraction):
    data = SAMPLES[fmt]
    _check(data[: int(len(data) * fraction)])


@FUZZ
@given(st.sampled_from(FORMATS), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
                                          min_size=1, max_size=8))
def test_bit_flipped_real_files(fmt, flips):
    data = bytearray(SAMPLES[fmt])
    for where, bit in flips:
        data[int(where * len(data))] ^= 1 << bit
    _check(bytes(data))


def _png_with_size(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def _gif_with_size(width: int, height: int) -> bytes:
    data = bytearray(SAMPLES["GIF"])
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen
    return bytes(data)


def _bmp_with_size(width: int, height: int) -> bytes:
    data = bytearray(SAMPLES["BMP"])
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the point of the test
@FUZZ
@given(st.sampled_from([_png_with_size, _gif_with_size, _bmp_with_size]),
       st.integers(1, 2**16 - 1), st.integers(1, 2**16 - 1))
@example(_png_with_size, 2**16 - 1, 2**16 - 1)  # 4.3 gigapixels declared in 60 bytes
@example(_bmp_with_size, 30_000, 30_000)
def test_huge_declared_sizes(make, width, height):
    _check(make(width, height))


def test_memory_bound_catches_a_runaway_allocation():
    """The fuzz tests' memory bound is real: an allocation past the headroom fails inside it.

    In a process of its own: in the test session, threads of earlier tests (servers, Ray, thread pools) can
    unmap their arenas between reading VmData and allocating, which leaves more room than the headroom."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from test_fuzz_images import _memory_bound\n"
            "try:\n    with _memory_bound(64 << 20):\n        bytearray(512 << 20)\n"
            "except MemoryError:\n    print('MemoryError')\n")
    run = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.strip() == "MemoryError", run.stdout + run.stderr
