"""Search tab: text -> images and image -> texts over an indexed gallery, and Recall@K evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pandas as pd

from ..analysis.captions import rank_captions
from ..analysis.recall import KS, recall_at_k, sampled_recall
from ..errors import InputError
from ..figures import line_chart
from ..limits import MAX_GALLERY_FILES
from ..search import open_store, search_store
from ..search.evaluate import encode_pairs, pairs_from_upload
from ..search.gallery import Gallery, build_gallery, release
from ..search.query import Hit, read_thumbnails
from ..text import parse_lines
from . import examples
from .common import (engine_for, error_box, export, load_uploads, notes_markdown, progress_callback,
                     replace_on_upload, run_keeping_errors, upload_path, user_errors)
from .state import ServerState, bind

EXPLAINER = """
**How it works.** Indexing embeds every image once (in batches, with progress) into a store: Parquet
shards, the vectors and a FAISS index, the same kind of store `python -m clipdemo index` builds. The
`--gallery DIR` folder's store is kept on disk for the model: re-indexing the folder, or restarting the
app, encodes nothing again, and a changed file is encoded alone; an upload's store lasts the session.
A query embeds only the query text (or image) and searches the vectors with FAISS: exact inner product
by default, HNSW (its recall against exact measured) for very large galleries.
For millions of images, build a store with `python -m clipdemo index` (on this machine or a Ray
cluster) and start the app with `--store STORE`: this tab then searches it, memory-mapped.
**Recall@K** is the share of queries whose true match is among the top K: image -> text counts an image as
found when any of its captions is in its top K; text -> image counts a caption when its image is. A tie
counts against the model: a wrong match scoring exactly as high as the true one ranks above it.
"""

def open_served_store(folder: str | None):
    """The app's --store STORE (built by `python -m clipdemo index`), or None: searched when no gallery was
    indexed in the session. Opened once for the process (it goes in `ServerState.store`): its vectors and
    FAISS index are memory-mapped, not copied, and mapped now, not racing on the first queries."""
    return open_store(folder, load_index=True) if folder else None


def store_status(store) -> str:
    """A line about the served store for the tab, or "" when there is none."""
    if store is None:
        return ""
    index = store.manifest["index"]
    line = (f"Serving the store **{store.folder.name}**: {len(store):,} images embedded by "
            f"`{store.manifest['model']}` ({store.manifest['backend']}), {index['kind']} index")
    if index["kind"] != "exact":
        line += f" (recall@10 against exact: {index['recall_at_10']:.3f})"
    return line + ". Search it below, or index a gallery of your own for this session."


RESULT_COLUMNS = ["Rank", "Cosine", "Image"]


def _caption(score: float, name: str) -> str:
    """An image result's gallery caption: the score first, then the file (gallery and store alike)."""
    return f"{score:.3f} · {name}"


def _results(hits: list[Hit], full_paths: bool):
    """Hits as the gallery's (thumbnail, caption) pairs and a table; a file that cannot be read now is in the
    table only. A served store's table gives each file's path; a session's gallery its name (its files sit
    in temporary folders)."""
    shown = [(image, _caption(h.score, h.name)) for h, image in zip(hits, read_thumbnails(hits)) if image]
    table = pd.DataFrame([(h.rank, round(h.score, 4), h.path if full_paths else h.name) for h in hits],
                         columns=RESULT_COLUMNS)
    return shown, table


def release_gallery(gallery: Gallery | None) -> None:
    """Remove the folders a gallery made (when the session ends or indexes another)."""
    release(gallery)


