"""Similarity matrix tab: images x texts -> an interactive heatmap, three readings, CSV export."""

from __future__ import annotations

import gradio as gr

from ..analysis.similarity import VIEWS, similarity_matrix as run_similarity_matrix
from ..errors import InputError
from ..figures import heatmap, thumbnail_uri
from ..text import parse_lines
from . import examples
from .common import (engine_for, error_box, export, load_uploads, model_caveat, notes_markdown, run_keeping_errors,
                     user_errors)
from .state import ServerState

EXPLAINER = """
**Reading the numbers.** *Cosine* is the raw similarity of each image's and each text's embedding.
For OpenAI's CLIP the matching pairs (the diagonal, when texts are in image order) sit around 0.25-0.35
and the rest around 0.1-0.2: CLIP's two embedding spaces only overlap in a narrow cone, so small gaps
matter. *Softmax over texts* is what zero-shot classification uses: each image's row, multiplied
by the model's `logit_scale` (100 for OpenAI's models; the result notes give the loaded model's) and
normalised to sum to 1. *Softmax over images* normalises each text's column
instead: which image is this text about? Both are relative to the images and texts on this chart.
"""


@user_errors
def similarity_matrix(images, texts: str, view: str = "cosine", session_model=None, model: str = ""):
    """Image x text similarity matrix with CLIP.

    Args:
        images: the image files (rows).
        texts: the texts, one per line (columns).
        view: "cosine", "softmax over texts" (rows sum to 1) or "softmax over images" (columns sum to 1).
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        Notes, a Plotly heatmap with the values on the cells, and a CSV of the matrix.
    """
    if view not in VIEWS:
        raise InputError(f"Unknown view {view!r}; use one of {', '.join(VIEWS)}.")
    parsed = parse_lines(texts, "texts")
    loaded, notes = load_uploads(images)
    engine = engine_for(model, session_model)
    result = run_similarity_matrix(engine, [im.image for im in loaded], parsed.items,
                                   names=[im.name for im in loaded])
    if view != "cosine":
        notes.append(f"{view}: cosines x logit_scale {engine.logit_scale:.1f} (this model's learned value), "
                     "then softmax")
    values = result.view(view)
    figure = heatmap(values, result.images, result.texts, title=f"{engine.info.name}, {view}: {len(result.images)} images x "
                     f"{len(result.texts)} texts", colorbar=view.split()[0],
                     thumbnails=[thumbnail_uri(im.image) for im in loaded],
                     zmin=None if view == "cosine" else 0.0, zmax=None if view == "cosine" else 1.0)
    csv = export("similarity.csv", result.to_csv(view))
    return notes_markdown(parsed.notes + notes, model_caveat(engine), engine), figure, csv


def build(session_model: gr.State, state: ServerState, model: gr.Dropdown) -> list:
    """The tab; returns its result components (cleared when the session picks another model)."""
    with gr.Row():
        with gr.Column(scale=2):
            images = gr.File(label="Images (rows)", file_count="multiple", type="filepath")
            texts = gr.Textbox(label="Texts (columns, one per line)", lines=8)
            view = gr.Radio(list(VIEWS), value="cosine", label="Show")
            run = gr.Button("Compute matrix", variant="primary")
            gr.Examples(examples=examples.similarity_examples(), inputs=[images, texts], label="Examples",
                        elem_id="similarity-examples", example_labels=examples.SIMILARITY_EXAMPLE_LABELS)
        with gr.Column(scale=3):
            error = error_box()
            notes = gr.Markdown()
            plot = gr.Plot(label="Similarity")
            csv = gr.File(label="Download CSV")
    with gr.Accordion("Reading the numbers", open=False):
        gr.Markdown(EXPLAINER)
    args = [images, texts, view, session_model, model]
    run_keeping_errors(state.errors, run.click, similarity_matrix, args, [notes, plot, csv], error,
                       api_name="similarity_matrix")
    run_keeping_errors(state.errors, view.change, _switch_view, args, [notes, plot, csv], error,
                       api_name="similarity_matrix_view", api_visibility="private")
    return [notes, plot, csv]


def _switch_view(images, texts, view, session_model=None, model: str = ""):
    """Redraw in the new reading once there is something to draw (embeddings are cached: no re-encoding)."""
    if not images or not (texts or "").strip():
        return gr.skip(), gr.skip(), gr.skip()
    return similarity_matrix(images, texts, view, session_model, model)
