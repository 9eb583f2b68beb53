"""The reader: a source (a folder of images, or a Parquet/CSV table with an image-path column, local or
any fsspec URL) -> a listing of (path, stamp), and a path -> its bytes.

A stamp is what the file system says about a file without reading it (size and modification time, or an
ETag); a resumed run re-reads only files whose stamp changed. Reading bytes and hashing them happens in the
mapper, so on a cluster the workers read, not the driver.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..retrieval.index import IMAGE_SUFFIXES

PATH_COLUMNS = ("image", "path", "image_path", "filepath", "file")


def _is_url(path: str) -> bool:
    return "://" in path


def _fs(path: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(path)
    return fs, root


def _stamp(info: dict) -> str:
    """size:mtime (or ETag) from an fsspec info dict: changes when the file does."""
    if info.get("ETag") or info.get("etag"):
        return f"{info.get('size')}:{info.get('ETag') or info.get('etag')}"
    mtime = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or info.get("created")
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return f"{info.get('size')}:{mtime}"


def list_source(source: str, column: str | None = None) -> pd.DataFrame:
    """Every image of `source`, sorted by path: a DataFrame with columns path (str) and stamp (str).

    Args:
        source: a folder (searched recursively for image suffixes), or a .parquet/.csv file whose `column`
            (default: the first of image, path, image_path, filepath, file) holds image paths; relative
            paths are relative to the table's folder. Local paths or fsspec URLs (s3://, gs://, ...).
    Raises:
        InputError: the source does not exist, is empty, or the table has no path column.
    """
    source = str(source)
    if not _is_url(source):
        source = str(Path(source).expanduser().resolve())
    fs, root = _fs(source)
    if not fs.exists(root):
        raise InputError(f"Source {source!r} does not exist.")
    if fs.isdir(root):
        found = fs.find(root, detail=True)
        rows = [(p, _stamp(info)) for p, info in found.items()
                if info.get("type", "file") == "file" and Path(p).suffix.lower() in IMAGE_SUFFIXES]
        protocol = source.split("://")[0] + "://" if _is_url(source) else ""
        rows = [(protocol + p if protocol and not p.startswith(protocol) else p, s) for p, s in rows]
    else:
        rows = _list_table(source, fs, root, column)
    if not rows:
        raise InputError(f"No images in {source!r} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}).")
    return pd.DataFrame(rows, columns=["path", "stamp"]).drop_duplicates("path").sort_values("path", ignore_index=True)


def _list_table(source: str, fs, root: str, column: str | None) -> list[tuple[str, str]]:
    suffix = Path(root).suffix.lower()
    with fs.open(root, "rb") as f:
        if suffix == ".parquet":
            table = pd.read_parquet(f)
        elif suffix == ".csv":
            table = pd.read_csv(f)
        else:
            raise InputError(f"{source!r}: give a folder of images, or a .parquet or .csv file of image paths.")
    name = column or next((c for c in PATH_COLUMNS if c in table.columns), None)
    if name is None or name not in table.columns:
        raise InputError(f"{source!r} has no image-path column (looked for {column or ', '.join(PATH_COLUMNS)}; "
                         f"it has {', '.join(map(str, table.columns))}). Name it with --column.")
    base = source.rsplit("/", 1)[0]
    paths = []
    for p in table[name].dropna().astype(str):
        if not _is_url(p) and not os.path.isabs(p):
            p = f"{base}/{p}" if _is_url(base) else str(Path(base, p).resolve())
        paths.append(p)
    rows = []
    for p in dict.fromkeys(paths):
        pfs, proot = _fs(p)
        try:
            rows.append((p, _stamp(pfs.info(proot))))
        except FileNotFoundError:
            rows.append((p, "missing"))  # the mapper reports it; a later run retries it
    return rows


def read_bytes(path: str) -> bytes:
    """A file's bytes, from local disk or any fsspec URL."""
    if not _is_url(path):
        return Path(path).read_bytes()
    fs, root = _fs(path)
    with fs.open(root, "rb") as f:
        return f.read()
