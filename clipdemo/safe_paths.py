"""The one rule for paths that come from users: a CSV cell, a zip member, a gallery file.

A path a user gives is resolved inside one folder (the folder an upload was extracted to, the CSV's own
folder on the command line, or `--gallery DIR`) and refused otherwise. Absolute paths, `..` and links that
lead out of the folder all get the same message, whether or not the target exists, so the server's file
system cannot be probed through it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from .errors import InputError
from .limits import MAX_ZIP_BYTES, MAX_ZIP_MEMBERS

_DRIVE = re.compile(r"^[A-Za-z]:")


def _refused(name: str, what: str) -> InputError:
    return InputError(f"{what} {name[:200]!r} is not a file inside the upload: absolute paths, '..' and links "
                      "that leave the folder are refused. Use paths relative to the CSV, inside the zip.")


def resolve_inside(root: str | os.PathLike, name: str, what: str = "The path") -> Path:
    """The path `name` inside the folder `root`, or an InputError; never a path outside `root`.

    `name` is relative (`/` or `\\` separators); the result may not exist yet (the caller reports a missing
    file, which is only ever a file inside `root`).

    Raises:
        InputError: `name` is empty, absolute, has a drive letter, a NUL, a `..` part, or resolves
            (through links) outside `root`. One message for all of these.
    """
    text = str(name or "").strip()
    parts = PurePosixPath(text.replace("\\", "/")).parts
    if (not text or "\x00" in text or text.startswith(("/", "\\")) or _DRIVE.match(text)
            or ".." in parts):
        raise _refused(text, what)
    base = Path(root).resolve()
    target = (base / Path(*parts)).resolve()  # follows links: one that leaves `base` is caught below
    if target != base and base not in target.parents:
        raise _refused(text, what)
    return target


def extract_zip(path: str | os.PathLike, dest: str | os.PathLike | None = None, *,
                max_members: int = MAX_ZIP_MEMBERS, max_bytes: int = MAX_ZIP_BYTES) -> Path:
    """Extract an uploaded zip into a fresh folder (inside `dest` if given) and return that folder.

    Every member name passes `resolve_inside`; link members are refused; the count of members and the
    bytes actually written (not the sizes the archive declares) are capped, so a zip bomb stops at the cap.
    The caller removes the folder when done (`shutil.rmtree`).

    Raises:
        InputError: not a zip, too many members, too many bytes, or an unsafe member name.
    """
    name = Path(path).name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise InputError(f"{name}: not a valid zip file.") from None
    folder = Path(tempfile.mkdtemp(prefix="clipdemo-zip-", dir=dest))
    try:
        with archive:
            members = archive.infolist()
            if len(members) > max_members:
                raise InputError(f"{name}: {len(members)} files; the limit is {max_members} per zip.")
            written = 0
            for member in members:
                if member.is_dir():
                    continue
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise _refused(member.filename, "The zip member")
                target = resolve_inside(folder, member.filename, "The zip member")
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as out:
                    while block := src.read(1 << 20):
                        written += len(block)
                        if written > max_bytes:
                            raise InputError(f"{name}: more than {max_bytes / 2**20:.0f} MB uncompressed; "
                                             "that is the limit for one zip.")
                        out.write(block)
    except InputError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise InputError(f"{name}: the zip is damaged or uses an unsupported feature ({exc}).") from None
    return folder
