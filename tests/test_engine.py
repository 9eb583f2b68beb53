"""The engine on a random tiny CLIP: parity with CLIPModel, caching, batching, pooling, errors."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import torch

from clipdemo import engine as engine_module
from clipdemo.analysis.zero_shot import text_classifier, zero_shot
from clipdemo.engine import ClipEngine
from clipdemo.errors import InputError, ModelError
from clipdemo.registry import BUNDLED_MODEL, available_models, resolve_model
from clipdemo.scenes import group_scene, scene_rng


def _images(n=3, seed=3):
    rng = scene_rng(seed, "heldout")
    return [group_scene(rng).image for _ in range(n)]


def test_probabilities_match_clipmodel_logits(random_engine):
    labels = ["red circle", "a blue star to the left of a green square", "the digit 7", "xylophone"]
    images = _images(3)
    results = zero_shot(random_engine, images, labels, ["a photo of a {}."])
    ours = torch.tensor([[next(s.score for s in r.scores if s.label == label) for label in labels] for r in results])
    inputs = {**random_engine.tokenizer([f"a photo of a {label}." for label in labels], return_tensors="pt",
                                        padding=True), **random_engine.image_processor(images, return_tensors="pt")}
    with torch.no_grad():
        reference = random_engine.model(**inputs).logits_per_image.softmax(-1)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)


def test_results_are_sorted_and_sum_to_one(random_engine):
    (result,) = zero_shot(random_engine, _images(1), ["a", "b", "c", "d"])
    scores = [s.score for s in result.scores]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(1.0, abs=1e-5)


def test_ensemble_is_normalised_mean_of_normalised_template_features(random_engine):
    labels, templates = ["circle", "star"], ["a photo of a {}.", "a drawing of a {}.", "art of the {}."]
    got = text_classifier(random_engine, labels, templates)
    for i, label in enumerate(labels):
        feats = random_engine.encode_texts([t.replace("{}", label) for t in templates])
        mean = feats.mean(0)
        torch.testing.assert_close(got[i], mean / mean.norm())
    assert torch.allclose(got.norm(dim=-1), torch.ones(2))


def _count_calls(engine, method):
    calls = []
    original = getattr(engine.model, method)

    def spy(**kwargs):
        calls.append({k: v.shape for k, v in kwargs.items()})
        return original(**kwargs)

    return calls, original, spy


def test_text_cache_avoids_re_encoding(random_engine, monkeypatch):
    calls, _, spy = _count_calls(random_engine, "get_text_features")
    monkeypatch.setattr(random_engine.model, "get_text_features", spy)
    texts = [f"a cached text number {i}" for i in range(10)]
    first = random_engine.encode_texts(texts)
    assert len(calls) == 1
    again = random_engine.encode_texts(list(reversed(texts)))
    assert len(calls) == 1  # nothing encoded the second time
    torch.testing.assert_close(again, first.flip(0))


def test_image_cache_is_keyed_by_content(random_engine, monkeypatch):
    calls, _, spy = _count_calls(random_engine, "get_image_features")
    monkeypatch.setattr(random_engine.model, "get_image_features", spy)
    images = _images(2, seed=99)  # images no other test encoded
    random_engine.encode_images(images)
    random_engine.encode_images([im.copy() for im in images])  # same pixels, new objects
    assert len(calls) == 1


def test_labels_are_batched_by_length_not_padded_to_77(random_engine, monkeypatch):
    calls, _, spy = _count_calls(random_engine, "get_text_features")
    monkeypatch.setattr(random_engine.model, "get_text_features", spy)
    short = [f"label{i}" for i in range(1000)]
    long = ["word " * 60 + str(i) for i in range(3)]
    random_engine.encode_texts(short + long, batch_size=256)
    widths = [c["input_ids"][1] for c in calls]
    assert max(widths[:3]) <= 8  # the 1,000 short labels are padded to their own length
    assert widths[-1] == random_engine.token_counts(long)[0] == 63  # 60 words, a digit, start and end


def test_long_text_is_truncated_to_77_tokens(random_engine):
    caption = " ".join(["word"] * 300)
    assert random_engine.token_counts([caption])[0] > 77
    features = random_engine.encode_texts([caption])
    assert features.shape == (1, random_engine.info.embed_dim)


def test_text_model_pools_at_the_eos_token(random_engine, tokenizer):
    config = random_engine.model.config.text_config
    assert tokenizer.eos_token_id == len(tokenizer) - 1 == config.eos_token_id != 2
    batch = tokenizer(["a red circle", "two"], padding=True, return_tensors="pt")
    with torch.no_grad():
        out = random_engine.model.text_model(**batch)
    eos_positions = [ids.index(tokenizer.eos_token_id) for ids in batch["input_ids"].tolist()]
    assert eos_positions == [4, 2]
    for row, pos in enumerate(eos_positions):
        torch.testing.assert_close(out.pooler_output[row], out.last_hidden_state[row, pos])


def test_non_finite_output_is_an_error_not_nan_percent(random_engine, monkeypatch):
    def nan_features(**kwargs):
        return torch.full((kwargs["input_ids"].shape[0], random_engine.info.embed_dim), float("nan"))

    monkeypatch.setattr(random_engine.model, "get_text_features", nan_features)
    with pytest.raises(ModelError, match="non-finite"):
        random_engine.encode_texts(["a text never seen before by this engine"])


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(InputError, match="tiny-scenes"):
        resolve_model("no-such-model")


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, offline: what a fresh machine with no network has, on any machine."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine_module.configure()
    yield cache
    engine_module.configure()


@pytest.mark.parametrize("name", available_models())
def test_every_registered_model_resolves_and_loads_or_says_why_not(name, hf_cache):
    """Named explicitly, a model loads or stops with the real reason; it never quietly becomes another."""
    engine_module.configure(name)
    if name.startswith(BUNDLED_MODEL):
        engine = engine_module.get_engine()
        assert engine.info.note == "" and engine.info.name == name
        assert engine.info.source == name  # the directory's base name, never the server's path
        assert engine.encode_texts(["a red circle"]).shape == (1, engine.info.embed_dim)
    else:  # not in this (empty) cache and offline: it must say so and name the fix
        assert "/" in resolve_model(name)
        with pytest.raises(ModelError, match="not in the Hugging Face cache.*--model"):
            engine_module.get_engine()


def test_only_the_default_model_falls_back_to_the_bundled_one(hf_cache):
    engine = engine_module.get_engine()  # nothing named: the default model, which is not cached
    assert engine.info.name == BUNDLED_MODEL
    assert "openai/clip-vit-base-patch32" in engine.info.note and "Running the bundled" in engine.info.note


def test_a_hub_model_in_the_cache_loads_offline_without_falling_back(hf_cache):
    """The real loading code for a cached hub id: a checkpoint laid out as the hub cache lays it out."""
    import shutil

    snapshot = hf_cache / "models--openai--clip-vit-base-patch32" / "snapshots" / ("0" * 40)
    shutil.copytree(resolve_model(BUNDLED_MODEL), snapshot)
    (hf_cache / "models--openai--clip-vit-base-patch32" / "refs").mkdir()
    (hf_cache / "models--openai--clip-vit-base-patch32" / "refs" / "main").write_text("0" * 40)
    engine_module.configure("clip-vit-base-patch32")
    engine = engine_module.get_engine()
    assert engine.info.note == "" and engine.info.source == "openai/clip-vit-base-patch32"
    bundled = ClipEngine.load(BUNDLED_MODEL)
    torch.testing.assert_close(engine.encode_texts(["a red circle"]), bundled.encode_texts(["a red circle"]))


def test_shared_engine_loads_once_under_concurrency(monkeypatch):
    from clipdemo.engine import pool as pool_module

    loads = []
    original = pool_module.load_with_fallback

    def counting_load(*args, **kwargs):
        loads.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(pool_module, "load_with_fallback", counting_load)
    engine_module.configure(BUNDLED_MODEL)
    got = []
    threads = [threading.Thread(target=lambda: got.append(engine_module.get_engine())) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(loads) == 1 and len({id(e) for e in got}) == 1
    finally:
        engine_module.configure()


def test_nothing_loads_a_model_at_import():
    import subprocess
    import sys

    code = ("import sys, clipdemo.ui.app, clipdemo.engine as e; "
            "demo = clipdemo.ui.app.build_demo(); assert e.get_pool().loaded() == []")
    subprocess.run([sys.executable, "-c", code], check=True)


def _small_cache_engine(random_engine, limit: int):
    """The random model behind a fresh engine whose caches hold `limit` bytes each."""
    return ClipEngine(random_engine.model, random_engine.processor, name="small-cache", source="memory",
                      text_cache_bytes=limit, image_cache_bytes=limit)


def test_a_cached_row_is_its_floats_and_comes_back_equal(random_engine):
    engine = _small_cache_engine(random_engine, 1 << 20)
    labels = [f"label {i}" for i in range(256)]
    first = engine.encode_texts(labels)
    rows = list(engine._texts._d.values())
    assert len(rows) == 256
    # each cached row is exactly its D floats: no tensor headers, no view into the [256, D] batch it came from
    assert {(type(r), len(r)) for r in rows} == {(bytes, 4 * engine.info.embed_dim)}
    again = engine.encode_texts(labels)  # from the cache
    assert torch.equal(first, again) and again.dtype == torch.float32


def test_the_text_cache_is_bounded_by_entries_too(random_engine):
    engine = ClipEngine(random_engine.model, random_engine.processor, name="few", source="memory",
                        text_cache_bytes=1 << 30, text_cache_entries=50)
    engine.encode_texts([f"label {i}" for i in range(120)])
    stats = engine.cache_sizes()["texts"]
    assert stats["entries"] == 50 == stats["limit_entries"]
    assert engine._texts.get("label 119") is not None and engine._texts.get("label 0") is None  # oldest went


def test_text_cache_stays_under_its_byte_limit_across_many_label_sets(random_engine):
    limit = 200_000
    engine = _small_cache_engine(random_engine, limit)
    for n in range(30):
        labels = [f"set {n} label {i}" for i in range(100)] + [f"set {n} " + "long caption " * 400]
        engine.encode_texts(labels)
        stats = engine.cache_sizes()["texts"]
        real = sum(len(k) + len(v) for k, v in engine._texts._d.items())
        assert real <= stats["bytes"] <= limit
    assert stats["entries"] < 30 * 101  # old entries were evicted ...
    assert 0.9 * limit < stats["bytes"]  # ... and the cache is used up to its limit
    # a long text is keyed by a short hash, and is still found again
    long_text = "set 29 " + "long caption " * 400
    assert max(len(k) for k in engine._texts._d) < 200
    torch.testing.assert_close(engine.encode_texts([long_text]), random_engine.encode_texts([long_text]))


_CACHE_RSS = """
import gc, os, torch
from clipdemo.engine.cache import LRU, text_key
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
cache = LRU(1 << 40)
rows = torch.nn.functional.normalize(torch.randn(256, {dim}), dim=-1)
gc.collect(); before = rss()
for i in range(40_000):
    cache.put(text_key(f"a photo of a red circle number {{i}}"), rows[i % 256])
