"""The page: banner, one tab per task, and the command line that launches it."""

from __future__ import annotations

import argparse
import logging
import os

import gradio as gr

from .. import engine as engine_module
from ..engine.backends import CHOICES
from ..limits import EXPORT_MAX_AGE_S, MAX_MODELS, MAX_UPLOAD, SESSIONS
from ..registry import DEFAULT_MODEL, available_models
from ..search import serving_backend
from . import (captions, compare, embedding_map, examples, probes, saliency, search, similarity, status, train,
               zero_shot)
from .common import TRAINED_HERE, engine_for, picker_choices, user_errors
from .serving import queue, tame_malloc
from .state import ServerState, bind

TITLE = "CLIP Explorer"
INTRO = """# CLIP Explorer
How CLIP connects images and text: classify with words, rank captions, compare every image with every
text, see where in an image a text matches and how images and texts sit in CLIP's space, and train a
tiny CLIP yourself. Every number on this page comes from the model shown below.
"""
CSS = """
.gradio-container {max-width: 1400px !important}
footer {display: none !important}
.block.run-error {border: 1px solid #dc2626; background: #fef2f2; border-radius: 8px; padding: 4px 12px}
.run-error p {color: #991b1b}
/* gallery captions carry the answer (a score, what the model said): under the picture, whole, not over it */
.wrapped-captions .thumbnail-item {aspect-ratio: auto !important; height: auto !important; display: flex;
  flex-direction: column}
.wrapped-captions .thumbnail-item > img {aspect-ratio: 1 / 1; height: auto !important; flex: none}
.wrapped-captions .caption-label {position: static !important; max-width: none !important; border: none !important;
  border-radius: 0 !important; white-space: normal; overflow-wrap: anywhere; opacity: 1 !important}
/* the results galleries' label badge sits over the top-left tile: the tiles start under it */
.wrapped-captions .grid-wrap {padding-top: 40px}
/* an upload preview shows each picture whole: its file name is in the file list above, not over the picture */
.upload-preview .caption-label {display: none !important}
/* gradio gives a lone image the gallery's whole width as a square tile, taller than the box: it showed cut.
   Tiles at most 200 px wide (square) fit the 240 px preview whole; several images are narrower anyway */
.upload-preview .grid-container {grid-template-columns: repeat(var(--grid-cols), minmax(0, 200px)) !important}
/* while a tab shows a failed run's message, the results beside it are the previous run's: dimmed */
.column:has(> .block.run-error) > .block:not(.run-error) {opacity: .35}
/* a failed run is explained once, in its tab's message box: no bare "Error" pill over every output */
.column:has(> .block.run-error) [data-testid="status-tracker"]:has(span.error) {display: none !important}
"""
# gradio's galleries load thumbnails lazily: tiles below the fold stay blank until scrolled to (and in a
# screenshot taken right after a search). Load them at once: a gallery here holds at most a few dozen.
HEAD = """<script>
new MutationObserver(() => document.querySelectorAll('img[loading="lazy"]').forEach(img => { img.loading = "eager"; }))
  .observe(document.documentElement, {subtree: true, childList: true});
</script>"""


def build_demo(state: ServerState | None = None) -> gr.Blocks:
    """The Blocks app over `state` (what the server keeps across sessions; a fresh one if None).

    Builds no model: the shared engine loads on the first request.
    """
    state = state if state is not None else ServerState()
    # gradio's copies of uploads and downloads are deleted after an hour, checked every hour
    with gr.Blocks(title=TITLE, delete_cache=(EXPORT_MAX_AGE_S, EXPORT_MAX_AGE_S)) as demo:
        session_model = gr.State(None)  # the model trained in this browser session (Train), offered as "trained here"
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                # the session's model, and every scoring endpoint's `model` argument (its default: the server's)
                picker = gr.Dropdown(picker_choices(), value=engine_module.get_pool().default,
                                     label="Model (this browser session)", allow_custom_value=True,
                                     elem_id="model-picker", info="Loaded on first use; every result names it.")
            with gr.Column(scale=4):
                banner = gr.Markdown("Loading the model...", elem_id="model-banner")
        with gr.Accordion("Model details", open=False):
            info = gr.JSON(label="model_info", visible=False)  # the endpoint's dict; people read the table
            details = gr.Markdown(elem_id="model-details")
        with gr.Tabs():
            results = []  # every tab's results: cleared when the session's model changes
            with gr.Tab("Zero-shot classification", id="zero-shot"):
                results += zero_shot.build(session_model, state, picker)
            with gr.Tab("Caption ranking", id="captions"):
                results += captions.build(session_model, state, picker)
            with gr.Tab("Similarity matrix", id="similarity"):
                results += similarity.build(session_model, state, picker)
            with gr.Tab("Saliency", id="saliency"):
                results += saliency.build(session_model, state, picker)
            with gr.Tab("Embedding map", id="embedding-map"):
                results += embedding_map.build(session_model, state, picker)
            with gr.Tab("Search", id="search"):
                results += search.build(session_model, state, picker)
            with gr.Tab("Probes", id="probes"):
                results += probes.build(session_model, state, picker)
            with gr.Tab("Compare models", id="compare"):
                compare.build(session_model, state)
            with gr.Tab("Train", id="train"):
                train.build(session_model, state)
        demo.load(user_errors(status.model_info), [session_model, picker], info, api_name="model_info").then(
            status.banner, info, banner, api_name="banner", api_visibility="private").then(
            _offered_now, [session_model, picker], picker, api_name="picker_offer", api_visibility="private",
            queue=False, show_progress="hidden")
        info.change(status.details, info, details, api_name="model_details", api_visibility="private",
                    show_progress="hidden")
        _wire_picker(picker, session_model, banner, info, results)
        demo.unload(bind(train.stop_session_runs, runs=state.runs))
    return demo


