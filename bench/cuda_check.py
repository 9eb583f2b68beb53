"""The CUDA/fp16 path against CPU fp32, on the bundled models: agreement, the model's own logits, saliency,
and what one batched pass costs on a GPU.

    python bench/cuda_check.py [--items 200] [--pointing 100] [--out FILE]

Needs a CUDA GPU; CI has none, so this is a bench, not a test. For each bundled model (tiny-scenes: CLIP,
softmax; tiny-scenes-siglip: SigLIP, sigmoid) it loads the model twice as the app does (engine.load with
the app's default backend, auto: fp32 on CPU, fp16 on CUDA, where auto must pick torch) and, on the same
items (train.evaluate's, first renderer and held-out families), prints:
- zero-shot accuracy on each device, top-1 agreement, the largest probability difference, and the
  smallest cosine between the two devices' embeddings;
- on CUDA, the engine's scores against the model's own forward pass (logits_per_image through the
  family's softmax or sigmoid): the largest difference;
- saliency on CUDA: every map finite, the grids' correlation with CPU's, and the pointing game on both.
Then, on a ViT-B/32-sized CLIP with random weights in fp16 on CUDA, the image tower's time per call at
batch 1 to 128 (synchronised, after warm-up) and the end-to-end encode_images (preprocessing included):
what a batched pass of concurrent requests costs against one image (issue 26, point 7).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clipdemo.analysis.probes import evaluate_items  # noqa: E402
from clipdemo.analysis.saliency import saliency  # noqa: E402
from clipdemo.analysis.saliency_eval import pointing_game  # noqa: E402
from clipdemo.engine import ClipEngine, load, pooled  # noqa: E402
from clipdemo.registry import bundled_models  # noqa: E402
from clipdemo.text import fill  # noqa: E402
from clipdemo.train.evaluate import TEMPLATE, attribute_items  # noqa: E402

ATTRIBUTES = ("colour", "shape", "digit", "count", "left/right")
STYLES = ("train", "unseen-family")


def agreement(name: str, n: int, pointing_n: int, device: str) -> dict:
    cpu, gpu = load(name, "cpu", backend="auto"), load(name, device, backend="auto")
    if device.startswith("cuda") and (gpu.info.backend, gpu.dtype) != ("torch", torch.float16):
        raise SystemExit(f"on CUDA the app should get fp16 on torch; got {gpu.dtype} on {gpu.info.backend}")
    row = {"model": name, "family": gpu.family.name, "cpu_backend": cpu.info.backend, "accuracy": {}}
    top1 = worst_prob = 0.0
    total = 0
    min_cos = 1.0
    for style in STYLES:
        for attribute in ATTRIBUTES:
            items = attribute_items(attribute, n, seed=1, style=style)
            reports = [evaluate_items(e, items, template=TEMPLATE) for e in (cpu, gpu)]
            row["accuracy"][f"{style} {attribute}"] = [round(100 * r.accuracy, 1) for r in reports]
            top1 += sum(a == b for a, b in zip(reports[0].predictions, reports[1].predictions))
            total += len(items)
            images = [it.image for it in items]
            texts = list(dict.fromkeys(fill(TEMPLATE, c) for it in items for c in it.candidates))
            for encode, inputs in ((ClipEngine.encode_images, images), (ClipEngine.encode_texts, texts)):
                a, b = encode(cpu, inputs), encode(gpu, inputs)
                min_cos = min(min_cos, float((a * b).sum(-1).min()))
            for it in items[:50]:  # probabilities item by item: the first 50 of each set
                cand = [fill(TEMPLATE, c) for c in it.candidates]
                p = [e.probabilities(e.encode_images([it.image]) @ e.encode_texts(cand).T)[0] for e in (cpu, gpu)]
                worst_prob = max(worst_prob, float((p[0] - p[1]).abs().max()))
    row.update(top1_agreement=round(top1 / total, 4), max_prob_diff=round(worst_prob, 4),
               min_embedding_cosine=round(min_cos, 5))
    row["own_forward_max_diff"] = own_forward_diff(gpu)
    row["saliency"] = saliency_check(cpu, gpu, pointing_n)
    return row


def own_forward_diff(engine) -> float:
    """The engine's scores against the model's own forward pass on CUDA (logits_per_image -> family)."""
    items = attribute_items("shape+colour", 32, seed=2)
    texts = list(dict.fromkeys(fill(TEMPLATE, c) for it in items[:4] for c in it.candidates))[:24]
    images = [it.image for it in items]
    with torch.inference_mode():
        out = engine.model(**engine.text_inputs(texts), **engine.image_inputs(images))
    theirs = engine.family.probabilities(out.logits_per_image.float().cpu(), -1)
    ours = engine.probabilities(engine.encode_images(images) @ engine.encode_texts(texts).T)
    return round(float((theirs - ours).abs().max()), 5)


def saliency_check(cpu, gpu, pointing_n: int) -> dict:
    item = attribute_items("count", 1, seed=3)[0]
    out = {}
    for method in gpu.family.saliency:
        a, b = (saliency(e, item.image, ["a red circle", "two blue squares"], method) for e in (cpu, gpu))
        corr = float(np.corrcoef(a.grid.ravel(), b.grid.ravel())[0, 1])
        pg = [pointing_game(e, method, pointing_n).hits for e in (cpu, gpu)]
        out[method] = dict(finite=bool(np.isfinite(b.maps).all()), grid_correlation=round(corr, 4),
                           pointing_cpu_gpu=[round(100 * x, 1) for x in pg])
    return out


def batching(device: str, sizes=(1, 8, 32, 128)) -> list[dict]:
    """ms per call of a ViT-B/32-sized image tower (fp16 on CUDA) by batch size, tower alone and through
    encode_images (preprocessing included); first, its fp16 embeddings against fp32's."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cpu_backends import vit_b32
    from PIL import Image

    reference = vit_b32()
    fp32 = reference.model.to(device)
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    model = type(fp32)(fp32.config).to(device, dtype).eval()
    model.load_state_dict(fp32.state_dict())
    engine = ClipEngine(model, tokenizer=reference.tokenizer, image_processor=reference.image_processor,
                        name="ViT-B/32-sized (random weights)", source="memory")
    rng = np.random.default_rng(0)
    photos = [Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)) for _ in range(max(sizes))]

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    with torch.inference_mode():
        x = engine.image_processor(photos[:32], return_tensors="pt")["pixel_values"].to(device)  # fp32 pixels
        low, full = (torch.nn.functional.normalize(pooled(m.get_image_features(pixel_values=x.to(d))).float(), dim=-1)
                     for m, d in ((model, dtype), (fp32, torch.float32)))
    rows = [dict(dtype=str(dtype), min_cosine_with_fp32=round(float((low * full).sum(-1).min()), 6))]
    for batch in sizes:
        x = torch.randn(batch, 3, 224, 224, device=device, dtype=dtype)
        with torch.inference_mode():
            for _ in range(5):
                model.get_image_features(pixel_values=x)
            sync()
            t = time.perf_counter()
            for _ in range(20):
                model.get_image_features(pixel_values=x)
            sync()
        tower_ms = (time.perf_counter() - t) / 20 * 1000
        engine.encode_images(photos[:batch], batch_size=batch, cache=False)  # warm-up at this size
        t = time.perf_counter()
        for _ in range(3):
            engine.encode_images(photos[:batch], batch_size=batch, cache=False)
        e2e_ms = (time.perf_counter() - t) / 3 * 1000
        rows.append(dict(batch=batch, tower_ms=round(tower_ms, 3), tower_ms_per_image=round(tower_ms / batch, 4),
                         encode_images_ms=round(e2e_ms, 2), encode_ms_per_image=round(e2e_ms / batch, 3)))
    return rows


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--items", type=int, default=200, help="items per attribute and style")
    p.add_argument("--pointing", type=int, default=100, help="scenes in each pointing game")
    p.add_argument("--out", default=None, help="also write the results as JSON here")
    p.add_argument("--device", default="cuda", help="cpu: a dry run of this script's own code (no batching)")
    args = p.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("No CUDA GPU here: this bench checks the GPU path.", file=sys.stderr)
        return 2
    import transformers

    result = {"torch": torch.__version__, "transformers": transformers.__version__,
              "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "none", "models": []}
    for name in bundled_models():
        row = agreement(name, args.items, args.pointing, args.device)
        print(json.dumps(row), flush=True)
        result["models"].append(row)
    result["batching"] = batching(args.device, (1, 8, 32, 128) if args.device.startswith("cuda") else (1, 2))
    for row in result["batching"]:
        print(json.dumps(row), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
