"""Zero-shot classification tab: images + candidate labels + prompt template(s) -> ranked labels."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..analysis.zero_shot import zero_shot as run_zero_shot
from ..figures import ranked_bars
from ..prompts import CIFAR100_CLASSES, CIFAR100_TEMPLATE, DEFAULT_TEMPLATE, ENSEMBLE_TEMPLATES
from ..text import check_template, fill, parse_lines, percent
from . import examples
from .common import (engine_for, error_box, export, load_uploads, model_caveat, notes_markdown,
                     preview_gallery, progress_callback, run_keeping_errors, user_errors)
from .state import ServerState
from .where import where

EXPLAINER = f"""
**Reading the numbers.** Each label is put into the template (`{DEFAULT_TEMPLATE}`) and encoded; the
*cosine* is the similarity of that text's embedding with the image's. OpenAI's CLIP's cosines for a
matching pair sit around 0.2-0.35 and for a wrong one a few hundredths lower: the two encoders' embeddings only ever
need to rank, not to align perfectly. The *probability* is `softmax(logit_scale x cosine)` over the labels
you gave. `logit_scale` is CLIP's learned inverse temperature (100 for OpenAI's models): it stretches a
0.03 gap in cosine into a factor of e^3 = 20 in odds. The probabilities are relative to your candidates:
they always sum to 100%, so if the right answer is missing, a wrong label still gets most of the share.
**Ensemble** averages each label's embedding over {len(ENSEMBLE_TEMPLATES)} templates (CLIP's ImageNet
prompt ensembling), which usually helps on photos.
"""


@user_errors
def zero_shot(images, candidate_labels: str, hypothesis_template: str = DEFAULT_TEMPLATE,
              use_ensemble: bool = False, top_k: float = 5, session_model=None, model: str = "",
              progress=gr.Progress()):
    """Zero-shot image classification with CLIP.

    Args:
        images: one or more image files.
        candidate_labels: the labels to choose between, one per line.
        hypothesis_template: a prompt with {} where the label goes, e.g. "a photo of a {}.".
        use_ensemble: average each label over 12 ImageNet prompt templates instead of the one template.
        top_k: how many labels to chart per image.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        Notes, a bar chart of the top-k labels per image, a table of Rank/Probability/Cosine/Label/Image
        (probability as a percentage), and a CSV of every label's scores (image, rank, label, probability, cosine).
    """
    labels = parse_lines(candidate_labels, "labels")
    templates = list(ENSEMBLE_TEMPLATES) if use_ensemble else [check_template(hypothesis_template)]
    loaded, notes = load_uploads(images)
    engine = engine_for(model, session_model, progress)
    results = run_zero_shot(engine, [im.image for im in loaded], labels.items, templates,
                            names=[im.name for im in loaded], progress=progress_callback(progress, "encoding labels"))
    k = max(1, min(int(top_k or 5), len(labels.items)))
    figure = ranked_bars([(r.image, [s.label for s in r.scores[:k]], [s.score for s in r.scores[:k]])
                          for r in results], title=f"{engine.info.name}: top {k} of {len(labels.items)} labels")
    rows = [(r.image, rank, s.label, s.score, s.cosine) for r in results for rank, s in enumerate(r.scores, 1)]
    full = pd.DataFrame(rows, columns=["image", "rank", "label", "probability", "cosine"])
    top = full[full["rank"] <= k]
    table = pd.DataFrame({"Rank": top["rank"], "Probability": top["probability"].map(percent),
                          "Cosine": top["cosine"].round(4), "Label": top["label"], "Image": top["image"]})
    return (notes_markdown(labels.notes + notes, model_caveat(engine), engine), figure, table,
            export("zero_shot.csv", full.to_csv(index=False)))


@user_errors
def zero_shot_where(images, candidate_labels: str, hypothesis_template: str = DEFAULT_TEMPLATE,
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
    template = check_template(hypothesis_template)
    loaded, _ = load_uploads(images)
    engine = engine_for(model, session_model)
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
            template = gr.Textbox(label="Prompt template ({} is the label)", value=DEFAULT_TEMPLATE)
            with gr.Row():
                ensemble = gr.Checkbox(label=f"Ensemble of {len(ENSEMBLE_TEMPLATES)} templates", value=False)
                top_k = gr.Slider(1, 20, value=5, step=1, label="Top-k")
            with gr.Row():
                run = gr.Button("Classify", variant="primary")
                cifar = gr.Button("CIFAR-100: top 5 of 100 classes")
            gr.Examples(examples=examples.zero_shot_examples(), inputs=[images, labels, template], label="Examples",
                        elem_id="zero-shot-examples", example_labels=examples.ZERO_SHOT_EXAMPLE_LABELS)
        with gr.Column(scale=3):
            error = error_box()
            notes = gr.Markdown()
            plot = gr.Plot(label="Top labels")
            table = gr.Dataframe(label="Scores", interactive=False, elem_id="zero-shot-table", wrap=True,
                                 column_widths=["64px", "120px", "84px", "33%", "27%"])
            csv = gr.File(label="Download CSV (all labels)")
            where_button = gr.Button("Where? Show where the top 3 labels match in the first image")
            where_plot = gr.Plot(label="Where (relevance maps)", elem_id="zero-shot-where")
    with gr.Accordion("Reading the numbers", open=False):
        gr.Markdown(EXPLAINER)
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
    return [notes, plot, table, csv, where_plot]


def _cifar100(images, labels: str):
    """The classic demo in one click: CIFAR-100's 100 classes, 'a photo of a {}.', top 5 (example photos if none).

    The classes go into the label box, where the user sees them; a toast says what was replaced."""
    cifar = "\n".join(CIFAR100_CLASSES)
    if (labels or "").strip() and labels.strip() != cifar:
        gr.Info("Your labels were replaced by CIFAR-100's 100 classes (they are in the label box now).")
    return (images or examples.cifar100_images(), cifar, CIFAR100_TEMPLATE, False, 5)
