"""Backends (torch fp32, int8, ONNX): the same unit vectors as fp32, measured at load, invisible above the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from clipdemo.engine.backends import BACKENDS, MIN_AGREEMENT, TorchTowers, checked_towers, measure_agreement
from clipdemo.engine import ClipEngine
from clipdemo.errors import InputError, ModelError


@pytest.fixture(autouse=True)
def _onnx_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CLIPDEMO_CACHE", str(tmp_path_factory.getbasetemp() / "clipdemo-cache"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_agrees_with_fp32_on_the_bundled_model(backend, scene_files, bundled_engine):
    engine = ClipEngine.load("tiny-scenes", backend=backend)
    reference = bundled_engine
    assert engine.info.backend == backend
    if backend != "torch":
        assert engine.info.agreement["min_cosine"] >= MIN_AGREEMENT
        assert engine.towers is not None and engine.towers.name == backend
    paths, captions = scene_files
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in paths]
    got_i, ref_i = engine.encode_images(images), reference.encode_images(images)
    got_t, ref_t = engine.encode_texts(captions), reference.encode_texts(captions)
    for got, ref in ((got_i, ref_i), (got_t, ref_t)):
        assert got.dtype == torch.float32 and got.shape == ref.shape
        np.testing.assert_allclose(got.norm(dim=-1).numpy(), 1.0, atol=1e-5)  # same unit-vector contract
        assert float((got * ref).sum(-1).min()) >= MIN_AGREEMENT
    # meaning survives: each scene's caption still ranks its own image first, as with fp32
    assert ((got_t @ got_i.T).argmax(1) == (ref_t @ ref_i.T).argmax(1)).float().mean() >= 0.85


def test_unknown_backend_is_a_user_error(random_engine):
    with pytest.raises(InputError, match="onnx"):
        checked_towers("tensorrt", random_engine.model, random_engine.processor, random_engine.tokenizer)


def test_a_disagreeing_backend_is_refused(random_engine, monkeypatch):
    class Broken(TorchTowers):
        name = "broken"

        def image_features(self, pixel_values):
            return -super().image_features(pixel_values)

    import clipdemo.engine.backends as backends

    monkeypatch.setattr(backends, "create_towers", lambda name, model: Broken(model))
    with pytest.raises(ModelError, match="disagrees with fp32"):
        checked_towers("int8", random_engine.model, random_engine.processor, random_engine.tokenizer)


@pytest.fixture(scope="module")
def vit_b32(tokenizer):
    """A ViT-B/32-sized CLIP (CLIPConfig's defaults) with random weights, and its processor."""
    from transformers import CLIPConfig, CLIPModel

    from clipdemo.train.model import tiny_processor

    config = CLIPConfig(text_config=dict(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                                         bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id))
    torch.manual_seed(0)
    return CLIPModel(config).eval(), tiny_processor(tokenizer, image_size=config.vision_config.image_size)


@pytest.mark.slow
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "torch"])
def test_each_backend_agrees_with_fp32_at_vit_b32_size(backend, vit_b32, tokenizer):
    """Deeper and wider than the bundled model: where int8 error accumulates most. The engine's own check."""
    model, processor = vit_b32
    _, agreement = checked_towers(backend, model, processor, tokenizer)  # raises ModelError below the floor
    assert agreement["image_min_cosine"] >= MIN_AGREEMENT, agreement
    assert agreement["text_min_cosine"] >= MIN_AGREEMENT, agreement
    assert agreement["probes"] == 8
