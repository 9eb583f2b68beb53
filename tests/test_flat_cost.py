"""A request costs the same however long the server has run (issue #26): no per-call scan of old downloads."""

import os
import platform
import threading
import types

import pytest

from clipdemo.limits import EXPORT_MAX_AGE_S
from clipdemo.ui import common, examples, zero_shot

OLD_DOWNLOADS = 20_000
FS_CALLS = ("stat", "lstat", "scandir", "listdir")


class FsCalls:
    """Counts the os.stat/lstat/scandir/listdir calls this thread makes (pathlib calls these too)."""

    def __init__(self, monkeypatch):
        self.count, me = 0, threading.get_ident()
        for name in FS_CALLS:
            original = getattr(os, name)

            def counted(*args, _original=original, **kwargs):
                if threading.get_ident() == me:
                    self.count += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(os, name, counted)


def _sweeps_done():
    for t in threading.enumerate():
        if t.name == "clipdemo-exports-sweep":
            t.join(60)


def _shift_clock(monkeypatch, seconds: float):
    """common's clock `seconds` in the past."""
    import time

    monkeypatch.setattr(common, "time", types.SimpleNamespace(time=lambda: time.time() - seconds))


@pytest.fixture
def temp_dir(tmp_path, monkeypatch, bundled_engine):
    from clipdemo import engine as engine_module

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    engine_module.configure("tiny-scenes")
    engine_module.set_engine(bundled_engine)  # the handler's shared model
    yield tmp_path
    engine_module.configure()


def test_a_call_costs_the_same_with_20000_old_downloads(temp_dir, monkeypatch):
    files = examples.scene_files()[:2]

    def call_counting() -> int:
        with pytest.MonkeyPatch.context() as patch:
            fs = FsCalls(patch)
            notes, figure, table, csv = zero_shot.zero_shot(files, examples.SCENE_LABELS)
        assert os.path.exists(csv) and len(table) == 2 * 5
        return fs.count

    call_counting()  # first call: the caches and the download folder are made
    _sweeps_done()
    fresh = call_counting()

    with pytest.MonkeyPatch.context() as patch:  # downloads made an hour ago: still kept, not yet swept
        _shift_clock(patch, EXPORT_MAX_AGE_S)
        for i in range(OLD_DOWNLOADS):
            common.export("zero_shot.csv", str(i))
    _sweeps_done()
    kept = sum(len(files) for _, _, files in os.walk(temp_dir / "clipdemo-exports"))
    assert kept >= OLD_DOWNLOADS

    aged = call_counting()
    _sweeps_done()
    assert aged == fresh, f"{fresh} stat/scandir calls with no old downloads, {aged} with {OLD_DOWNLOADS:,}"


def test_old_downloads_are_deleted_in_the_background(temp_dir, monkeypatch):
    with pytest.MonkeyPatch.context() as patch:
        _shift_clock(patch, 3 * EXPORT_MAX_AGE_S)
        stale = common.export("a.csv", "stale")
    with pytest.MonkeyPatch.context() as patch:
        _shift_clock(patch, EXPORT_MAX_AGE_S)
        recent = common.export("b.csv", "an hour old")
    _sweeps_done()
    now = common.export("c.csv", "new")
    _sweeps_done()
    assert not os.path.exists(stale)  # two periods old: gone
    assert open(recent).read() == "an hour old"  # one period old: a page may still link to it
    assert open(now).read() == "new" and os.path.basename(now) == "c.csv"


@pytest.mark.slow
def test_the_server_keeps_a_bounded_number_of_sessions():
    """Gradio keeps ~300 KB of page config per session, closed or not, until the capacity is reached (10,000 by
    default: 3 GB). The app keeps SESSIONS: the oldest go first, the newest keep their state."""
    from app_server import running_app
    from clipdemo.limits import SESSIONS

    with running_app() as (_, demo):
        holder = demo.state_holder
        for i in range(SESSIONS + 20):
            holder[f"session {i}"]
        assert len(holder.session_data) == SESSIONS
        assert "session 0" not in holder and f"session {SESSIONS + 19}" in holder


