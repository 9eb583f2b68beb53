"""Search tab: text -> images and image -> texts over an indexed gallery, and Recall@K evaluation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gradio as gr
import pandas as pd

from ..errors import InputError
from ..figures import line_chart
from ..images import open_image
from ..retrieval.evaluate import KS, encode_pairs, pairs_from_upload, recall_at_k, sampled_recall
from ..limits import MAX_GALLERY_FILES
from ..retrieval.index import IMAGE_SUFFIXES, Gallery, build_gallery, list_images
from ..retrieval.store import open_store
from ..safe_paths import extract_zip
from ..text import parse_lines
from . import examples
from .common import (engine_for, error_box, export, load_uploads, notes_markdown, progress_callback,
                     run_keeping_errors, upload_path, user_errors)

EXPLAINER = """
**How it works.** Indexing embeds every image once (in batches, with progress) and stores the vectors
on disk, keyed by the model and each file's content hash: re-opening the same folder, or restarting the
app, encodes nothing again, and a changed file is encoded alone. A query embeds only the query text (or
image) and searches the vectors with FAISS: exact inner product by default, HNSW for very large galleries.
For millions of images, build a store with `python -m clipdemo index` (on this machine or a Ray
cluster) and start the app with `--store STORE`: this tab then searches it, memory-mapped.
**Recall@K** is the share of queries whose true match is among the top K: image -> text counts an image as
found when any of its captions is in its top K; text -> image counts a caption when its image is.
"""

_shared: dict = {"folder": None, "store": None}
THUMBNAIL = 384  # longest side of the store images the Search tab shows


def set_store(folder: str | None) -> None:
    """The app's --store STORE (built by `python -m clipdemo index`): searched when no gallery was indexed in
    the session. Opened once for the process: its vectors and FAISS index are memory-mapped, not copied."""
    from ..indexer import open_store as open_index_store

    store = open_index_store(folder) if folder else None
    if store is not None:
        store.index  # load (map) the index now, not racing on the first queries
    _shared["store"] = store


def served_store():
    return _shared["store"]


def store_status() -> str:
    store = _shared["store"]
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


def _search_store(store, engine, query: str, k: int):
    """Text -> the store's k best images (thumbnails read now: the store's files may be anywhere), and a table."""
    from ..indexer.reader import read_bytes
    from ..indexer.store import check_model

    check_model(store, engine)
    scores, rows = store.search(engine.encode_texts([query])[0].numpy(), k)
    shown, table = [], []
    for rank, (score, row) in enumerate(((float(s), int(r)) for s, r in zip(scores[0], rows[0]) if r >= 0), 1):
        path = str(store.catalog["path"].iat[row])
        name = path.rsplit("/", 1)[-1]
        table.append((rank, round(score, 4), path))
        try:
            image = open_image(read_bytes(path), name=name).image
        except (InputError, OSError):
            continue  # moved or changed since it was indexed: listed in the table, not shown
        image.thumbnail((THUMBNAIL, THUMBNAIL))
        shown.append((image, _caption(score, name)))
    return shown, pd.DataFrame(table, columns=RESULT_COLUMNS)


def set_gallery_folder(folder: str | None) -> None:
    """The app's --gallery DIR: what 'Index gallery' embeds when nothing is uploaded (vectors come from the
    on-disk store after the first time)."""
    _shared["folder"] = folder


def gallery_folder() -> str | None:
    return _shared["folder"]


def _gallery_paths(files) -> tuple[list[str], str | None]:
    """The image paths to index and, for an uploaded zip, the folder it was extracted to (removed later)."""
    if not files:
        if not _shared["folder"]:
            if _shared["store"] is not None:
                raise InputError("This app serves a store (--store): search it directly, or upload images to "
                                 "index a gallery of your own.")
            raise InputError("No gallery: upload images or a .zip of them, or start the app with --gallery DIR "
                             "or --store STORE.")
        return list_images(_shared["folder"]), None
    paths = [upload_path(f) for f in (files if isinstance(files, list) else [files])]
    zips = [p for p in paths if p.lower().endswith(".zip")]
    if zips:
        if len(paths) > 1:
            raise InputError("Upload either one .zip of images or image files, not both.")
        folder = extract_zip(zips[0])
        paths = list_images(folder)
        if not paths:
            shutil.rmtree(folder, ignore_errors=True)
            raise InputError(f"{Path(zips[0]).name}: no images inside ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    else:
        folder = None
    if len(paths) > MAX_GALLERY_FILES:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise InputError(f"{len(paths)} images; an uploaded gallery holds at most {MAX_GALLERY_FILES}. "
                         "For more, start the app with --gallery DIR.")
    return paths, folder


def release_gallery(gallery: Gallery | None) -> None:
    """Remove the folder a zipped gallery was extracted to (when the session ends or indexes another)."""
    if gallery is not None and gallery.folder:
        shutil.rmtree(gallery.folder, ignore_errors=True)


@user_errors
def index_gallery(files=None, index_kind: str = "exact", previous: Gallery | None = None, session_model=None,
                  progress=gr.Progress()):
    """Embed a gallery of images for search: uploaded images, a .zip of them, or the app's --gallery folder.

    Args:
        files: image files, or one .zip of images, to search over; empty to use the --gallery folder.
        index_kind: "exact" (FAISS flat inner product) or "hnsw" (approximate, for very large galleries).
    Returns:
        A status line and the gallery (kept for this session).
    """
    engine = engine_for(session_model)
    paths, folder = _gallery_paths(files)
    release_gallery(previous)
    gallery = build_gallery(engine, paths, open_store(engine), kind=index_kind,
                            progress=progress_callback(progress, "embedding the gallery"))
    gallery.folder = folder
    if not gallery.paths:
        release_gallery(gallery)
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
        A gallery of (image, "cosine · name") best first, and the same as a table.
    """
    if gallery is None and _shared["store"] is None:
        raise InputError("Index a gallery first.")
    query = parse_lines(query, "queries", limit=1).items[0]
    if gallery is None:
        return _search_store(_shared["store"], engine_for(session_model), query, int(k))
    hits = gallery.search(engine_for(session_model).encode_texts([query])[0].numpy(), int(k))
    table = pd.DataFrame([(i + 1, round(h.score, 4), h.name) for i, h in enumerate(hits)], columns=RESULT_COLUMNS)
    return [(gallery.paths[h.index], _caption(h.score, h.name)) for h in hits], table


