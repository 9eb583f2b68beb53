"""Seconds per training step of a bundled model's tune, by attention kernel and precision, in one run.

    python bench/train_step.py [--model tiny-scenes] [--steps 20] [--batch 128]

Times the tune's own step (clipdemo.train.loop: a batch from a pool of wide-renderer scenes at the model's
input size, the forward, the family's loss, the backward and AdamW) under four settings: PyTorch's fused
attention (sdpa, what transformers picks) or plain matmul and softmax (eager), each in float32 and under
bfloat16 autocast. The first 5 steps of each are warm-up and not counted; the medians of the rest, of the
step and of its backward alone, are printed with each setting's ratio to sdpa float32. The loss is computed
from float32 logits in every setting, as train() does under bfloat16. Everything runs in this one process
on the same batches, so the ratios hold on a noisy machine. About two minutes on 2 CPU cores. (It times its
own loop, not train(), which would switch a bfloat16 model to eager attention and leave nothing to compare.)

On a 2-core AMD EPYC with AVX512-BF16 (2026-12-01), tiny-scenes: sdpa float32 0.57 s, eager float32 0.59,
sdpa bfloat16 0.51 (its backward 0.38), eager bfloat16 0.27 (0.15). Fused attention's bfloat16 backward
was half the step; train() runs bfloat16 phases eagerly.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch

from clipdemo.registry import resolve_model
from clipdemo.train.loop import ScenePool, float32_logits, loss_for, tokenize

WARMUP = 5


def timed_steps(model, tokenizer, pool, batches: int, batch_size: int, bf16: bool) -> tuple[float, float]:
    """(median seconds a step, median seconds its backward) over `batches` steps after the warm-up."""
    loss_fn = loss_for(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)  # the same batches for every setting
    model.train()
    steps, backwards = [], []
    for i in range(WARMUP + batches):
        t0 = time.perf_counter()
        pixels, captions, truth = pool.batch(rng, batch_size, symmetries=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(**tokenize(model, tokenizer, captions), pixel_values=pixels)
        loss = loss_fn(float32_logits(model, out), truth)
        opt.zero_grad(set_to_none=True)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        if i >= WARMUP:
            steps.append(time.perf_counter() - t0)
            backwards.append(t2 - t1)
    return statistics.median(steps), statistics.median(backwards)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-scenes", help="a bundled model's name or a checkpoint directory")
    p.add_argument("--steps", type=int, default=20, help="timed steps per setting, after 5 of warm-up")
    p.add_argument("--batch", type=int, default=128, help="the tunes' batch size")
    args = p.parse_args(argv)
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model(args.model)
    base, tokenizer = AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    pool = ScenePool(1000, base.config.vision_config.image_size, seed=0, style="wide")
    print(f"{args.model}: {args.batch} scenes a step, {torch.get_num_threads()} threads")
    print("| attention | precision | s / step | backward | vs sdpa float32 |")
    print("| --- | --- | --- | --- | --- |")
    baseline = None
    for attention in ("sdpa", "eager"):
        for bf16 in (False, True):
            model = copy.deepcopy(base)
            model.set_attn_implementation(attention)
            step, backward = timed_steps(model, tokenizer, pool, args.steps, args.batch, bf16)
            baseline = baseline or step
            print(f"| {attention} | {'bfloat16' if bf16 else 'float32'} | {step:.3f} | {backward:.3f} | "
                  f"{step / baseline:.2f} |", flush=True)


if __name__ == "__main__":
    main()
