"""Plotly figures: plain lists and arrays in, figures out (no torch, no gradio).

Every figure is built as the JSON that plotly.js draws (a `Figure`: a dict of "data" and "layout"), not as
plotly's graph objects. Those validate every property and deep-copy the template for each figure: about
50 ms of a request's server CPU, ten times the bundled model's work (issue #26); a dict costs about 0.1 ms.
tests/test_figures.py checks that plotly's own validation changes nothing in any of them.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Sequence

import numpy as np

from .text import formatted, percent

_FONT = dict(family="Inter, system-ui, sans-serif", size=13)
_TEMPLATE = "plotly_white"
_SUBPLOT_TITLE_FONT = dict(size=16)  # what plotly's make_subplots gives its panel titles


class Figure(dict):
    """A Plotly figure as plotly.js takes it: `{"data": [trace, ...], "layout": {...}}`, plain dicts and lists.

    gr.Plot takes it as it takes a `go.Figure` (it calls `to_json()`); `to_plotly()` gives the validated
    graph object, for a notebook. The layout names its template; `to_json()` writes the template out whole,
    as plotly does.
    """

    def to_json(self) -> str:
        layout = self.get("layout", {})
        if isinstance(layout.get("template"), str):
            layout = {**layout, "template": _template(layout["template"])}
        import plotly.io as pio

        return pio.to_json({**self, "layout": layout}, validate=False)

    def to_plotly(self):
        import plotly.graph_objects as go

        return go.Figure(self)


@functools.cache
def _template(name: str) -> dict:
    """A plotly template as JSON; made once (it is read, never changed)."""
    import plotly.io as pio

    return pio.templates[name].to_plotly_json()


@functools.cache
def colorscale(name: str) -> list:
    """A named plotly colour scale as the [[position, colour], ...] list plotly writes for it."""
    import plotly.colors

    return plotly.colors.get_colorscale(name)


_SHORT_TYPES = {"uint8": "u1", "int8": "i1", "int16": "i2", "int32": "i4", "float32": "f4", "float64": "f8"}


def array(values) -> list | dict:
    """A numpy array as plotly.js's typed array (base64, as plotly writes arrays); anything else as a list."""
    if isinstance(values, np.ndarray) and values.size and str(values.dtype) in _SHORT_TYPES:
        spec = {"dtype": _SHORT_TYPES[str(values.dtype)], "bdata": base64.b64encode(np.ascontiguousarray(values))
                .decode("ascii")}
        if values.ndim > 1:
            spec["shape"] = str(values.shape)[1:-1]
        return spec
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def layout(title: str, height: int, **more) -> dict:
    """The layout every figure here shares (title at the left, Inter, plotly_white, slim margins), plus `more`."""
    return {"title": {"text": title, "x": 0.01}, "height": height, "font": _FONT, "template": _TEMPLATE,
            "margin": dict(l=10, r=10, t=50, b=10), **more}


def title_under_label(fig_layout: dict, pad: int = 40) -> dict:
    """Pin a layout's title `pad` px below the figure's top, under gradio's label badge (which covers the top
    left of a gr.Plot); the layout's top margin must leave room for it. Returns the layout."""
    fig_layout["title"].update(y=1, yref="container", yanchor="top", pad={"t": pad})
    return fig_layout


