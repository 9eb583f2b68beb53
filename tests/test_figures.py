"""The figures are built as plain dicts (issue #26): each must be exactly what plotly's validated graph objects
would send to the page, and gr.Plot must take it as a Plotly figure."""

import json
import math

import numpy as np
import pytest

from clipdemo import figures, map_figures

RNG = np.random.default_rng(0)
PICTURE = (RNG.random((4, 6, 3)) * 255).astype(np.uint8)

CASES = {
    "bars, two panels": lambda: figures.ranked_bars(
        [("img a", ["x", "y", "z"], [0.5, 0.3, 0.2]), ("img b " * 20, ["p", "q" * 70, "r"], [0.6, 0.3, 0.1])],
        title="Top 3 of 6 labels"),
    "bars, cosines": lambda: figures.ranked_bars([("img", ["c1", "c2"], [0.27, 0.13])], x_title="cosine"),
    "heatmap with thumbnails": lambda: figures.heatmap(
        RNG.random((3, 4)), ["r1", "r2", "r3"], ["c1", "c2" * 30, "c3", "c4"], title="cos",
        thumbnails=["data:image/png;base64,AAAA"] * 3),
    "heatmap, softmax": lambda: figures.heatmap(RNG.random((2, 2)).astype(np.float32), ["r1", "r2"], ["a", "b"],
                                                colorbar="softmax", fmt=".0%", zmin=0.0, zmax=1.0),
    "training curves": lambda: figures.training_curves([1, 2, 3], [2.0, 1.5, 1.2], [10.0, 11.0, 12.5]),
    "accuracy": lambda: figures.accuracy_bars(["a", "b"], [0.5, 0.9], [0.25, 0.5], [0.6, None]),
    "line chart": lambda: figures.line_chart([1, 5, 10], {"R@1": [0.1, 0.2, 0.3]}, "K", "recall", "Recall"),
    "saliency, one map": lambda: map_figures.saliency_overlay(PICTURE, RNG.random((1, 4, 6)), ["a text"], "m"),
    "saliency, four maps": lambda: map_figures.saliency_overlay(PICTURE, RNG.random((4, 4, 6)),
                                                                ["t1", "t2 " * 30, "t3", "t4"], "m"),
    "embedding map": lambda: map_figures.embedding_map(RNG.random((3, 2)), RNG.random((2, 2)), [(0, 0), (1, 1)],
                                                       ["i1", "i2", "i3"], ["t1", "t2"], thumbnails=["data:,"] * 3,
                                                       title="map"),
}


def same(a, b, path="") -> list[str]:
    """Where two JSON values differ (numbers compared to 1e-9)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in set(a) | set(b) for d in (same(a[k], b[k], f"{path}/{k}") if k in a and k in b
                                                     else [f"{path}/{k}: only in one"])]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{path}[{i}]")]
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {str(a)[:80]} != {str(b)[:80]}"]


@pytest.mark.parametrize("name", CASES)
def test_plotly_validation_changes_nothing(name):
    """What the page gets is what plotly's graph objects would send: every property exists and is valid as given
    (a wrong name or value raises), colour scales and arrays are written as plotly writes them, the template
    is there whole."""
    fig = CASES[name]()
    sent = json.loads(fig.to_json())
    assert sent["layout"]["template"]["layout"]["plot_bgcolor"] == "white"  # plotly_white, written out
    assert same(sent, json.loads(fig.to_plotly().to_json())) == []


@pytest.mark.parametrize("rows, cols, titles, secondary_y", [
    (1, 1, ["one"], False), (3, 1, ["a", "", "c"], False), (2, 3, ["a", "b", "c", "d"], False),
    (1, 2, [], False), (1, 1, [], True)])
def test_subplot_grid_is_make_subplots(rows, cols, titles, secondary_y):
    from plotly.subplots import make_subplots

    spacing = dict(horizontal_spacing=0.04, vertical_spacing=0.12 / rows)
    expected = make_subplots(rows=rows, cols=cols, subplot_titles=titles or None, **spacing,
                             specs=[[{"secondary_y": True}]] if secondary_y else None).to_plotly_json()["layout"]
    expected.pop("template", None)
    grid, refs = figures.subplot_grid(rows, cols, titles, secondary_y=secondary_y, **spacing)
    assert same(grid, json.loads(json.dumps(expected))) == []
    assert refs[0] == ("x", "y") and len(refs) == rows * cols


def test_gradio_draws_it_as_plotly():
    import gradio as gr

    fig = CASES["bars, two panels"]()
    plot = gr.Plot().postprocess(fig)
    assert plot.type == "plotly"
    assert json.loads(plot.plot)["data"][0]["type"] == "bar"


def test_a_figure_is_cheap():
    """No per-figure validation: building a chart does not touch plotly's graph objects at all."""
    import plotly.basedatatypes as base

    calls = []
    original = base.BaseFigure.__init__
    base.BaseFigure.__init__ = lambda self, *a, **k: (calls.append(1), original(self, *a, **k))[1]
    try:
        for make in CASES.values():
            make().to_json()
    finally:
        base.BaseFigure.__init__ = original
    assert calls == []


def test_heatmap_cells_never_show_a_negative_zero():
    """An untrained model's cosines near zero read "-0.00" in the Train tab's batch heatmap."""
    figure = figures.heatmap(np.array([[-0.004, -0.2], [0.001, -0.0]]), ["r1", "r2"], ["a", "b"])
    assert figure["data"][0]["text"] == [["0.00", "-0.20"], ["0.00", "0.00"]]
