"""Plotly figures: plain lists and arrays in, figures out (no torch, no gradio)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .text import percent

_FONT = dict(family="Inter, system-ui, sans-serif", size=13)


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.01), height=height, font=_FONT, template="plotly_white",
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


THUMB_PX = 52  # the heatmap's row thumbnails, in pixels


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def ranked_bars(panels: Sequence[tuple[str, Sequence[str], Sequence[float]]], x_title: str = "probability",
                title: str = "") -> go.Figure:
    """Horizontal bars, highest at the top, one panel per (panel title, labels, values)."""
    fig = make_subplots(rows=len(panels), cols=1, subplot_titles=[_short(p[0], 80) for p in panels],
                        vertical_spacing=0.5 / max(len(panels), 1) if len(panels) > 1 else 0.0)
    for row, (_, labels, values) in enumerate(panels, start=1):
        fig.add_trace(go.Bar(x=list(values)[::-1], y=[_short(label) for label in labels][::-1], orientation="h",
                             text=[percent(v) if x_title == "probability" else f"{v:.3f}" for v in values][::-1],
                             textposition="auto", marker_color="#4f46e5", showlegend=False,
                             hovertemplate="%{y}: %{x:.4f}<extra></extra>"), row=row, col=1)
        fig.update_xaxes(title_text=x_title if row == len(panels) else None, row=row, col=1,
                         range=[0, 1] if x_title == "probability" else None)
    rows = max(len(lbl) for _, lbl, _ in panels) if panels else 1
    return _layout(fig, title, height=min(4000, 90 + len(panels) * (60 + 26 * rows)))


def thumbnail_uri(image, size: int = 96) -> str:
    """A small PNG data URI of a PIL image, for axis thumbnails."""
    im = image.copy()
    im.thumbnail((size, size))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def heatmap(values: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str = "",
            colorbar: str = "cosine", thumbnails: Sequence[str] | None = None, fmt: str = ".2f",
            zmin: float | None = None, zmax: float | None = None) -> go.Figure:
    """An annotated heatmap with `rows` down the side (and their thumbnails, if given) and `cols` along the top."""
    values = np.asarray(values, dtype=float)
    fig = go.Figure(go.Heatmap(z=values, x=[_short(c, 36) for c in cols], y=[_short(r, 30) for r in rows],
                               colorscale="Viridis", zmin=zmin, zmax=zmax, colorbar=dict(title=colorbar),
                               text=[[format(v, fmt) for v in row] for row in values], texttemplate="%{text}",
                               hovertemplate="%{y}<br>%{x}<br>" + colorbar + " = %{z:.4f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    # column labels slanted steeply: a long last label then overhangs the plot by half its length, not most of
    # it, so the cells keep their width; the room above holds the labels (~6 px per character) and the title
    fig.update_xaxes(side="top", tickangle=-60)
    top = 80 + int(6 * max((len(_short(c, 36)) for c in cols), default=0))
    height = max(320, top + 20 + 56 * len(rows))
    if thumbnails:
        row_px = (height - top - 10) / max(len(rows), 1)
        size = min(0.9, THUMB_PX / row_px)  # in rows: thumbnails stay THUMB_PX tall however few the rows
        for i, uri in enumerate(thumbnails):
            fig.add_layout_image(source=uri, xref="paper", yref="y", x=-0.005, y=i, sizex=0.9, sizey=size,
                                 xanchor="right", yanchor="middle", layer="above")
        fig.update_yaxes(ticklabelstandoff=THUMB_PX + 14)  # the row labels start left of the thumbnails
    fig = _layout(fig, title, height=height)
    fig.update_layout(margin=dict(l=10, r=10, t=top, b=10),
                      title=dict(y=1, yref="container", yanchor="top", pad=dict(t=40)))  # below gradio's label
    return fig


def training_curves(steps: Sequence[int], losses: Sequence[float], scales: Sequence[float]) -> go.Figure:
    """Loss and learned temperature (exp(logit_scale)) against step."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=list(steps), y=list(losses), name="contrastive loss", mode="lines"))
    fig.add_trace(go.Scatter(x=list(steps), y=list(scales), name="logit_scale (1 / temperature)", mode="lines",
                             line=dict(dash="dot")), secondary_y=True)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss", secondary_y=False)
    fig.update_yaxes(title_text="logit_scale", secondary_y=True)
    return _layout(fig, "Training", 340)


def accuracy_bars(names: Sequence[str], accuracy: Sequence[float], chance: Sequence[float],
                  published: Sequence[float | None] = (), title: str = "Accuracy by probe",
                  published_chance: Sequence[float | None] = ()) -> go.Figure:
    """Accuracy per suite beside its chance, and a published reference figure where there is one, beside
    its own benchmark's chance (What'sUp's 25% is not this suite's 50%)."""
    fig = go.Figure()
    fig.add_trace(go.Bar(x=list(names), y=list(accuracy), name="this model", marker_color="#4f46e5",
                         text=[f"{a:.0%}" for a in accuracy], textposition="outside"))
    fig.add_trace(go.Scatter(x=list(names), y=list(chance), name="chance", mode="markers",
                             marker=dict(symbol="line-ew-open", size=36, color="#dc2626", line=dict(width=3))))
    if published and any(p is not None for p in published):
        fig.add_trace(go.Scatter(x=list(names), y=[p if p is not None else None for p in published],
                                 name="OpenAI CLIP ViT-B/32 (published)", mode="markers",
                                 marker=dict(symbol="diamond", size=12, color="#059669")))
    if published_chance and any(c is not None for c in published_chance):
        fig.add_trace(go.Scatter(x=list(names), y=list(published_chance), name="its benchmark's chance",
                                 mode="markers", marker=dict(symbol="line-ew-open", size=18, color="#059669",
                                                             line=dict(width=2, dash="dot"))))
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%", title_text="accuracy")
    return _layout(fig, title, 380)


def line_chart(x: Sequence, series: dict[str, Sequence[float]], x_title: str, y_title: str, title: str) -> go.Figure:
    fig = go.Figure([go.Scatter(x=list(x), y=list(y), name=name, mode="lines+markers") for name, y in series.items()])
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return _layout(fig, title, 360)
