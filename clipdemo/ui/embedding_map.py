"""Embedding map tab: images and texts in 2-D, the modality gap measured, and what closing it does."""

from __future__ import annotations

from functools import partial

import gradio as gr

from ..analysis.embedding_map import PROJECTIONS, EmbeddingMap, coordinates_csv, embedding_map as run_map
from ..errors import InputError
from ..figures import thumbnail_uri
from ..map_figures import embedding_map as map_figure
from ..text import parse_lines
from . import examples, reading
from .common import (clear_on_upload, engine_for, error_box, export, load_uploads, notes_markdown, run_keeping_errors,
                     user_errors)
from .state import ServerState

EXPLAINER = """
**The modality gap** (Liang et al., "Mind the Gap", NeurIPS 2022). CLIP puts every image embedding in
one narrow cone of the unit sphere and every text embedding in another. The two centroids are far apart
(the dashed line), so a matching image and text are never close in absolute terms: OpenAI's CLIP gives
a matching pair a cosine of about 0.2-0.3 and a wrong pair only a few hundredths less. Ranking works
anyway, because only the differences matter, and the learned temperature makes them count:
`logit_scale` (about 100) multiplies every cosine before the softmax, so a 0.05 difference in cosine
becomes a factor of e^5, about 150, in odds.

**Remove each modality's mean** subtracts the image centroid from every image and the text centroid from
every text (then makes them unit vectors again). The clouds then overlap; the table shows what that
does to this set's zero-shot accuracy and Recall@K, measured on exactly these inputs: it can help or
hurt, and small sets say little.

**The projection** is PCA of all points together by default. The two clouds can overlap in a PCA view
even when the gap is large, because the gap need not lie along the directions of largest spread:
*gap axis* puts the line between the centroids on the horizontal axis at its true length (and the
largest remaining spread on the vertical one), so the gap is seen as it is. *UMAP* (umap-learn) keeps
neighbours together rather than distances; the first UMAP map after the server starts takes longer
(up to a minute on a small CPU) while numba compiles it, later ones are quick. Distances in 2-D only roughly follow the cosines in the full space.
"""


AXES = {"PCA": ("PC 1", "PC 2"), "gap axis": ("image centroid - text centroid", "PC 1 of the rest"),
        "UMAP": ("UMAP 1", "UMAP 2")}


def _percent(v: float) -> str:
    return f"{v:.0%}"


def summary(result: EmbeddingMap, n_images: int, n_texts: int) -> str:
    """The gap, the cosines and retrieval with and without the means, as Markdown."""
    g, c = result.gap, result.gap_centred
    axes = (f" The two axes carry {result.explained[0]:.0%} and {result.explained[1]:.0%} of the variance."
            if result.explained else "")
    rows = ["| | as the model gives them | each modality's mean removed |", "|---|---|---|",
            f"| centroid distance (the gap) | **{g.gap:.3f}** | {c.gap:.3f} |",
            f"| mean cosine, matching pairs | {g.matched_cosine:.3f} | {c.matched_cosine:.3f} |",
            f"| mean cosine, other pairs | {g.unmatched_cosine:.3f} | {c.unmatched_cosine:.3f} |",
            f"| zero-shot accuracy (each image's best text of all {n_texts}) "
            f"| {_percent(result.raw.zero_shot_accuracy)} | {_percent(result.without_means.zero_shot_accuracy)} |"]
    rows += [f"| {k} | {_percent(v)} | {_percent(result.without_means.recall[k])} |"
             for k, v in result.raw.recall.items()]
    shown = "with each modality's mean removed" if result.centred else "as the model gives them"
    return (f"**{n_images} images, {n_texts} texts**, text i matching image i; the map shows the embeddings "
            f"{shown}.{axes}\n\n" + "\n".join(rows))


