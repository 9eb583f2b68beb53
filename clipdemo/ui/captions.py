"""Caption ranking tab: one image + candidate captions -> captions ranked with probabilities."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..analysis.captions import rank_captions as run_rank_captions
from ..figures import ranked_bars
from ..text import parse_lines, percent
from . import examples
from .common import (engine_for, error_box, export, load_uploads, model_caveat, notes_markdown,
                     preview_image, run_keeping_errors, user_errors)
from .state import ServerState
from .where import where

EXPLAINER = """
**Reading the numbers.** Like a Flickr30k caption-ranking table: each caption's *probability* is
`softmax(logit_scale x cosine)` over the captions you gave, so they sum to 100% and only say which
caption fits *best among these*, not whether any fits. The *cosine* is the raw similarity; for OpenAI's
CLIP a good caption scores about 0.3 and a poor one 0.15-0.2 (the bundled tiny-scenes spreads wider).
CLIP reads at most 77 tokens (about 50-60 words); longer captions are cut, and the table marks them.
"""


@user_errors
def rank_captions(image, captions: str, session_model=None, model: str = ""):
    """Rank candidate captions for one image with CLIP.

    Args:
        image: one image file.
        captions: the candidate captions, one per line.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        Notes (duplicates removed, captions truncated at 77 tokens), a bar chart, a table of
        Rank/Probability/Cosine/Caption/Cut at 77 tokens, and a CSV (rank, caption, probability, cosine, truncated).
    """
    parsed = parse_lines(captions, "captions")
    loaded, notes = load_uploads(image, limit=1)
    engine = engine_for(model, session_model)
    scores = run_rank_captions(engine, loaded[0].image, parsed.items)
    cut = [s.caption for s in scores if s.truncated]
    if cut:
        notes.append(f"{len(cut)} caption(s) longer than {engine.max_text_tokens} tokens were truncated: "
                     + "; ".join(f"'{c[:40]}...'" for c in cut[:5]))
    full = pd.DataFrame([(i, s.caption, round(s.probability, 6), round(s.cosine, 6), s.truncated)
                         for i, s in enumerate(scores, 1)],
                        columns=["rank", "caption", "probability", "cosine", "truncated"])
    table = pd.DataFrame({"Rank": full["rank"], "Probability": full["probability"].map(percent),
                          "Cosine": full["cosine"].round(4), "Caption": full["caption"],
                          "Cut at 77 tokens": full["truncated"].map({True: "yes", False: ""})})
    figure = ranked_bars([(loaded[0].name, [s.caption for s in scores], [s.probability for s in scores])],
                         title=f"{engine.info.name}: captions ranked")
    return (notes_markdown(parsed.notes + notes, model_caveat(engine), engine), figure, table,
            export("captions.csv", full.to_csv(index=False)))


@user_errors
def rank_captions_where(image, captions: str, session_model=None, model: str = ""):
    """Where in the image the top 3 captions match (gradient-weighted attention relevance).

    Args:
        image: one image file.
        captions: the candidate captions, one per line.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        A figure: the image under one relevance map per top caption.
    """
    parsed = parse_lines(captions, "captions")
    loaded, _ = load_uploads(image, limit=1)
    engine = engine_for(model, session_model)
    top = [s.caption for s in run_rank_captions(engine, loaded[0].image, parsed.items)[:3]]
    return where(engine, loaded[0].image, top)


def build(session_model: gr.State, state: ServerState, model: gr.Dropdown) -> list:
    """The tab; returns its result components (cleared when the session picks another model)."""
    with gr.Row():
        with gr.Column(scale=2):
            image = gr.File(label="Image", file_count="single", type="filepath")
            preview = preview_image(height=280)
            captions = gr.Textbox(label="Candidate captions (one per line)", lines=8)
            run = gr.Button("Rank captions", variant="primary")
            gr.Examples(examples=examples.caption_examples(), inputs=[image, captions], label="Examples",
                        elem_id="captions-examples", example_labels=examples.CAPTION_EXAMPLE_LABELS)
        with gr.Column(scale=3):
            error = error_box()
            notes = gr.Markdown()
            plot = gr.Plot(label="Captions")
            table = gr.Dataframe(label="Ranking", interactive=False, wrap=True, elem_id="captions-table",
                                 column_widths=["64px", "120px", "84px", "48%", "12%"])
            csv = gr.File(label="Download CSV")
            where_button = gr.Button("Where? Show where the top 3 captions match")
            where_plot = gr.Plot(label="Where (relevance maps)", elem_id="captions-where")
    with gr.Accordion("Reading the numbers", open=False):
        gr.Markdown(EXPLAINER)
    image.change(examples.preview_one, image, preview, api_name="rank_captions_preview",
                 api_visibility="private", show_progress="hidden")
    run_keeping_errors(state.errors, run.click, rank_captions, [image, captions, session_model, model],
                       [notes, plot, table, csv], error, api_name="rank_captions", clears=[where_plot])
    run_keeping_errors(state.errors, where_button.click, rank_captions_where, [image, captions, session_model, model],
                       where_plot, error, api_name="rank_captions_where")
    return [notes, plot, table, csv, where_plot]
