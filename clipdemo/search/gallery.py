"""The Search tab's galleries, built by the same runner into the same kind of store as the command line's.

    uploaded images, or one .zip   -> a store in a temporary folder, removed with the gallery (`release`)
    the app's --gallery DIR        -> a store under the cache folder (~/.cache/clipdemo/stores, or
                                      $CLIPDEMO_CACHE/stores), one per model and folder: indexing the folder
                                      again, or after a restart, embeds only new or changed files

Both list their files by the server's path rule (clipdemo.safe_paths: a link that leads out of the folder
or the zip is left out), then call `runner.index_source` and open the result with `store.open_store`;
searching is `query.search_store`, as for `--store STORE` and `python -m clipdemo search`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.fingerprint import model_fingerprint
from ..errors import InputError
from ..limits import MAX_GALLERY_FILES
from ..safe_paths import extract_zip
from . import faiss_index
from .reader import IMAGE_SUFFIXES, list_images
from .runner import IndexReport, index_source
from .store import Store, open_store
from .writer import store_lock


@dataclass
class Gallery:
    """An indexed gallery, kept for one session."""

    store: Store  # searched with query.search_store
    report: IndexReport  # count, embedded now, reused from the cache, the index and its measured recall@10
    kind: str  # the index asked for: exact or hnsw
    skipped: list[str] = field(default_factory=list)  # files that could not be read, each "name: reason"
    temporary: list[str] = field(default_factory=list)  # folders removed with the gallery


def cache_dir() -> Path:
    """Where --gallery DIR's stores live: $CLIPDEMO_CACHE/stores, else ~/.cache/clipdemo/stores."""
    return Path(os.environ.get("CLIPDEMO_CACHE", Path.home() / ".cache" / "clipdemo")) / "stores"


def folder_store(engine, folder: str | os.PathLike) -> Path:
    """The cached store of `folder` for `engine`'s model and backend (a store holds one of each)."""
    where = hashlib.blake2b(str(Path(folder).expanduser().resolve()).encode(), digest_size=8).hexdigest()
    return cache_dir() / f"{model_fingerprint(engine.model)}-{engine.info.backend}" / where


def upload_files(paths: list[str]) -> tuple[list[str], str | None]:
    """The image files of an upload (image files, or one .zip of them) and the folder a zip was extracted to.

    Raises:
        InputError: a zip together with other files, a zip without images, or more than MAX_GALLERY_FILES.
    """
    zips = [p for p in paths if p.lower().endswith(".zip")]
    folder = None
    if zips:
        if len(paths) > 1:
            raise InputError("Upload either one .zip of images or image files, not both.")
        folder = str(extract_zip(zips[0]))
        paths = list_images(folder)
        if not paths:
            shutil.rmtree(folder, ignore_errors=True)
            raise InputError(f"{Path(zips[0]).name}: no images inside ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    if len(paths) > MAX_GALLERY_FILES:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise InputError(f"{len(paths)} images; an uploaded gallery holds at most {MAX_GALLERY_FILES}. "
                         "For more, start the app with --gallery DIR.")
    return paths, folder


def build_gallery(engine, uploads: list[str] | None = None, folder: str | None = None, kind: str = "exact",
                  progress: Callable[[int, int], None] | None = None) -> Gallery:
    """Index uploaded files (or one zip of them) into a temporary store, or `folder` into its cached store.

    Args:
        engine: the model that embeds the images (its image cache is left alone).
        uploads: local paths of the uploaded files; when empty, `folder` is indexed.
        folder: the app's --gallery DIR.
        kind: "exact" or "hnsw" (faiss_index.thresholds).
        progress: called with (done, total) files to embed after each batch.
    Raises:
        InputError: nothing to index, a bad upload (see `upload_files`), or no file could be read.
    """
    exact_below, hnsw_below = faiss_index.thresholds(kind)
    temporary = []
    try:
        if uploads:
            paths, extracted = upload_files(list(uploads))
            temporary += [extracted] if extracted else []
            out = Path(tempfile.mkdtemp(prefix="clipdemo-gallery-"))
            temporary.append(str(out))
        elif folder:
            paths, out = list_images(folder), folder_store(engine, folder)
            if not paths:
                raise InputError(f"No images in the gallery folder ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        else:
            raise InputError("No gallery: upload images or a .zip of them.")
        with store_lock(out):  # another session indexing the same folder commits before or after this opens
            report = index_source(paths, str(out), clip_engine=engine, exact_below=exact_below,
                                  hnsw_below=hnsw_below, progress=progress or False)
            store = open_store(out, load_index=True)
    except BaseException:
        for t in temporary:
            shutil.rmtree(t, ignore_errors=True)
        raise
    store.label = "The gallery"
    return Gallery(store, report, kind, [_short(m) for m in report.failed], temporary)


def release(gallery: Gallery | None) -> None:
    """Remove the folders a gallery made (an extracted zip, an upload's store): when the session ends or
    indexes another."""
    if gallery is not None:
        for t in gallery.temporary:
            shutil.rmtree(t, ignore_errors=True)


def _short(message: str) -> str:
    """A failure message with the file's name instead of its server path (upload paths are temporary)."""
    path, sep, reason = message.partition(": ")
    return f"{Path(path).name}{sep}{reason}" if sep else message
