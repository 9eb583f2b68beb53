"""The server's own work per call, against gradio's floor and the engine's work (issue #26).

    python bench/server_overhead.py [--calls 40] [--warmup 5]

In one run: starts the app (`python app.py --model tiny-scenes --preload`) and a no-model gradio app with the
same inputs, outputs, api names and queue settings whose handlers return ready-made outputs of the same size
(the floor: what gradio itself costs for these requests). One client calls each scoring endpoint
(/zero_shot, /rank_captions, /similarity_matrix) `--calls` times in a row on each server, with fresh labels
each call as bench/soak.py sends; the server's CPU time per call is read from /proc/PID/stat (all its
threads). The engine's own work per call is the analysis function on the same inputs, timed in this process
(CPU time, on the app's default backend, the model already loaded and the images already cached, as they
are in the server). Prints, per
endpoint: app CPU, floor CPU, engine CPU (ms per call), app / floor and app / (floor + engine); the goal is
the last one <= 1.5.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as app.py runs the model: measure the engine the same way

import soak  # noqa: E402  (bench/soak.py: the app's server and the soak's inputs)

ENDPOINTS = soak.ENDPOINTS
cpu_seconds = soak.cpu_seconds


def inputs(endpoint: str, rng: random.Random, files: list) -> tuple:
    """The arguments bench/soak.py sends to `endpoint`: example scenes and fresh labels."""
    if endpoint == "/zero_shot":
        return rng.sample(files, 2), soak._labels(rng, 6), "a photo of a {}.", False, 3
    if endpoint == "/rank_captions":
        return rng.choice(files), soak._labels(rng, 5)
    return rng.sample(files, 3), soak._labels(rng, 4), "cosine"


# -- the floor: the same endpoints, no model ---------------------------------------------------------

def build_floor():
    """A gradio app with the app's scoring endpoints (same components, api names and queue) and no model:
    each handler returns outputs of the size the app returns, made once at start."""
    import gradio as gr
    import pandas as pd

    from PIL import Image

    from clipdemo.figures import heatmap, ranked_bars, thumbnail_uri
    from clipdemo.limits import MAX_UPLOAD
    from clipdemo.ui.serving import queue

    folder = Path(tempfile.mkdtemp(prefix="clipdemo-floor-"))
    csv = folder / "scores.csv"
    csv.write_text("image,rank,label,probability,cosine\n" + "scene.png,1,red circle 1,0.5,0.25\n" * 12)
    bars2 = ranked_bars([(f"scene {i}.png", [f"label {j}" for j in range(3)], [0.5, 0.3, 0.2]) for i in range(2)],
                        title="Top 3 of 6 labels")
    bars1 = ranked_bars([("scene.png", [f"caption {j}" for j in range(5)], [0.4, 0.3, 0.1, 0.1, 0.1])],
                        title="Captions ranked")
    thumb = thumbnail_uri(Image.new("RGB", (96, 96), "white"))
    matrix = heatmap([[0.1] * 4] * 3, [f"scene {i}.png" for i in range(3)], [f"text {j}" for j in range(4)],
                     title="cosine: 3 images x 4 texts", thumbnails=[thumb] * 3)
    table = pd.DataFrame({"Rank": [1, 2, 3] * 2, "Probability": ["50.0%"] * 6, "Cosine": [0.25] * 6,
                          "Label": ["red circle"] * 6, "Image": ["scene.png"] * 6})

    def zero_shot(images, labels, template, ensemble, top_k, state):
        return "", bars2, table, str(csv)

    def rank_captions(image, captions, state):
        return "", bars1, table.head(5), str(csv)

    def similarity_matrix(images, texts, view, state):
        return "", matrix, str(csv)

    with gr.Blocks() as demo:
        state = gr.State(None)
        files, one = gr.File(file_count="multiple", type="filepath"), gr.File(file_count="single", type="filepath")
        text, template, view = gr.Textbox(), gr.Textbox(), gr.Radio(["cosine", "softmax over texts"])
        ensemble, top_k = gr.Checkbox(), gr.Slider(1, 20, step=1)
        notes, plot, frame, out = gr.Markdown(), gr.Plot(), gr.Dataframe(), gr.File()
        button = gr.Button()
        button.click(zero_shot, [files, text, template, ensemble, top_k, state], [notes, plot, frame, out],
                     api_name="zero_shot")
        button.click(rank_captions, [one, text, state], [notes, plot, frame, out], api_name="rank_captions")
        button.click(similarity_matrix, [files, text, view, state], [notes, plot, out], api_name="similarity_matrix")
    queue(demo)  # the app's own queue settings (size, concurrency, polling)
    return demo, MAX_UPLOAD


def floor_server(start_timeout: float = 60):
    """This script with --serve-floor PORT, as its own process; yields (url, process)."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    return soak.serving([sys.executable, __file__, "--serve-floor"], env, start_timeout=start_timeout, what="the floor app")


