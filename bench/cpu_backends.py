"""Image-tower throughput of each CPU backend on a ViT-B/32-sized CLIP, against torch fp32 and the FLOP floor.

    python bench/cpu_backends.py [--repeats 10] [--backends torch int8 onnx onnx-int8]

Builds CLIPConfig's defaults (12-layer 768-wide ViT, 32 px patches at 224 px; 12-layer 512-wide text
transformer) with random weights: the same FLOPs as openai/clip-vit-base-patch32. For each backend it times
the image tower alone (pixel_values [B, 3, 224, 224] -> embeddings [B, 512]; preprocessing is the same for
all) at batch 1 and 32, in this one run, and prints ms/image, images/s, the ratio to torch fp32, and the
ratio to the fp32 FLOP floor (the tower's FLOPs at this machine's measured fp32 matmul rate, as
bench/zero_shot_1000_labels.py computes it). Each backend's smallest cosine with fp32 on the probes is
printed too (the check the engine makes at load), and "cores": CPU time over wall time while it ran, i.e.
how many of the cores it actually got (on a shared machine, less than its threads).

Last, the default backend `auto` (the app's on CPU): what it picked, its batch-1 speed, and its start-up in
a process of its own, as a restarted app pays it: cold (a fresh cache: fingerprint, export, load, agreement
check) against warm (the export found on disk by the weights' fingerprint, loaded and checked). Each child
builds the same seeded model; its imports and model build are not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zero_shot_1000_labels import matmul_rate, vision_flops  # noqa: E402

from clipdemo.engine import ClipEngine  # noqa: E402
from clipdemo.engine.backends import BACKENDS, checked_towers  # noqa: E402


def vit_b32() -> ClipEngine:
    """An engine over a seeded ViT-B/32-sized CLIP with random weights (the same weights in every process)."""
    from transformers import CLIPConfig, CLIPModel

    from clipdemo.train.model import tiny_processor
    from clipdemo.train.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    config = CLIPConfig(text_config=dict(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                                         bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id))
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    processor = tiny_processor(tokenizer, image_size=config.vision_config.image_size)
    return ClipEngine(model, processor, name="ViT-B/32-sized CLIP (random weights)", source="memory")


def ort_matmul_rate(size: int = 2048, repeats: int = 3) -> float:
    """fp32 FLOP/s of one [size, size] x [size, size] MatMul on ONNX Runtime's CPU kernels (MLAS)."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper

    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [size, size]) for n in "ABC"]
    model = helper.make_model(helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "matmul", io[:2],
                                                io[2:]), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = {"A": np.random.rand(size, size).astype(np.float32), "B": np.random.rand(size, size).astype(np.float32)}
    session.run(None, feeds)
    start = time.perf_counter()
    for _ in range(repeats):
        session.run(None, feeds)
    return 2 * size ** 3 * repeats / (time.perf_counter() - start)


def per_call(fn, repeats: int) -> tuple[float, float]:
    """(median wall seconds per call, CPU seconds / wall seconds over the calls: the cores it really got)."""
    fn()  # warm-up: ONNX Runtime and oneDNN pick their kernels on the first call
    times = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), (time.process_time() - cpu0) / (time.perf_counter() - wall0)


def _auto_start_seconds(cache: str) -> float:
    """Seconds `--backend auto` takes to start in a fresh process with ONNX exports under `cache`."""
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--time-auto"], env={**os.environ, "CLIPDEMO_CACHE": cache},
                         capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def _time_auto() -> None:
    engine = vit_b32()
    start = time.perf_counter()
    checked_towers("auto", engine)
    print(f"{time.perf_counter() - start:.3f}")


