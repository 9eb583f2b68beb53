"""The message of a failed run is kept per browser session and per function, until its tab shows it."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.context import LocalContext

from clipdemo.errors import InputError
from clipdemo.ui import common


@common.user_errors
def classify():
    raise InputError("bad template")


@common.user_errors
def probe():
    raise InputError("bad probe set")


def test_two_runs_failing_in_one_session_each_keep_their_message():
    token = LocalContext.request.set(SimpleNamespace(session_hash="session-1"))
    try:
        for fn in (classify, probe):
            with pytest.raises(gr.Error):
                fn()
    finally:
        LocalContext.request.reset(token)
    with common._errors_lock:
        assert common._errors.pop(("session-1", "classify")) == "**Cannot do that.** bad template"
        assert common._errors.pop(("session-1", "probe")) == "**Cannot do that.** bad probe set"


def test_a_call_from_no_page_keeps_nothing():
    before = len(common._errors)
    with pytest.raises(gr.Error):
        classify()
    assert len(common._errors) == before
