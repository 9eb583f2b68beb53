"""Compare tab: the same images and labels (or one image and its captions) on two models, side by side;
then the probe suites on both."""

from __future__ import annotations

import json

import gradio as gr
import pandas as pd
from gradio.components.plot import PlotData

from ..analysis.compare import REJECTED_BELOW, ahead, below_chance, compare as run_compare, noise, score_model
from ..compare_figures import COLOUR_B, cosine_scatter, paired_accuracy, top_k_bars
from ..engine import get_pool
from ..errors import InputError
from ..probes import SUITES, published_for, run_suites, suite_label, suite_names
from ..probes.report import summary_rows
from ..registry import BUNDLED_MODEL, BUNDLED_SIGLIP
from ..text import check_template, parse_lines, percent
from . import examples
from .common import (TRAINED_HERE, engine_for, error_box, export, in_percent, load_uploads, notes_markdown,
                     picker_choices, run_keeping_errors, user_errors)
from .state import ServerState

EXPLAINER = """
**Two kinds of score.** A CLIP-family model (softmax) answers *which of these labels fits best*: its scores
over an image's labels sum to 100%, so they depend on which labels you gave. A SigLIP-family model (sigmoid)
scores each image-label pair *on its own*: several labels can all be near 100%, or all near 0%. So a 60%
means different things on the two sides, and the two are never compared as numbers here.

What both kinds share is an **order**: each image's top-1 label, and how it ranks all the labels.
*Top-1 agreement* is the share of images whose best label is the same on both sides. *Spearman ρ* is the
rank correlation between the two models' orders of each image's labels (1: the same order, 0: unrelated,
-1: reversed). The scatter sets the raw cosines side by side: each model has its own range of cosines
(tiny-scenes sits near 0.6, OpenAI's CLIP near 0.3), so look at the order of the points, not the diagonal.
"""


def _other(model: str, session_model=None) -> str:
    """The model compared against when none is named: the first one offered that is not `model`."""
    model = (model or "").strip()
    picked = get_pool().check(model) if model != TRAINED_HERE else model
    others = [m for m in picker_choices(session_model) if m != picked]
    if not others:
        raise InputError("This server offers one model: start it with a second (`--model A --model B`).")
    return others[0]


def _plot(figure: dict) -> PlotData:
    """A figure dict as gr.Plot's value, without building (and validating) a plotly Figure."""
    return PlotData(type="plotly", plot=json.dumps(figure))