@user_errors
def embedding_map(images, texts: str, projection: str = "PCA", remove_means: bool = False, session_model=None,
                  model: str = ""):
    """Project image and text embeddings to 2-D and measure the modality gap.

    Args:
        images: image files; image i is described by text i.
        texts: one text per line, in the same order as the images (extra texts are unmatched candidates;
            fewer texts than images is refused).
        projection: "PCA" (default), "gap axis" (the centroid difference as the x axis) or "UMAP".
        remove_means: show the map with each modality's mean removed (the gap closed).
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        A summary (centroid distance, mean cosine of matching and other pairs, zero-shot accuracy and
        Recall@K with and without the means removed), the map, and a CSV of the 2-D coordinates.
    """
    parsed = parse_lines(texts, "texts")
    loaded, notes = load_uploads(images)
    if len(loaded) > len(parsed.items):
        # pairs are image i with text i: an image without its text would be left out of every number silently
        raise InputError(f"{len(loaded)} images but only {len(parsed.items)} texts: give one text per image, "
                         "in the same order (text i describes image i). Extra texts are fine: they are "
                         "candidates without an image.")
    engine = engine_for(model, session_model)
    image_features = engine.encode_images([im.image for im in loaded])
    text_features = engine.encode_texts(parsed.items)
    result = run_map(image_features.numpy(), text_features.numpy(), projection=projection, centred=bool(remove_means))
    names = [im.name for im in loaded]
    thumbs = [thumbnail_uri(im.image, 64) for im in loaded] if len(loaded) <= 40 else []
    gap = result.gap_centred.gap if result.centred else result.gap.gap
    dims = image_features.shape[1]
    title = (f"{engine.info.name}: images and texts in 2-D ({result.projection})<br><sup>centroid distance "
             f"{gap:.2f} in all {dims} dimensions (2-D can show it shorter)"
             + (" · each modality's mean removed" if result.centred else "")
             + "</sup>")
    figure = map_figure(result.image_xy, result.text_xy, [(i, i) for i in range(min(len(names), len(parsed.items)))],
                        names, parsed.items, thumbs, title=title, axis_names=AXES[result.projection])
    note = notes_markdown(parsed.notes + notes, reading.photo_caveat(engine, loaded), engine)
    return ((note + "\n\n" if note else "") + summary(result, len(names), len(parsed.items)), figure,
            export("embedding_map.csv", coordinates_csv(result, names, parsed.items)))


def build(session_model: gr.State, state: ServerState, model: gr.Dropdown) -> list:
    """The tab; returns its result components (cleared when the session picks another model)."""
    with gr.Row():
        with gr.Column(scale=2):
            images = gr.File(label="Images", file_count="multiple", type="filepath")
            texts = gr.Textbox(label="Texts (one per line; text i describes image i)", lines=8)
            projection = gr.Radio(list(PROJECTIONS), value="PCA", label="Projection")
            remove_means = gr.Checkbox(label="Remove each modality's mean (close the gap)", value=False)
            run = gr.Button("Draw the map", variant="primary")
            gr.Examples(examples=examples.embedding_examples(), inputs=[images, texts], label="Examples",
                        elem_id="embedding-examples", example_labels=examples.EMBEDDING_EXAMPLE_LABELS)
        with gr.Column(scale=3):
            error = error_box()
            notes = gr.Markdown(elem_id="embedding-notes")
            plot = gr.Plot(label="Embedding map")
            csv = gr.File(label="Download the 2-D coordinates (CSV)")
    with gr.Accordion("The modality gap, and why CLIP's cosines are small", open=False):
        gr.Markdown(EXPLAINER)
    args, outputs = [images, texts, projection, remove_means, session_model, model], [notes, plot, csv]
    run_keeping_errors(state.errors, run.click, embedding_map, args, outputs, error, api_name="embedding_map",
                       concurrency_id=None)  # UMAP's first run compiles for up to a minute: a queue of its own
    # every option redraws the map at once, as the similarity matrix's view does (embeddings are cached). One
    # event for both options, so that redraws run one after another and the last change is the one drawn: with
    # an event each, two quick changes ran side by side and the slower one's map, now stale, could land last.
    on_options = partial(gr.on, [projection.change, remove_means.change])
    run_keeping_errors(state.errors, on_options, _redraw, args, outputs, error, api_name="embedding_map_redraw",
                       api_visibility="private", concurrency_id=None)
    clear_on_upload(images, [notes, plot, csv], "embedding_map_clear")
    return [notes, plot, csv]


@user_errors
def _redraw(images, texts, projection, remove_means, session_model=None, model: str = ""):
    """The map again under the new option, once there is something to draw."""
    if not images or not (texts or "").strip():
        return gr.skip(), gr.skip(), gr.skip()
    return embedding_map.__wrapped__(images, texts, projection, remove_means, session_model, model)
