"""What one server holds across its browser sessions: built once by `app.main` (or `build_demo`), handed to the tabs.

No module of ui/ keeps mutable state of its own: two demos built in one process (tests do) share nothing.
"""

from __future__ import annotations

import functools
import inspect
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from gradio.context import LocalContext

MAX_ERRORS = 1_000  # sessions that never come back for their message do not grow the registry without bound


class RunErrors:
    """The message of the last failed run of each (browser session, handler), kept until its tab shows it.

    A toast fades; this stays. Keyed by handler too, so two runs failing at once in one session (two tabs)
    each keep their own message. Thread-safe: handlers run on gradio's worker threads.
    """

    def __init__(self, limit: int = MAX_ERRORS):
        self._messages: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    def keep(self, session: str, handler: str, message: str) -> None:
        """Remember `message` (Markdown) for this session's `handler`; the oldest go beyond the limit."""
        with self._lock:
            self._messages[(session, handler)] = message
            self._messages.move_to_end((session, handler))
            while len(self._messages) > self._limit:
                self._messages.popitem(last=False)

    def take(self, session: str, handler: str) -> str | None:
        """The kept message of this session's `handler`, removed; None if there is none."""
        with self._lock:
            return self._messages.pop((session, handler), None)

    def recording(self, fn):
        """`fn`, keeping the message of each gr.Error it raises for the page that called it.

        `fn` is a handler wrapped in `ui.common.user_errors`, which turns a user's mistake into a gr.Error
        with a title ("Cannot do that", "The model failed"); the message kept is "**title.** message".
        A call from no page (the API without a session) keeps nothing: nothing would ever show it.
        The wrapper keeps `fn`'s name, docstring and signature, which gradio reads for the API and MCP.
        """
        if inspect.isgeneratorfunction(fn):  # its errors come while gradio iterates, past this wrapper
            raise TypeError(f"{fn.__name__} streams: its errors cannot be recorded here")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except gr.Error as exc:
                request = LocalContext.request.get(None)
                session = getattr(request, "session_hash", None)
                if session:
                    self.keep(session, fn.__name__, f"**{exc.title}.** {exc.message}")
                raise

        return wrapper


@dataclass
class TrainingRun:
    stop: threading.Event  # set to stop the run after its current step
    session: str | None  # the browser session that started it; None for an API client


class TrainingRuns:
    """The Train tab's runs going on now, by run id; a run is removed when it ends. Thread-safe."""

    def __init__(self):
        self._runs: dict[str, TrainingRun] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def start(self, session: str | None) -> tuple[str, TrainingRun]:
        """A new run of `session`: its id (hard to guess: it is what lets a caller stop it) and its record."""
        run_id, run = secrets.token_urlsafe(12), TrainingRun(threading.Event(), session)
        with self._lock:
            self._runs[run_id] = run
        return run_id, run

    def end(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def stop(self, run_id: str) -> bool:
        """Ask the run to stop after its current step; False if no run with that id is going."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            return False
        run.stop.set()
        return True

    def stop_session(self, session: str | None) -> None:
        """Stop every run the browser session started (its tab closed: nobody is watching them)."""
        if session is None:
            return
        with self._lock:
            for run in self._runs.values():
                if run.session == session:
                    run.stop.set()


@dataclass
class ServerState:
    """Everything a server keeps across its sessions.

    Attributes:
        gallery_folder: the app's --gallery DIR: what the Search tab indexes when nothing is uploaded.
        store: the app's --store (built by `python -m clipdemo index`), opened once and memory-mapped; or None.
        errors: the message of each session's last failed run, until its tab shows it.
        runs: the training runs going on now.
    """

    gallery_folder: str | None = None
    store: Any = None
    errors: RunErrors = field(default_factory=RunErrors)
    runs: TrainingRuns = field(default_factory=TrainingRuns)


def bind(fn, **values):
    """`fn` with some of its keyword-only arguments filled in (a piece of the server's state), for a listener.

    The result keeps what gradio reads from a handler: its name and docstring (the API page, MCP tools),
    its signature without the bound arguments (which inputs and special arguments it takes), and whether it
    is a generator (gradio streams those).
    """
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def bound(*args, **kwargs):
            return (yield from fn(*args, **kwargs, **values))
    else:
        @functools.wraps(fn)
        def bound(*args, **kwargs):
            return fn(*args, **kwargs, **values)
    signature = inspect.signature(fn)
    bound.__signature__ = signature.replace(parameters=[p for name, p in signature.parameters.items()
                                                        if name not in values])
    return bound