def _offered_now(session_model=None, model: str = ""):
    """The picker as the server offers now: once the default has fallen back to a bundled model (offline),
    that model's own name, not the default's."""
    choices = picker_choices(session_model)
    return gr.update(choices=choices, value=model if model in choices else engine_module.get_pool().default)


def _wire_picker(picker: gr.Dropdown, session_model: gr.State, banner: gr.Markdown, info: gr.JSON,
                 results: list) -> None:
    """A new pick clears every tab's results (they were another model's), then loads the model with progress
    and names it in the banner. A new model trained here is offered as TRAINED_HERE; when it is the pick,
    it replaces the one the results came from, so they are cleared too."""
    def clear():
        return [None] * len(results)

    @user_errors
    def pick(session_model=None, model: str = "", progress=gr.Progress()):
        engine_for(model, session_model, progress)  # loads it now, with progress, if it is not in memory
        details = status.model_info(session_model, model)
        return status.banner(details), details

    def trained(session_model, model: str):
        fresh = model == TRAINED_HERE
        return (gr.update(choices=picker_choices(session_model)), *(clear() if fresh else [gr.skip()] * len(results)))

    def refresh(session_model=None, model: str = "", progress=gr.Progress()):
        return pick(session_model, model, progress) if model == TRAINED_HERE else (gr.skip(), gr.skip())

    picker.input(clear, None, results, api_name="clear_results", api_visibility="private", queue=False,
                 show_progress="hidden").then(pick, [session_model, picker], [banner, info], api_name="pick_model",
                                              api_visibility="private")
    session_model.change(trained, [session_model, picker], [picker, *results], api_name="offer_trained",
                         api_visibility="private", queue=False, show_progress="hidden").then(
        refresh, [session_model, picker],
        [banner, info], api_name="refresh_trained", api_visibility="private")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python app.py", description="CLIP Explorer: a Gradio app for exploring CLIP.")
    p.add_argument("--model", action="append", default=None,
                   help=f"hub id, local checkpoint directory, or one of: {', '.join(available_models())}. Give it "
                        "more than once to offer several models in the page's picker and the API's `model` "
                        "argument; the first is the default (default: $CLIPDEMO_MODEL, else the --store's model, "
                        f"else {DEFAULT_MODEL}, which falls back to the bundled tiny-scenes model when offline). "
                        "The bundled models are always offered too")
    p.add_argument("--max-models", type=int, default=MAX_MODELS,
                   help=f"models kept in memory at once; the least recently used is dropped (default {MAX_MODELS})")
    p.add_argument("--backend", default=None, choices=CHOICES,
                   help="where the towers run on CPU: auto (ONNX Runtime fp32 when it matches torch fp32 to a "
                        "cosine of 0.9999, else torch), torch (fp32), int8, onnx, onnx-int8; each is checked "
                        "against fp32 at load (default: the --store's backend, else auto)")
    p.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: the best available)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    p.add_argument("--mcp", action="store_true", help="also serve the endpoints as MCP tools")
    p.add_argument("--gallery", default=None, help="a folder of images for the Search tab (indexed on first use)")
    p.add_argument("--store", default=None,
                   help="a store built by `python -m clipdemo index` to search in the Search tab (memory-mapped)")
    p.add_argument("--preload", action="store_true", help="load the model before serving the first page")
    args = p.parse_args(argv)
    if not args.model and os.environ.get("CLIPDEMO_MODEL"):  # the environment names one model
        args.model = [os.environ["CLIPDEMO_MODEL"]]
    if args.max_models < 1:
        p.error("--max-models must be at least 1")
    return args


def launch(demo: gr.Blocks, host="127.0.0.1", port=7860, share=False, mcp=False, gallery_folder: str | None = None,
           **kwargs):
    """Queue with bounded size (the API cannot skip it) and launch with an upload size limit.

    Serves files from the examples and from `gallery_folder` (the --gallery DIR, whose images the Search
    tab shows), nowhere else.

    Gradio keeps each session's copy of the page's config (~300 KB here) until `state_session_capacity` newer
    sessions have come, closed or not: its default of 10,000 lets a public page grow by 3 GB. SESSIONS bounds it.
    """
    queue(demo)
    served = [str(examples.ROOT)] + ([str(gallery_folder)] if gallery_folder else [])
    return demo.launch(server_name=host, server_port=port, share=share, mcp_server=mcp, max_file_size=MAX_UPLOAD,
                       show_error=True, allowed_paths=served, state_session_capacity=SESSIONS,
                       css=CSS, head=HEAD, theme=gr.themes.Soft(), **kwargs)


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    tame_malloc()  # before the model's and gradio's threads
    state = ServerState(gallery_folder=args.gallery, store=search.open_served_store(args.store))
    manifest = state.store.manifest if state.store is not None else {}
    stored_backend = serving_backend(manifest.get("backend"), args.device)  # the CLI's rule too
    # no model named: the default model, which alone falls back to the bundled one when offline
    engine_module.configure(args.model or manifest.get("model"), args.device,
                            args.backend or stored_backend or "auto", args.max_models)
    if args.preload:
        engine_module.get_engine()
    launch(build_demo(state), args.host, args.port, args.share, args.mcp, gallery_folder=state.gallery_folder)
