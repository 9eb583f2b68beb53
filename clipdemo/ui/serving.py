"""The app's gradio queue, apart from the page so that a bare gradio app (bench/server_overhead.py's floor)
gets the same settings without importing the model code."""

from __future__ import annotations

import logging

import gradio as gr

from ..limits import CONCURRENCY, QUEUE_POLL_S, QUEUE_SIZE

log = logging.getLogger(__name__)


def queue(demo: gr.Blocks) -> gr.Blocks:
    """Queue `demo` as the app does: bounded (the API cannot skip it), and looking for work every QUEUE_POLL_S
    (or gradio's own interval where that is longer).

    Gradio's queue loop looks for work every 1 ms on Linux while nothing is waiting or every worker is busy
    (50 ms on Windows): a thousand wakeups a second. On this project's machine an idle gradio app used
    64 ms of CPU a second, and 32 ms with this loop at 10 ms (its progress loop still wakes every 10 ms); a
    request waits at most 10 ms more to start. The attribute is gradio's own (queueing.Queue, gradio 6);
    tests/test_flat_cost.py fails if it is renamed or no longer read by the loop.
    """
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY, api_open=False)
    if hasattr(demo._queue, "sleep_when_free"):
        demo._queue.sleep_when_free = max(demo._queue.sleep_when_free, QUEUE_POLL_S)  # Windows: 50 ms already
    else:
        log.warning("gradio's queue has no sleep_when_free: it polls at its own rate")
    return demo