@user_errors
def index_gallery(files=None, index_kind: str = "exact", previous: Gallery | None = None, session_model=None,
                  model: str = "", progress=gr.Progress(), *, state: ServerState):
    """Embed a gallery of images for search: uploaded images, a .zip of them, or the app's --gallery folder.

    Args:
        files: image files, or one .zip of images, to search over; empty to use the --gallery folder.
        index_kind: "exact" (FAISS flat inner product) or "hnsw" (approximate, for very large galleries).
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        A status line and the gallery (kept for this session).
    """
    uploads = [upload_path(f) for f in (files if isinstance(files, list) else [files])] if files else []
    if not uploads and not state.gallery_folder:
        if state.store is not None:
            raise InputError("This app serves a store (--store): search it directly, or upload images to "
                             "index a gallery of your own.")
        raise InputError("No gallery: upload images or a .zip of them, or start the app with --gallery DIR "
                         "or --store STORE.")
    release_gallery(previous)
    engine = engine_for(model, session_model, progress)
    gallery = build_gallery(engine, uploads, state.gallery_folder, index_kind,
                            progress_callback(progress, "embedding the gallery"))
    report = gallery.report
    text = (f"Indexed **{report.count}** images ({report.embedded} encoded now, "
            f"{report.reused} from the on-disk cache), index: {index_kind}, model `{engine.info.name}` "
            "(search with it: another model's queries are refused).")
    if index_kind != "exact":
        text += f" Its recall@10 against exact search on this gallery: {report.index['recall_at_10']:.3f}."
    if gallery.skipped:
        text += f" Skipped {len(gallery.skipped)}: " + "; ".join(gallery.skipped[:3])
    return text, gallery


@user_errors
def search_text(query: str, k: float = 8, gallery: Gallery | None = None, session_model=None, model: str = "",
                *, state: ServerState):
    """Find the gallery images that best match a text.

    Args:
        query: the text to search for.
        k: how many images to return.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        A gallery of (image, "cosine · name") best first, and the same as a table.
    """
    store = gallery.store if gallery is not None else state.store
    if store is None:
        raise InputError("Index a gallery first.")
    query = parse_lines(query, "queries", limit=1).items[0]
    hits = search_store(store, engine_for(model, session_model), query, int(k))
    _say_clamped(int(k), len(hits), "images in the gallery")
    return _results(hits, full_paths=gallery is None)


def _say_clamped(asked: int, got: int, what: str) -> None:
    """A top-k above what there is says so, instead of quietly returning fewer."""
    if asked > got:
        gr.Info(f"Top-k {asked:,} was clamped to {got}: there are only {got} {what}.")


@user_errors
def search_image(image, captions: str, k: float = 5, session_model=None, model: str = ""):
    """Find the captions that best match an image.

    Args:
        image: the query image file.
        captions: the captions to search, one per line.
        k: how many captions to return.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        A table of Rank, Cosine and Caption, best first.
    """
    texts = parse_lines(captions, "captions").items
    loaded, _ = load_uploads(image, limit=1)
    ranked = rank_captions(engine_for(model, session_model), loaded[0].image, texts)[: int(k)]
    _say_clamped(int(k), len(ranked), "captions")
    return pd.DataFrame([(r + 1, round(c.cosine, 4), c.caption) for r, c in enumerate(ranked)],
                        columns=["Rank", "Cosine", "Caption"])


