"""The indexer: the store format, resuming, the FAISS choice by size, `search`, and Ray's parity with local."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from clipdemo.errors import InputError
from clipdemo.search import index_source, open_store
from clipdemo.search.faiss_index import build, choose_index


@pytest.fixture
def folder(scene_files, tmp_path):
    """The eight held-out scenes in a folder of their own (with a subfolder: the reader recurses)."""
    paths, captions = scene_files
    root = tmp_path / "gallery"
    (root / "more").mkdir(parents=True)
    for i, p in enumerate(paths):
        shutil.copy(p, root / ("more" if i >= 6 else "") / f"scene{i}.png")
    return root, captions


def _open(path):
    return Image.open(path).convert("RGB")


def test_local_store_holds_the_engines_embeddings_and_hashes(bundled_engine, folder, tmp_path):
    root, _ = folder
    report = index_source(str(root), str(tmp_path / "store"), clip_engine=bundled_engine, progress=False)
    assert (report.count, report.embedded, report.reused, report.failed) == (8, 8, 0, [])
    store = open_store(tmp_path / "store")
    assert isinstance(store.vectors, np.memmap)  # served from the page cache, not copied into RAM
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["count"] == 8 and manifest["dim"] == bundled_engine.info.embed_dim
    assert manifest["index"]["kind"] == "exact" and manifest["backend"] == "torch"
    assert manifest["model"] == "tiny-scenes"
    assert store.paths == sorted(store.paths)
    expected = bundled_engine.encode_images([_open(p) for p in store.paths]).numpy()
    np.testing.assert_allclose(store.vectors, expected, atol=1e-5)
    for p, h in zip(store.paths, store.catalog["hash"]):
        assert h == hashlib.sha256(open(p, "rb").read()).hexdigest()
    scores, rows = store.search(expected[3], k=3)
    assert rows[0][0] == 3 and scores[0][0] == pytest.approx(1.0, abs=1e-5)


def test_indexing_leaves_the_engines_image_cache_empty_and_uncached_vectors_equal_cached(bundled_engine, folder,
                                                                                         tmp_path):
    # an indexer sees each image once: cached, 10,000 small rows pinned 900 MB of heap between batches
    from clipdemo.engine import ClipEngine

    root, _ = folder
    engine = ClipEngine(bundled_engine.model, tokenizer=bundled_engine.tokenizer, name="tiny-scenes", source="memory",
                        image_processor=bundled_engine.image_processor)
    index_source(str(root), str(tmp_path / "store"), clip_engine=engine, progress=False)
    assert engine.cache_sizes()["images"]["entries"] == 0
    store = open_store(tmp_path / "store")
    images = [_open(p) for p in store.paths]
    np.testing.assert_allclose(engine.encode_images(images, cache=False).numpy(), store.vectors, atol=1e-5)
    assert engine.cache_sizes()["images"]["entries"] == 0
    np.testing.assert_allclose(engine.encode_images(images).numpy(), store.vectors, atol=1e-5)
    assert engine.cache_sizes()["images"]["entries"] == len(images)


def test_resuming_embeds_only_new_or_changed_files(bundled_engine, folder, tmp_path):
    root, _ = folder
    out = str(tmp_path / "store")
    first = index_source(str(root), out, clip_engine=bundled_engine, progress=False)
    before = np.array(open_store(out).vectors)
    again = index_source(str(root), out, clip_engine=bundled_engine, progress=False)
    assert (again.embedded, again.reused) == (0, 8)
    np.testing.assert_array_equal(np.array(open_store(out).vectors), before)

    Image.new("RGB", (96, 96), (0, 200, 0)).save(root / "scene2.png")  # changed under the same name
    Image.new("RGB", (96, 96), (9, 9, 200)).save(root / "new.png")
    (root / "scene5.png").unlink()
    changed = index_source(str(root), out, clip_engine=bundled_engine, progress=False)
    assert (changed.embedded, changed.reused, changed.count) == (2, 6, 8)
    store = open_store(out)
    assert not any(p.endswith("scene5.png") for p in store.paths)
    row = store.paths.index(str(root / "scene2.png"))
    fresh = bundled_engine.encode_images([_open(root / "scene2.png")]).numpy()[0]
    np.testing.assert_allclose(store.vectors[row], fresh, atol=1e-5)
    assert store.catalog["id"].is_unique and first.count == 8


def test_a_table_source_gives_the_same_store_as_the_folder(bundled_engine, folder, tmp_path):
    root, _ = folder
    files = sorted(p.relative_to(root) for p in root.rglob("*.png"))
    table = pd.DataFrame({"caption": ["x"] * len(files), "image": [str(f) for f in files]})
    table.to_csv(root / "pairs.csv", index=False)
    pd.DataFrame({"file": [str(root / f) for f in files]}).to_parquet(tmp_path / "images.parquet")
    index_source(str(root), str(tmp_path / "a"), clip_engine=bundled_engine, progress=False)
    index_source(str(root / "pairs.csv"), str(tmp_path / "b"), clip_engine=bundled_engine, progress=False)
    index_source(str(tmp_path / "images.parquet"), str(tmp_path / "c"), clip_engine=bundled_engine, progress=False)
    a, b, c = (open_store(tmp_path / x) for x in "abc")
    assert a.paths == b.paths == c.paths
    np.testing.assert_allclose(b.vectors, a.vectors, atol=1e-6)
    np.testing.assert_allclose(c.vectors, a.vectors, atol=1e-6)
    with pytest.raises(InputError, match="no image-path column"):
        index_source(str(root / "pairs.csv"), str(tmp_path / "d"), clip_engine=bundled_engine, column="url",
                     progress=False)


def test_unreadable_files_are_reported_and_retried(random_engine, folder, tmp_path):
    root, _ = folder
    (root / "broken.png").write_bytes(b"not a png")
    out = str(tmp_path / "store")
    report = index_source(str(root), out, clip_engine=random_engine, progress=False)
    assert report.count == 8 and len(report.failed) == 1 and "broken.png" in report.failed[0]
    Image.new("RGB", (32, 32), "red").save(root / "broken.png")
    fixed = index_source(str(root), out, clip_engine=random_engine, progress=False)
    assert (fixed.embedded, fixed.count, fixed.failed) == (1, 9, [])


def test_a_store_refuses_another_model_or_backend(random_engine, bundled_engine, folder, tmp_path):
    root, _ = folder
    out = str(tmp_path / "store")
    index_source(str(root), out, clip_engine=bundled_engine, progress=False)
    with pytest.raises(InputError, match="was built with model"):
        index_source(str(root), out, clip_engine=random_engine, progress=False)
    with pytest.raises(InputError, match="backend"):
        index_source(str(root), out, model="tiny-scenes", backend="onnx", progress=False)
    with pytest.raises(InputError, match="not a clipdemo store"):
        open_store(tmp_path)


def _clustered(n, dim=64, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(n // 50, 4), dim))
    v = centres[rng.integers(0, len(centres), n)] + 0.3 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_the_index_type_changes_with_size():
    kinds = [choose_index(n, 512).kind for n in (1_000, 99_999, 100_000, 999_999, 1_000_000, 100_000_000)]
    assert kinds == ["exact", "exact", "hnsw", "hnsw", "ivfpq", "ivfpq"]
    big = choose_index(10_000_000, 512)
    assert big.params["m"] == 64 and big.params["nlist"] == 16384  # 64 bytes a vector; ~4 sqrt(N) cells
    vectors = _clustered(3_000, dim=32)  # small: FAISS's PQ training dominates this test's time
    for n_exact, n_hnsw, kind, param in ((100_000, 1_000_000, "exact", None), (1_000, 100_000, "hnsw", "efSearch"),
                                         (1_000, 2_000, "ivfpq", "nprobe")):
        index, report = build(vectors, choose_index(len(vectors), 32, n_exact, n_hnsw))
        assert report["kind"] == kind and index.ntotal == len(vectors)
        if param:
            assert param in report["params"] and report["queries"] == 200
            # measured on held-out queries and written to the manifest; IVF-PQ re-ranks its candidates exactly
            assert report["recall_at_10"] >= 0.9, report
    assert report["params"]["m"] == 4 and report["params"]["rerank"] > 1


def test_small_thresholds_put_an_approximate_index_in_the_manifest(random_engine, folder, tmp_path):
    root, _ = folder
    index_source(str(root), str(tmp_path / "s"), clip_engine=random_engine, exact_below=4, progress=False)
    store = open_store(tmp_path / "s")
    assert store.manifest["index"]["kind"] == "hnsw" and "efSearch" in store.manifest["index"]["params"]
    _, rows = store.search(np.array(store.vectors[5]), k=1)
    assert rows[0][0] == 5


def test_search_command_prints_the_expected_top_hit(folder, tmp_path, capsys):
    from clipdemo.__main__ import main

    root, captions = folder
    out = str(tmp_path / "store")
    assert main(["index", str(root), "--out", out, "--model", "tiny-scenes"]) == 0
    built = capsys.readouterr().out
    assert "8 vectors (8 embedded now" in built and "index: exact" in built
    assert main(["search", out, "--image", str(root / "scene3.png"), "-k", "1"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[1].endswith("scene3.png")
    assert main(["search", str(tmp_path), "x"]) == 2
    assert "not a clipdemo store" in capsys.readouterr().err
    # the real entry point, as a user types it
    found = subprocess.run([sys.executable, "-m", "clipdemo", "search", out, captions[1], "-k", "3"],
                           capture_output=True, text=True, check=True)
    lines = found.stdout.strip().splitlines()
    assert captions[1] == "three blue stars" and len(lines) == 4
    assert lines[1].split()[0] == "1" and lines[1].endswith("scene1.png"), found.stdout


def test_a_table_of_paths_skips_missing_and_non_image_files_with_a_reason(random_engine, folder, tmp_path):
    root, _ = folder
    (root / "notes.txt").write_text("not an image")
    (root / "truncated.png").write_bytes(b"\x89PNG\r\n")
    rows = ["scene0.png", "notes.txt", "gone.png", "more", "truncated.png"]  # "more" is a folder
    pd.DataFrame({"path": rows}).to_csv(root / "list.csv", index=False)
    report = index_source(str(root / "list.csv"), str(tmp_path / "s"), clip_engine=random_engine, progress=False)
    assert report.count == 1 and len(report.failed) == 4, report.failed
    for name, why in (("notes.txt", "not an image"), ("gone.png", "No such file"), ("more", "Is a directory"),
                      ("truncated.png", "not an image")):
        assert any(f"{name}: {why}" in r for r in report.failed), report.failed


@pytest.fixture(scope="module")
def local_ray():
    """Ray in this process on two CPUs, shut down when the module's tests are done."""
    ray = pytest.importorskip("ray")
    from clipdemo.search.ray_engine import ensure_ray

    ensure_ray(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_same_store_as_local(local_ray, folder, tmp_path):
    root, _ = folder
    local = index_source(str(root), str(tmp_path / "local"), model="tiny-scenes", progress=False)
    on_ray = index_source(str(root), str(tmp_path / "ray"), model="tiny-scenes", engine="ray", batch_size=3,
                          concurrency=2, progress=False)
    assert (local.count, on_ray.count, on_ray.embedded) == (8, 8, 8)
    a, b = open_store(tmp_path / "local"), open_store(tmp_path / "ray")
    pd.testing.assert_frame_equal(a.catalog, b.catalog)
    np.testing.assert_allclose(b.vectors, a.vectors, atol=1e-5)
    assert {k: v for k, v in a.manifest.items() if k not in ("updated", "engine", "shards", "index")} == \
           {k: v for k, v in b.manifest.items() if k not in ("updated", "engine", "shards", "index")}

    Image.new("RGB", (64, 64), (200, 0, 0)).save(root / "scene0.png")
    resumed = index_source(str(root), str(tmp_path / "ray"), model="tiny-scenes", engine="ray", progress=False)
    assert (resumed.embedded, resumed.reused) == (1, 7)


def test_store_fingerprint_is_the_same_for_fp32_and_fp16_weights(bundled_engine_copy):
    """A store built on CPU (fp32) is searchable from a CUDA server, which loads the model in fp16."""
    from clipdemo.engine.fingerprint import model_fingerprint

    fp32 = model_fingerprint(bundled_engine_copy.model)
    bundled_engine_copy.model.half()
    assert model_fingerprint(bundled_engine_copy.model) == fp32


@pytest.fixture
def bundled_engine_copy():
    from clipdemo.engine import ClipEngine
    from clipdemo.registry import BUNDLED_MODEL

    return ClipEngine.load(BUNDLED_MODEL, "cpu")  # its own copy: the test changes its dtype
