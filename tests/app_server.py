"""Launch the real app in-process on a free port, on the bundled model, for API and browser tests."""

from __future__ import annotations

import contextlib
import socket

from clipdemo import engine as engine_module
from clipdemo.registry import BUNDLED_MODEL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(mcp: bool = False):
    """Yield (url, demo); the demo is closed afterwards, whatever happens."""
    from clipdemo.ui.app import build_demo, launch

    engine_module.configure(BUNDLED_MODEL)
    demo = build_demo()
    port = free_port()
    try:
        launch(demo, port=port, mcp=mcp, prevent_thread_lock=True, quiet=True)
        yield f"http://127.0.0.1:{port}/", demo
    finally:
        demo.close()
        engine_module.configure()