@user_errors
def evaluate_pairs(pairs_zip=None, sample_images: float = 10, repeats: float = 50, seed: float = 0,
                   session_model=None, model: str = "", progress=gr.Progress()):
    """Recall@1/5/10 both ways on paired images and captions, whole set and sampled.

    Args:
        pairs_zip: a .zip holding pairs.csv (columns image, caption; paths relative to it) and its images;
            empty for the bundled example.
        sample_images: images per sample for the sampled protocol.
        repeats: number of samples.
        seed: sampling seed.
        model: which of the server's models answers (see /model_info's "offered"); "" is the default.
    Returns:
        Notes (rows or images left out, and why), a table, a recall-against-K chart, and CSV and JSON exports.
    """
    source = upload_path(pairs_zip) if pairs_zip else str(examples.PAIRS / "pairs.csv")
    if pairs_zip and Path(source).suffix.lower() != ".zip":
        raise InputError(f"{Path(source).name}: upload a .zip holding pairs.csv and the images it names "
                         "(a CSV alone has no images).")
    engine = engine_for(model, session_model, progress)
    with pairs_from_upload(source) as pairs:
        sim, pairs = encode_pairs(engine, pairs, progress=progress_callback(progress, "embedding the images"))
    full = recall_at_k(sim, pairs.image_of_caption)
    sampled = sampled_recall(sim, pairs.image_of_caption, int(sample_images), int(repeats), int(seed))
    rows = []
    for d in ("image_to_text", "text_to_image"):
        for k in KS:
            m, s = sampled[d][k] or (None, None)  # None: K reaches every candidate of a sample
            rows.append((d.replace("_", " "), f"R@{k}", round(full[d][k], 4), None if m is None else round(m, 4),
                         None if s is None else round(s, 4)))
    table = pd.DataFrame(rows, columns=["direction", "K", "whole set", f"sampled mean ({int(sample_images)} images)",
                                        "sampled std"])
    ks = list(range(1, min(10, len(pairs.captions)) + 1))
    curve = recall_at_k(sim, pairs.image_of_caption, ks)
    chart = line_chart(ks, {d.replace("_", " "): [curve[d][k] for k in ks] for d in curve}, "K", "Recall@K",
                       f"{engine.info.name} on {Path(source).name}: {len(pairs.images)} images, "
                       f"{len(pairs.captions)} captions")
    report = {"model": engine.info.name, "pairs": Path(source).name, "whole_set": full, "skipped": pairs.skipped,
              "sampled": {"images": int(sample_images), "repeats": int(repeats), "seed": int(seed), **sampled}}
    notes = (f"Left out {len(pairs.skipped)}:\n" + notes_markdown(pairs.skipped[:20])) if pairs.skipped else ""
    hint = plateau_hint(pairs.captions, pairs.image_of_caption, full)
    if any(v is None for d in sampled.values() for v in d.values()):
        hint += ("\n\n" if hint else "") + ("Sampled R@K is left blank where K reaches every candidate of a sample "
                                             "(text -> image: its images; image -> text: its captions): the true one "
                                             "is then within the top K by construction.")
    notes = "\n\n".join(part for part in (hint, notes) if part)
    return (notes, table, chart, export("recall.csv", table.to_csv(index=False)),
            export("recall.json", json.dumps(report, indent=2)))


def plateau_hint(captions, image_of_caption, full: dict) -> str:
    """Why Recall@K may stop short of 100%: captions that are word for word the same for different images.

    Each such caption is paired with one image, yet fits the others as well; they tie or win against its own,
    and the tie rule counts that against the model, at every K up to the size of the group."""
    images_of: dict[str, set] = {}
    for caption, image in zip(captions, image_of_caption):
        images_of.setdefault(" ".join(str(caption).lower().split()), set()).add(int(image))
    shared = {c: imgs for c, imgs in images_of.items() if len(imgs) > 1}
    if not shared:
        if min(full["text_to_image"].values()) < 1 or min(full["image_to_text"].values()) < 1:
            return ("Recall@K stops below 100% where the model ranks another image or caption above the true one; "
                    "no caption here is shared by two images, so those misses are the model's.")
        return ""
    n = sum(1 for caption in captions if " ".join(str(caption).lower().split()) in shared)
    example, largest = next(iter(shared)), max(len(images) for images in shared.values())
    k = max(full["text_to_image"])
    hint = (f"**Why Recall@K plateaus:** {n} of {len(captions)} captions are word for word the same for "
            f"different images (“{example}” belongs to {len(shared[example])} images). Each is paired with one "
            "image only, so the others it fits equally count as wrong (ties count against the model) until K "
            f"reaches the size of its group (at most {largest} here).")
    if k >= largest:
        hint += (f" What is still missed at K = {k} (text -> image {full['text_to_image'][k]:.0%}, image -> text "
                 f"{full['image_to_text'][k]:.0%} found) is the model's own.")
    return hint + " Make the captions distinct to measure the model alone."


GALLERY_LIST_PX = 260  # the upload's file list


