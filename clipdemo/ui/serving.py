"""The server process's settings, apart from the page so that a bare gradio app (bench/server_overhead.py's
floor) gets the same without importing the model code: the gradio queue, and glibc's malloc."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time

import gradio as gr

from ..limits import CONCURRENCY, QUEUE_POLL_S, QUEUE_SIZE

log = logging.getLogger(__name__)

# how the server process runs, not limits a user meets (so not in /model_info's limits)
ANALYTICS_EVENTS = 1_000  # events gradio's monitoring summary covers (its default: 10,000) ...
ANALYTICS_EVERY = 100  # ... and how often it is recomputed (its default: after every event)
MALLOC_ARENAS = 2  # glibc malloc arenas in the server process (its default: 8 per core, one per new thread)
MALLOC_TRIM_S = 30  # how often the server hands freed memory back to the system (malloc_trim)


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
    _summarise_seldom(demo._queue)
    return demo


def _summarise_seldom(q) -> None:
    """Gradio's monitoring summary at a cost that does not grow with the server's age. After every event,
    whether or not monitoring is on (the app leaves it off), gradio built a pandas DataFrame of its last
    10,000 events to take percentiles: under 50 clients that grew from 12% of the server's CPU at 1,500
    events to 18% at 7,000, and its CPU a call from 79 to 95 ms over 10 minutes (py-spy; docs/server.md).
    The app keeps ANALYTICS_EVENTS events and summarises every ANALYTICS_EVERY, so with monitoring on
    (`enable_monitoring`) its summary lags by up to that many events. Gradio's own environment variables,
    when set, win. The attributes are gradio's (queueing.Queue, gradio 6, its spelling);
    tests/test_flat_cost.py fails if they are no longer read.
    """
    if not all(hasattr(q, a) for a in ("ANALYTICS_MAX_EVENTS", "ANAYLTICS_CACHE_FREQUENCY")):
        log.warning("gradio's queue has no ANALYTICS_MAX_EVENTS or ANAYLTICS_CACHE_FREQUENCY: it summarises "
                    "its events at its own rate")
        return
    if "GRADIO_ANALYTICS_MAX_EVENTS" not in os.environ:
        q.ANALYTICS_MAX_EVENTS = min(q.ANALYTICS_MAX_EVENTS, ANALYTICS_EVENTS)
    if "GRADIO_ANALYTICS_CACHE_FREQUENCY" not in os.environ:
        q.ANAYLTICS_CACHE_FREQUENCY = max(q.ANAYLTICS_CACHE_FREQUENCY, ANALYTICS_EVERY)


_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


_malloc_tamed = False


def tame_malloc(arenas: int = MALLOC_ARENAS, trim_every_s: float = MALLOC_TRIM_S) -> bool:
    """Bound what glibc's malloc keeps: at most `arenas` arenas, and free pages handed back to the system
    every `trim_every_s` seconds (malloc_trim). Call it first thing in the server process, before its threads;
    a second call does nothing.

    Gradio runs handlers on up to 40 worker threads, and glibc gives each new thread an arena of its own, up to
    8 per core; each arena keeps its high-water mark and its holes. Under 50 clients for 20 minutes the app's
    resident memory grew 155 MB with glibc's defaults and 131 MB with this, flat over the last 10 minutes
    (docs/server.md). Malloc settings in the environment (MALLOC_ARENA_MAX, GLIBC_TUNABLES) or
    CLIPDEMO_MALLOC=default leave glibc as it is. Returns whether the arena limit was set: False also where
    the C library is not glibc (macOS, musl).
    """
    global _malloc_tamed
    if _malloc_tamed or os.environ.get("CLIPDEMO_MALLOC") == "default" or \
            {"MALLOC_ARENA_MAX", "GLIBC_TUNABLES"} & set(os.environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return False
    if mallopt(_M_ARENA_MAX, int(arenas)) != 1:
        return False
    _malloc_tamed = True

    def trim_forever():
        while True:
            time.sleep(trim_every_s)
            malloc_trim(0)

    threading.Thread(target=trim_forever, name="clipdemo-malloc-trim", daemon=True).start()
    return True