# -- measuring ---------------------------------------------------------------------------------------

def server_cpu_per_call(url: str, pid: int, endpoint: str, calls: int, warmup: int, seed: int = 0) -> float:
    """Server CPU seconds per call of `endpoint`, one client calling `calls` times in a row."""
    from gradio_client import Client, handle_file

    from clipdemo.ui import examples

    files = [handle_file(f) for f in examples.scene_files()]
    rng = random.Random(seed)
    client = Client(url, verbose=False)
    try:
        for _ in range(warmup):
            client.predict(*inputs(endpoint, rng, files), api_name=endpoint)
        before = cpu_seconds(pid)
        for _ in range(calls):
            client.predict(*inputs(endpoint, rng, files), api_name=endpoint)
        return (cpu_seconds(pid) - before) / calls
    finally:
        client.close()


def idle_cpu_per_second(pid: int, seconds: float = 3.0) -> float:
    """What a server burns doing nothing (gradio's queue polls), in CPU seconds per second."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def engine_cpu_per_call(endpoint: str, calls: int, warmup: int, seed: int = 0) -> float:
    """CPU seconds per call of the analysis the endpoint runs, on the same inputs, in this process."""
    from clipdemo.analysis.captions import rank_captions
    from clipdemo.analysis.similarity import similarity_matrix
    from clipdemo.analysis.zero_shot import zero_shot
    from clipdemo.engine import ClipEngine
    from clipdemo.images import open_images
    from clipdemo.text import parse_lines
    from clipdemo.ui import examples

    engine = ClipEngine.load("tiny-scenes", backend="auto")  # the app's default backend on CPU
    paths = examples.scene_files()
    images = {p: im.image for p, im in zip(paths, open_images(paths)[0])}
    rng = random.Random(seed + 1)  # other labels than the servers got: nothing is cached in this engine anyway

    def run():
        args = inputs(endpoint, rng, paths)
        labels = parse_lines(args[1], "labels").items
        if endpoint == "/zero_shot":
            zero_shot(engine, [images[p] for p in args[0]], labels, [args[2]])
        elif endpoint == "/rank_captions":
            rank_captions(engine, images[args[0]], labels)
        else:
            similarity_matrix(engine, [images[p] for p in args[0]], labels).view(args[2])

    for _ in range(warmup):
        run()
    start = time.process_time()
    for _ in range(calls):
        run()
    return (time.process_time() - start) / calls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=40, help="measured calls per endpoint and server")
    p.add_argument("--warmup", type=int, default=5, help="calls per endpoint and server before measuring")
    p.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_floor:
        demo, max_upload = build_floor()
        demo.launch(server_port=args.serve_floor, max_file_size=max_upload, quiet=True)
        return

    rows = {}
    with soak.server() as (url, process):
        app_idle = idle_cpu_per_second(process.pid)
        app = {e: server_cpu_per_call(url, process.pid, e, args.calls, args.warmup) for e in ENDPOINTS}
    with floor_server() as (url, process):
        floor_idle = idle_cpu_per_second(process.pid)
        floor = {e: server_cpu_per_call(url, process.pid, e, args.calls, args.warmup) for e in ENDPOINTS}
    engine = {e: engine_cpu_per_call(e, args.calls, args.warmup) for e in ENDPOINTS}
    print(f"server CPU per call, one client, {args.calls} calls per endpoint after {args.warmup} warm-up calls; "
          f"idle: app {app_idle * 1000:.0f} ms/s, floor {floor_idle * 1000:.0f} ms/s")
    print(f"{'endpoint':<20} {'app ms':>8} {'floor ms':>9} {'engine ms':>10} {'app/floor':>10} "
          f"{'app/(floor+engine)':>19}")
    for e in ENDPOINTS:
        rows[e] = app[e] / (floor[e] + engine[e])
        print(f"{e:<20} {app[e] * 1000:8.1f} {floor[e] * 1000:9.1f} {engine[e] * 1000:10.1f} "
              f"{app[e] / floor[e]:10.2f} {rows[e]:19.2f}")
    print("goal: app/(floor+engine) <= 1.5: " + ("met" if all(r <= 1.5 for r in rows.values()) else "NOT met"))


if __name__ == "__main__":
    main()
