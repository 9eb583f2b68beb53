"""Similarity matrix tab: images x texts -> an interactive heatmap, three readings, CSV export."""

from __future__ import annotations

import gradio as gr

from ..analysis.similarity import VIEWS, similarity_matrix as run_similarity_matrix, views_for
from ..errors import InputError
from ..figures import heatmap, thumbnail_uri
from ..text import parse_lines
from . import examples
from . import reading
from .common import (answered_by, clear_on_upload, engine_for, error_box, export, load_uploads, replace_on_upload,
                     run_keeping_errors, user_errors)
from .state import ServerState

def explainer(session_model=None, model: str = "") -> str:
    """The tab's "Reading the numbers", written for the model that answers this session."""
    return reading.explainer("similarity", engine_for(model, session_model))


def views(session_model=None, model: str = ""):
    """The readings offered for this session's model, its own first (sigmoid models: the sigmoid)."""
    offered = views_for(engine_for(model, session_model).family.score)
    return gr.update(choices=list(offered), value=offered[0])


@user_errors
def similarity_matrix(images, texts: str, view: str = "cosine", session_model=None, model: str = ""):
    """Image x text similarity matrix with CLIP.

    Args:
        images: the image files (rows).
        texts: the texts, one per line (columns).
        view: "cosine", "softmax over texts" (rows sum to 1) or "softmax over images" (columns sum to 1) for a
            softmax (CLIP) model; "sigmoid (per pair)" (each cell its own probability) or "cosine" for a
            sigmoid (SigLIP) model, whose scores are never renormalised.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        Notes (first the kind of score), a Plotly heatmap with the values on the cells, and a CSV of the
        matrix (its corner cell names the view).
    """
    if view not in VIEWS:
        raise InputError(f"Unknown view {view!r}; use one of {', '.join(VIEWS)}.")
    parsed = parse_lines(texts, "texts")
    loaded, notes = load_uploads(images)
    engine = engine_for(model, session_model)
    if view not in ("cosine", *views_for(engine.family.score)):
        why = ("would renormalise its independent sigmoid scores" if engine.family.independent
               else "is a SigLIP reading: this model has no logit_bias and scores with a softmax")
        raise InputError(f"{view!r} {why} (`{engine.info.name}`); use one of "
                         f"{', '.join(views_for(engine.family.score))}.")
    result = run_similarity_matrix(engine, [im.image for im in loaded], parsed.items,
                                   names=[im.name for im in loaded])
    first = [f"This model's score: {reading.score_kind(engine, what='texts')}."]
    if view == "sigmoid (per pair)":
        notes.append(f"{view}: sigmoid(t·cos + b) for each cell on its own, t = {engine.logit_scale:.1f} and "
                     f"b = {engine.logit_bias:.1f} (this model's learned values); rows and columns do not sum to 1")
    elif view != "cosine":
        notes.append(f"{view}: cosines x logit_scale {engine.logit_scale:.1f} (this model's learned value), "
                     "then softmax")
    else:
        notes.append("Shown: the raw cosine of each image and text, before the model's score turns it into one")
    best = result.cosine.argmax(axis=1)
    first += reading.weak_match_notes(engine, [(name, result.texts[j], float(result.cosine[i, j]))
                                               for i, (name, j) in enumerate(zip(result.images, best))])
    first += reading.text_notes(engine, parsed.items)
    values = result.view(view)
    figure = heatmap(values, result.images, result.texts, title=f"{engine.info.name}, {view}: {len(result.images)} images x "
                     f"{len(result.texts)} texts", colorbar=view.split()[0],
                     thumbnails=[thumbnail_uri(im.image) for im in loaded],
                     zmin=None if view == "cosine" else 0.0, zmax=None if view == "cosine" else 1.0)
    csv = export("similarity.csv", result.to_csv(view))
    notes_md = answered_by(engine) + "\n\n" + reading.notes_then_caveat(first + parsed.notes + notes,
                                                                       reading.photo_caveat(engine, loaded))
    return notes_md, figure, csv


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
    # a new upload replaces what the box held (gradio would append it, duplicates included)
    replace_on_upload(images, "similarity_matrix_upload")
    with gr.Accordion("Reading the numbers", open=False):
        reading_md = gr.Markdown(elem_id="similarity-reading")
    gr.on([gr.context.Context.root_block.load, session_model.change, model.change],
          lambda m, pick: (explainer(m, pick), views(m, pick)), [session_model, model], [reading_md, view],
          api_name="similarity_matrix_reading", api_visibility="private", queue=False, show_progress="hidden")
    args = [images, texts, view, session_model, model]
    run_keeping_errors(state.errors, run.click, similarity_matrix, args, [notes, plot, csv], error,
                       api_name="similarity_matrix")
    run_keeping_errors(state.errors, view.change, _switch_view, args, [notes, plot, csv], error,
                       api_name="similarity_matrix_view", api_visibility="private")
    clear_on_upload(images, [notes, plot, csv], "similarity_matrix_clear")
    return [notes, plot, csv]


def _switch_view(images, texts, view, session_model=None, model: str = ""):
    """Redraw in the new reading once there is something to draw (embeddings are cached: no re-encoding)."""
    if not images or not (texts or "").strip():
        return gr.skip(), gr.skip(), gr.skip()
    return similarity_matrix(images, texts, view, session_model, model)
