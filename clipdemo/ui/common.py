"""What every tab's handlers share: uploads, the session's model, errors as messages, exports."""

from __future__ import annotations

import csv
import functools
import io
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import gradio as gr
import pandas as pd

from ..engine import get_pool
from ..errors import InputError, ModelError
from ..images import LoadedImage, open_images
from ..limits import EXPORT_MAX_AGE_S, MAX_IMAGES
from ..text import percent
from .state import RunErrors

log = logging.getLogger("clipdemo.requests")


TRAINED_HERE = "trained here"  # the picker's name for the model trained in this browser session


def engine_for(model: str | None = "", session_model=None, progress=None):
    """The engine that answers for the picked `model`: one the server offers, or TRAINED_HERE.

    Args:
        model: the picker's value or the API's `model` argument; "" (or None) is the server's default.
            Only a name of `get_pool().offered()` is accepted: a client's string is never resolved as a
            hub id or a path.
        session_model: the model trained in this browser session (ui.train), used for TRAINED_HERE.
        progress: a gr.Progress: says "loading ..." while a model loads on its first use.
    Raises:
        InputError: an unoffered name (the message lists the offered ones), or TRAINED_HERE with nothing
            trained in this session.
    """
    if (model or "").strip() == TRAINED_HERE:
        if session_model is None:
            raise InputError(f"Nothing was trained in this browser session: train a model in the Train tab "
                             f"first, or pick one of: {', '.join(get_pool().offered())}.")
        return session_model
    pool = get_pool()
    name = pool.check(model)
    if progress is not None and name not in pool.loaded():
        progress(None, desc=f"loading {name} (its first use)")
    return pool.get(name)


def picker_choices(session_model=None) -> list[str]:
    """What the model picker offers: the server's models, then TRAINED_HERE once this session trained one."""
    return get_pool().offered() + ([TRAINED_HERE] if session_model is not None else [])


def answered_by(engine) -> str:
    """The line that stamps a result with the model that produced it (and its kind of score)."""
    return f"Answered by **`{engine.info.name}`** ({engine.info.score} scores)."