def test_an_idle_queue_looks_for_work_every_queue_poll_s():
    """Gradio's idle queue loop sleeps 1 ms on Linux: a thousand wakeups a second (an idle app used 64 ms of CPU
    a second on this machine, 32 ms with the app's queue). The app's queue sleeps QUEUE_POLL_S, and gradio's
    loop still sleeps for the attribute the app sets."""
    import inspect

    import gradio as gr
    from gradio import queueing

    from clipdemo.limits import QUEUE_POLL_S
    from clipdemo.ui.serving import queue

    with gr.Blocks() as demo:
        gr.Button().click(lambda: None, api_name="noop")
    assert queue(demo) is demo
    assert demo._queue.sleep_when_free == QUEUE_POLL_S >= 0.01
    assert "asyncio.sleep(self.sleep_when_free)" in inspect.getsource(queueing.Queue.start_processing)


_ARENAS = """
import ctypes, os, sys, tempfile, threading
from clipdemo.ui import serving
if sys.argv[1] == "tamed":
    assert serving.tame_malloc()
barrier = threading.Barrier(12)
def work():  # what a gradio worker thread does first: malloc (10 KB: below glibc's mmap threshold)
    keep = [bytearray(10_000) for _ in range(5)]
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(12)]
[t.start() for t in threads]
[t.join() for t in threads]
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "malloc_info.xml")
    out = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(out))
    libc.fclose(ctypes.c_void_p(out))
    print(open(path).read().count("<heap nr="))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's arenas (tame_malloc does nothing elsewhere)")
def test_the_server_process_keeps_malloc_arenas_few():
    """glibc gives each new thread a malloc arena of its own (up to 8 per core), each keeping its high-water
    mark: the app's memory grew 155 MB under 50 clients for 20 minutes. The server process (app.main calls
    tame_malloc) keeps MALLOC_ARENAS, however many threads allocate at once (12 here, as gradio's workers do)."""
    import subprocess
    import sys

    from clipdemo.ui.serving import MALLOC_ARENAS

    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES", "CLIPDEMO_MALLOC")}
    count = {how: int(subprocess.run([sys.executable, "-c", _ARENAS, how], env=env, capture_output=True, text=True,
                                     check=True).stdout) for how in ("plain", "tamed")}
    assert count["plain"] > MALLOC_ARENAS  # glibc's default: the 12 threads got arenas of their own
    assert count["tamed"] <= MALLOC_ARENAS


def test_gradios_event_summary_costs_the_same_at_any_age(monkeypatch):
    """After every event gradio summarised all of its last 10,000 in a pandas DataFrame: the server's CPU a call
    grew from 79 to 95 ms over 10 minutes under 50 clients. The app's queue keeps ANALYTICS_EVENTS and builds
    the summary once every ANALYTICS_EVERY events, however many came before; gradio still reads both."""
    import inspect

    import gradio as gr
    from gradio import queueing

    from clipdemo.ui.serving import ANALYTICS_EVENTS, ANALYTICS_EVERY, queue

    for name in ("GRADIO_ANALYTICS_MAX_EVENTS", "GRADIO_ANALYTICS_CACHE_FREQUENCY"):
        monkeypatch.delenv(name, raising=False)
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None, api_name="noop")
    q = queue(demo)._queue
    assert "self.ANAYLTICS_CACHE_FREQUENCY" in inspect.getsource(queueing.Queue.compute_analytics_summary)
    assert "self.ANALYTICS_MAX_EVENTS" in inspect.getsource(queueing.Queue.push)
    assert q.ANALYTICS_MAX_EVENTS == ANALYTICS_EVENTS

    frames, original = [], queueing.Queue._get_df

    def counted(records):
        frames.append(len(records))
        return original(records)

    monkeypatch.setattr(queueing.Queue, "_get_df", staticmethod(counted))
    record = {"time": 0.0, "status": "success", "process_time": 0.01, "function": "noop", "session_hash": "s"}
    built_at = {}
    for event in range(21_000):  # what gradio does for each event: record it (push), then summarise
        q.event_analytics[str(event)] = dict(record)
        q.events_recorded += 1
        q.events_recorded_per_fn["noop"] += 1
        while len(q.event_analytics) > q.ANALYTICS_MAX_EVENTS:
            q.event_analytics.pop(next(iter(q.event_analytics)))
        before = len(frames)
        q.compute_analytics_summary(list(q.event_analytics.values()))
        if len(frames) > before:
            built_at[event] = frames[-1]
    young = [e for e in built_at if e < 1_000]
    old = [e for e in built_at if e >= 20_000]
    assert len(young) == len(old) == 1_000 // ANALYTICS_EVERY, (len(young), len(old))  # as often, young or old
    assert max(built_at.values()) <= ANALYTICS_EVENTS  # and over as many events
    assert q.cached_event_analytics_summary["functions"]["noop"]["total_requests"] == 21_000