@user_errors
def search_image(image, captions: str, k: float = 5, session_model=None):
    """Find the captions that best match an image.

    Args:
        image: the query image file.
        captions: the captions to search, one per line.
        k: how many captions to return.
    Returns:
        A table of Rank, Cosine and Caption, best first.
    """
    texts = parse_lines(captions, "captions").items
    loaded, _ = load_uploads(image, limit=1)
    engine = engine_for(session_model)
    scores = (engine.encode_texts(texts) @ engine.encode_images([loaded[0].image])[0]).numpy()
    order = scores.argsort()[::-1][: int(k)]
    return pd.DataFrame([(r + 1, round(float(scores[i]), 4), texts[i]) for r, i in enumerate(order)],
                        columns=["Rank", "Cosine", "Caption"])


@user_errors
def evaluate_pairs(pairs_zip=None, sample_images: float = 10, repeats: float = 50, seed: float = 0,
                   session_model=None, progress=gr.Progress()):
    """Recall@1/5/10 both ways on paired images and captions, whole set and sampled.

    Args:
        pairs_zip: a .zip holding pairs.csv (columns image, caption; paths relative to it) and its images;
            empty for the bundled example.
        sample_images: images per sample for the sampled protocol.
        repeats: number of samples.
        seed: sampling seed.
    Returns:
        Notes (rows or images left out, and why), a table, a recall-against-K chart, and CSV and JSON exports.
    """
    source = upload_path(pairs_zip) if pairs_zip else str(examples.PAIRS / "pairs.csv")
    if pairs_zip and Path(source).suffix.lower() != ".zip":
        raise InputError(f"{Path(source).name}: upload a .zip holding pairs.csv and the images it names "
                         "(a CSV alone has no images).")
    engine = engine_for(session_model)
    with pairs_from_upload(source) as pairs:
        sim, pairs = encode_pairs(engine, pairs, progress=progress_callback(progress, "embedding the images"))
    full = recall_at_k(sim, pairs.image_of_caption)
    sampled = sampled_recall(sim, pairs, int(sample_images), int(repeats), int(seed))
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
    report = {"model": engine.info.name, "pairs": Path(source).name, "whole_set": full, "skipped": pairs.skipped,
              "sampled": {"images": int(sample_images), "repeats": int(repeats), "seed": int(seed), **sampled}}
    notes = (f"Left out {len(pairs.skipped)}:\n" + notes_markdown(pairs.skipped[:20])) if pairs.skipped else ""
    return (notes, table, chart, export("recall.csv", table.to_csv(index=False)),
            export("recall.json", json.dumps(report, indent=2)))


