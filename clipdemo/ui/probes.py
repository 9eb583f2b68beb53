"""Probes tab: measure where the loaded model fails, beside the published figures for OpenAI's CLIP."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..analysis.probes import evaluate_items
from ..errors import InputError
from ..figures import accuracy_bars, heatmap
from ..probes import SUITES, published_for, run_suites, suite_label, suite_names, to_csv, to_json
from ..probes.custom import load_probe_set
from ..probes.report import summary_rows
from ..text import check_template
from .common import engine_for, error_box, export, in_percent, run_keeping_errors, upload_path, user_errors
from .state import ServerState

EXPLAINER = """
**What this measures.** Each suite is a list of items: an image, a few candidate captions, and the
true one. Accuracy is how often the true caption scores highest; *chance* is what guessing would get.
The diamonds are what OpenAI's CLIP ViT-B/32 scored on the nearest public benchmark (its own chance
differs where the benchmark has more options), so you can set this model beside the real one.
Known limits of CLIP: it counts badly, reads handwriting poorly, confuses "left of" with "right of",
binds colours to the wrong objects and ignores "no". The bundled tiny model was trained on counts of
1-4, left/right/above/below and colour-shape pairs, but never on words, negation or handwriting, nor on
5-6 objects, so watch those fall behind the rest (negation sits under chance). The template wraps
every caption: try `a photo of {}.`
"""


@user_errors
def probe(suites: list[str], n: float = 100, template: str = "{}", seed: float = 0, custom=None,
          session_model=None, model: str = "", progress=gr.Progress()):
    """Run probe suites on the current model.

    Args:
        suites: any of counting, digits (handwritten digits), text, spatial, binding, negation, photos (or all).
        n: items per suite (10-1000; photos has 8 fixed items).
        template: prompt template around every caption, with one {}.
        seed: seed of the generated items.
        custom: optional probe set, a CSV (image, captions separated by |, answer) or a zip of images with one.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        Summary table, accuracy chart, the confusion heatmap of the suite with the most classes, most
        confidently wrong items, CSV and JSON.
    """
    # every input is checked before any suite runs: a bad upload is reported in a second, not after the suites
    template = check_template(template)
    if not suites and not custom:
        raise InputError("Pick at least one suite or upload a probe set.")
    names = suite_names(suites) if suites else []
    items = load_probe_set(upload_path(custom)) if custom else []
    engine = engine_for(model, session_model, progress)
    n = int(min(max(n or 100, 10), 1000))
    reports = run_suites(engine, names, n, int(seed or 0), template,
                         progress=lambda i, total, name: progress((i, total), desc=f"suite: {name}")) if names else []
    if items:
        reports.append(evaluate_items(engine, items, "custom", template))
    summary = _summary_table(summary_rows(reports))
    published = [published_for(r.suite) for r in reports]
    chart = accuracy_bars([suite_label(r.suite) for r in reports], [r.accuracy for r in reports],
                          [r.chance for r in reports],
                          [p.accuracy if p else None for p in published],
                          title=f"{engine.info.name}: accuracy by probe (template {template!r})",
                          published_chance=[p.chance if p else None for p in published])
    confusions = {suite_label(r.suite): (r.labels, r.confusion.tolist()) for r in reports
                  if r.confusion is not None}
    shown = max(confusions, key=lambda name: len(confusions[name][0])) if confusions else None
    # the wrong answer first: a gallery caption is cut at the tile's width
    # its confidence is the family's score: softmax over the item's captions, or an independent sigmoid
    wrong = [(it.image, f"said “{it.candidates[p]}” {conf:.0%} · true “{it.candidates[it.answer]}” · "
                        f"{suite_label(r.suite)} · {engine.family.score}")
             for r in reports for it, p, conf in r.most_confidently_wrong(4)]
    return (summary, chart, confusion_figure(confusions, shown), wrong, export("probes.csv", to_csv(reports)),
            export("probes.json", to_json(reports, engine.info.name)), confusions)


SUMMARY_COLUMNS = {"suite": "Suite", "accuracy": "Accuracy", "chance": "Chance", "items": "Items",
                   "published_accuracy": "OpenAI ViT-B/32", "published_chance": "Its chance",
                   "published_benchmark": "Published on", "source": "Source"}


def _summary_table(rows: list[dict]) -> pd.DataFrame:
    """The summary as people read it: named columns, percentages, the numbers before the long text."""
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    table["suite"] = table["suite"].map(suite_label)
    table = in_percent(table, ["accuracy", "chance", "published_accuracy", "published_chance"])
    return table.rename(columns=SUMMARY_COLUMNS)


def confusion_figure(confusions: dict, suite: str | None):
    """The confusion heatmap of one suite of the last run (rows true, columns predicted)."""
    if not suite or suite not in (confusions or {}):
        return None
    labels, matrix = confusions[suite]
    return heatmap(matrix, [f"true {x}" for x in labels], [f"said {x}" for x in labels],
                   title=f"Confusion: {suite} (rows true, columns predicted)", colorbar="items", fmt=".0f")


def build(session_model: gr.State, state: ServerState, model: gr.Dropdown) -> list:
    """The tab; returns its result components (cleared when the session picks another model)."""
    with gr.Row():
        with gr.Column(scale=1):
            suites = gr.CheckboxGroup([(suite_label(name), name) for name in SUITES],
                                      value=["counting", "digits", "spatial", "binding", "negation"],
                                      label="Suites")
            n = gr.Slider(10, 1000, value=100, step=10, label="Items per suite")
            template = gr.Textbox(value="{}", label="Template around each caption")
            seed = gr.Number(value=0, precision=0, label="Seed")
            custom = gr.File(label="Your own probe set (.csv or .zip)", file_count="single")
            run = gr.Button("Run probes", variant="primary")
        with gr.Column(scale=3):
            error = error_box()
            summary = gr.Dataframe(label="Summary", headers=list(SUMMARY_COLUMNS.values()), interactive=False,
                                   elem_id="probes-table", wrap=True,
                                   max_height=1400,
                                   column_widths=["120px", "84px", "72px", "60px", "96px", "72px", "18%", "18%"])
            chart = gr.Plot(label="Accuracy")
            confusions = gr.State({})
            confusion_suite = gr.Dropdown([], label="Confusion matrix of suite", interactive=True)
            confusion = gr.Plot(label="Confusion")
            wrong = gr.Gallery(label="Most confidently wrong (what it said, how sure in the model's own score, "
                                     "the truth)", columns=3,
                               height=840, object_fit="contain", elem_id="probes-wrong",
                               elem_classes="wrapped-captions")
            with gr.Row():
                csv = gr.File(label="Items (CSV)")
                json = gr.File(label="Report (JSON)")
    with gr.Accordion("What this measures", open=False):
        gr.Markdown(EXPLAINER)
    event = run_keeping_errors(state.errors, run.click, probe,
                               [suites, n, template, seed, custom, session_model, model],
                               [summary, chart, confusion, wrong, csv, json, confusions], error, api_name="probe",
                               concurrency_id=None)  # up to 7 suites x 1,000 items: a long job
    event.success(_suites_with_confusion, confusions, confusion_suite, api_name="probe_confusion_choices",
                  api_visibility="private")
    confusion_suite.input(confusion_figure, [confusions, confusion_suite], confusion, api_name="probe_confusion",
                          api_visibility="private")
    return [summary, chart, confusion, wrong, csv, json]


def _suites_with_confusion(confusions: dict):
    names = list(confusions or {})
    shown = max(names, key=lambda name: len(confusions[name][0])) if names else None
    return gr.update(choices=names, value=shown)
