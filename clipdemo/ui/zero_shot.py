"""Zero-shot classification tab: images + candidate labels + prompt template(s) -> ranked labels."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..analysis.zero_shot import zero_shot as run_zero_shot
from ..figures import ranked_bars
from ..prompts import CIFAR100_CLASSES, CIFAR100_TEMPLATE, ENSEMBLE_TEMPLATES
from ..text import check_template, fill, parse_lines, percent
from . import examples, reading
from .common import (answered_by, clear_on_upload, csv_text, engine_for, error_box, export, load_uploads,
                     preview_gallery, progress_callback, replace_on_upload, run_keeping_errors, user_errors)
from .state import ServerState
from .where import where

TOP_K_MAX = 20  # labels charted per image; the CSV holds them all


def explainer(session_model=None, model: str = "") -> str:
    """The tab's "Reading the numbers", written for the model that answers this session."""
    return reading.explainer("zero_shot", engine_for(model, session_model), len(ENSEMBLE_TEMPLATES))


def template_for(session_model=None, model: str = "") -> str:
    """The prompt template box's default: the model's own (its card: `{}` for tiny-scenes)."""
    return reading.default_template(engine_for(model, session_model))


@user_errors
def zero_shot(images, candidate_labels: str, hypothesis_template: str | None = None,
              use_ensemble: bool = False, top_k: float = 5, session_model=None, model: str = "",
              progress=gr.Progress()):
    """Zero-shot image classification with CLIP.

    Args:
        images: one or more image files.
        candidate_labels: the labels to choose between, one per line.
        hypothesis_template: a prompt with {} where the label goes, e.g. "a photo of a {}."; empty: the
            model's own default (its card: "{}" for tiny-scenes, "a photo of a {}." for CLIP).
        use_ensemble: average each label over 12 ImageNet prompt templates instead of the one template.
        top_k: how many labels to chart per image.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        Notes (first the kind of score: softmax over the labels, or an independent sigmoid per label), a bar
        chart of the top-k labels per image, a table of Rank/Probability (softmax|sigmoid)/Cosine/Label/Image
        (probability as a percentage), and a CSV of every label's scores (image, rank, label, probability,
        cosine, score: "softmax" or "sigmoid").
    """
    labels = parse_lines(candidate_labels, "labels")
    engine = engine_for(model, session_model, progress)
    template = check_template(hypothesis_template or reading.default_template(engine))
    templates = list(ENSEMBLE_TEMPLATES) if use_ensemble else [template]
    loaded, notes = load_uploads(images)
    results = run_zero_shot(engine, [im.image for im in loaded], labels.items, templates,
                            names=[im.name for im in loaded], progress=progress_callback(progress, "encoding labels"))
    asked = int(top_k or 5)
    k = max(1, min(asked, TOP_K_MAX, len(labels.items)))
    if asked > TOP_K_MAX and len(labels.items) > k:  # fewer labels than asked: the title says "Top 3 of 3"
        notes.append(f"Top-k {asked:,} was clamped to {k}: the chart and table show at most {TOP_K_MAX} "
                     "labels per image (the CSV has every label).")
    kind = reading.kind_short(engine)
    figure = ranked_bars([(r.image, [s.label for s in r.scores[:k]], [s.score for s in r.scores[:k]])
                          for r in results], title=f"{engine.info.name}: top {k} of {len(labels.items)} labels · "
                          f"{kind} " + ("(independent, not summing to 100%)" if engine.family.independent
                                        else "over the labels"))
    rows = [(r.image, rank, s.label, s.score, s.cosine, r.score_kind) for r in results
            for rank, s in enumerate(r.scores, 1)]
    top = [row for row in rows if row[1] <= k]
    table = pd.DataFrame({"Rank": [row[1] for row in top], f"Probability ({kind})": [percent(row[3]) for row in top],
                          "Cosine": [round(row[4], 4) for row in top], "Label": [row[2] for row in top],
                          "Image": [row[0] for row in top]})
    first = [f"Scores: {reading.score_kind(engine, len(labels.items))}."]
    first += reading.weak_match_notes(engine, [(r.image, r.scores[0].label, r.scores[0].cosine) for r in results])
    first += reading.text_notes(engine, labels.items, None if use_ensemble else template)
    notes_md = answered_by(engine) + "\n\n" + reading.notes_then_caveat(first + labels.notes + notes,
                                                                       reading.photo_caveat(engine, loaded))
    return (notes_md, figure, table,
            export("zero_shot.csv", csv_text(["image", "rank", "label", "probability", "cosine", "score"], rows)))


