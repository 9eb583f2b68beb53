"""The reader: a source (a folder of images, a Parquet/CSV table with an image-path column, local or any
fsspec URL, or a list of local files) -> a listing of (path, stamp), and a path -> its bytes.

A stamp is what the file system says about a file without reading it (size and modification time, or an
ETag); a resumed run re-reads only files whose stamp changed. Reading bytes and hashing them happens in the
mapper, so on a cluster the workers read, not the driver.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..safe_paths import resolve_inside

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
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


def list_source(source: str | list[str], column: str | None = None) -> pd.DataFrame:
    """Every image of `source`, sorted by path: a DataFrame with columns path (str) and stamp (str).

    Args:
        source: a folder (searched recursively for image suffixes), or a .parquet/.csv file whose `column`
            (default: the first of image, path, image_path, filepath, file) holds image paths; relative
            paths are relative to the table's folder. Local paths or fsspec URLs (s3://, gs://, ...).
            Or a list of local file paths, taken as they are (what the Search tab's gallery passes).
    Raises:
        InputError: the source does not exist, is empty, or the table has no path column.
    """
    if isinstance(source, (list, tuple)):
        rows = _stamped([str(p) for p in source])
        if not rows:
            raise InputError("No images to index.")
        return pd.DataFrame(rows, columns=["path", "stamp"]).drop_duplicates("path").sort_values("path",
                                                                                                ignore_index=True)
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
    return _stamped(paths)


def _stamped(paths: list[str]) -> list[tuple[str, str]]:
    """(path, stamp) for each distinct path; "missing" for one that is not there (the mapper reports it).

    Local files are stat'ed directly (the stamp fsspec's local info gives: size and mtime, through links):
    asking fsspec for a filesystem per path cost a warm re-index of 10,000 files most of its time."""
    rows = []
    for p in dict.fromkeys(paths):
        try:
            if _is_url(p):
                pfs, proot = _fs(p)
                rows.append((p, _stamp(pfs.info(proot))))
            else:
                st = os.stat(p)
                rows.append((p, _stamp({"size": st.st_size, "mtime": st.st_mtime, "created": st.st_ctime})))
        except FileNotFoundError:
            rows.append((p, "missing"))  # a later run retries it
    return rows


def list_images(folder: str | os.PathLike) -> list[str]:
    """The image files under `folder`, sorted; a link that leads out of the folder is left out.

    This is the server's rule for `--gallery DIR` and uploaded zips (clipdemo.safe_paths); the command line's
    `index` reads a folder with `list_source`, which follows links, since the files are the user's own.
    Links to folders are not entered (as pathlib's rglob does not), so only a link to a file can lead out:
    those alone go through `resolve_inside`, and every other file costs one stat.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"Gallery folder {str(folder)!r} does not exist.")
    found = []
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            if os.path.splitext(name)[1].lower() not in IMAGE_SUFFIXES:
                continue
            path = str(Path(dirpath, name))  # as rglob wrote it ("a.png", not "./a.png", under ".")
            if os.path.islink(path):
                try:
                    inside = resolve_inside(folder, os.path.relpath(path, folder))
                except InputError:
                    continue
                if not inside.is_file():
                    continue
            elif not os.path.isfile(path):
                continue
            found.append(path)
    return sorted(found)


def read_bytes(path: str) -> bytes:
    """A file's bytes, from local disk or any fsspec URL."""
    if not _is_url(path):
        return Path(path).read_bytes()
    fs, root = _fs(path)
    with fs.open(root, "rb") as f:
        return f.read()
