"""What every tab's handlers share: uploads, the session's model, errors as messages, exports."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

import gradio as gr
from gradio.context import LocalContext

from ..engine import get_engine
from ..errors import InputError, ModelError
from ..images import LoadedImage, open_images
from ..limits import EXPORT_MAX_AGE_S, MAX_IMAGES

log = logging.getLogger("clipdemo.requests")


def engine_for(session_model):
    """The model trained in this browser session if the user switched to it, else the shared engine."""
    return session_model if session_model is not None else get_engine()


def user_errors(fn):
    """Turn the errors a user can cause into a visible gr.Error instead of a crash.

    The server log gets one line for a user's mistake (endpoint and message), a traceback only for a
    real fault (a ModelError, or any other exception, which gradio logs itself).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            log.info("/%s refused: %s", fn.__name__, exc)
            _remember_error(fn.__name__, f"**Cannot do that.** {exc}")
            raise gr.Error(str(exc), title="Cannot do that", print_exception=False) from None
        except ModelError as exc:
            log.error("/%s: the model failed", fn.__name__, exc_info=True)
            _remember_error(fn.__name__, f"**The model failed.** {exc}")
            raise gr.Error(str(exc), title="The model failed", print_exception=False) from None

    return wrapper


# The last error of each (browser session, function), kept until its tab shows it: a toast fades, this stays.
# Keyed by function too, so two runs failing at once in one session (two tabs) each get their own message.
_errors: OrderedDict[tuple[str, str], str] = OrderedDict()
_errors_lock = threading.Lock()
_MAX_ERRORS = 1_000  # sessions that never come back for their message do not grow this without bound


def _remember_error(name: str, message: str) -> None:
    request = LocalContext.request.get(None)
    session = getattr(request, "session_hash", None)
    if not session:  # not from a page (a direct call): nothing will show it
        return
    with _errors_lock:
        _errors[(session, name)] = message
        while len(_errors) > _MAX_ERRORS:
            _errors.popitem(last=False)


def error_box() -> gr.Markdown:
    """Where a tab keeps the message of its last failed run, until the next run."""
    return gr.Markdown(visible=False, elem_classes="run-error")


# The one queue of every request that runs the model. With a queue per event (gradio's default: 4 slots
# each), clients that go from endpoint to endpoint pile up at the one whose calls hold their slots a little
# longer, as at the slowest station of a production line; all wait for the same CPU anyway. One queue is
# first come, first served (docs/server.md). Long jobs (indexing a gallery, Recall@K) pass
# concurrency_id=None: their own queue, so they never hold the model queue's slots for minutes.
MODEL_QUEUE = "model"


def run_keeping_errors(trigger, fn, inputs, outputs, box: gr.Markdown, *, api_name: str, clears=(), **listener):
    """`trigger(fn, inputs, outputs, api_name=...)`, with the message of a failed run kept in `box`.

    `trigger` is a listener such as `button.click` or `event.then`; the caller has wrapped `fn` in
    `user_errors`, which records the message. The box (and the `clears` components: results that the run
    makes stale) is emptied first, in the same chain, so a stale message never races a fresh one; a toast
    fades, the box stays until the next run. A change made while a run is going runs again once it ends
    (gradio's default for a `.then` would drop it). `fn` waits in MODEL_QUEUE unless `listener` names
    another `concurrency_id`. Returns the event of `fn`.
    """
    def show(request: gr.Request):
        with _errors_lock:
            message = _errors.pop((request.session_hash, fn.__name__), None)
        return gr.update(value=message or "**Something went wrong on the server** (its log says what). "
                                          "Nothing you entered was lost: try again.", visible=True)

    def start():
        hidden = gr.update(value="", visible=False)
        return (hidden, *[None for _ in clears]) if clears else hidden  # one output: the value itself

    listener.setdefault("trigger_mode", "always_last")
    listener.setdefault("concurrency_id", MODEL_QUEUE)
    event = trigger(start, None, [box, *clears], api_name=f"{api_name}_start", api_visibility="private",
                    queue=False, show_progress="hidden").then(fn, inputs, outputs, api_name=api_name, **listener)
    event.failure(show, None, box, api_name=f"{api_name}_failed", api_visibility="private", queue=False,
                  show_progress="hidden")
    return event


def model_caveat(engine) -> str:
    """A warning to print beside the numbers when the model's card says it knows no photos."""
    if engine.info.knows_photos:
        return ""
    return (f"> ⚠️ **`{engine.info.name}` was trained only on synthetic scenes** (shapes, colours, counts, "
            "digits). "
            "On a photo its answer is confident noise, not recognition: load a real CLIP "
            "(`--model openai/clip-vit-base-patch32`) for photos.")


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


def notes_markdown(notes: list[str], caveat: str = "") -> str:
    """The notes of a run as a list, after the model's caveat (if any)."""
    listed = "\n".join(f"- {n}" for n in notes)
    return "\n\n".join(part for part in (caveat, listed) if part)


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
