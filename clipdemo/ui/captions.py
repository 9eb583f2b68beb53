"""Caption ranking tab: one image + candidate captions -> captions ranked with probabilities."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..analysis.captions import rank_captions as run_rank_captions
from ..figures import ranked_bars
from ..text import parse_lines, percent
from . import examples
from . import reading
from .common import (answered_by, clear_on_upload, csv_text, engine_for, error_box, export, load_uploads,
                     preview_image, run_keeping_errors, user_errors)
from .state import ServerState
from .where import where

def explainer(session_model=None, model: str = "") -> str:
    """The tab's "Reading the numbers", written for the model that answers this session."""
    return reading.explainer("captions", engine_for(model, session_model))


@user_errors
def rank_captions(image, captions: str, session_model=None, model: str = ""):
    """Rank candidate captions for one image with CLIP.

    Args:
        image: one image file.
        captions: the candidate captions, one per line.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        Notes (first the kind of score: softmax over the captions, or an independent sigmoid per caption;
        duplicates removed, captions truncated at the model's token limit), a bar chart, a table of
        Rank/Probability (softmax|sigmoid)/Cosine/Caption/Cut at N tokens, and a CSV (rank, caption,
        probability, cosine, truncated, score: "softmax" or "sigmoid").
    """
    parsed = parse_lines(captions, "captions")
    loaded, notes = load_uploads(image, limit=1)
    engine = engine_for(model, session_model)
    scores = run_rank_captions(engine, loaded[0].image, parsed.items)
    cut = [s.caption for s in scores if s.truncated]
    if cut:
        notes.append(f"{len(cut)} caption(s) longer than {engine.max_text_tokens} tokens were truncated: "
                     + "; ".join(f"'{c[:40]}...'" for c in cut[:5]))
    kind = reading.kind_short(engine)
    rows = [(i, s.caption, round(s.probability, 6), round(s.cosine, 6), s.truncated, engine.family.score)
            for i, s in enumerate(scores, 1)]
    table = pd.DataFrame({"Rank": [row[0] for row in rows], f"Probability ({kind})": [percent(row[2]) for row in rows],
                          "Cosine": [round(row[3], 4) for row in rows], "Caption": [row[1] for row in rows],
                          f"Cut at {engine.max_text_tokens} tokens": ["yes" if row[4] else "" for row in rows]})
    figure = ranked_bars([(loaded[0].name, [s.caption for s in scores], [s.probability for s in scores])],
                         title=f"{engine.info.name}: captions ranked · {kind} "
                         + ("(independent, not summing to 100%)" if engine.family.independent else "over the captions"))
    first = [f"Scores: {reading.score_kind(engine, len(parsed.items), 'captions')}."]
    first += reading.weak_match_notes(engine, [(loaded[0].name, scores[0].caption, scores[0].cosine)])
    first += reading.text_notes(engine, parsed.items)
    notes_md = answered_by(engine) + "\n\n" + reading.notes_then_caveat(first + parsed.notes + notes,
                                                                       reading.photo_caveat(engine, loaded))
    return (notes_md, figure, table,
            export("captions.csv", csv_text(["rank", "caption", "probability", "cosine", "truncated", "score"], rows)))


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
            table = gr.Dataframe(label="Ranking", headers=["Rank", "Probability", "Cosine", "Caption", "Cut"],
                                 interactive=False, wrap=True, elem_id="captions-table",
                                 column_widths=["64px", "120px", "84px", "48%", "12%"])
            csv = gr.File(label="Download CSV")
            where_button = gr.Button("Where? Show where the top 3 captions match")
            where_plot = gr.Plot(label="Where (relevance maps)", elem_id="captions-where")
    with gr.Accordion("Reading the numbers", open=False):
        reading_md = gr.Markdown(elem_id="captions-reading")
    gr.on([gr.context.Context.root_block.load, session_model.change, model.change], explainer,
          [session_model, model], reading_md, api_name="rank_captions_reading", api_visibility="private", queue=False, show_progress="hidden")
    image.change(examples.preview_one, image, preview, api_name="rank_captions_preview",
                 api_visibility="private", show_progress="hidden")
    run_keeping_errors(state.errors, run.click, rank_captions, [image, captions, session_model, model],
                       [notes, plot, table, csv], error, api_name="rank_captions", clears=[where_plot])
    run_keeping_errors(state.errors, where_button.click, rank_captions_where, [image, captions, session_model, model],
                       where_plot, error, api_name="rank_captions_where")
    clear_on_upload(image, [notes, plot, table, csv, where_plot], "rank_captions_clear")
    return [notes, plot, table, csv, where_plot]
