"""Where the towers run: torch fp32 (the reference), torch int8, or ONNX Runtime (fp32 or int8).

A backend is the engine's concern and invisible above it: it maps the same inputs the engine already
prepares (image inputs: pixel_values [B, 3, H, W]; text inputs: input_ids [B, T] and, where the tokenizer
gives one, attention_mask [B, T]) to the projected embeddings [B, D]; the engine normalises them, so every backend gives the same unit-vector contract. Each one is
measured against fp32 when it is created: the smallest cosine between its embeddings and fp32's on a fixed
set of probe images and texts, which the engine reports in `ModelInfo.agreement` and refuses below
`MIN_AGREEMENT`.

ONNX exports are cached under ~/.cache/clipdemo/onnx (or $CLIPDEMO_CACHE/onnx), keyed by the weights, so a
restart does not export again.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..errors import InputError, ModelError
from .core import pooled

log = logging.getLogger(__name__)

BACKENDS = ("torch", "int8", "onnx", "onnx-int8")
CHOICES = ("auto", *BACKENDS)  # what --backend takes: auto picks the fastest exact one (auto_towers)
MIN_AGREEMENT = 0.995  # smallest cosine with fp32 a backend may have on the probes
AUTO_MIN_AGREEMENT = 0.9999  # what "auto" asks of ONNX Runtime fp32 before choosing it over torch

PROBE_TEXTS = ["a red circle", "three blue stars on a white background", "a photo of a dog", "7",
               "two green triangles left of a yellow square", "a diagram", "an empty grey room with a window",
               "the number 42 written in black"]


class Towers(Protocol):
    """The two encoders of a dual encoder, on some runtime. Returns un-normalised embeddings [B, D] float32."""

    name: str

    def image_features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def text_features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor: ...


class TorchTowers:
    """The model as loaded (fp32 on CPU, fp16 on CUDA): the reference the others are measured against."""

    name = "torch"

    def __init__(self, model):
        self.model = model

    def image_features(self, inputs):
        return pooled(self.model.get_image_features(**inputs))

    def text_features(self, inputs):
        return pooled(self.model.get_text_features(**inputs))


class _ImageTower(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):  # [B, 3, H, W] -> [B, D]
        return pooled(self.model.get_image_features(pixel_values=pixel_values))


class _TextTower(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):  # [B, T] x2 -> [B, D]
        return pooled(self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))


class Int8Towers(TorchTowers):
    """torch dynamic quantisation: every nn.Linear's weights in int8, activations quantised per batch.

    Runs on a quantised copy, so the engine's fp32 model (gradients, saliency, fingerprints) is untouched.
    """

    name = "int8"

    def __init__(self, model):
        import copy

        if next(model.parameters()).device.type != "cpu":
            raise InputError("--backend int8 runs on CPU only; use --device cpu, or --backend torch on a GPU.")
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao, still shipped
            warnings.simplefilter("ignore")
            quantised = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).float().eval(),
                                                               {torch.nn.Linear}, dtype=torch.qint8)
        super().__init__(quantised)


class OnnxTowers:
    """Both towers exported to ONNX and run on ONNX Runtime's CPU provider (optionally int8 weights)."""

    def __init__(self, model, fingerprint: str, quantise: bool = False, folder: str | os.PathLike | None = None):
        import onnxruntime as ort

        self.name = "onnx-int8" if quantise else "onnx"
        folder = Path(folder or default_onnx_dir()) / fingerprint
        folder.mkdir(parents=True, exist_ok=True)
        model = model.float().eval() if next(model.parameters()).device.type == "cpu" else None
        if model is None:
            raise InputError("--backend onnx runs on CPU only here; use --device cpu, or --backend torch on a GPU.")
        vision, text = folder / "vision.onnx", folder / "text.onnx"
        if not vision.exists() or not text.exists():
            _export(model, vision, text)
        if quantise:
            vision, text = _quantised(vision), _quantised(text)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # ONNX Runtime's worker threads spin after each run waiting for the next: a server's call then costs
        # ~55 ms of CPU for a 4 ms text encode (tiny-scenes; issue 26). Without spinning: 5-6 ms, the same wall time.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._vision = ort.InferenceSession(str(vision), options, providers=["CPUExecutionProvider"])
        self._text = ort.InferenceSession(str(text), options, providers=["CPUExecutionProvider"])

    @property
    def sessions(self):
        """The two ONNX Runtime sessions (vision, text)."""
        return self._vision, self._text

    def image_features(self, inputs):
        out = self._vision.run(None, {"pixel_values": inputs["pixel_values"].float().cpu().numpy()})[0]
        return torch.from_numpy(out)

    def text_features(self, inputs):
        ids = inputs["input_ids"]
        mask = inputs.get("attention_mask", torch.ones_like(ids))  # the export always takes one: all ones = none
        feeds = {"input_ids": ids.cpu().numpy().astype(np.int64), "attention_mask": mask.cpu().numpy().astype(np.int64)}
        return torch.from_numpy(self._text.run(None, feeds)[0])


def default_onnx_dir() -> Path:
    return Path(os.environ.get("CLIPDEMO_CACHE", Path.home() / ".cache" / "clipdemo")) / "onnx"


def _export(model, vision: Path, text: Path) -> None:
    """Trace both towers with dynamic batch (and sequence) axes; written to a temp name, then renamed."""
    config = model.config
    size = config.vision_config.image_size
    pixels = torch.randn(2, 3, size, size)
    ids = torch.randint(0, config.text_config.vocab_size, (2, 7))
    mask = torch.ones_like(ids)
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        for module, args, names, axes, path in (
                (_ImageTower(model), (pixels,), ["pixel_values"], {"pixel_values": {0: "batch"}}, vision),
                (_TextTower(model), (ids, mask), ["input_ids", "attention_mask"],
                 {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}, text)):
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.onnx.export(module, args, str(tmp), input_names=names, output_names=["embeds"],
                              dynamic_axes={**axes, "embeds": {0: "batch"}}, opset_version=17, dynamo=False)
            os.replace(tmp, path)


