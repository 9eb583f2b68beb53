"""Your own probe set: a CSV (image, candidate captions separated by '|', answer), alone or in a zip with images.

The answer is the true caption's text or its 0-based index. Image paths are relative to the CSV
(inside the zip, or beside the uploaded CSV among the uploaded images).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from ..analysis.probes import ProbeItem
from ..errors import InputError
from ..images import open_image
from ..limits import MAX_FILE_BYTES

MAX_ITEMS = 2_000
COLUMNS = ("image", "captions", "answer")


def load_probe_set(path: str, images: dict[str, str] | None = None) -> list[ProbeItem]:
    """Read a probe set from a .csv or .zip file; `images` maps uploaded file names to their paths."""
    path = Path(path)
    if path.suffix.lower() == ".zip":
        return _from_zip(path)
    return _parse(path.read_text(encoding="utf-8-sig"), lambda name: _lookup(name, images or {}, path.parent))


def _lookup(name: str, images: dict[str, str], folder: Path):
    base = Path(name).name
    if base in images:
        return images[base]
    candidate = (folder / name).resolve()
    if folder.resolve() in candidate.parents and candidate.is_file():
        return candidate
    raise InputError(f"The probe CSV names image {name!r}, which was not uploaded.")


def _from_zip(path: Path) -> list[ProbeItem]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError(f"{path.name}: not a valid zip file.") from None
    with archive:
        members = {Path(m.filename).name: m for m in archive.infolist() if not m.is_dir()}
        csvs = [m for n, m in members.items() if n.lower().endswith(".csv")]
        if len(csvs) != 1:
            raise InputError(f"{path.name}: the zip must hold exactly one .csv file (it has {len(csvs)}).")

        def read(name: str):
            member = members.get(Path(name).name)
            if member is None:
                raise InputError(f"The probe CSV names image {name!r}, which is not in {path.name}.")
            if member.file_size > MAX_FILE_BYTES:
                raise InputError(f"{name}: over the size limit for one image.")
            return archive.read(member)

        return _parse(archive.read(csvs[0]).decode("utf-8-sig"), read)


def _parse(text: str, resolve) -> list[ProbeItem]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or any(c not in rows[0] for c in COLUMNS):
        raise InputError(f"The probe CSV needs the columns {', '.join(COLUMNS)} "
                         "(captions separated by '|'; answer = the true caption or its 0-based index).")
    if len(rows) > MAX_ITEMS:
        raise InputError(f"The probe CSV has {len(rows)} rows; the limit is {MAX_ITEMS}.")
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
        source = resolve(row["image"])
        image = open_image(source, Path(row["image"]).name).image
        items.append(ProbeItem(image, captions, index, Path(row["image"]).name))
    return items
