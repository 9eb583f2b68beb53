"""Figures of two models side by side (the Compare tab), as plain plotly figure dicts (no validation per call).

Lists and floats in, JSON-ready dicts out: no torch, no gradio.
"""

from __future__ import annotations

from collections.abc import Sequence

from .figures import layout
from .text import percent

COLOUR_A, COLOUR_B = "#4f46e5", "#ea580c"
AGREE, DISAGREE = "#059669", "#dc2626"
MARGIN = {"l": 60, "r": 20, "t": 70, "b": 50}  # room for the axis titles these figures carry


def _layout(title: str, height: int, **extra) -> dict:
    """The project's shared layout (figures.layout) with these figures' wider margins, unless `extra` sets them."""
    return layout(title, height, **{"margin": MARGIN, **extra})


def cosine_scatter(cosine_a: Sequence[float], cosine_b: Sequence[float], hover: Sequence[str],
                   agree: Sequence[bool], name_a: str, name_b: str, title: str = "") -> dict:
    """Model A's cosine (x) against model B's (y) for every (image, label) pair.

    Args:
        cosine_a, cosine_b: [N] cosines in [-1, 1], the same pairs in the same order.
        hover: [N] "image · label" texts.
        agree: [N] whether the pair's image gets the same top-1 label from both models (the colour).
    """
    def trace(flag: bool, name: str, colour: str) -> dict:
        keep = [i for i, a in enumerate(agree) if bool(a) == flag]
        return {"type": "scatter", "mode": "markers", "name": name,
                "x": [float(cosine_a[i]) for i in keep], "y": [float(cosine_b[i]) for i in keep],
                "text": [hover[i] for i in keep], "hovertemplate": "%{text}<br>A %{x:.3f} · B %{y:.3f}<extra></extra>",
                "marker": {"color": colour, "size": 8, "opacity": 0.75, "line": {"color": "white", "width": 1}}}

    return {"data": [trace(True, "image's top-1 agrees", AGREE), trace(False, "image's top-1 differs", DISAGREE)],
            "layout": _layout(title or f"Cosines: {name_a} vs {name_b}", 460,
                              xaxis={"title": {"text": f"cosine, {name_a}"}, "zeroline": False},
                              yaxis={"title": {"text": f"cosine, {name_b}"}, "zeroline": False},
                              # under the x axis's title, not on it
                              legend={"orientation": "h", "y": -0.3, "yanchor": "top"},
                              margin={"l": 60, "r": 20, "t": 70, "b": 110})}


def top_k_bars(panels: Sequence[tuple[str, Sequence[str], Sequence[float]]], score_kind: str, title: str,
               colour: str = COLOUR_A) -> dict:
    """One model's top-k labels per image, highest at the top, in its own kind of score.

    Args:
        panels: (image name, labels, scores in [0, 1]) per image, best first.
        score_kind: "softmax" or "sigmoid", named on the x axis.
    """
    n = max(1, len(panels))
    gap = 0.08 if n > 1 else 0.0
    height = (1 - gap * (n - 1)) / n
    data, layout = [], _layout(title, min(3000, 110 + n * (50 + 24 * max(len(p[1]) for p in panels or [("", [0])]))),
                               showlegend=False, margin={"l": 150, "r": 40, "t": 80, "b": 50}, annotations=[])
    for i, (image, labels, scores) in enumerate(panels):
        axis = "" if i == 0 else str(i + 1)
        top = 1 - i * (height + gap)
        data.append({"type": "bar", "orientation": "h", "x": [float(s) for s in scores][::-1],
                     "y": list(labels)[::-1], "xaxis": f"x{axis}", "yaxis": f"y{axis}", "marker": {"color": colour},
                     "text": [percent(s) for s in scores][::-1], "textposition": "auto", "name": image})
        layout[f"xaxis{axis}"] = {"range": [0, 1], "tickformat": ".0%", "anchor": f"y{axis}",
                                  "title": {"text": f"{score_kind} score" if i == n - 1 else ""}}
        layout[f"yaxis{axis}"] = {"domain": [max(0.0, top - height), top], "anchor": f"x{axis}", "automargin": True}
        layout["annotations"].append({"text": image[:60], "x": 0, "xref": "paper", "y": top, "yref": "paper",
                                      "xanchor": "left", "yanchor": "bottom", "showarrow": False})
    return {"data": data, "layout": layout}


def paired_accuracy(suites: Sequence[str], accuracy_a: Sequence[float], accuracy_b: Sequence[float],
                    chance: Sequence[float], published: Sequence[float | None], name_a: str, name_b: str,
                    title: str = "", published_chance: Sequence[float | None] = ()) -> dict:
    """Each probe suite's accuracy for both models, beside the suite's chance and a published figure beside
    its own benchmark's chance (What'sUp's 25% is not this suite's 50%)."""
    suites = list(suites)
    data = [{"type": "bar", "name": name, "x": suites, "y": [float(a) for a in acc], "marker": {"color": colour},
             "text": [f"{a:.0%}" for a in acc], "textposition": "outside"}
            for name, acc, colour in ((name_a, accuracy_a, COLOUR_A), (name_b, accuracy_b, COLOUR_B))]
    data.append({"type": "scatter", "mode": "markers", "name": "chance", "x": suites, "y": [float(c) for c in chance],
                 "marker": {"symbol": "line-ew-open", "size": 44, "color": "#111827", "line": {"width": 3}}})
    if any(p is not None for p in published):
        data.append({"type": "scatter", "mode": "markers", "name": "OpenAI CLIP ViT-B/32 (published)", "x": suites,
                     "y": [p for p in published], "marker": {"symbol": "diamond", "size": 12, "color": "#059669"}})
    if any(c is not None for c in published_chance):
        data.append({"type": "scatter", "mode": "markers", "name": "its benchmark's chance", "x": suites,
                     "y": list(published_chance),
                     "marker": {"symbol": "line-ew-open", "size": 18, "color": "#059669", "line": {"width": 2}}})
    return {"data": data, "layout": _layout(title or f"Probe accuracy: {name_a} vs {name_b}", 400, barmode="group",
                                            yaxis={"range": [0, 1.1], "tickformat": ".0%",
                                                   "title": {"text": "accuracy"}},
                                            legend={"orientation": "h", "y": -0.18})}
