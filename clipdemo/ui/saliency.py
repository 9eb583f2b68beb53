"""Saliency tab: one image + texts -> where in the image each text matches, and which words drove it."""

from __future__ import annotations

import json

import gradio as gr

from ..analysis.saliency import METHODS, NULL_CAPTION, SaliencyResult, probably_absent, saliency as run_saliency
from ..text import fixed, parse_lines
from . import examples, reading
from .common import (clear_on_upload, engine_for, error_box, export, load_uploads, notes_markdown, preview_image,
                     run_keeping_errors, user_errors)
from .state import ServerState
from .where import overlay

MAX_TEXTS = 6  # panels per request: each text is one map
EXPLAINER = f"""
**How the maps are made.** *Relevance* (Chefer, Gur and Wolf, ICCV 2021) follows the text's score back
through every attention layer of the image encoder: each attention map is weighted by the gradient of
the image-text cosine with respect to it, negative parts are dropped, heads are averaged, and the layers
are chained together. It also says which words of the text mattered. *Occlusion* needs no gradients: it
greys out one patch of the model's input at a time and records how much the text's cosine drops.

**Reading the colours.** Bright yellow = the parts of the image that raised this text's score most,
black = least. Each panel is scaled to its own maximum, so compare *where* between panels, not *how
much*; tick **one colour scale for all panels** to compare how much too. A map always lights up
somewhere, even for a text that is not in the image: a panel whose text's cosine is a weak match by
this model's own typical cosines (measured once per model on its examples, the line the other tabs use)
*and* no higher than the image's cosine with "{NULL_CAPTION}", a caption that names nothing, is dimmed and
labelled "probably not in the image". The name of one object among two often falls under the first
line, as it matches only half the scene, but still beats "{NULL_CAPTION}", so it is not flagged.
The map has the resolution of the model's patches (10 x 10 for the bundled models, 7 x 7 for ViT-B/32),
smoothed; the image is padded to a square, never cropped, so the map covers all of it.

**Measured, not assumed.** On two-object scenes where the text names one object, the bundled model's
relevance map points at the named object far more often than a map from random weights or a map
that peaks at the image centre: see docs/measurements.md in the project.
"""


def method_note(result: SaliencyResult, typical=None, absent=()) -> str:
    colours = ("bright = raised this text's score most, dark = least" if result.method == "relevance" else
               "bright = greying out this patch lowered the text's cosine most, dark = least (or raised it)")
    cosines = ", ".join(f"'{t}' {fixed(c, 3)}" for t, c in zip(result.texts, result.cosine))
    note = (f"Drawn by **{result.method_name}**. Colours: {colours}; each panel scaled to its own maximum "
            f"unless one scale is chosen. Cosine: {cosines}.")
    gone = [t for t, a in zip(result.texts, absent) if a]
    if typical is not None and gone:
        note += (f" **Probably not in the image:** {', '.join(repr(t) for t in gone)}: cosine below "
                 f"{fixed(typical.weak_below)}, midway between this model's typical matching pair "
                 f"({fixed(typical.match)}) and non-matching pair ({fixed(typical.nonmatch)}), and no higher than "
                 f"this image's cosine with '{NULL_CAPTION}' ({fixed(result.null_cosine, 3)}), a caption that names "
                 "nothing. A map always lights up somewhere, so those panels are dimmed: their bright part is "
                 "only where the image is least unlike the text.")
    unflagged = [t for t, c, a in zip(result.texts, result.cosine, absent) if typical and typical.is_weak(c) and not a]
    if unflagged:
        note += (f" {', '.join(repr(t) for t in unflagged)}: cosine below {fixed(typical.weak_below)}, this model's "
                 f"weak-match line, but above this image's cosine with '{NULL_CAPTION}' "
                 f"({fixed(result.null_cosine, 3)}), so not called absent. A text that names only part of the image "
                 "(one of several objects) scores like that; so can one that is absent but shares a colour or a "
                 "shape with what is there: read the cosine.")
    return note


def words_value(result: SaliencyResult) -> list[tuple[str, float | None]]:
    """Per-word relevance for gr.HighlightedText: each word's share, scaled to the text's top word."""
    out: list[tuple[str, float | None]] = []
    for i, (text, words) in enumerate(zip(result.texts, result.words)):
        if i:
            out.append(("   |   ", None))
        if not words:
            out.append((text, None))
            continue
        top = max(w.relevance for w in words) or 1.0
        out += [(f"{w.word} ", round(w.relevance / top, 3)) for w in words]
    return out