def build(session_model: gr.State, state: ServerState, model: gr.Dropdown) -> list:
    """The tab; returns its result components (cleared when the session picks another model)."""
    gallery_state = gr.State(None, delete_callback=release_gallery)
    gr.Markdown("Index a gallery once, then search it with words. Upload images, or **one .zip** of a folder "
                f"(up to {MAX_GALLERY_FILES:,} images). To search a folder on the server, start the app with "
                "`--gallery DIR` and index with nothing uploaded.")
    with gr.Row():
        with gr.Column(scale=1):
            # a fixed height: a gallery of hundreds of files scrolls in its box, not down the page
            files = gr.File(label="Gallery: images or one .zip of them (empty: the app's --gallery DIR)",
                            file_count="multiple", height=GALLERY_LIST_PX, elem_id="search-files")
            kind = gr.Radio(["exact", "hnsw"], value="exact", label="Index")
            index_button = gr.Button("Index gallery", variant="primary")
            status = gr.Markdown(store_status(state.store))
            query = gr.Textbox(label="Text query", placeholder="three blue stars")
            k = gr.Slider(1, 32, value=8, step=1, label="Top-k", info="images shown, at most 32")
            search_button = gr.Button("Search images")
            gr.Examples(examples=[[examples.scene_files(), "three blue stars"]], inputs=[files, query],
                        label="Example", example_labels=["The 8 scenes, then search 'three blue stars'"],
                        elem_id="search-examples")
        with gr.Column(scale=2):
            error = error_box()
            results = gr.Gallery(label="Best matches (cosine · file)", columns=4, height=660, object_fit="contain",
                                 elem_id="search-results", elem_classes="wrapped-captions")
            hits = gr.Dataframe(label="Scores", headers=RESULT_COLUMNS, interactive=False, wrap=True,
                                column_widths=["64px", "84px", "70%"])
    with gr.Accordion("Image -> captions", open=False):
        with gr.Row():
            image = gr.File(label="Query image", file_count="single")
            captions = gr.Textbox(label="Captions (one per line)", lines=6, value="\n".join(examples.scene_captions()))
            found = gr.Dataframe(label="Best captions", headers=["Rank", "Cosine", "Caption"], interactive=False,
                                 wrap=True, column_widths=["64px", "84px", "70%"])
        image_button = gr.Button("Search captions")
    with gr.Accordion("Recall@K evaluation", open=False):
        with gr.Row():
            # no file_types: gradio would refuse other files with a traceback in the log; our message says more
            pairs = gr.File(label="Pairs .zip (pairs.csv + images); empty: the bundled example", file_count="single")
            sample_images = gr.Number(value=10, precision=0, label="Images per sample")
            repeats = gr.Number(value=50, precision=0, label="Samples")
            eval_seed = gr.Number(value=0, precision=0, label="Seed")
        eval_button = gr.Button("Evaluate")
        eval_error = error_box()
        eval_notes = gr.Markdown()
        recall_table = gr.Dataframe(label="Recall",
                                    headers=["direction", "K", "whole set", "sampled mean", "sampled std"],
                                    interactive=False, elem_id="recall-table")
        recall_chart = gr.Plot(label="Recall against K")
        with gr.Row():
            recall_csv, recall_json = gr.File(label="CSV"), gr.File(label="JSON")
    with gr.Accordion("How it works", open=False):
        gr.Markdown(EXPLAINER)
    replace_on_upload(files, "search_upload")  # a new upload is the new gallery, as in the other tabs
    run_keeping_errors(state.errors, index_button.click, bind(index_gallery, state=state),
                       [files, kind, gallery_state, session_model, model], [status, gallery_state], error,
                       api_name="index_gallery", concurrency_id=None)
    search_args, search_text_here = [query, k, gallery_state, session_model, model], bind(search_text, state=state)
    run_keeping_errors(state.errors, search_button.click, search_text_here, search_args, [results, hits], error,
                       api_name="search_text")
    run_keeping_errors(state.errors, query.submit, search_text_here, search_args, [results, hits], error,
                       api_name="search_text_submit", api_visibility="private")
    run_keeping_errors(state.errors, image_button.click, search_image, [image, captions, k, session_model, model], found,
                       error, api_name="search_image")
    run_keeping_errors(state.errors, eval_button.click, evaluate_pairs,
                       [pairs, sample_images, repeats, eval_seed, session_model, model],
                       [eval_notes, recall_table, recall_chart, recall_csv, recall_json], eval_error,
                       api_name="evaluate_pairs", concurrency_id=None)
    # the gallery stays (a search with another model is refused: its vectors are the indexing model's)
    return [results, hits, found, eval_notes, recall_table, recall_chart, recall_csv, recall_json]
