"""What a server keeps (ui/state.py): handlers bound to it still look like themselves to gradio, and runs are
stopped by id or by session."""

from __future__ import annotations

import inspect

import gradio as gr

from clipdemo.ui.state import TrainingRuns, bind


def _stream(n: int = 2, progress=gr.Progress(), *, runs: TrainingRuns):
    """Count to n."""
    yield from range(n)
    yield len(runs)


def _answer(text: str = "", request: gr.Request = None, *, runs: TrainingRuns) -> str:
    """Say how many runs."""
    return f"{text}{len(runs)}"


def test_a_bound_handler_keeps_its_name_docstring_inputs_and_streaming():
    runs = TrainingRuns()
    runs.start("s")
    stream, answer = bind(_stream, runs=runs), bind(_answer, runs=runs)
    assert inspect.isgeneratorfunction(stream) and not inspect.isgeneratorfunction(answer)
    assert list(stream(2)) == [0, 1, 1]
    assert answer("runs: ") == "runs: 1"
    assert (stream.__name__, stream.__doc__) == ("_stream", "Count to n.")
    assert list(inspect.signature(stream).parameters) == ["n", "progress"]  # what gradio fills in
    assert list(inspect.signature(answer).parameters) == ["text", "request"]


def test_runs_stop_by_id_or_by_session_and_end():
    runs = TrainingRuns()
    (mine, my_run), (other, other_run) = runs.start("s1"), runs.start("s2")
    assert mine != other and len(mine) >= 16
    assert not runs.stop("no-such-run")
    runs.stop_session("s1")
    assert my_run.stop.is_set() and not other_run.stop.is_set()
    runs.stop_session(None)  # an API client's request has no session: stops nothing
    assert not other_run.stop.is_set()
    assert runs.stop(other) and other_run.stop.is_set()
    runs.end(mine)
    runs.end(other)
    assert len(runs) == 0 and not runs.stop(mine)