def _quantised(path: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name(path.stem + ".int8.onnx")
    if not out.exists():
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        logging.getLogger("root").disabled = True  # onnxruntime.quantization logs a pre-processing hint on root
        try:
            quantize_dynamic(str(path), str(tmp), weight_type=QuantType.QInt8)
        finally:
            logging.getLogger("root").disabled = False
        os.replace(tmp, out)
    return out


def weights_fingerprint(model) -> str:
    """The ONNX cache key: the model's fingerprint (a retrained checkpoint gets a new export) and the torch
    version that exported it."""
    from .fingerprint import model_fingerprint

    return f"{model_fingerprint(model)}-torch{torch.__version__}"


def create_towers(name: str, model) -> Towers:
    """The towers of `model` on backend `name` (one of BACKENDS)."""
    if name == "torch":
        return TorchTowers(model)
    if name == "int8":
        return Int8Towers(model)
    if name in ("onnx", "onnx-int8"):
        return OnnxTowers(model, weights_fingerprint(model), quantise=name == "onnx-int8")
    raise InputError(f"Unknown backend {name!r}; use one of {', '.join(BACKENDS)}.")


def probe_images(n: int = 8, size: int = 224, seed: int = 0) -> list[Image.Image]:
    """Deterministic images with shapes, colours and edges (not noise): the agreement check's inputs."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        im = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(1, 5))):
            x0, y0 = rng.integers(0, size - 40, 2)
            w, h = rng.integers(20, 120, 2)
            box = [int(x0), int(y0), int(x0 + w), int(y0 + h)]
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
        images.append(im)
    return images


def measure_agreement(reference: Towers, candidate: Towers, engine) -> dict:
    """The smallest cosine between `candidate`'s and `reference`'s embeddings on the probe images and texts.

    Returns:
        {"image_min_cosine", "text_min_cosine", "min_cosine"} in [-1, 1] (1.0: identical directions),
        and "probes": how many images and texts were compared.
    """
    images = engine.image_inputs(probe_images())
    texts = engine.text_inputs(PROBE_TEXTS)  # tokenized as the family was trained
    with torch.inference_mode():
        pairs = {"image": (reference.image_features(images), candidate.image_features(images)),
                 "text": (reference.text_features(texts), candidate.text_features(texts))}
    out = {}
    for kind, (a, b) in pairs.items():
        cos = torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1)
        out[f"{kind}_min_cosine"] = round(float(cos.min()), 6)
    out["min_cosine"] = min(out["image_min_cosine"], out["text_min_cosine"])
    out["probes"] = len(PROBE_TEXTS)
    return out


def auto_towers(engine) -> tuple[Towers, dict]:
    """The fastest exact backend: on CPU, ONNX Runtime fp32 when its smallest cosine with torch fp32 is at
    least AUTO_MIN_AGREEMENT (about 2.4x torch at batch 1 on a ViT-B/32-sized tower, the same numbers up
    to float rounding); otherwise, and on any GPU, torch. Its export is cached on disk by the weights'
    fingerprint, so a restart does not pay for it again. int8 is never chosen: it changes the numbers."""
    torch_reference = ({"min_cosine": 1.0, "image_min_cosine": 1.0, "text_min_cosine": 1.0, "probes": 0,
                        "reference": True, "asked": "auto"})
    if engine.device.type != "cpu":
        return TorchTowers(engine.model), torch_reference
    try:
        towers, agreement = checked_towers("onnx", engine)
    except Exception as exc:  # an architecture the exporter cannot trace: torch serves it, as before
        log.warning("backend auto: ONNX Runtime cannot serve this model (%s); using torch",
                    str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
        return TorchTowers(engine.model), {**torch_reference, "onnx": "refused"}
    if agreement["min_cosine"] < AUTO_MIN_AGREEMENT:
        log.info("backend auto: ONNX Runtime's smallest cosine %.6f < %s; using torch", agreement["min_cosine"],
                 AUTO_MIN_AGREEMENT)
        return TorchTowers(engine.model), {**torch_reference, "onnx": agreement["min_cosine"]}
    return towers, {**agreement, "asked": "auto"}


def checked_towers(name: str, engine) -> tuple[Towers, dict]:
    """Create backend `name` for `engine`'s model and measure it against fp32; raises ModelError below
    MIN_AGREEMENT, and InputError for a model whose inputs an ONNX export cannot take (NaFlex).
    "auto" picks one (auto_towers)."""
    if name == "auto":
        return auto_towers(engine)
    model = engine.model
    if name.startswith("onnx") and "spatial_shapes" in engine.image_inputs(probe_images(1)):
        raise InputError(f"--backend {name} cannot export a NaFlex model (variable patch grids); use --backend "
                         "torch or int8.")
    towers = create_towers(name, model)
    if name == "torch":
        return towers, {"min_cosine": 1.0, "image_min_cosine": 1.0, "text_min_cosine": 1.0, "probes": 0,
                        "reference": True}
    agreement = measure_agreement(TorchTowers(model), towers, engine)
    if agreement["min_cosine"] < MIN_AGREEMENT:
        raise ModelError(f"Backend {name!r} disagrees with fp32 on this model (smallest cosine "
                         f"{agreement['min_cosine']:.4f} < {MIN_AGREEMENT}); use --backend torch.")
    log.info("backend %s: smallest cosine with fp32 %.5f", name, agreement["min_cosine"])
    return towers, agreement
