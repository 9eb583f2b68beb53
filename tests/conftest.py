"""Shared fixtures: CPU only, a random tiny CLIP for plumbing, the bundled model for meaning."""

from __future__ import annotations

import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests run on CPU, as CI does
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here: fail fast instead of retrying the network
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _gradio_temp_dir(tmp_path_factory):
    """Uploads and exports go to this run's own temp dir (one for the session: the servers outlive a test)."""
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))


@pytest.fixture(scope="session")
def tokenizer():
    from clipdemo.train.tokenizer import build_tokenizer

    return build_tokenizer()


@pytest.fixture(scope="session")
def random_engine(tokenizer):
    """A tiny CLIP with random weights: for parity, caching, batching and errors, not for meaning."""
    from clipdemo.engine import ClipEngine
    from clipdemo.train.model import build_model, tiny_processor

    model = build_model(tokenizer, seed=0, width=64, vision_layers=2, text_layers=2)
    return ClipEngine(model, tiny_processor(tokenizer), name="random-tiny", source="memory")


@pytest.fixture(scope="session")
def bundled_engine():
    """The committed tiny-scenes checkpoint, loaded exactly as the app loads any model."""
    from clipdemo.engine import ClipEngine

    return ClipEngine.load("tiny-scenes")


@pytest.fixture
def scene_files(tmp_path):
    """Eight held-out scenes saved as PNG files, with their captions."""
    from clipdemo.scenes import digit_scene, group_scene, scene_rng

    rng = scene_rng(7, "heldout")
    scenes = [group_scene(rng, n=1, colour="red", shape="circle"), group_scene(rng, n=3, colour="blue", shape="star"),
              group_scene(rng, n=2, colour="green", shape="triangle"), digit_scene(rng, digit=7),
              digit_scene(rng, digit=2), group_scene(rng, n=1, colour="yellow", shape="square"),
              group_scene(rng, n=4, colour="purple", shape="cross"),
              group_scene(rng, n=1, colour="orange", shape="diamond")]
    paths = []
    for i, s in enumerate(scenes):
        p = tmp_path / f"scene{i}.png"
        s.image.save(p)
        paths.append(str(p))
    return paths, [s.caption for s in scenes]