def main() -> None:
    if sys.argv[1:] == ["--time-auto"]:
        return _time_auto()
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=10, help="timed calls at batch 1 (batch 32 gets a third)")
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    args = p.parse_args()
    os.environ.setdefault("CLIPDEMO_CACHE", tempfile.mkdtemp(prefix="clipdemo-bench-"))  # a fresh ONNX export

    engine = vit_b32()
    model = engine.model
    size = model.config.vision_config.image_size
    flops = vision_flops(model.config)
    # the floor is the best fp32 matmul rate this machine reaches, best of five (it is shared): torch's BLAS,
    # or ONNX Runtime's MLAS, which on this AMD EPYC reaches about twice torch's rate
    rates = {"torch": max(matmul_rate(2048, 3) for _ in range(5)),
             "onnxruntime": max(ort_matmul_rate() for _ in range(5))}
    rate = max(rates.values())
    floor = flops / rate
    rows = []
    for name in args.backends:
        start = time.perf_counter()
        towers, agreement = checked_towers(name, engine)
        setup = time.perf_counter() - start
        row = {"backend": name, "cosine": agreement["min_cosine"], "setup": setup}
        with torch.inference_mode():
            for batch, repeats in ((1, args.repeats), (32, max(2, args.repeats // 3))):
                pixels = torch.randn(batch, 3, size, size)
                inputs = {"pixel_values": pixels}
                seconds, row[f"cores{batch}"] = per_call(lambda: towers.image_features(inputs), repeats)
                row[batch] = seconds / batch
        rows.append(row)
        print(f"  {name}: done ({setup:.0f} s to create and check)", file=sys.stderr)
    cache = tempfile.mkdtemp(prefix="clipdemo-bench-auto-")
    auto = {kind: _auto_start_seconds(cache) for kind in ("cold", "warm")}  # the same cache: warm finds the export
    towers, agreement = checked_towers("auto", engine)
    with torch.inference_mode():
        inputs = {"pixel_values": torch.randn(1, 3, size, size)}
        auto["b1"], _ = per_call(lambda: towers.image_features(inputs), args.repeats)

    base = {b: next((r[b] for r in rows if r["backend"] == "torch"), None) for b in (1, 32)}
    print(f"ViT-B/32-sized CLIP image tower, random weights; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print(f"FLOP floor: {flops / 1e9:.2f} GFLOP per image at the best measured fp32 matmul rate of {rate / 1e9:.0f} "
          f"GFLOP/s = {floor * 1e3:.1f} ms/image (2048x2048 matmul: "
          + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in rates.items()) + ")")
    print(f"{'backend':10}{'min cos':>9}  {'b=1 ms/img':>11}{'img/s':>7}{'vs fp32':>8}{'vs floor':>9}{'cores':>6}  "
          f"{'b=32 ms/img':>12}{'img/s':>7}{'vs fp32':>8}{'vs floor':>9}{'cores':>6}")
    for r in rows:
        cells = []
        for b in (1, 32):
            speed = f"{base[b] / r[b]:7.2f}x" if base[b] else f"{'-':>8}"
            cells.append(f"{r[b] * 1e3:11.1f}{1 / r[b]:7.1f}{speed}{r[b] / floor:8.2f}x{r[f'cores{b}']:6.2f}")
        print(f"{r['backend']:10}{r['cosine']:9.5f}  {cells[0]}  {' ' + cells[1]}")
    picked = "torch" if agreement.get("reference") else "onnx"
    print(f"default (--backend auto) picked {picked} (smallest cosine {agreement['min_cosine']:.6f}): start-up "
          f"cold {auto['cold']:.1f} s (export + check), warm {auto['warm']:.1f} s (cached export + check; each "
          f"in a fresh process), "
          f"{auto['b1'] * 1e3:.1f} ms/image at batch 1"
          + (f" ({base[1] / auto['b1']:.2f}x torch fp32)" if base[1] else ""))
    fastest = min(rows, key=lambda r: r[1])
    if base[1]:
        print(f"fastest at batch 1: {fastest['backend']}, {base[1] / fastest[1]:.2f}x torch fp32, "
              f"{fastest[1] / floor:.2f}x the fp32 FLOP floor (target: >= 2x, <= 1.5x)")


if __name__ == "__main__":
    main()
