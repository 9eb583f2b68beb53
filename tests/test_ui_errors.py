"""The message of a failed run is kept per browser session and per function, until its tab shows it."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.context import LocalContext

from clipdemo.errors import InputError
from clipdemo.ui.common import user_errors
from clipdemo.ui.state import RunErrors


@user_errors
def classify():
    raise InputError("bad template")


@user_errors
def probe():
    raise InputError("bad probe set")


def _from_page(session: str, fn):
    token = LocalContext.request.set(SimpleNamespace(session_hash=session))
    try:
        with pytest.raises(gr.Error):
            fn()
    finally:
        LocalContext.request.reset(token)


def test_two_runs_failing_in_one_session_each_keep_their_message():
    errors = RunErrors()
    for fn in (classify, probe):
        _from_page("session-1", errors.recording(fn))
    assert errors.take("session-1", "classify") == "**Cannot do that.** bad template"
    assert errors.take("session-1", "probe") == "**Cannot do that.** bad probe set"
    assert errors.take("session-1", "probe") is None  # shown once: taken, not kept again
    assert len(errors) == 0


def test_a_call_from_no_page_keeps_nothing():
    errors = RunErrors()
    with pytest.raises(gr.Error):
        errors.recording(classify)()
    assert len(errors) == 0


def test_sessions_that_never_come_back_are_forgotten_oldest_first():
    errors = RunErrors(limit=3)
    for i in range(5):
        _from_page(f"session-{i}", errors.recording(classify))
    assert len(errors) == 3
    assert errors.take("session-0", "classify") is None and errors.take("session-1", "classify") is None
    assert errors.take("session-4", "classify") == "**Cannot do that.** bad template"


def test_two_servers_share_no_messages():
    ours, theirs = RunErrors(), RunErrors()
    _from_page("session-1", ours.recording(classify))
    assert theirs.take("session-1", "classify") is None
    assert ours.take("session-1", "classify") is not None
