"""Plotly figures for where CLIP looks (saliency overlays) and the shape of its space (the embedding map).

Plain arrays and lists in, figures out (no torch, no gradio), built as dicts like figures.py.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np

from .figures import Figure, _short, array, colorscale, layout, subplot_grid, title_under_label

SALIENCY_SCALE = "Inferno"
IMAGE_COLOUR, TEXT_COLOUR = "#2563eb", "#dc2626"
WHITE_EDGE = dict(color="white", width=1)  # markers stay distinct where they overlap


ABSENT = "probably not in the image"


def saliency_overlay(image: np.ndarray, maps: np.ndarray, titles: Sequence[str], method: str,
                     opacity: float = 0.5, columns: int = 3, absent: Sequence[bool] = (),
                     shared: bool = False) -> Figure:
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
    lines = [[f"<i>{w}</i>" for w in textwrap.wrap(ABSENT, width)] * gone + textwrap.wrap(_short(s, 66), width)[:3]
             for s, gone in zip(titles, absent)]
    wrapped = ["<br>".join(ls) for ls in lines]
    top = 130 + 18 * max(len(ls) for ls in lines)  # gradio's label, the two-line title, the panel titles
    grid, refs = subplot_grid(rows, cols, wrapped, horizontal_spacing=0.04, vertical_spacing=0.12 / rows)
    picture = array(np.asarray(image))  # encoded once, drawn under every panel
    data = []
    for i, (m, (x, y)) in enumerate(zip(maps, refs)):
        # a dimmed panel: the picture faded, the map faint, so bright never reads as "here"
        data.append({"type": "image", "z": picture, "hoverinfo": "skip", "opacity": 0.35 if absent[i] else 1.0,
                     "xaxis": x, "yaxis": y})
        data.append({"type": "heatmap", "z": array(np.asarray(m)), "colorscale": colorscale(SALIENCY_SCALE),
                     "zmin": 0, "zmax": 1, "opacity": 0.12 if absent[i] else opacity, "showscale": i == 0,
                     "hovertemplate": "x %{x}, y %{y}<br>relevance %{z:.2f}<extra></extra>",
                     "colorbar": {"title": {"text": "relevance<br>(" + ("all panels" if shared else "per text") + ")",
                                            "side": "right"},
                                  "tickvals": [0, 0.5, 1], "ticktext": ["least", "", "most"], "len": 0.9},
                     "xaxis": x, "yaxis": y})
        grid["xaxis" + x[1:]]["visible"] = False
        grid["yaxis" + y[1:]].update(visible=False, autorange="reversed", scaleanchor=x)
    h, w = image.shape[:2]
    panel = 330 * h / max(w, 1) if cols > 1 else min(520, 520 * h / max(w, 1))
    fig_layout = layout(f"Where each text matches<br><sup>{method}</sup>", int(top + rows * (panel + 40)),
                        margin=dict(l=10, r=10, t=top, b=10), **grid)
    return Figure(data=data, layout=title_under_label(fig_layout, 58))


def embedding_map(image_xy: np.ndarray, text_xy: np.ndarray, pairs: Sequence[tuple[int, int]],
                  image_names: Sequence[str], texts: Sequence[str], thumbnails: Sequence[str] = (),
                  title: str = "", axis_names: tuple[str, str] = ("PC 1", "PC 2")) -> Figure:
    """Images (circles, with thumbnails when given) and texts (diamonds) in 2-D, a grey line per matching
    pair, and each modality's centroid (a cross) joined by a dashed line: the modality gap."""
    lines_x, lines_y = [], []
    for i, j in pairs:
        lines_x += [float(image_xy[i, 0]), float(text_xy[j, 0]), None]
        lines_y += [float(image_xy[i, 1]), float(text_xy[j, 1]), None]
    ci, ct = image_xy.mean(0), text_xy.mean(0)
    data = [
        {"type": "scatter", "x": lines_x, "y": lines_y, "mode": "lines", "line": {"color": "#9ca3af", "width": 1},
         "name": "matching pair", "hoverinfo": "skip"},
        {"type": "scatter", "x": array(image_xy[:, 0]), "y": array(image_xy[:, 1]), "mode": "markers",
         "name": "image", "marker": {"symbol": "circle", "size": 11, "color": IMAGE_COLOUR, "line": WHITE_EDGE},
         "text": list(image_names), "hovertemplate": "image: %{text}<extra></extra>"},
        {"type": "scatter", "x": array(text_xy[:, 0]), "y": array(text_xy[:, 1]), "mode": "markers", "name": "text",
         "marker": {"symbol": "diamond", "size": 11, "color": TEXT_COLOUR, "line": WHITE_EDGE},
         "text": [_short(t, 80) for t in texts], "hovertemplate": "text: %{text}<extra></extra>"},
        {"type": "scatter", "x": [float(ci[0]), float(ct[0])], "y": [float(ci[1]), float(ct[1])],
         "mode": "lines+markers", "name": "centroids (the gap)", "line": {"color": "#111827", "dash": "dash", "width": 2},
         "marker": {"symbol": "x", "size": 14, "color": [IMAGE_COLOUR, TEXT_COLOUR]},
         "text": ["image centroid", "text centroid"], "hovertemplate": "%{text}<extra></extra>"},
    ]
    more = {}
    if len(thumbnails):
        allxy = np.concatenate([image_xy, text_xy])
        span = float(max(np.ptp(allxy[:, 0]), np.ptp(allxy[:, 1]), 1e-6))
        more["images"] = [{"source": uri, "x": float(x), "y": float(y), "xref": "x", "yref": "y",
                           "sizex": span * 0.07, "sizey": span * 0.07, "xanchor": "center", "yanchor": "bottom",
                           "layer": "above"} for (x, y), uri in zip(image_xy, thumbnails)]
    return Figure(data=data, layout=layout(
        title, 560, xaxis={"title": {"text": axis_names[0]}, "zeroline": False},
        yaxis={"title": {"text": axis_names[1]}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1},
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.0), margin=dict(l=10, r=10, t=90, b=10), **more))
