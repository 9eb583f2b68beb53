"""Train a tiny CLIP on synthetic scenes: `python -m clipdemo.train --out DIR [--recipe NAME --init DIR]`.

The committed checkpoint (clipdemo/checkpoints/tiny-scenes) is three commands (`make checkpoint`):
    python -m clipdemo.train --out /tmp/scenes                                                # recipe "scenes"
    python -m clipdemo.train --recipe sides --init /tmp/scenes --out /tmp/first               # left and right
    python -m clipdemo.train --recipe wide6-replay3-80-8500-bf16 --init /tmp/first --out DIR  # issue 25's tune
The bundled tiny-scenes-siglip is the same three with `--loss sigmoid` on the first (`make checkpoint-siglip`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from ..registry import bundled_path
from .loop import ScenePool, train
from .model import build_model, tiny_processor, with_image_size, with_vision_layers
from .recipes import FROM_CHECKPOINT, RECIPES
from .tokenizer import build_tokenizer, save_clip_vocab


def _save(model, tokenizer, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tiny_processor(tokenizer, image_size=model.config.vision_config.image_size).save_pretrained(out)
    save_clip_vocab(tokenizer, out)


def _reshape(model, config):
    """The model at the input size and vision depth that `config` sets (either may be None: as is)."""
    if config.image_size:
        model = with_image_size(model, config.image_size)
    if config.vision_layers:
        model = with_vision_layers(model, config.vision_layers)
    return model


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m clipdemo.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=bundled_path(), help="checkpoint directory (default: the bundled one)")
    p.add_argument("--recipe", choices=list(RECIPES), default="scenes", help="see clipdemo/train/recipes.py")
    p.add_argument("--loss", choices=["softmax", "sigmoid"], default="softmax",
                   help="softmax: CLIP's InfoNCE on a CLIPModel; sigmoid: SigLIP's pairwise loss on a SiglipModel "
                        "(ignored with --init: the checkpoint's family decides)")
    p.add_argument("--steps", type=int, help="steps of each phase (default: the recipe's)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--pool", type=int, help="scenes rendered up front (per part, for recipes with pool_parts)")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--tokenizer", default=str(bundled_path()),
                   help="train with the vocabulary in this checkpoint directory (default: the bundled one, so a "
                        "rerun reproduces it); 'new' learns a fresh BPE vocabulary from the caption grammar")
    p.add_argument("--init", default=None, help="continue from this checkpoint instead of random weights")
    p.add_argument("--save-every", type=int, default=0, help="also save the checkpoint every N steps")
    p.add_argument("--skip-phases", type=int, default=0,
                   help="start at phase N+1 of the recipe: resume a run whose first N phases were saved (--init)")
    return p


def recipe_phases(args: argparse.Namespace) -> tuple[list, list]:
    """(skipped, to run): the recipe's phases with the command line's overrides, split at --skip-phases."""
    overrides = {k: v for k, v in dict(steps=args.steps, batch_size=args.batch_size, lr=args.lr, pool=args.pool,
                                        seed=args.seed).items() if v is not None}
    phases = [replace(config, **overrides) for config in RECIPES[args.recipe]]
    return phases[:args.skip_phases], phases[args.skip_phases:]


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.recipe in FROM_CHECKPOINT and not args.init:
        p.error(f"--recipe {args.recipe} continues a checkpoint: give it --init DIR (clipdemo/train/recipes.py)")
    if args.threads:
        torch.set_num_threads(args.threads)
    skipped, phases = recipe_phases(args)
    if not phases:
        p.error(f"--skip-phases {args.skip_phases} leaves none of recipe {args.recipe}'s {len(skipped)} phases")

    if args.tokenizer == "new":
        tokenizer = build_tokenizer()
    else:
        from transformers import CLIPTokenizer

        tokenizer = CLIPTokenizer.from_pretrained(args.tokenizer)
    if args.init:
        from transformers import AutoModel

        model = AutoModel.from_pretrained(args.init)
    else:
        model = build_model(tokenizer, seed=phases[0].seed, loss=args.loss)
    for config in skipped:  # a saved phase already has its shape; the starting checkpoint may not
        model = _reshape(model, config)
    t0 = time.perf_counter()
    out = Path(args.out)
    for n, config in enumerate(phases, len(skipped) + 1):
        model = _reshape(model, config)
        pool = ScenePool(config.pool, model.config.vision_config.image_size, config.seed, config.render_size,
                         progress=lambda i, total: print(f"rendered {i}/{total} scenes", file=sys.stderr, flush=True)
                         if i % 10_000 == 0 or i == total else None, mix=config.mix,
                         style=config.style, parts=config.pool_parts, replay=config.replay_parts)
        for r in train(model, tokenizer, config, pool=pool, report_every=50):
            bias = "" if r.logit_bias is None else f"  logit_bias {r.logit_bias:6.2f}"
            print(f"phase {n}/{len(skipped) + len(phases)}  step {r.step:5d}/{r.steps}  loss {r.loss:.4f}  "
                  f"logit_scale {r.logit_scale:6.2f}{bias}  lr {r.lr:.2e}  {r.seconds:7.1f}s", flush=True)
            if args.save_every and r.step % args.save_every == 0:
                _save(model, tokenizer, out)
    _save(model, tokenizer, out)
    record = {"recipe": args.recipe, "init": args.init, "phases": [asdict(c) for c in phases],
              "skipped_phases": len(skipped)}
    if args.init and (earlier := Path(args.init) / "training_args.json").exists():
        record["init_training_args"] = json.loads(earlier.read_text())  # how the starting point was made
    (out / "training_args.json").write_text(json.dumps(
        {**record, "command": "python -m clipdemo.train " + " ".join(argv or sys.argv[1:]),
         "train_seconds": round(time.perf_counter() - t0, 1), "torch": torch.__version__}, indent=2) + "\n")
    print(f"saved to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
