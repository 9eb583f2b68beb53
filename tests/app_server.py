"""Launch the real app in-process on a free port, on the bundled model, for API and browser tests."""

from __future__ import annotations

import contextlib
import socket

from clipdemo import engine as engine_module
from clipdemo.limits import MAX_MODELS
from clipdemo.registry import BUNDLED_MODEL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(mcp: bool = False, state=None, models=(BUNDLED_MODEL,), max_models: int = MAX_MODELS):
    """Yield (url, demo); the demo is closed afterwards, whatever happens.

    `state` is the server's `ServerState` (a fresh one if None): pass one to look into it or set it up.
    `models` and `max_models` are what `--model A --model B` and `--max-models` would give."""
    from clipdemo.ui.app import build_demo, launch

    engine_module.configure(list(models), max_models=max_models)
    demo = build_demo(state)
    port = free_port()
    try:
        launch(demo, port=port, mcp=mcp, prevent_thread_lock=True, quiet=True,
               gallery_folder=state.gallery_folder if state is not None else None)
        yield f"http://127.0.0.1:{port}/", demo
    finally:
        demo.close()
        engine_module.configure()


@contextlib.contextmanager
def app_client(**app):
    """Yield a gradio_client Client of `running_app(**app)` (its `demo` attached), closed afterwards."""
    from gradio_client import Client

    with running_app(**app) as (url, demo):
        client = Client(url, verbose=False)
        client.demo = demo
        try:
            yield client
        finally:
            client.close()