@user_errors
def compare(images, candidate_labels: str, hypothesis_template: str = "{}", top_k: float = 3,
            other_model: str = "", session_model=None, model: str = "", progress=gr.Progress()):
    """The same images and labels on two models: each one's top-k, top-1 agreement, rank correlation.

    Args:
        images: one or more image files (one image with several captions works too).
        candidate_labels: the labels (or captions), one per line.
        hypothesis_template: a prompt with {} where the label goes.
        top_k: how many labels to chart per image and model.
        other_model: model B, one of the offered models ("": the first offered one that is not `model`).
        model: model A, one of the offered models ("": the server's default).
    Returns:
        A summary (agreement, mean rank correlation, the two kinds of score), model A's and model B's
        top-k charts, the cosine scatter, a per-image table, the most disagreeing (image, label) pairs, and a
        CSV of every pair (image, label, cosine and score under each model).
    """
    labels = parse_lines(candidate_labels, "labels")
    template = check_template(hypothesis_template)
    loaded, notes = load_uploads(images)
    name_b = (other_model or "").strip() or _other(model, session_model)
    engine_a = engine_for(model, session_model, progress)
    engine_b = engine_for(name_b, session_model, progress)
    pictures, names = [im.image for im in loaded], [im.name for im in loaded]
    progress(None, desc=f"scoring with {engine_a.info.name}")
    a = score_model(engine_a, pictures, labels.items, template)
    progress(None, desc=f"scoring with {engine_b.info.name}")
    b = score_model(engine_b, pictures, labels.items, template)
    result = run_compare(a, b, names, labels.items)
    k = max(1, min(int(top_k or 3), len(labels.items)))

    def bars(scores, colour=None):
        panels = []
        for i, image in enumerate(names):
            order = scores.scores[i].argsort()[::-1][:k]
            panels.append((image, [labels.items[j] for j in order], [float(scores.scores[i, j]) for j in order]))
        return top_k_bars(panels, scores.score_kind, f"A: {scores.name} ({scores.score_kind})" if colour is None
                          else f"B: {scores.name} ({scores.score_kind})", **({"colour": colour} if colour else {}))

    hover = [f"{image} · {label}" for image in names for label in labels.items]
    agree = [bool(result.agreement[i]) for i in range(len(names)) for _ in labels.items]
    scatter = cosine_scatter(a.cosine.ravel(), b.cosine.ravel(), hover, agree, a.name, b.name,
                             title=f"Cosine of every image-label pair: {a.name} (x) vs {b.name} (y)")
    per_image = pd.DataFrame({
        "Image": names, f"A: {a.name}": [labels.items[j] for j in result.top1_a],
        f"B: {b.name}": [labels.items[j] for j in result.top1_b],
        "Top-1 agrees": ["yes" if x else "no" for x in result.agreement],
        "Spearman ρ": [None if rho != rho else round(float(rho), 3) for rho in result.rank_correlation]})
    apart = pd.DataFrame([(d.image, d.label, d.rank_a, d.rank_b, percent(d.score_a), percent(d.score_b))
                          for d in result.disagreements],
                         columns=["Image", "Label", "Rank in A", "Rank in B", f"A ({a.score_kind})",
                                  f"B ({b.score_kind})"])
    rows = [(image, label, a.name, float(a.cosine[i, j]), float(a.scores[i, j]), b.name, float(b.cosine[i, j]),
             float(b.scores[i, j])) for i, image in enumerate(names) for j, label in enumerate(labels.items)]
    csv = pd.DataFrame(rows, columns=["image", "label", "model_a", "cosine_a", f"score_a_{a.score_kind}", "model_b",
                                      "cosine_b", f"score_b_{b.score_kind}"]).to_csv(index=False)
    rho = result.mean_rank_correlation
    summary = (f"**A: `{a.name}`** ({a.score_kind} scores) vs **B: `{b.name}`** ({b.score_kind} scores) on "
               f"{len(names)} image(s) x {len(labels.items)} labels, template `{template}`.\n\n"
               f"**Top-1 agreement: {result.agreement_rate:.0%}** ({int(result.agreement.sum())} of {len(names)} "
               f"images) · **mean rank correlation (Spearman): "
               + ("n/a (one label)" if rho != rho else f"{rho:.2f}") + "**")
    if a.score_kind != b.score_kind:
        summary += ("\n\nThe two score differently: a softmax share (sums to 100% over the labels) against an "
                    "independent sigmoid per label. Compare their orders, not their percentages.")
    return (notes_markdown(labels.notes + notes, summary), _plot(bars(a)), _plot(bars(b, COLOUR_B)), _plot(scatter),
            per_image, apart, export("compare.csv", csv))