def subplot_grid(rows: int, cols: int, titles: Sequence[str] = (), horizontal_spacing: float = 0.2,
                 vertical_spacing: float = 0.3, secondary_y: bool = False) -> tuple[dict, list[tuple[str, str]]]:
    """The axes and panel titles of plotly's `make_subplots(rows, cols, ...)`, as layout entries.

    Returns (layout entries, [(x axis, y axis) reference of each panel, row by row, e.g. ("x2", "y2")]).
    Panels are numbered row by row from the top; domains are fractions of the plotting area, in [0, 1].
    With `secondary_y` (one panel only) a second y axis "y2" overlays the first on the right.
    """
    max_width = 0.94 if secondary_y else 1.0  # make_subplots keeps room for the right axis's title
    width = (max_width - horizontal_spacing * (cols - 1)) / cols
    height = (1.0 - vertical_spacing * (rows - 1)) / rows
    entries: dict = {}
    refs, annotations = [], []
    for r in range(rows):
        below = rows - 1 - r  # rows under this one: row 1 is at the top
        y0 = min(max(below * height + below * vertical_spacing, 0.0), 1.0)
        y1 = min(max(y0 + height, 0.0), 1.0)
        for c in range(cols):
            i = r * cols + c
            suffix = str(i + 1) if i else ""
            x0 = c * width + c * horizontal_spacing
            entries[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [x0, x0 + width]}
            entries[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": [y0, y1]}
            refs.append((f"x{suffix}", f"y{suffix}"))
            if i < len(titles) and titles[i]:
                annotations.append({"font": _SUBPLOT_TITLE_FONT, "showarrow": False, "text": titles[i],
                                    "x": (x0 + x0 + width) / 2.0, "xanchor": "center", "xref": "paper", "y": y1,
                                    "yanchor": "bottom", "yref": "paper"})
    if secondary_y:
        entries["yaxis2"] = {"anchor": "x", "overlaying": "y", "side": "right"}
    if annotations:
        entries["annotations"] = annotations
    return entries, refs


THUMB_PX = 52  # the heatmap's row thumbnails, in pixels


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def ranked_bars(panels: Sequence[tuple[str, Sequence[str], Sequence[float]]], x_title: str = "probability",
                title: str = "") -> Figure:
    """Horizontal bars, highest at the top, one panel per (panel title, labels, values)."""
    n = len(panels)
    grid, refs = subplot_grid(n, 1, [_short(p[0], 80) for p in panels],
                              vertical_spacing=0.5 / max(n, 1) if n > 1 else 0.0)
    data = []
    for row, ((_, labels, values), (x, y)) in enumerate(zip(panels, refs), start=1):
        values = [float(v) for v in values]
        data.append({"type": "bar", "x": values[::-1], "y": [_short(label) for label in labels][::-1],
                     "orientation": "h",
                     "text": [percent(v) if x_title == "probability" else f"{v:.3f}" for v in values][::-1],
                     "textposition": "auto", "marker": {"color": "#4f46e5"}, "showlegend": False,
                     "hovertemplate": "%{y}: %{x:.4f}<extra></extra>", "xaxis": x, "yaxis": y})
        axis = grid["xaxis" + x[1:]]
        if row == n:
            axis["title"] = {"text": x_title}
        if x_title == "probability":
            axis["range"] = [0, 1]
    rows = max(len(lbl) for _, lbl, _ in panels) if panels else 1
    # the title starts 40 px down, under gradio's label badge; the first panel's title sits under it
    fig_layout = layout(title, min(4000, 125 + n * (60 + 26 * rows)), margin=dict(l=10, r=10, t=85, b=10), **grid)
    return Figure(data=data, layout=title_under_label(fig_layout))


def thumbnail_uri(image, size: int = 96) -> str:
    """A small PNG data URI of a PIL image, for axis thumbnails."""
    im = image.copy()
    im.thumbnail((size, size))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def heatmap(values: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str = "",
            colorbar: str = "cosine", thumbnails: Sequence[str] | None = None, fmt: str = ".2f",
            zmin: float | None = None, zmax: float | None = None) -> Figure:
    """An annotated heatmap with `rows` down the side (and their thumbnails, if given) and `cols` along the top."""
    values = np.asarray(values, dtype=float)
    trace = {"type": "heatmap", "z": array(values), "x": [_short(c, 36) for c in cols],
             "y": [_short(r, 30) for r in rows], "colorscale": colorscale("Viridis"),
             "colorbar": {"title": {"text": colorbar}}, "text": [[formatted(v, fmt) for v in row] for row in values],
             "texttemplate": "%{text}", "hovertemplate": "%{y}<br>%{x}<br>" + colorbar + " = %{z:.4f}<extra></extra>"}
    trace.update({k: v for k, v in (("zmin", zmin), ("zmax", zmax)) if v is not None})
    yaxis = {"autorange": "reversed"}
    # column labels slanted steeply: a long last label then overhangs the plot by half its length, not most of
    # it, so the cells keep their width; the room above holds the labels (~6 px per character) and the title
    lines = title.count("<br>") + 1  # a line under the title (<br><sup>...) needs its own room
    top = 80 + 18 * (lines - 1) + int(6 * max((len(_short(c, 36)) for c in cols), default=0))
    height = max(320, top + 20 + 56 * len(rows))
    more = {}
    if thumbnails:
        row_px = (height - top - 10) / max(len(rows), 1)
        size = min(0.9, THUMB_PX / row_px)  # in rows: thumbnails stay THUMB_PX tall however few the rows
        more["images"] = [{"source": uri, "xref": "paper", "yref": "y", "x": -0.005, "y": i, "sizex": 0.9,
                           "sizey": size, "xanchor": "right", "yanchor": "middle", "layer": "above"}
                          for i, uri in enumerate(thumbnails)]
        yaxis["ticklabelstandoff"] = THUMB_PX + 14  # the row labels start left of the thumbnails
    fig_layout = layout(title, height, xaxis={"side": "top", "tickangle": -60}, yaxis=yaxis,
                        margin=dict(l=10, r=10, t=top, b=10), **more)
    # plotly lifts a title's first line by the lines under it
    return Figure(data=[trace], layout=title_under_label(fig_layout, 40 + 18 * (lines - 1)))


def training_curves(steps: Sequence[int], losses: Sequence[float], scales: Sequence[float],
                    biases: Sequence[float] | None = None) -> Figure:
    """Loss, learned temperature t = exp(logit_scale) and, for a sigmoid run, the learned bias b, against step."""
    grid, _ = subplot_grid(1, 1, secondary_y=True)
    grid["xaxis"]["title"] = {"text": "step"}
    grid["yaxis"]["title"] = {"text": "loss"}
    grid["yaxis2"]["title"] = {"text": "t and b" if biases else "logit_scale"}
    data = [{"type": "scatter", "x": list(steps), "y": list(losses),
             "name": "sigmoid loss" if biases else "contrastive loss", "mode": "lines"},
            {"type": "scatter", "x": list(steps), "y": list(scales), "name": "logit_scale t (1 / temperature)",
             "mode": "lines", "line": {"dash": "dot"}, "xaxis": "x", "yaxis": "y2"}]
    if biases:
        data.append({"type": "scatter", "x": list(steps), "y": list(biases), "name": "logit_bias b", "mode": "lines",
                     "line": {"dash": "dash"}, "xaxis": "x", "yaxis": "y2"})
    return Figure(data=data, layout=layout("Training", 340, **grid))


def accuracy_bars(names: Sequence[str], accuracy: Sequence[float], chance: Sequence[float],
                  published: Sequence[float | None] = (), title: str = "Accuracy by probe",
                  published_chance: Sequence[float | None] = ()) -> Figure:
    """Accuracy per suite beside its chance, and a published reference figure where there is one, beside
    its own benchmark's chance (What'sUp's 25% is not this suite's 50%)."""
    data = [{"type": "bar", "x": list(names), "y": list(accuracy), "name": "this model",
             "marker": {"color": "#4f46e5"}, "text": [f"{a:.0%}" for a in accuracy], "textposition": "outside"},
            {"type": "scatter", "x": list(names), "y": list(chance), "name": "chance", "mode": "markers",
             "marker": {"symbol": "line-ew-open", "size": 36, "color": "#dc2626", "line": {"width": 3}}}]
    if published and any(p is not None for p in published):
        data.append({"type": "scatter", "x": list(names), "y": list(published),
                     "name": "OpenAI CLIP ViT-B/32 (published)", "mode": "markers",
                     "marker": {"symbol": "diamond", "size": 12, "color": "#059669"}})
    if published_chance and any(c is not None for c in published_chance):
        data.append({"type": "scatter", "x": list(names), "y": list(published_chance),
                     "name": "its benchmark's chance", "mode": "markers",
                     "marker": {"symbol": "line-ew-open", "size": 18, "color": "#059669", "line": {"width": 2}}})
    return Figure(data=data, layout=layout(title, 380, yaxis={"range": [0, 1.08], "tickformat": ".0%",
                                                                   "title": {"text": "accuracy"}}))


def line_chart(x: Sequence, series: dict[str, Sequence[float]], x_title: str, y_title: str, title: str) -> Figure:
    data = [{"type": "scatter", "x": list(x), "y": list(y), "name": name, "mode": "lines+markers"}
            for name, y in series.items()]
    return Figure(data=data, layout=layout(title, 360, xaxis={"title": {"text": x_title}},
                                           yaxis={"title": {"text": y_title}}))
