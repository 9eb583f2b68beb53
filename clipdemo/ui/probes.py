"""Probes tab: measure where the loaded model fails, beside the published figures for OpenAI's CLIP."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..analysis.probes import evaluate_items
from ..errors import InputError
from ..figures import accuracy_bars, heatmap
from ..probes import SUITES, published_for, run_suites, suite_names, to_csv, to_json
from ..probes.custom import load_probe_set
from ..probes.report import summary_rows
from ..text import check_template
from .common import engine_for, export, upload_path, user_errors

EXPLAINER = """
**What this measures.** Each suite is a list of items: an image, a few candidate captions, and the
true one. Accuracy is how often the true caption scores highest; *chance* is what guessing would get.
The diamonds are what OpenAI's CLIP ViT-B/32 scored on the nearest public benchmark (its own chance
differs where the benchmark has more options), so you can set this model beside the real one.
Known limits of CLIP: it counts badly, reads handwriting poorly, confuses "left of" with "right of",
binds colours to the wrong objects and ignores "no". The bundled tiny model was trained on counts of
1-4, left/right/above/below and colour-shape pairs, but never on words, negation or handwriting, nor on
5-6 objects, so watch those sit near chance. The template wraps every caption: try `a photo of {}.`
"""


@user_errors
def probe(suites: list[str], n: float = 100, template: str = "{}", seed: float = 0, custom=None,
          session_model=None, progress=gr.Progress()):
    """Run probe suites on the current model.

    Args:
        suites: any of counting, digits, text, spatial, binding, negation, photos (or all).
        n: items per suite (10-1000; photos has 8 fixed items).
        template: prompt template around every caption, with one {}.
        seed: seed of the generated items.
        custom: optional probe set, a CSV (image, captions separated by |, answer) or a zip of images with one.
    Returns:
        Summary table, accuracy chart, confusion heatmaps, most confidently wrong items, CSV and JSON.
    """
    # every input is checked before any suite runs: a bad upload is reported in a second, not after the suites
    template = check_template(template)
    if not suites and not custom:
        raise InputError("Pick at least one suite or upload a probe set.")
    names = suite_names(suites) if suites else []
    items = load_probe_set(upload_path(custom)) if custom else []
    engine = engine_for(session_model)
    n = int(min(max(n or 100, 10), 1000))
    reports = run_suites(engine, names, n, int(seed or 0), template,
                         progress=lambda i, total, name: progress((i, total), desc=f"suite: {name}")) if names else []
    if items:
        reports.append(evaluate_items(engine, items, "custom", template))
    summary = pd.DataFrame(summary_rows(reports))
    chart = accuracy_bars([r.suite for r in reports], [r.accuracy for r in reports], [r.chance for r in reports],
                          [p.accuracy if (p := published_for(r.suite)) else None for r in reports],
                          title=f"{engine.info.name}: accuracy by probe (template {template!r})")
    confusions = [(r.suite, r) for r in reports if r.confusion is not None]
    figure = None
    if confusions:
        name, r = max(confusions, key=lambda c: len(c[1].labels))
        figure = heatmap(r.confusion, [f"true {x}" for x in r.labels], [f"said {x}" for x in r.labels],
                         title=f"Confusion: {name} (rows true, columns predicted)", colorbar="items", fmt=".0f")
    wrong = [(it.image, f"{r.suite}: said '{it.candidates[p]}' ({conf:.0%}); true '{it.candidates[it.answer]}'")
             for r in reports for it, p, conf in r.most_confidently_wrong(4)]
    return (summary, chart, figure, wrong, export("probes.csv", to_csv(reports)),
            export("probes.json", to_json(reports, engine.info.name)))


def build(session_model: gr.State) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            suites = gr.CheckboxGroup(list(SUITES), value=["counting", "digits", "spatial", "binding", "negation"],
                                      label="Suites")
            n = gr.Slider(10, 1000, value=100, step=10, label="Items per suite")
            template = gr.Textbox(value="{}", label="Template around each caption")
            seed = gr.Number(value=0, precision=0, label="Seed")
            custom = gr.File(label="Your own probe set (.csv or .zip)", file_count="single")
            run = gr.Button("Run probes", variant="primary")
        with gr.Column(scale=3):
            summary = gr.Dataframe(label="Summary", interactive=False, elem_id="probes-table")
            chart = gr.Plot(label="Accuracy")
            confusion = gr.Plot(label="Confusion")
            wrong = gr.Gallery(label="Most confidently wrong", columns=4, height=300)
            with gr.Row():
                csv = gr.File(label="Items (CSV)")
                json = gr.File(label="Report (JSON)")
    with gr.Accordion("What this measures", open=False):
        gr.Markdown(EXPLAINER)
    run.click(probe, [suites, n, template, seed, custom, session_model],
              [summary, chart, confusion, wrong, csv, json], api_name="probe")