@user_errors
def compare_probes(suites: list[str], n: float = 100, template: str = "{}", seed: float = 0, other_model: str = "",
                   session_model=None, model: str = "", progress=gr.Progress()):
    """The probe suites on two models: accuracies side by side, against chance and published figures.

    Args:
        suites: any of counting, digits, text, spatial, binding, negation, photos (or all).
        n: items per suite (10-1000; the same items for both models).
        template: prompt template around every caption, with one {}.
        seed: seed of the generated items.
        other_model: model B ("": the first offered model that is not `model`).
        model: model A ("": the server's default).
    Returns:
        A summary, the paired accuracy chart, a table (suite, chance, accuracy of A and of B, published) and
        its CSV.
    """
    template = check_template(template)
    if not suites:
        raise InputError("Pick at least one suite.")
    names = suite_names(suites)
    n = int(min(max(n or 100, 10), 1000))
    name_b = (other_model or "").strip() or _other(model, session_model)
    engines = [engine_for(model, session_model, progress), engine_for(name_b, session_model, progress)]
    reports = []
    for side, engine in zip("AB", engines):
        reports.append(run_suites(engine, names, n, int(seed or 0), template,
                                  progress=lambda i, total, s, side=side: progress((i, total),
                                                                                   desc=f"{side}: suite {s}")))
    (ra, rb), (name_a, name_b) = reports, [e.info.name for e in engines]
    rows = summary_rows(ra)
    table = pd.DataFrame({"Suite": [suite_label(r["suite"]) for r in rows], "Chance": [r["chance"] for r in rows],
                          f"A: {name_a}": [round(r.accuracy, 4) for r in ra],
                          f"B: {name_b}": [round(r.accuracy, 4) for r in rb],
                          "OpenAI ViT-B/32 (published)": [r["published_accuracy"] for r in rows],
                          "Its chance": [r["published_chance"] for r in rows],
                          "Published on": [r["published_benchmark"] for r in rows]})
    # the page reads percentages, as the Probes tab's; the CSV keeps the fractions
    shown = in_percent(table, ["Chance", f"A: {name_a}", f"B: {name_b}", "OpenAI ViT-B/32 (published)", "Its chance"])
    published = [published_for(r.suite) for r in ra]
    chart = paired_accuracy([suite_label(r.suite) for r in ra], [r.accuracy for r in ra], [r.accuracy for r in rb],
                            [r.chance for r in ra], [p.accuracy if p else None for p in published], name_a, name_b,
                            published_chance=[p.chance if p else None for p in published],
                            title=f"Probe accuracy, {n} items per suite, template {template!r}: {name_a} vs {name_b}")
    sizes = {r.n for r in ra}
    items = (f"the same {ra[0].n} items per suite" if len(sizes) == 1 else
             "the same items (" + ", ".join(f"{suite_label(r.suite)} {r.n}" for r in ra) + ")")
    summary = f"**A: `{name_a}`** vs **B: `{name_b}`** on {items}: " + _verdict(ra, rb)
    summary += (" The black dash is each suite's chance; a published point was measured on its own benchmark, "
                "whose chance is the green dash beside it (see the table).")
    return summary, _plot(chart), shown, export("compare_probes.csv", table.to_csv(index=False))


def _verdict(ra, rb) -> str:
    """Which model is ahead on which suite beyond noise (at the items each suite ran), which gaps are noise,
    and any score below chance."""
    sides = {"A": [], "B": [], "": []}  # reports of A, by who is ahead
    for x, y in zip(ra, rb):
        sides[ahead(x.accuracy, y.accuracy, x.n)].append(x)
    names = {side: ", ".join(suite_label(r.suite) for r in reports) for side, reports in sides.items()}
    parts = [f"{side} is ahead on {names[side]}" for side in "AB" if sides[side]]
    if sides[""]:
        one, n = len(sides[""]) == 1, min(r.n for r in sides[""])
        parts.append(f"the gap{'' if one else 's'} on {names['']} {'is' if one else 'are'} within "
                     f"noise (two standard errors of the gap: ±{noise(0.5, 0.5, n) * 100:.0f} points near 50% at "
                     f"{n} items)")
    text = "; ".join(parts) + "."
    low = [f"{side} on {suite_label(r.suite)} ({r.accuracy:.0%}, chance {r.chance:.0%})"
           for side, report in (("A", ra), ("B", rb)) for r in report if below_chance(r.accuracy, r.chance, r.n)]
    if low:
        text += f" Below chance beyond noise: {'; '.join(low)}."
    return text[0].upper() + text[1:]


def _example_pair() -> tuple[str, str] | None:
    """The pair the example loads: tiny-scenes against tiny-scenes-siglip (same data, different loss)."""
    offered = get_pool().offered()
    if BUNDLED_MODEL in offered and BUNDLED_SIGLIP in offered:
        return BUNDLED_MODEL, BUNDLED_SIGLIP
    return (offered[0], offered[1]) if len(offered) > 1 else None


