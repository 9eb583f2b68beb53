"""Your own probe set: a CSV (image, candidate captions separated by '|', answer), alone or in a zip with images.

The answer is the true caption's text or its 0-based index. Image paths are relative to the CSV: inside
the zip, or beside the CSV on the command line. Every path goes through `safe_paths.resolve_inside`.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from PIL import Image

from ..analysis.probes import ProbeItem
from ..errors import InputError
from ..images import open_image
from ..limits import MAX_PROBE_ROWS
from ..safe_paths import extract_zip, resolve_inside

COLUMNS = ("image", "captions", "answer")
FORMAT = ("a CSV with the columns image, captions, answer: captions separated by '|', answer = the true "
          "caption or its 0-based index; in a .zip with the images it names (paths relative to the CSV)")
ITEM_SIDE = 336  # probe images are kept at this longest side: CLIP sees at most 336 px, and 2,000 items stay small


def load_probe_set(path: str) -> list[ProbeItem]:
    """Read a probe set from a .csv (images beside it) or a .zip holding one .csv and its images.

    Raises:
        InputError: the file, a row or an image is unusable; the message names the line and what to fix.
    """
    path = Path(path)
    if path.suffix.lower() != ".zip":
        return _parse(path.read_text(encoding="utf-8-sig", errors="replace"), path.parent)
    folder = extract_zip(path)
    try:
        csvs = [p for p in folder.rglob("*") if p.suffix.lower() == ".csv" and p.is_file()]
        if len(csvs) != 1:
            raise InputError(f"{path.name}: the zip must hold exactly one .csv file (it has {len(csvs)}).")
        return _parse(csvs[0].read_text(encoding="utf-8-sig", errors="replace"), csvs[0].parent)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _parse(text: str, folder: Path) -> list[ProbeItem]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or any(c not in rows[0] for c in COLUMNS):
        raise InputError(f"The probe set must be {FORMAT}.")
    if len(rows) > MAX_PROBE_ROWS:
        raise InputError(f"The probe CSV has {len(rows)} rows; the limit is {MAX_PROBE_ROWS}.")
    items = []
    for line, row in enumerate(rows, start=2):
        captions = [c.strip() for c in (row["captions"] or "").split("|") if c.strip()]
        answer = (row["answer"] or "").strip()
        if len(captions) < 2:
            raise InputError(f"Probe CSV line {line}: give at least two captions separated by '|'.")
        index = int(answer) if answer.isdigit() else captions.index(answer) if answer in captions else -1
        if not 0 <= index < len(captions):
            raise InputError(f"Probe CSV line {line}: the answer {answer!r} is neither one of the captions "
                             "nor an index into them.")
        name = row["image"] or ""
        source = resolve_inside(folder, name, f"Probe CSV line {line}: the image")
        if not source.is_file():
            raise InputError(f"Probe CSV line {line}: the image {name!r} is not in the upload.")
        image = open_image(source, Path(name).name).image
        image.thumbnail((ITEM_SIDE, ITEM_SIDE), Image.BICUBIC)
        items.append(ProbeItem(image, captions, index, Path(name).name))
    return items