def user_errors(fn):
    """Turn the errors a user can cause into a visible gr.Error instead of a crash.

    The server log gets one line for a user's mistake (endpoint and message), a traceback only for a
    real fault (a ModelError, or any other exception, which gradio logs itself). The error's title says
    which it was; `RunErrors.recording` (wired by `run_keeping_errors`) keeps the message for the page.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            log.info("/%s refused: %s", fn.__name__, exc)
            raise gr.Error(str(exc), title="Cannot do that", print_exception=False) from None
        except ModelError as exc:
            log.error("/%s: the model failed", fn.__name__, exc_info=True)
            raise gr.Error(str(exc), title="The model failed", print_exception=False) from None

    return wrapper


def in_percent(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """A copy of `table` with `columns` (accuracies and chances in [0, 1]) as people read them: "56.0%", "0.0%"
    for an accuracy of 0 (text.percent would say "<0.1%"), "" where missing."""
    def shown_as(v) -> str:
        return "" if v is None or pd.isna(v) else "0.0%" if v == 0 else percent(v)

    shown = table.copy()
    for column in columns:
        shown[column] = shown[column].map(shown_as)
    return shown


def error_box() -> gr.Markdown:
    """Where a tab keeps the message of its last failed run, until the next run."""
    return gr.Markdown(visible=False, elem_classes="run-error")


# The one queue of every quick request that runs the model (CONCURRENCY slots in all). With a queue per event
# (this app's default_concurrency_limit slots each), clients that go from endpoint to endpoint pile up at the
# one whose calls hold their slots a little longer, as at the slowest station of a production line; all wait
# for the same CPU anyway. One queue is first come, first served (docs/server.md). Long jobs (indexing a
# gallery, Recall@K, probe suites, the embedding map, whose UMAP compiles on first use) pass
# concurrency_id=None: a queue of their own each, so they never hold the model queue's slots for minutes.
MODEL_QUEUE = "model"


def run_keeping_errors(errors: RunErrors, trigger, fn, inputs, outputs, box: gr.Markdown, *, api_name: str,
                       clears=(), **listener):
    """`trigger(fn, inputs, outputs, api_name=...)`, with the message of a failed run kept in `box`.

    `errors` is the server's registry (`ServerState.errors`); `trigger` is a listener such as `button.click`
    or `event.then`; the caller has wrapped `fn` in `user_errors`, whose gr.Error the registry records. The
    box (and the `clears` components: results that the run makes stale) is emptied first, in the same
    chain, so a stale message never races a fresh one; a toast fades, the box stays until the next run. A
    change made while a run is going runs again once it ends (gradio's default for a `.then` would drop
    it). Returns the event of `fn`.
    """
    def show(request: gr.Request):
        message = errors.take(request.session_hash, fn.__name__)
        return gr.update(value=message or "**Something went wrong on the server** (its log says what). "
                                          "Nothing you entered was lost: try again.", visible=True)

    def start():
        hidden = gr.update(value="", visible=False)
        return (hidden, *[None for _ in clears]) if clears else hidden  # one output: the value itself

    listener.setdefault("trigger_mode", "always_last")
    listener.setdefault("concurrency_id", MODEL_QUEUE)
    event = trigger(start, None, [box, *clears], api_name=f"{api_name}_start", api_visibility="private",
                    queue=False, show_progress="hidden").then(errors.recording(fn), inputs, outputs,
                                                              api_name=api_name, **listener)
    event.failure(show, None, box, api_name=f"{api_name}_failed", api_visibility="private", queue=False,
                  show_progress="hidden")
    return event


def upload_path(f) -> str:
    """The local path of an uploaded file, whether gradio passed a path, a file object or a FileData dict."""
    if isinstance(f, dict):  # a FileData dict from the API
        return f.get("path") or f.get("name")
    return getattr(f, "name", f)


def load_uploads(files, limit: int = MAX_IMAGES) -> tuple[list[LoadedImage], list[str]]:
    """Open the uploaded files safely; bad ones become notes and the rest are still used.

    Raises:
        InputError: no files, too many, or none of them is a usable image.
    """
    if isinstance(files, (str, dict)) or hasattr(files, "name"):
        files = [files]
    files = [f for f in (files or []) if f]
    if not files:
        raise InputError("No images given: upload at least one (or pick an example).")
    if len(files) > limit:
        raise InputError(f"Too many images: {len(files)}; the limit is {limit} per request.")
    paths = [upload_path(f) for f in files]
    loaded, errors = open_images(paths, [_display_name(p) for p in paths])
    if not loaded:
        raise InputError("None of the files could be used: " + " ".join(errors))
    notes = errors + [f"{im.name}: {n}" for im in loaded for n in im.notes]
    for note in notes:
        gr.Warning(note)
    return loaded, notes


def _display_name(path: str) -> str:
    name = Path(path).name
    return name if len(name) <= 60 else name[:57] + "..."


def notes_markdown(notes: list[str], caveat: str = "", engine=None) -> str:
    """The notes of a run as a list, after the model that answered (if given) and its caveat (if any)."""
    listed = "\n".join(f"- {n}" for n in notes)
    return "\n\n".join(part for part in (answered_by(engine) if engine is not None else "", caveat, listed) if part)


def csv_text(header: Sequence[str], rows) -> str:
    """Rows as CSV text, as pandas' to_csv(index=False) writes them (floats as Python writes them), without
    building a DataFrame per request."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def export(filename: str, content: str) -> str:
    """Write `content` to a fresh temp file named `filename` and return its path (a download).

    Costs the same however long the server has run: downloads go into one folder per period of
    EXPORT_MAX_AGE_S, and a period's folder is deleted whole, in the background, once two newer periods have
    begun. So a download is kept one to two periods and nothing on a request's path lists old ones
    (gradio deletes its own copies on the same schedule, with `delete_cache`).
    """
    root = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "clipdemo-exports"
    period = int(time.time() // EXPORT_MAX_AGE_S)
    folder = root / str(period)
    folder.mkdir(parents=True, exist_ok=True)
    if _last_period.get(root) != period:  # once a period, not once a call
        _last_period[root] = period
        threading.Thread(target=_delete_old_periods, args=(root, period), name="clipdemo-exports-sweep",
                         daemon=True).start()
    path = Path(tempfile.mkdtemp(dir=folder)) / filename
    path.write_text(content, encoding="utf-8")
    return str(path)


_last_period: dict[Path, int] = {}  # per exports folder (tests point GRADIO_TEMP_DIR elsewhere): the last seen


def _delete_old_periods(root: Path, period: int) -> None:
    """Delete the download folders of periods before `period - 1` (and anything else old in `root`)."""
    for entry in root.iterdir():
        old = int(entry.name) < period - 1 if entry.name.isdigit() else _older_than(entry, 2 * EXPORT_MAX_AGE_S)
        if old:
            shutil.rmtree(entry, ignore_errors=True)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return path.stat().st_mtime < time.time() - seconds
    except FileNotFoundError:
        return False


def progress_callback(progress, desc: str):
    """Adapt gr.Progress to the engine's (done, total) callback."""
    return lambda done, total: progress((done, total), desc=desc)


def preview_gallery(columns: int, height: int = 240, label: str = "Preview") -> gr.Gallery:
    """What was uploaded, each image whole (letterboxed, never cropped), as the model will see it."""
    return gr.Gallery(label=label, show_label=False, columns=columns, height=height, object_fit="contain",
                      interactive=False, allow_preview=True, elem_classes="upload-preview")


def preview_image(height: int = 280, label: str = "Preview") -> gr.Image:
    """One uploaded image, whole and as large as its box allows (a one-column gallery would crop its square)."""
    return gr.Image(label=label, show_label=False, type="pil", interactive=False, height=height,
                    elem_classes="upload-preview")



def clear_on_upload(box: gr.File, results: list, api_name: str) -> None:
    """A new upload clears the tab's results: they were computed on the images it replaces."""
    box.upload(lambda: [None] * len(results), None, results, api_name=api_name, api_visibility="private",
               queue=False, show_progress="hidden")


def replace_on_upload(box: gr.File, api_name: str) -> None:
    """Make a new upload into the multi-file `box` replace what it held (gradio appends it, duplicates included).

    Gradio's upload event carries the whole list, old files first. A state follows the box's value through
    its change events (the value before and after the latest change); the upload keeps only the files past
    what the box held before it. The change event of the same upload may be handled before or after the
    upload event, hence the two values.
    """
    held = gr.State({"before": [], "now": []})

    def follow(files, seen):
        now = [_identity(f) for f in _as_list(files)]
        return {"before": seen["now"], "now": now} if now != seen["now"] else seen

    def keep_latest(files, seen):
        files = _as_list(files)
        ids = [_identity(f) for f in files]
        before = seen["before"] if ids == seen["now"] else seen["now"]
        if 0 < len(before) < len(ids) and ids[:len(before)] == before:
            files, ids = files[len(before):], ids[len(before):]
        unique = dict(zip(ids, files))  # each file once
        return [upload_path(f) for f in unique.values()]

    box.change(follow, [box, held], held, api_name=f"{api_name}_follow", api_visibility="private", queue=False,
               show_progress="hidden")
    box.upload(keep_latest, [box, held], box, api_name=api_name, api_visibility="private", queue=False,
               show_progress="hidden")


def _as_list(files) -> list:
    return [f for f in (files if isinstance(files, list) else [files]) if f] if files else []


def _identity(f) -> tuple[str, int]:
    """A file as the box's list names it: its base name and size (its cached path may change on a round trip)."""
    path = upload_path(f)
    return Path(path).name, os.path.getsize(path) if os.path.exists(path) else -1