def build(session_model: gr.State, state: ServerState) -> None:
    """The tab. Model A starts as the server's default (the API's `model` default), B as the next one offered."""
    choices, default = picker_choices(), get_pool().default
    pair = _example_pair()
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Row():
                model_a = gr.Dropdown(choices, value=default, label="Model A", allow_custom_value=True,
                                      elem_id="compare-model-a")
                model_b = gr.Dropdown(choices, value=next((m for m in choices if m != default), ""), label="Model B",
                                      allow_custom_value=True, elem_id="compare-model-b")
            images = gr.File(label="Images (or one image with several captions)", file_count="multiple",
                             type="filepath")
            labels = gr.Textbox(label="Labels or captions (one per line)", lines=6, value=examples.SCENE_LABELS)
            template = gr.Textbox(label="Prompt template ({} is the label)", value="{}")
            top_k = gr.Slider(1, 10, value=3, step=1, label="Top-k per model")
            run = gr.Button("Compare", variant="primary")
            if pair:
                scenes = [str(examples.SCENES / f"{n}.png") for n in ("two_red_circles", "three_blue_stars",
                                                                      "a_green_triangle", "four_yellow_squares",
                                                                      "a_purple_cross")]
                gr.Examples(examples=[[scenes, examples.SCENE_LABELS, "{}", pair[0], pair[1]]],
                            inputs=[images, labels, template, model_a, model_b], label="Examples",
                            elem_id="compare-examples",
                            example_labels=[f"5 scenes, 6 labels: {pair[0]} vs {pair[1]}"])
        with gr.Column(scale=3):
            error = error_box()
            notes = gr.Markdown(elem_id="compare-notes")
            with gr.Row():
                plot_a = gr.Plot(label="Model A: top-k")
                plot_b = gr.Plot(label="Model B: top-k")
            per_image = gr.Dataframe(label="Per image", headers=["Image", "A", "B", "Top-1 agrees", "Spearman ρ"],
                                     column_widths=["30%", "20%", "20%", "14%", "16%"], interactive=False, wrap=True,
                                     elem_id="compare-table")
            scatter = gr.Plot(label="Cosines, A vs B")
            apart = gr.Dataframe(label="Where they disagree most (rank of the label for that image; labels both "
                                       f"score under {REJECTED_BELOW:.0%} left out)",
                                 headers=["Image", "Label", "Rank in A", "Rank in B", "A", "B"], interactive=False,
                                 wrap=True)
            csv = gr.File(label="Download CSV (every image-label pair)")
    with gr.Accordion("Reading the comparison", open=False):
        gr.Markdown(EXPLAINER)
    with gr.Accordion("Probe suites on both models", open=False):
        with gr.Row():
            with gr.Column(scale=1):
                suites = gr.CheckboxGroup([(suite_label(name), name) for name in SUITES],
                                          value=["counting", "spatial", "binding"], label="Suites")
                n = gr.Slider(10, 1000, value=50, step=10, label="Items per suite")
                probe_template = gr.Textbox(value="{}", label="Template around each caption")
                seed = gr.Number(value=0, precision=0, label="Seed")
                run_probes = gr.Button("Run probes on both")
            with gr.Column(scale=3):
                probe_error = error_box()
                probe_notes = gr.Markdown()
                chart = gr.Plot(label="Accuracy, A vs B")
                table = gr.Dataframe(label="Accuracy by suite", interactive=False,
                                     headers=["Suite", "Chance", "A", "B", "OpenAI ViT-B/32 (published)",
                                              "Its chance", "Published on"], wrap=True)
                probe_csv = gr.File(label="Download CSV")
    run_keeping_errors(state.errors, run.click, compare,
                       [images, labels, template, top_k, model_b, session_model, model_a],
                       [notes, plot_a, plot_b, scatter, per_image, apart, csv], error, api_name="compare")
    run_keeping_errors(state.errors, run_probes.click, compare_probes,
                       [suites, n, probe_template, seed, model_b, session_model, model_a],
                       [probe_notes, chart, table, probe_csv], probe_error, api_name="compare_probes",
                       concurrency_id=None)  # up to 7 suites x 1,000 items on two models: a long job
    # "trained here" joins both lists once this session has trained a model
    session_model.change(lambda s: (gr.update(choices=picker_choices(s)),) * 2, session_model, [model_a, model_b],
                         api_name="compare_offer_trained", api_visibility="private", queue=False,
                         show_progress="hidden")