@user_errors
def saliency(image, texts: str, method: str = "relevance", session_model=None, model: str = ""):
    """Where in the image each text matches: a relevance map per text, and per-word relevance.

    Args:
        image: one image file.
        texts: the texts to locate, one per line (at most 6).
        method: "relevance" (gradient-weighted attention relevance, Chefer et al. 2021; also scores the
            words) or "occlusion" (the drop in cosine when a grey patch covers each region).
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        Notes (the method and what the colours mean), the overlay figure (one panel per text), per-word
        relevance, and a JSON file {"texts": [...], "maps": [[[...]]], "method": "...", "cosine": [...],
        "null_cosine": ...} with one 2-D map per text in [0, 1] (rows top to bottom, covering the whole image;
        1 = most relevant), each text's cosine with the image and the image's cosine with "a photo.".
    """
    parsed = parse_lines(texts, "texts", limit=MAX_TEXTS)
    loaded, notes = load_uploads(image, limit=1)
    engine = engine_for(model, session_model)
    result = run_saliency(engine, loaded[0].image, parsed.items, method=method)
    typical = reading.typical_for(engine)
    absent = probably_absent(result, typical)
    body = notes_markdown(parsed.notes + notes, reading.photo_caveat(engine, loaded), engine)
    drawn = (loaded[0].image, result, absent)  # kept for redrawing on one colour scale without a new run
    return ((body + "\n\n" if body else "") + method_note(result, typical, absent),
            overlay(loaded[0].image, result, absent=absent), words_value(result),
            export("saliency.json", json.dumps(result.as_dict())), drawn)


def _redraw(drawn, shared: bool):
    """The last result drawn again, each panel on its own scale or all on one (no new run)."""
    if drawn is None:
        return gr.skip()
    image, result, absent = drawn
    return overlay(image, result, absent=absent, shared=bool(shared))


def _redraw_if_shared(drawn, shared: bool):
    """After a run: the run drew each panel on its own scale; redraw only if one scale is ticked."""
    return _redraw(drawn, shared) if shared else gr.skip()


def build(session_model: gr.State, state: ServerState, model: gr.Dropdown) -> list:
    """The tab; returns its result components (cleared when the session picks another model)."""
    with gr.Row():
        with gr.Column(scale=2):
            image = gr.File(label="Image", file_count="single", type="filepath")
            preview = preview_image(height=240)
            texts = gr.Textbox(label=f"Texts to locate (one per line, at most {MAX_TEXTS})", lines=4)
            method = gr.Radio(list(METHODS), value="relevance", label="Method",
                              info="relevance: gradient-weighted attention relevance (Chefer et al., ICCV 2021); "
                                   "occlusion: the drop in cosine when a grey patch covers each region")
            shared = gr.Checkbox(label="One colour scale for all panels", value=False,
                                 info="off: each panel scaled to its own maximum (compare where); "
                                      "on: compare how much too")
            run = gr.Button("Show where", variant="primary")
            gr.Examples(examples=examples.saliency_examples(), inputs=[image, texts], label="Examples",
                        elem_id="saliency-examples", example_labels=examples.SALIENCY_EXAMPLE_LABELS)
        with gr.Column(scale=3):
            error = error_box()
            notes = gr.Markdown(elem_id="saliency-notes")
            plot = gr.Plot(label="Where each text matches")
            words = gr.HighlightedText(label="Which words mattered (relevance method; share of the text's relevance)",
                                       show_legend=False, combine_adjacent=False, elem_id="saliency-words")
            download = gr.File(label="Download the maps (JSON)")
    with gr.Accordion("How the maps are made, and how to read them", open=False):
        gr.Markdown(EXPLAINER)
    image.change(examples.preview_one, image, preview, api_name="saliency_preview",
                 api_visibility="private", show_progress="hidden")
    drawn = gr.State(None)
    run_keeping_errors(state.errors, run.click, saliency, [image, texts, method, session_model, model],
                       [notes, plot, words, download, drawn], error, api_name="saliency").then(
        _redraw_if_shared, [drawn, shared], plot, api_name="saliency_scale", api_visibility="private",
        show_progress="hidden")
    shared.change(_redraw, [drawn, shared], plot, api_name="saliency_scale_change", api_visibility="private",
                  show_progress="hidden")
    clear_on_upload(image, [notes, plot, words, download, drawn], "saliency_clear")  # drawn: no redraw of the old
    return [notes, plot, words, download]
