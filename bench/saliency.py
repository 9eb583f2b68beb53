"""Saliency, measured: the pointing game and deletion AUC (bundled model, random weights, centre baseline),
and the time of one saliency map of a 224 px image.

    python bench/saliency.py [--models NAME ...] [--n 100] [--deletion-n 40] [--threads 2] [--skip-eval | --skip-timing]

The ViT-B/32 time uses CLIPConfig's defaults (12-layer 768-wide ViT, 32 px patches at 224 px, 12-layer
text transformer) with random weights: the same FLOPs as the real model, no download.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPModel

from clipdemo.analysis.saliency import METHODS, saliency
from clipdemo.analysis.saliency_eval import report
from clipdemo.engine import ClipEngine
from clipdemo.registry import bundled_models
from clipdemo.train.model import tiny_processor
from clipdemo.train.tokenizer import build_tokenizer

TEXTS = ["red circle", "blue square"]


def vit_b32_engine() -> ClipEngine:
    tokenizer = build_tokenizer()
    config = CLIPConfig(text_config=dict(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                                         bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id))
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    return ClipEngine(model, tiny_processor(tokenizer, image_size=config.vision_config.image_size),
                      name="ViT-B/32 (random weights)", source="memory")


def timed(engine, image, method: str, repeats: int) -> tuple[float, float]:
    """(first call, median of the next `repeats`) seconds for one map of two texts."""
    start = time.perf_counter()
    saliency(engine, image, TEXTS, method=method)
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        engine.clear_cache()
        start = time.perf_counter()
        saliency(engine, image, TEXTS, method=method)
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100, help="scenes in the pointing game")
    p.add_argument("--deletion-n", type=int, default=40, help="scenes in the deletion curve")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-eval", action="store_true", help="timings only")
    p.add_argument("--skip-timing", action="store_true", help="the pointing game and deletion only")
    p.add_argument("--models", nargs="+", default=bundled_models(), help="models measured (default: the bundled)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    engines = {name: ClipEngine.load(name) for name in args.models}
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8))
    print(f"torch threads: {torch.get_num_threads()}")
    for engine in () if args.skip_timing else (*engines.values(), vit_b32_engine()):
        for method in (m for m in METHODS if m in engine.family.saliency):
            first, median = timed(engine, image, method, args.repeats)
            print(f"{engine.info.name:32s} {method:10s} 224 px, 2 texts: first {first:.2f} s, median {median:.2f} s")
    if args.skip_eval:
        return
    controls = {f"{name} random": engine.random_twin(0) for name, engine in engines.items()}
    rows = report({**engines, **controls}, n=args.n,
                  deletion_n=args.deletion_n, progress=lambda s: print("...", s, flush=True))
    print(f"\npointing game: {args.n} two-object scenes; deletion: {args.deletion_n} scenes")
    print(f"{'model':26s} {'method':13s} {'pointing':>9s} {'strict':>7s} {'other':>6s} {'area':>6s} "
          f"{'deletion AUC':>13s}")
    for r in rows:
        f = (lambda v: "" if v is None else f"{v:.0%}")
        print(f"{r['model']:26s} {r['method']:13s} {f(r['pointing']):>9s} {f(r['pointing_strict']):>7s} "
              f"{f(r['other']):>6s} {f(r['area']):>6s} {r['deletion_auc']:13.3f}")


if __name__ == "__main__":
    main()