@user_errors
def zero_shot_where(images, candidate_labels: str, hypothesis_template: str | None = None,
                    use_ensemble: bool = False, session_model=None, model: str = ""):
    """Where in the first image its top 3 labels match (gradient-weighted attention relevance).

    Args:
        images: image files (the first one is explained).
        candidate_labels: the labels, one per line.
        hypothesis_template: the prompt template with {}.
        use_ensemble: rank with the 12-template ensemble (the maps use the one template).
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        A figure: the first image under one relevance map per top label.
    """
    labels = parse_lines(candidate_labels, "labels")
    engine = engine_for(model, session_model)
    template = check_template(hypothesis_template or reading.default_template(engine))
    loaded, _ = load_uploads(images)
    templates = list(ENSEMBLE_TEMPLATES) if use_ensemble else [template]
    top = [s.label for s in run_zero_shot(engine, [loaded[0].image], labels.items, templates)[0].scores[:3]]
    return where(engine, loaded[0].image, [fill(template, label) for label in top])


def build(session_model: gr.State, state: ServerState, model: gr.Dropdown) -> list:
    """The tab; returns its result components (cleared when the session picks another model)."""
    with gr.Row():
        with gr.Column(scale=2):
            images = gr.File(label="Images", file_count="multiple", type="filepath")
            gallery = preview_gallery(columns=4)
            labels = gr.Textbox(label="Candidate labels (one per line)", lines=6, value=examples.SCENE_LABELS)
            # the model's own template, filled in on load; empty (the API's default) means the same
            template = gr.Textbox(label="Prompt template ({} is the label)", value="",
                                  placeholder="empty: the model's own template")
            with gr.Row():
                ensemble = gr.Checkbox(label=f"Ensemble of {len(ENSEMBLE_TEMPLATES)} templates", value=False)
                top_k = gr.Slider(1, TOP_K_MAX, value=5, step=1, label="Top-k", elem_id="zero-shot-top-k",
                                  info=f"labels charted per image, at most {TOP_K_MAX}; the CSV holds every label")
            with gr.Row():
                run = gr.Button("Classify", variant="primary")
                cifar = gr.Button("CIFAR-100: top 5 of 100 classes")
            gr.Examples(examples=examples.zero_shot_examples(), inputs=[images, labels, template], label="Examples",
                        elem_id="zero-shot-examples", example_labels=examples.ZERO_SHOT_EXAMPLE_LABELS)
        with gr.Column(scale=3):
            error = error_box()
            notes = gr.Markdown()
            plot = gr.Plot(label="Top labels")
            table = gr.Dataframe(label="Scores", headers=["Rank", "Probability", "Cosine", "Label", "Image"],
                                 interactive=False, elem_id="zero-shot-table", wrap=True, max_height=900,
                                 column_widths=["64px", "120px", "84px", "33%", "27%"])
            csv = gr.File(label="Download CSV (all labels)")
            where_button = gr.Button("Where? Show where the top 3 labels match in the first image")
            where_plot = gr.Plot(label="Where (relevance maps)", elem_id="zero-shot-where")
    # a new upload replaces what the box held (gradio would append it, duplicates included)
    replace_on_upload(images, "zero_shot_upload")
    with gr.Accordion("Reading the numbers", open=False):
        reading_md = gr.Markdown(elem_id="zero-shot-reading")
    # written for the model that answers: on page load and whenever this session's model changes
    gr.on([gr.context.Context.root_block.load, session_model.change, model.change],
          lambda m, pick: (explainer(m, pick), template_for(m, pick)), [session_model, model], [reading_md, template],
          api_name="zero_shot_reading", api_visibility="private", queue=False, show_progress="hidden")
    images.change(examples.preview, images, gallery, api_name="zero_shot_preview",
                  api_visibility="private", show_progress="hidden")
    inputs = [images, labels, template, ensemble, top_k, session_model, model]
    run_keeping_errors(state.errors, run.click, zero_shot, inputs, [notes, plot, table, csv], error,
                       api_name="zero_shot", clears=[where_plot])
    filled = cifar.click(_cifar100, [images, labels], [images, labels, template, ensemble, top_k],
                         api_name="cifar100_labels", api_visibility="private")
    run_keeping_errors(state.errors, filled.then, zero_shot, inputs, [notes, plot, table, csv], error,
                       api_name="zero_shot_cifar100", api_visibility="private", clears=[where_plot])
    run_keeping_errors(state.errors, where_button.click, zero_shot_where,
                       [images, labels, template, ensemble, session_model, model], where_plot, error,
                       api_name="zero_shot_where")
    clear_on_upload(images, [notes, plot, table, csv, where_plot], "zero_shot_clear")
    return [notes, plot, table, csv, where_plot]


def _cifar100(images, labels: str):
    """The classic demo in one click: CIFAR-100's 100 classes, 'a photo of a {}.', top 5 (example photos if none).

    The classes go into the label box, where the user sees them; a toast says what was replaced."""
    cifar = "\n".join(CIFAR100_CLASSES)
    if (labels or "").strip() and labels.strip() != cifar:
        gr.Info("Your labels were replaced by CIFAR-100's 100 classes (they are in the label box now).")
    return (images or examples.cifar100_images(), cifar, CIFAR100_TEMPLATE, False, 5)
