"""Softmax (CLIP) against sigmoid (SigLIP) at batch sizes 8, 32 and 128, at equal compute.

    python scripts/loss_vs_batch.py [--examples 24576] [--seeds 0 1] [--out docs/loss_vs_batch.png]

Every run trains the tiny architecture from random weights on the same pool of scenes, with the same
seed, learning-rate schedule and number of training examples (so a batch of 8 takes 16x the steps of a
batch of 128), and reports held-out zero-shot accuracy on colour+shape, count and digit (the project's
held-out scene stream, scored as the app scores) and the run's wall time. The defaults fit about an hour
on 2 CPU cores per seed. Prints a Markdown table and saves a figure.

Each finished run is appended to --results (JSON lines); a run already there (same loss, batch, seed, number of
examples, scene pool and held-out items) is read instead of trained again, and the table and figure cover every run in the
file. So `--seeds 1` after a `--seeds 0` study adds the second seed to the first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clipdemo.engine import ClipEngine  # noqa: E402
from clipdemo.registry import bundled_path  # noqa: E402
from clipdemo.train.evaluate import TEMPLATE, attribute_items  # noqa: E402
from clipdemo.analysis.probes import evaluate_items  # noqa: E402
from clipdemo.train.loop import ScenePool, TrainConfig, train  # noqa: E402
from clipdemo.train.model import build_model, tiny_processor  # noqa: E402

LOSSES = ("softmax", "sigmoid")
BATCHES = (8, 32, 128)
ATTRIBUTES = ("shape+colour", "count", "digit")


def run(loss: str, batch: int, examples: int, seed: int, pool: ScenePool, tokenizer, n_eval: int) -> dict:
    """Train one model and measure it: {"loss", "batch", "seed", "examples", "steps", "seconds",
    attribute: accuracy}."""
    steps = max(1, examples // batch)
    config = replace(TrainConfig(), steps=steps, batch_size=batch, seed=seed, warmup=max(1, steps // 20),
                     lr=1e-3)
    model = build_model(tokenizer, seed=seed, loss=loss)
    start = time.perf_counter()
    for _ in train(model, tokenizer, config, pool=pool, report_every=max(1, steps)):
        pass
    seconds = time.perf_counter() - start
    engine = ClipEngine(model, tiny_processor(tokenizer), name=f"{loss} b{batch} s{seed}")
    row = {"loss": loss, "batch": batch, "seed": seed, "examples": examples, "steps": steps, "seconds": seconds}
    for attribute in ATTRIBUTES:
        row[attribute] = evaluate_items(engine, attribute_items(attribute, n_eval, seed=1), attribute,
                                        TEMPLATE).accuracy
    return row


def table(rows: list[dict]) -> str:
    head = ["loss", "batch", "seeds", *ATTRIBUTES, "minutes per run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for loss in LOSSES:
        for batch in sorted({r["batch"] for r in rows}):
            runs = [r for r in rows if r["loss"] == loss and r["batch"] == batch]
            if not runs:
                continue
            seeds = ",".join(str(r["seed"]) for r in runs)
            cells = [f"{np.mean([r[a] for r in runs]):.1%}" + (f" ± {np.std([r[a] for r in runs]):.1%}"
                                                                if len(runs) > 1 else "") for a in ATTRIBUTES]
            lines.append(f"| {loss} | {batch} | {seeds} | " + " | ".join(cells) +
                         f" | {np.mean([r['seconds'] for r in runs]) / 60:.1f} |")
    return "\n".join(lines)


def figure(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ATTRIBUTES), figsize=(4 * len(ATTRIBUTES), 3.4), sharey=True)
    batches = sorted({r["batch"] for r in rows})
    for ax, attribute in zip(axes, ATTRIBUTES):
        for loss, colour in zip(LOSSES, ("#2563eb", "#dc2626")):
            means = [np.mean([r[attribute] for r in rows if r["loss"] == loss and r["batch"] == b]) for b in batches]
            ax.plot(batches, means, "o-", color=colour, label=f"{loss}")
            for r in rows:
                if r["loss"] == loss:
                    ax.plot(r["batch"], r[attribute], ".", color=colour, alpha=0.4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_title(attribute)
        ax.set_xlabel("batch size (same examples seen)")
    axes[0].set_ylabel("held-out zero-shot accuracy")
    axes[0].legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


def main(argv=None) -> int:
    from transformers import CLIPTokenizer

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=int, default=24_576, help="training examples per run (steps x batch)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    p.add_argument("--pool", type=int, default=12_000, help="scenes rendered once, shared by every run")
    p.add_argument("--eval", type=int, default=300, help="held-out items per attribute")
    p.add_argument("--out", default="docs/loss_vs_batch.png")
    p.add_argument("--results", default="docs/loss_vs_batch.jsonl",
                   help="every run's result, one JSON line each: read first, appended to")
    args = p.parse_args(argv)
    results = Path(args.results)
    done = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    same = {"examples": args.examples, "pool": args.pool, "eval": args.eval}  # what makes two runs comparable
    rows = [r for r in done if all(r.get(key) == value for key, value in same.items())]
    todo = [(seed, batch, loss) for seed in args.seeds for batch in args.batches for loss in LOSSES
            if not any((r["seed"], r["batch"], r["loss"]) == (seed, batch, loss) for r in rows)]
    tokenizer = CLIPTokenizer.from_pretrained(bundled_path())
    pool = ScenePool(args.pool, 64, seed=0) if todo else None
    for seed, batch, loss in todo:
        r = {**run(loss, batch, args.examples, seed, pool, tokenizer, args.eval), "pool": args.pool, "eval": args.eval}
        rows.append(r)
        results.parent.mkdir(parents=True, exist_ok=True)
        with results.open("a") as f:
            f.write(json.dumps(r) + "\n")
        print(f"{loss:8} batch {batch:4} seed {seed}: " + "  ".join(f"{a} {r[a]:.1%}" for a in ATTRIBUTES)
              + f"  ({r['steps']} steps, {r['seconds'] / 60:.1f} min)", flush=True)
    print(table(rows))
    figure(rows, Path(args.out))
    print(f"figure saved to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
