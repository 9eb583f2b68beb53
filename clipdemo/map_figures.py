"""Plotly figures for where CLIP looks (saliency overlays) and the shape of its space (the embedding map).

Plain arrays and lists in, figures out (no torch, no gradio), like figures.py.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import _layout, _short

SALIENCY_SCALE = "Inferno"
IMAGE_COLOUR, TEXT_COLOUR = "#2563eb", "#dc2626"
WHITE_EDGE = dict(color="white", width=1)  # markers stay distinct where they overlap


ABSENT = "probably not in the image"


def saliency_overlay(image: np.ndarray, maps: np.ndarray, titles: Sequence[str], method: str,
                     opacity: float = 0.5, columns: int = 3, absent: Sequence[bool] = (),
                     shared: bool = False) -> go.Figure:
    """The image with each text's map laid over it, one panel per text, one colour bar.

    Args:
        image: [H, W, 3] uint8, the image at the maps' size.
        maps: [T, H, W] in [0, 1], 1 = most relevant.
        titles: one panel title per map.
        method: what drew the maps, for the figure's title.
        absent: per map, True to dim its panel and label it "probably not in the image" (its text scored
            low: bright there means "least absent", not "here").
        shared: the maps share one scale (else each is scaled to its own maximum); names the colour bar.
    """
    t = len(maps)
    absent = list(absent) + [False] * (t - len(absent))
    cols = min(columns, t)
    rows = -(-t // cols)
    width = {1: 80, 2: 34}.get(cols, 22)  # characters per title line in a panel of this width
    lines = [([f"<i>{ABSENT}</i>"] if gone else []) + textwrap.wrap(_short(s, 66), width)[:3]
             for s, gone in zip(titles, absent)]
    wrapped = ["<br>".join(ls) for ls in lines]
    top = 130 + 18 * max(len(ls) for ls in lines)  # gradio's label, the two-line title, the panel titles
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=wrapped,
                        horizontal_spacing=0.04, vertical_spacing=0.12 / rows)
    for i, m in enumerate(maps):
        r, c = divmod(i, cols)
        # a dimmed panel: the picture faded, the map faint, so bright never reads as "here"
        fig.add_trace(go.Image(z=image, hoverinfo="skip", opacity=0.35 if absent[i] else 1.0), row=r + 1, col=c + 1)
        fig.add_trace(go.Heatmap(z=m, colorscale=SALIENCY_SCALE, zmin=0, zmax=1, opacity=0.12 if absent[i] else opacity,
                                 showscale=i == 0, hovertemplate="x %{x}, y %{y}<br>relevance %{z:.2f}<extra></extra>",
                                 colorbar=dict(title=dict(text="relevance<br>(" + ("all panels" if shared else
                                                                                   "per text") + ")", side="right"),
                                               tickvals=[0, 0.5, 1], ticktext=["least", "", "most"], len=0.9)),
                      row=r + 1, col=c + 1)
        fig.update_xaxes(visible=False, row=r + 1, col=c + 1)
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{i + 1 if i else ''}",
                         row=r + 1, col=c + 1)
    h, w = image.shape[:2]
    panel = 330 * h / max(w, 1) if cols > 1 else min(520, 520 * h / max(w, 1))
    fig = _layout(fig, f"Where each text matches<br><sup>{method}</sup>", height=int(top + rows * (panel + 40)))
    fig.update_layout(margin=dict(l=10, r=10, t=top, b=10),
                      title=dict(y=1, yref="container", yanchor="top", pad=dict(t=58)))
    return fig


def embedding_map(image_xy: np.ndarray, text_xy: np.ndarray, pairs: Sequence[tuple[int, int]],
                  image_names: Sequence[str], texts: Sequence[str], thumbnails: Sequence[str] = (),
                  title: str = "", axis_names: tuple[str, str] = ("PC 1", "PC 2")) -> go.Figure:
    """Images (circles, with thumbnails when given) and texts (diamonds) in 2-D, a grey line per matching
    pair, and each modality's centroid (a cross) joined by a dashed line: the modality gap."""
    fig = go.Figure()
    lines_x, lines_y = [], []
    for i, j in pairs:
        lines_x += [image_xy[i, 0], text_xy[j, 0], None]
        lines_y += [image_xy[i, 1], text_xy[j, 1], None]
    fig.add_trace(go.Scatter(x=lines_x, y=lines_y, mode="lines", line=dict(color="#9ca3af", width=1),
                             name="matching pair", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=image_xy[:, 0], y=image_xy[:, 1], mode="markers", name="image",
                             marker=dict(symbol="circle", size=11, color=IMAGE_COLOUR, line=WHITE_EDGE),
                             text=list(image_names), hovertemplate="image: %{text}<extra></extra>"))
    fig.add_trace(go.Scatter(x=text_xy[:, 0], y=text_xy[:, 1], mode="markers", name="text",
                             marker=dict(symbol="diamond", size=11, color=TEXT_COLOUR, line=WHITE_EDGE),
                             text=[_short(t, 80) for t in texts], hovertemplate="text: %{text}<extra></extra>"))
    ci, ct = image_xy.mean(0), text_xy.mean(0)
    fig.add_trace(go.Scatter(x=[ci[0], ct[0]], y=[ci[1], ct[1]], mode="lines+markers", name="centroids (the gap)",
                             line=dict(color="#111827", dash="dash", width=2),
                             marker=dict(symbol="x", size=14, color=[IMAGE_COLOUR, TEXT_COLOUR]),
                             text=["image centroid", "text centroid"], hovertemplate="%{text}<extra></extra>"))
    if len(thumbnails):
        allxy = np.concatenate([image_xy, text_xy])
        span = float(max(np.ptp(allxy[:, 0]), np.ptp(allxy[:, 1]), 1e-6))
        for (x, y), uri in zip(image_xy, thumbnails):
            fig.add_layout_image(source=uri, x=x, y=y, xref="x", yref="y", sizex=span * 0.07, sizey=span * 0.07,
                                 xanchor="center", yanchor="bottom", layer="above")
    fig.update_xaxes(title_text=axis_names[0], zeroline=False)
    fig.update_yaxes(title_text=axis_names[1], zeroline=False, scaleanchor="x", scaleratio=1)
    fig = _layout(fig, title, 560)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.0), margin=dict(l=10, r=10, t=90, b=10))
    return fig
