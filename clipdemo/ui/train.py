"""Train tab: watch a fresh tiny CLIP (softmax loss) or SigLIP (sigmoid loss) learn, live, then use it in the other tabs (this session only)."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np

from ..analysis.embedding_map import embedding_map
from ..figures import heatmap, thumbnail_uri, training_curves
from ..map_figures import embedding_map as map_figure
from ..train.live import create_live_run
from ..text import fixed
from .state import ServerState, TrainingRuns, bind

EXPLAINER = """
**What you are watching.** A fresh CLIP (a small ViT and text transformer, random weights) sees a
batch of synthetic scenes and their captions at each step. The loss is CLIP's symmetric InfoNCE: each
image should pick out its own caption among the batch's captions, and each caption its image. The
heatmap is always the same 8 scenes (rows, with their pictures) against their captions (columns), so
you can watch the same pairs: at first noise, then a bright diagonal as matching pairs move together.
`logit_scale` is the learned inverse
temperature that multiplies every cosine before the softmax. It usually rises once matching pairs
separate from the rest (sharper, more confident probabilities), and can dip first while the model is
still guessing; the status line says what it did in your run. Captions that are true of several images
(two scenes both described as "the digit 7") count as matches for all of them.

**Softmax (CLIP) or sigmoid (SigLIP).** The softmax loss asks each image "which of these captions is
yours?": the scores of a row compete and sum to 1. SigLIP's sigmoid loss (Zhai et al., ICCV 2023) asks
every image-caption pair its own yes/no question, sigmoid(t·cos + b), so a positive can rise to 1 and a
negative fall to 0 independently, and a row need not sum to 1. It learns a bias `b` beside `t`: it
starts at -10 (t = 10), so at first every pair reads "no", as nearly all pairs in a batch are. With the
sigmoid loss the heatmap shows these probabilities, and the curves show b moving. The sigmoid run
trains a SigLIP model (the same size; it pools the image with an attention head, not a class token).
Measured on these scenes at equal compute (`scripts/loss_vs_batch.py`, two seeds, 24,576 examples per run;
the README has the table): the sigmoid loss learned colour+shape 8.5 and 6 points better at batches of 8 and 32,
and not at all at 128, where its 192 steps left b near -10 and every pair still read "no".

The **embedding map** shows the same 16 scenes and their captions at every update, projected to 2-D
(PCA): images as circles, captions as diamonds, a grey line for each pair. Watch the two clouds: the
dashed line joins their centroids, the modality gap (see the Embedding map tab).
"""
LOSSES = [("softmax (CLIP)", "softmax"), ("sigmoid (SigLIP)", "sigmoid")]  # (shown, the /train value)
MAP_SCENES = 16  # the fixed batch of the embedding map
HEATMAP_SCENES = 8  # the heatmap shows the first of them
UPDATE_SECONDS = 2.0  # the page is redrawn at most this often (every step when steps are slower)


def train(steps: float = 300, batch_size: float = 64, learning_rate: float = 2e-3, seed: float = 0,
          loss: str = "softmax", request: gr.Request = None, progress=gr.Progress(), *, runs: TrainingRuns):
    """Train a fresh tiny CLIP or SigLIP on synthetic scenes, streaming the loss, temperature and batch similarity.

    Args:
        steps: training steps (10-2000).
        batch_size: scenes per step (8-256).
        learning_rate: AdamW peak learning rate.
        seed: random seed for the weights and the data.
        loss: "softmax" (CLIP's InfoNCE, a CLIP model; the default) or "sigmoid" (SigLIP's pairwise
            sigmoid loss, a SigLIP model with a learned bias).
    Returns:
        (run id to pass to stop_training, status, training curves (loss, t, and b for sigmoid), the
        heatmap of the first 8 scenes of a fixed batch (cosine; sigmoid(t*cos + b) for sigmoid), the trained model
        for this session, the embedding map of a fixed batch of 16 scenes).
    """
    loss = (loss or "softmax").split()[0].strip().lower()  # the shown label works too: "sigmoid (SigLIP)"
    if loss not in {value for _, value in LOSSES}:
        raise gr.Error(f"Unknown loss {loss!r}: use softmax or sigmoid.", title="Cannot do that")
    steps, batch_size, seed = int(min(max(steps, 10), 2000)), int(min(max(batch_size, 8), 256)), int(seed)
    run_id, run = runs.start(getattr(request, "session_hash", None))
    try:
        progress(0, desc="rendering scenes")
        live = create_live_run(steps, batch_size, float(learning_rate), seed, loss=loss)
        history = ([], [], [], [])  # every step: step, loss, logit_scale, logit_bias (sigmoid only)
        shown = 0.0
        batch = live.fixed_batch(MAP_SCENES)
        thumbs = [thumbnail_uri(im, 64) for im in live.fixed_images(HEATMAP_SCENES)]
        for r in live.steps(stop=run.stop):
            for series, value in zip(history, (r.step, r.loss, r.logit_scale, r.logit_bias)):
                series.append(value)
            last = r.step == r.steps or run.stop.is_set()
            if time.monotonic() - shown < UPDATE_SECONDS and r.step > 1 and not last:
                continue
            shown = time.monotonic()
            progress((r.step, r.steps), desc="training")
            image_features, text_features = live.embed(*batch)
            biases = history[3] if loss == "sigmoid" else None
            text = (f"Step **{r.step}/{r.steps}** · loss **{r.loss:.3f}** (from {history[1][0]:.3f}) · "
                    f"{_temperature(history[2])}{_bias(biases)} · {r.seconds:.0f}s")
            # the session keeps its last trained model until this run ends
            yield (run_id, text, training_curves(*history[:3], biases),
                   _batch_heatmap(image_features, text_features, batch[1], thumbs, r, loss), gr.skip(),
                   _map(image_features, text_features, batch[1], r.step))
        engine = live.engine(name=f"trained in this session ({history[0][-1]} steps, {loss} loss)")
        ended = "Stopped" if run.stop.is_set() and history[0][-1] < steps else "Done"
        yield (run_id, text + f"\n\n{ended}. Pick **trained here** in the model picker at the top to use it in "
               "the other tabs.",
               gr.skip(), gr.skip(), engine, gr.skip())
    finally:
        runs.end(run_id)


def _batch_heatmap(image_features: np.ndarray, text_features: np.ndarray, captions: list[str],
                   thumbs: list[str], report, loss: str):
    """The fixed batch's first scenes (rows, with thumbnails) against their captions: cosine for softmax,
    sigmoid(t * cos + b) for sigmoid, each cell its own yes/no probability."""
    k = len(thumbs)
    cosine = image_features[:k] @ text_features[:k].T  # [k, k]
    labels = [f"{i + 1}: {c}" for i, c in enumerate(captions[:k])]
    rows = [f"scene {i + 1}" for i in range(k)]
    if loss == "sigmoid":
        probability = 1 / (1 + np.exp(-(report.logit_scale * cosine + report.logit_bias)))
        return heatmap(probability, rows, labels, thumbnails=thumbs, colorbar="sigmoid", zmin=0, zmax=1,
                       title=f"sigmoid(t·cos + b), the first {k} scenes of a fixed batch, step {report.step}<br>"
                             "<sup>each pair on its own: rows need not sum to 1</sup>")
    return heatmap(cosine, rows, labels, thumbnails=thumbs, zmin=-1, zmax=1,
                   title=f"Cosine similarity, the first {k} scenes of a fixed batch, step {report.step}")


def _map(image_features: np.ndarray, text_features: np.ndarray, captions: list[str], step: int):
    result = embedding_map(image_features, text_features)
    return map_figure(result.image_xy, result.text_xy, [(i, i) for i in range(len(captions))],
                      [f"scene {i + 1}: {c}" for i, c in enumerate(captions)], captions,
                      title=f"A fixed batch of {len(captions)} scenes in 2-D (PCA), step {step}<br><sup>gap "
                            f"{fixed(result.gap.gap)}, cosine of matching pairs {fixed(result.gap.matched_cosine)}, "
                            f"of other pairs {fixed(result.gap.unmatched_cosine)}</sup>")


def _bias(biases: list[float] | None) -> str:
    """What the sigmoid loss's bias b did in this run, in words ("" for a softmax run)."""
    if not biases:
        return ""
    first, now = biases[0], biases[-1]
    return f" · logit_bias b **{now:.2f}** " + change_words(now, first, ".2f")