def build(session_model: gr.State) -> None:
    gallery_state = gr.State(None, delete_callback=release_gallery)
    gr.Markdown("Index a gallery once, then search it with words. Upload images, or **one .zip** of a folder "
                f"(up to {MAX_GALLERY_FILES:,} images). To search a folder on the server, start the app with "
                "`--gallery DIR` and index with nothing uploaded.")
    with gr.Row():
        with gr.Column(scale=1):
            files = gr.File(label="Gallery: images or one .zip of them (empty: the app's --gallery DIR)",
                            file_count="multiple")
            kind = gr.Radio(["exact", "hnsw"], value="exact", label="Index")
            index_button = gr.Button("Index gallery", variant="primary")
            status = gr.Markdown(store_status())
            query = gr.Textbox(label="Text query", placeholder="three blue stars")
            k = gr.Slider(1, 32, value=8, step=1, label="Top-k")
            search_button = gr.Button("Search images")
        with gr.Column(scale=2):
            error = error_box()
            results = gr.Gallery(label="Best matches (cosine · file)", columns=4, height=540, object_fit="contain",
                                 elem_id="search-results", elem_classes="wrapped-captions")
            hits = gr.Dataframe(label="Scores", interactive=False, wrap=True, column_widths=["64px", "84px", "70%"])
    with gr.Accordion("Image -> captions", open=False):
        with gr.Row():
            image = gr.File(label="Query image", file_count="single")
            captions = gr.Textbox(label="Captions (one per line)", lines=6, value="\n".join(examples.scene_captions()))
            found = gr.Dataframe(label="Best captions", interactive=False, wrap=True,
                                 column_widths=["64px", "84px", "70%"])
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
        recall_table = gr.Dataframe(label="Recall", interactive=False, elem_id="recall-table")
        recall_chart = gr.Plot(label="Recall against K")
        with gr.Row():
            recall_csv, recall_json = gr.File(label="CSV"), gr.File(label="JSON")
    with gr.Accordion("How it works", open=False):
        gr.Markdown(EXPLAINER)
    run_keeping_errors(index_button.click, index_gallery, [files, kind, gallery_state, session_model],
                       [status, gallery_state], error, api_name="index_gallery", concurrency_id=None)
    search_args = [query, k, gallery_state, session_model]
    run_keeping_errors(search_button.click, search_text, search_args, [results, hits], error, api_name="search_text")
    run_keeping_errors(query.submit, search_text, search_args, [results, hits], error, api_name="search_text_submit",
                       api_visibility="private")
    run_keeping_errors(image_button.click, search_image, [image, captions, k, session_model], found, error,
                       api_name="search_image")
    run_keeping_errors(eval_button.click, evaluate_pairs, [pairs, sample_images, repeats, eval_seed, session_model],
                       [eval_notes, recall_table, recall_chart, recall_csv, recall_json], eval_error,
                       api_name="evaluate_pairs", concurrency_id=None)
