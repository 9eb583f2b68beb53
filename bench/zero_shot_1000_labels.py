"""1 image x 1,000 labels zero-shot: clipdemo's engine against transformers' pipeline, same model, same run.

    python bench/zero_shot_1000_labels.py [--model DIR_OR_HUB_ID | --family siglip] [--backend auto] [--repeats 3]

Without a loadable real checkpoint it builds a ViT-B/32-sized CLIP (CLIPConfig's defaults: 12-layer
768-wide ViT with 32 px patches at 224 px, 12-layer 512-wide text transformer) with random weights,
which costs the same FLOPs as the real one; `--family siglip` builds a SigLIP-base-sized one instead
(SiglipConfig's defaults: 12-layer 768-wide ViT with 16 px patches at 224 px and an attention-pooling
head, 12-layer 768-wide text transformer over 64 positions, every text padded to 64 as trained).
`--backend` is the engine's (default: auto, the app's default on CPU). "Cold" is a first query with these labels (nothing cached;
both sides have run once before on other labels, so neither pays one-off start-up); "warm" repeats it.
Prints times and ratios, plus the image encode against FLOPs / the measured matmul rate.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import skimage
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPModel, SiglipConfig, SiglipImageProcessor, SiglipModel, pipeline

from clipdemo.analysis.zero_shot import zero_shot
from clipdemo.engine import ClipEngine
from clipdemo.prompts import CIFAR100_CLASSES
from clipdemo.train.model import tiny_processor
from clipdemo.train.tokenizer import build_tokenizer

TEMPLATE = "a photo of a {}."


def labels_1000() -> list[str]:
    """1,000 distinct labels of realistic, varied length: CIFAR-100 names, with and without modifiers."""
    mods = ["", "small", "large", "old", "young", "wild", "toy", "red", "black and white", "baby"]
    out = [f"{m} {c}".strip() for m in mods for c in CIFAR100_CLASSES]
    out[::50] = [f"{c} seen from far away on a rainy afternoon near the river bank" for c in CIFAR100_CLASSES[:20]]
    return out


def vit_b32_checkpoint(folder: str) -> str:
    tokenizer = build_tokenizer()
    config = CLIPConfig(text_config=dict(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                                         bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id))
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    tiny_processor(tokenizer, image_size=config.vision_config.image_size).save_pretrained(folder)
    return folder


def siglip_base_checkpoint(folder: str) -> str:
    tokenizer = build_tokenizer()
    config = SiglipConfig(text_config=dict(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                                           bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id))
    torch.manual_seed(0)
    SiglipModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SiglipImageProcessor(size={"height": 224, "width": 224}).save_pretrained(folder)
    return folder


def vision_flops(config) -> float:
    """Multiply-adds x 2 of one image through the ViT and projection (attention included; SigLIP's pooling
    head, one query over the patches, is left out: under 1% of the tower)."""
    v = config.vision_config
    cls = 1 if config.model_type == "clip" else 0
    n = (v.image_size // v.patch_size) ** 2 + cls
    d, m = v.hidden_size, v.intermediate_size
    per_layer = 2 * n * (4 * d * d + 2 * d * m) + 2 * 2 * n * n * d
    patch = 2 * (n - cls) * 3 * v.patch_size ** 2 * d
    return v.num_hidden_layers * per_layer + patch + 2 * d * getattr(config, "projection_dim", d)


def matmul_rate(size: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.perf_counter() - start)


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None)
    p.add_argument("--family", choices=["clip", "siglip"], default="clip", help="the random model's family")
    p.add_argument("--backend", default="auto", help="the engine's backend (auto, torch, onnx, ...)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    build = siglip_base_checkpoint if args.family == "siglip" else vit_b32_checkpoint
    folder = args.model or build(tempfile.mkdtemp(prefix=f"{args.family}-base-"))
    image = Image.fromarray(skimage.data.chelsea())
    labels = labels_1000()
    assert len(set(labels)) == 1000

    pipe = pipeline("zero-shot-image-classification", model=folder, device="cpu")
    pipe(image, candidate_labels=["warm", "up"], hypothesis_template=TEMPLATE)
    pipe_cold = timed(lambda: pipe(image, candidate_labels=labels, hypothesis_template=TEMPLATE), 1)
    pipe_warm = timed(lambda: pipe(image, candidate_labels=labels, hypothesis_template=TEMPLATE), args.repeats)
    reference = pipe(image, candidate_labels=labels, hypothesis_template=TEMPLATE)

    engine = ClipEngine.load(folder, backend=args.backend)
    zero_shot(engine, [image], ["warm", "up"], [TEMPLATE])
    engine.clear_cache()  # nothing cached: the labels and the image are encoded
    cold = timed(lambda: zero_shot(engine, [image], labels, [TEMPLATE]), 1)

    def warm_query():
        engine.clear_cache(texts=False)  # labels cached, the image is not
        return zero_shot(engine, [image], labels, [TEMPLATE])

    warm = timed(warm_query, args.repeats)
    ours = warm_query()[0].scores
    top_ref = [r["label"] for r in reference[:5]]
    assert [s.label for s in ours[:5]] == top_ref, ([s.label for s in ours[:5]], top_ref)
    ref = {r["label"]: r["score"] for r in reference}
    max_diff = max(abs(s.score - ref[s.label]) for s in ours)

    pixels = engine.image_inputs([image])["pixel_values"]
    with torch.inference_mode():
        encode = timed(lambda: engine.model.get_image_features(pixel_values=pixels), args.repeats)
    flops, rate = vision_flops(engine.model.config), matmul_rate()

    print(f"model: {folder} ({engine.info.family}, {engine.info.parameters / 1e6:.0f}M parameters, backend "
          f"{engine.info.backend}), torch threads {torch.get_num_threads()}")
    print(f"same top-5 as the pipeline; max |probability difference| {max_diff:.2e}")
    print(f"{'':28}{'pipeline':>10}{'clipdemo':>10}{'speed-up':>10}")
    print(f"{'cold (labels not cached)':28}{pipe_cold:9.3f}s{cold:9.3f}s{pipe_cold / cold:9.1f}x")
    print(f"{'warm (labels cached)':28}{pipe_warm:9.3f}s{warm:9.3f}s{pipe_warm / warm:9.1f}x")
    print(f"image encode: {encode * 1e3:.1f} ms for {flops / 1e9:.2f} GFLOP; at the measured matmul rate of "
          f"{rate / 1e9:.0f} GFLOP/s the floor is {flops / rate * 1e3:.1f} ms ({flops / rate / encode:.0%} of peak)")


if __name__ == "__main__":
    main()