gc.collect()
print((rss() - before) / 40_000, cache.bytes / 40_000)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.parametrize("dim", [128, 512])
def test_a_cache_counts_the_memory_its_entries_really_take(dim):
    """The caches' limits bound the server's memory only if their count is what an entry costs: 40,000
    entries in a fresh process, resident memory per entry against the bytes counted per entry, within 25%
    either way. (Kept as tensors, a 128-d entry took 1.2 KB and was counted as 0.65.)"""
    out = subprocess.run([sys.executable, "-c", _CACHE_RSS.format(dim=dim)], capture_output=True, text=True,
                         check=True).stdout.split()
    real, counted = float(out[0]), float(out[1])
    assert 0.8 * counted <= real <= 1.25 * counted, (real, counted)


def test_image_cache_stays_under_its_byte_limit(random_engine):
    limit = 20_000
    engine = _small_cache_engine(random_engine, limit)
    engine.encode_images(_images(64, seed=5))
    stats = engine.cache_sizes()["images"]
    assert 0 < stats["entries"] < 64 and stats["bytes"] <= limit == stats["limit_bytes"]


@pytest.mark.parametrize("card, expected", [
    (None, True),  # no model card: assume a real CLIP
    ("---\nlicense: mit\n---\n# A CLIP\n", True),
    ("---\nlicense: mit\nknows_photos: false\n---\n", False),
    ("---\nknows_photos: no\n---\n", False),
    ("---\nknows_photos: true\n---\n", True),
    ("# knows_photos: false outside the front matter\n", True),
])
def test_knows_photos_reads_the_model_cards_front_matter(tmp_path, card, expected):
    from clipdemo import registry

    if card is not None:
        (tmp_path / "README.md").write_text(card)
    assert registry.knows_photos(str(tmp_path)) is expected


def test_the_bundled_model_card_says_it_knows_no_photos():
    from clipdemo import registry

    assert registry.knows_photos(str(registry.bundled_path())) is False


def test_tokenizing_from_two_threads_gives_padded_batches(bundled_engine):
    """A fast tokenizer sets its padding on every call: counting tokens in one request thread while another
    pads a batch used to leave rows unpadded ("Unable to create tensor", 93 of 3,000 calls here before the
    engine's lock; once in a 20-minute soak)."""
    texts = ["a red circle", "three blue stars on a white background, and a few more words", "7"]
    failures = []

    def count():
        for _ in range(2000):
            bundled_engine.token_counts(texts)

    def pad():
        for _ in range(2000):
            try:
                batch = bundled_engine.text_inputs(texts)
                assert batch["input_ids"].shape[0] == 3
            except Exception as error:  # noqa: BLE001 - the race's error is what this test looks for
                failures.append(repr(error)[:200])

    threads = [threading.Thread(target=count), threading.Thread(target=pad)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, (len(failures), failures[:1])