def _temperature(scales: list[float]) -> str:
    """What logit_scale did in this run, in words: it is easy to assume it only grows."""
    first, now = scales[0], scales[-1]
    return f"logit_scale **{now:.1f}** " + change_words(now, first, ".1f")


def change_words(now: float, first: float, fmt: str) -> str:
    """"(rose from x)" or "(fell from x)" at the precision shown; "(unchanged so far)" only when the shown
    values are equal, so the words never contradict the curve's numbers."""
    if format(now, fmt) == format(first, fmt):
        return "(unchanged so far)"
    return f"({'rose' if now > first else 'fell'} from {format(first, fmt)})"


def stop_training(run_id: str = "", *, runs: TrainingRuns) -> str:
    """Stop a training run after its current step.

    Args:
        run_id: the id that /train returned first.
    Returns:
        A status line.
    """
    if not runs.stop((run_id or "").strip()):
        return "No run with that id is training now (it may have finished)."
    return "Stopping after the current step..."


def stop_session_runs(request: gr.Request, *, runs: TrainingRuns) -> None:
    """When a browser tab closes, its runs stop: nobody is watching them."""
    runs.stop_session(getattr(request, "session_hash", None))


def build(session_model: gr.State, state: ServerState) -> None:
    """The tab; a finished run becomes `session_model`, which the page's model picker offers as "trained here"."""
    run_id = gr.Textbox(visible=False)  # this browser session's run: its Stop stops only that one
    with gr.Row():
        with gr.Column(scale=1):
            steps = gr.Slider(10, 2000, value=300, step=10, label="Steps")
            batch = gr.Slider(8, 256, value=64, step=8, label="Batch size")
            lr = gr.Number(value=2e-3, label="Learning rate")
            seed = gr.Number(value=0, precision=0, label="Seed")
            loss = gr.Radio(LOSSES, value="softmax", label="Loss",
                            info="softmax: each image picks its caption among the batch's; "
                                 "sigmoid: every pair is its own yes/no")
            with gr.Row():
                start = gr.Button("Train", variant="primary")
                stop = gr.Button("Stop", variant="stop")
        with gr.Column(scale=3):
            text = gr.Markdown("Press **Train** to start.")
            curves = gr.Plot(label="Loss and temperature")
            sim = gr.Plot(label="Batch similarity")
            emap = gr.Plot(label="Embedding map of a fixed batch")
    with gr.Accordion("What is happening", open=False):
        gr.Markdown(EXPLAINER)
    start.click(bind(train, runs=state.runs), [steps, batch, lr, seed, loss],
                [run_id, text, curves, sim, session_model, emap], api_name="train", concurrency_limit=1,
                concurrency_id="train")
    # Stop's answer is a toast: written into the status it could land after the run's last update ("Stopped.")
    stop_answer = gr.Textbox(visible=False)
    stop.click(bind(stop_training, runs=state.runs), run_id, stop_answer, api_name="stop_training", queue=False).then(
        gr.Info, stop_answer, None, api_name="stop_training_toast", api_visibility="private")
