"""Command line: `python -m clipdemo probe|eval|index|search|saliency ...`."""

from __future__ import annotations

import argparse
import sys

from .engine.backends import BACKENDS
from .errors import InputError, ModelError
from .registry import DEFAULT_MODEL


def _engine(model: str, device: str | None):
    from .engine import load_with_fallback

    engine = load_with_fallback(model, device)
    if engine.info.note:
        print(f"note: {engine.info.note}", file=sys.stderr)
    return engine


def probe(args) -> None:
    from .probes import format_table, run_suites, to_csv, to_json

    engine = _engine(args.model, args.device)
    reports = run_suites(engine, args.suite, args.n, args.seed, args.template,
                         progress=lambda i, n, name: print(f"[{i}/{n}] {name}", file=sys.stderr))
    print(f"model: {engine.info.name}  template: {args.template!r}")
    print(format_table(reports))
    if args.csv:
        open(args.csv, "w").write(to_csv(reports))
    if args.json:
        open(args.json, "w").write(to_json(reports, engine.info.name))


def evaluate(args) -> None:
    from .analysis.recall import recall_at_k, sampled_recall
    from .search.evaluate import encode_pairs, format_recall, open_pairs

    engine = _engine(args.model, args.device)
    with open_pairs(args.pairs, args.images, local=True) as pairs:
        similarity, pairs = encode_pairs(engine, pairs)
    for reason in pairs.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(f"model: {engine.info.name}  pairs: {args.pairs}  images: {len(pairs.images)}  "
          f"captions: {len(pairs.captions)}")
    print(format_recall("whole set", recall_at_k(similarity, pairs.image_of_caption)))
    if args.sample_images:
        print(format_recall(f"{args.repeats} x {args.sample_images} sampled images",
                            sampled_recall(similarity, pairs.image_of_caption, args.sample_images, args.repeats,
                                           args.seed)))


def index(args) -> None:
    from .search import index_source

    report = index_source(args.source, args.out, model=args.model, engine=args.engine, batch_size=args.batch_size,
                          backend=args.backend, device=args.device, column=args.column, concurrency=args.concurrency,
                          num_gpus=args.num_gpus)
    print(report.summary())


def search(args) -> None:
    from .images import open_image
    from .search import open_store, search_store
    from .search.query import load_engine_for

    if not args.image and not args.text:
        raise InputError("Give a text query, or --image PATH.")
    store = open_store(args.store)
    engine = load_engine_for(store, args.model, args.device)
    hits = search_store(store, engine, open_image(args.image).image if args.image else args.text, args.k)
    print(f"store: {args.store} ({len(store)} vectors, {store.manifest['index']['kind']} index)  "
          f"model: {store.manifest['model']}")
    for hit in hits:
        print(f"{hit.rank:3d}  {hit.score:.4f}  {hit.path}")


def saliency(args) -> None:
    import json

    from .analysis.saliency import saliency as run_saliency
    from .images import open_images

    loaded, errors = open_images([args.image])
    if not loaded:
        raise InputError(" ".join(errors) or f"Cannot open {args.image!r} as an image.")
    engine = _engine(args.model, args.device)
    result = run_saliency(engine, loaded[0].image, args.texts, method=args.method)
    if args.json:
        print(json.dumps(result.as_dict()))
        return
    height, width = result.maps.shape[1:]
    print(f"model: {engine.info.name}  method: {result.method_name}  map: {width} x {height}")
    for text, cosine, m, words in zip(result.texts, result.cosine, result.maps, result.words):
        y, x = divmod(int(m.argmax()), m.shape[1])
        line = (f"{text!r}: cosine {cosine:.3f}, most relevant at x={x}, y={y} "
                f"({x / m.shape[1]:.0%}, {y / m.shape[0]:.0%})")
        if words:
            line += "; words: " + ", ".join(f"{w.word} {w.relevance:.0%}" for w in words)
        print(line)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m clipdemo")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("probe", help="run probe suites and print accuracy, chance, items, published figure")
    pr.add_argument("--suite", nargs="+", default=["all"],
                    help="counting, digits, text, spatial, binding, negation, photos, or all")
    ev = sub.add_parser("eval", help="Recall@1/5/10 both ways on paired images and captions")
    ev.add_argument("pairs", help="a CSV of image,caption rows, a folder holding pairs.csv, or a zip of both")
    ev.add_argument("--images", default=None,
                    help="the folder relative image paths in the CSV start from (default: the CSV's folder); "
                         "absolute paths are read as written")
    ev.add_argument("--sample-images", type=int, default=10, help="images per sample (0: skip sampling)")
    ev.add_argument("--repeats", type=int, default=50)
    ix = sub.add_parser("index", help="embed a folder or table of images into a store (Parquet shards, FAISS index)")
    ix.add_argument("source", help="a folder of images, or a .parquet/.csv file with an image-path column "
                                   "(local path or fsspec URL)")
    ix.add_argument("--out", required=True, help="the store folder (created, or resumed: only new or changed "
                                                 "files are embedded)")
    ix.add_argument("--model", default=DEFAULT_MODEL)
    ix.add_argument("--engine", choices=["local", "ray"], default="local",
                    help="local: this process; ray: Ray Data (in-process Ray, or the cluster at RAY_ADDRESS)")
    ix.add_argument("--batch-size", type=int, default=64)
    ix.add_argument("--backend", choices=BACKENDS, default="torch")
    ix.add_argument("--column", default=None, help="the table's image-path column (default: image, path, ...)")
    ix.add_argument("--concurrency", type=int, default=1, help="Ray actors (each loads the model once)")
    ix.add_argument("--num-gpus", type=float, default=0, help="GPUs per Ray actor")
    ix.add_argument("--device", default=None)
    se = sub.add_parser("search", help="search a store by text (or --image) and print ranked paths with cosines")
    se.add_argument("store")
    se.add_argument("text", nargs="?", default=None)
    se.add_argument("-k", type=int, default=5)
    se.add_argument("--image", default=None, help="an image file as the query instead of text")
    se.add_argument("--model", default=None, help="default: the store's model")
    se.add_argument("--device", default=None)
    sa = sub.add_parser("saliency", help="where in IMAGE each TEXT matches: one relevance map per text")
    sa.add_argument("image")
    sa.add_argument("texts", nargs="+", metavar="TEXT")
    sa.add_argument("--method", default="relevance", choices=["relevance", "occlusion"],
                    help="relevance: gradient-weighted attention relevance (Chefer et al. 2021); "
                         "occlusion: grey patches")
    sa.add_argument("--json", action="store_true",
                    help='print {"texts": [...], "maps": [[[...]]], "method": "...", "cosine": [...], '
                         '"null_cosine": ...}: one 2-D map per text, rows top to bottom, covering the whole image, '
                         "values in [0, 1], larger = more relevant; each text's cosine with the image, and the "
                         "image's with \"a photo.\"")
    for s in (pr, ev, sa):
        s.add_argument("--model", default=DEFAULT_MODEL)
        s.add_argument("--device", default=None)
        s.add_argument("--seed", type=int, default=0)
    pr.add_argument("-n", type=int, default=200, help="items per suite")
    pr.add_argument("--template", default="{}", help="prompt template around each caption, e.g. 'a photo of {}.'")
    pr.add_argument("--csv")
    pr.add_argument("--json")
    args = p.parse_args(argv)
    try:
        {"probe": probe, "eval": evaluate, "index": index, "search": search,
         "saliency": saliency}[args.command](args)
    except (InputError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
