"""Search tab: text -> images and image -> texts over an indexed gallery, and Recall@K evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pandas as pd

from ..errors import InputError
from ..figures import line_chart
from ..retrieval.evaluate import KS, load_pairs, recall_at_k, sampled_recall, similarity_for
from ..retrieval.index import Gallery, build_gallery, list_images
from ..retrieval.store import EmbeddingStore
from ..text import parse_lines
from . import examples
from .common import engine_for, export, load_uploads, progress_callback, upload_path, user_errors

EXPLAINER = """
**How it works.** Indexing embeds every image once (in batches, with progress) and stores the vectors
on disk, keyed by the model and each file's content hash: re-opening the same folder, or restarting the
app, encodes nothing again, and a changed file is encoded alone. A query embeds only the query text (or
image) and searches the vectors with FAISS: exact inner product by default, HNSW for very large galleries.
**Recall@K** is the share of queries whose true match is among the top K: image -> text counts an image as
found when any of its captions is in its top K; text -> image counts a caption when its image is.
"""

_shared: dict = {"folder": None}


def set_gallery_folder(folder: str | None) -> None:
    """The app's --gallery DIR: what 'Index gallery' embeds when nothing is uploaded (vectors come from the
    on-disk store after the first time)."""
    _shared["folder"] = folder


@user_errors
def index_gallery(files=None, index_kind: str = "exact", session_model=None, progress=gr.Progress()):
    """Embed a gallery of images for search (uploaded files, or the app's --gallery folder if none).

    Args:
        files: image files to search over; empty to use the --gallery folder.
        index_kind: "exact" (FAISS flat inner product) or "hnsw" (approximate, for very large galleries).
    Returns:
        A status line and the gallery (kept for this session).
    """
    engine = engine_for(session_model)
    if files:
        paths = [upload_path(f) for f in (files if isinstance(files, list) else [files])]
    elif _shared["folder"]:
        paths = list_images(_shared["folder"])
    else:
        raise InputError("No gallery: upload images, or start the app with --gallery DIR.")
    gallery = build_gallery(engine, paths, EmbeddingStore(engine), kind=index_kind,
                            progress=progress_callback(progress, "embedding the gallery"))
    if not gallery.paths:
        raise InputError("None of the gallery files could be read: " + " ".join(gallery.skipped[:5]))
    text = (f"Indexed **{len(gallery.paths)}** images ({gallery.encoded} encoded now, "
            f"{len(gallery.paths) - gallery.encoded} from the on-disk cache), index: {index_kind}.")
    if index_kind != "exact":
        text += f" Its recall@10 against exact search on this gallery: {gallery.approximate_recall():.3f}."
    if gallery.skipped:
        text += f" Skipped {len(gallery.skipped)}: " + "; ".join(gallery.skipped[:3])
    return text, gallery


@user_errors
def search_text(query: str, k: float = 8, gallery: Gallery | None = None, session_model=None):
    """Find the gallery images that best match a text.

    Args:
        query: the text to search for.
        k: how many images to return.
    Returns:
        A gallery of (image, "name: cosine") best first, and the same as a table.
    """
    if gallery is None:
        raise InputError("Index a gallery first.")
    query = parse_lines(query, "queries", limit=1).items[0]
    hits = gallery.search(engine_for(session_model).encode_texts([query])[0].numpy(), int(k))
    table = pd.DataFrame([(i + 1, h.name, round(h.score, 4)) for i, h in enumerate(hits)],
                         columns=["rank", "image", "cosine"])
    return [(gallery.paths[h.index], f"{h.name}: {h.score:.3f}") for h in hits], table


@user_errors
def search_image(image, captions: str, k: float = 5, session_model=None):
    """Find the captions that best match an image.

    Args:
        image: the query image file.
        captions: the captions to search, one per line.
        k: how many captions to return.
    Returns:
        A table of rank, caption and cosine, best first.
    """
    texts = parse_lines(captions, "captions").items
    loaded, _ = load_uploads(image, limit=1)
    engine = engine_for(session_model)
    scores = (engine.encode_texts(texts) @ engine.encode_images([loaded[0].image])[0]).numpy()
    order = scores.argsort()[::-1][: int(k)]
    return pd.DataFrame([(r + 1, texts[i], round(float(scores[i]), 4)) for r, i in enumerate(order)],
                        columns=["rank", "caption", "cosine"])


@user_errors
def evaluate_pairs(pairs_csv=None, sample_images: float = 10, repeats: float = 50, seed: float = 0,
                   session_model=None, progress=gr.Progress()):
    """Recall@1/5/10 both ways on paired images and captions, whole set and sampled.

    Args:
        pairs_csv: a CSV with columns image, caption (paths relative to the CSV); empty for the bundled example.
        sample_images: images per sample for the sampled protocol.
        repeats: number of samples.
        seed: sampling seed.
    Returns:
        A table, a recall-against-K chart, and CSV and JSON exports.
    """
    source = (upload_path(pairs_csv) if pairs_csv else None) or str(examples.PAIRS / "pairs.csv")
    pairs = load_pairs(source)
    engine = engine_for(session_model)
    progress(0.1, desc=f"embedding {len(pairs.images)} images and {len(pairs.captions)} captions")
    sim = similarity_for(engine, pairs)
    full = recall_at_k(sim, pairs.image_of_caption)
    sampled = sampled_recall(engine, pairs, int(sample_images), int(repeats), int(seed), similarity=sim)
    rows = []
    for d in ("image_to_text", "text_to_image"):
        for k in KS:
            m, s = sampled[d][k]
            rows.append((d.replace("_", " "), f"R@{k}", round(full[d][k], 4), round(m, 4), round(s, 4)))
    table = pd.DataFrame(rows, columns=["direction", "K", "whole set", f"sampled mean ({int(sample_images)} images)",
                                        "sampled std"])
    ks = list(range(1, min(10, len(pairs.captions)) + 1))
    curve = recall_at_k(sim, pairs.image_of_caption, ks)
    chart = line_chart(ks, {d.replace("_", " "): [curve[d][k] for k in ks] for d in curve}, "K", "Recall@K",
                       f"{Path(source).name}: {len(pairs.images)} images, {len(pairs.captions)} captions")
    report = {"model": engine.info.name, "pairs": Path(source).name, "whole_set": full,
              "sampled": {"images": int(sample_images), "repeats": int(repeats), "seed": int(seed), **sampled}}
    return (table, chart, export("recall.csv", table.to_csv(index=False)),
            export("recall.json", json.dumps(report, indent=2)))


def build(session_model: gr.State) -> None:
    gallery_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            files = gr.File(label="Gallery images (or leave empty for --gallery DIR)", file_count="multiple")
            kind = gr.Radio(["exact", "hnsw"], value="exact", label="Index")
            index_button = gr.Button("Index gallery", variant="primary")
            status = gr.Markdown()
            query = gr.Textbox(label="Text query", placeholder="three blue stars")
            k = gr.Slider(1, 32, value=8, step=1, label="Top-k")
            search_button = gr.Button("Search images")
        with gr.Column(scale=2):
            results = gr.Gallery(label="Best matches", columns=4, height=420, elem_id="search-results")
            hits = gr.Dataframe(label="Scores", interactive=False)
    with gr.Accordion("Image -> captions", open=False):
        with gr.Row():
            image = gr.File(label="Query image", file_count="single")
            captions = gr.Textbox(label="Captions (one per line)", lines=6, value="\n".join(examples.scene_captions()))
            found = gr.Dataframe(label="Best captions", interactive=False)
        image_button = gr.Button("Search captions")
    with gr.Accordion("Recall@K evaluation", open=False):
        with gr.Row():
            pairs = gr.File(label="Pairs CSV (image,caption); empty: the bundled example", file_count="single")
            sample_images = gr.Number(value=10, precision=0, label="Images per sample")
            repeats = gr.Number(value=50, precision=0, label="Samples")
            eval_seed = gr.Number(value=0, precision=0, label="Seed")
        eval_button = gr.Button("Evaluate")
        recall_table = gr.Dataframe(label="Recall", interactive=False, elem_id="recall-table")
        recall_chart = gr.Plot(label="Recall against K")
        with gr.Row():
            recall_csv, recall_json = gr.File(label="CSV"), gr.File(label="JSON")
    with gr.Accordion("How it works", open=False):
        gr.Markdown(EXPLAINER)
    index_button.click(index_gallery, [files, kind, session_model], [status, gallery_state], api_name="index_gallery")
    search_args = [query, k, gallery_state, session_model]
    search_button.click(search_text, search_args, [results, hits], api_name="search_text")
    query.submit(search_text, search_args, [results, hits], api_name="search_text_submit", api_visibility="private")
    image_button.click(search_image, [image, captions, k, session_model], found, api_name="search_image")
    eval_button.click(evaluate_pairs, [pairs, sample_images, repeats, eval_seed, session_model],
                      [recall_table, recall_chart, recall_csv, recall_json], api_name="evaluate_pairs")
