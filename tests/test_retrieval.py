"""Recall@K against a brute-force reference, the gallery's persistent store, and FAISS search."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipdemo.analysis.recall import recall_at_k, sampled_recall
from clipdemo.search.evaluate import encode_pairs, load_pairs
from clipdemo.search.faiss_index import build, choose_index, thresholds
from clipdemo.search.gallery import build_gallery
from clipdemo.ui import examples


def _brute_force(sim, owner, k):
    """Loop over queries, sort, look: the definition, with ties counted against the model."""
    n_images, n_captions = sim.shape
    i2t = []
    for i in range(n_images):
        true = [c for c in range(n_captions) if owner[c] == i]
        best = max(sim[i, c] for c in true)
        wrong_above = sum(1 for c in range(n_captions) if owner[c] != i and sim[i, c] >= best)
        i2t.append(wrong_above < k)
    t2i = []
    for c in range(n_captions):
        wrong_above = sum(1 for i in range(n_images) if i != owner[c] and sim[i, c] >= sim[owner[c], c])
        t2i.append(wrong_above < k)
    return np.mean(i2t), np.mean(t2i)


@pytest.mark.parametrize("seed", range(5))
def test_recall_matches_brute_force_with_ties_and_several_captions(seed):
    rng = np.random.default_rng(seed)
    n_images = 12
    owner = np.repeat(np.arange(n_images), rng.integers(1, 4, n_images))  # 1-3 captions per image
    sim = np.round(rng.normal(size=(n_images, len(owner))), 1)  # rounding makes many ties
    sim[owner, np.arange(len(owner))] += rng.uniform(0, 1.5, len(owner))  # true pairs tend to score higher
    got = recall_at_k(sim, owner, (1, 3, 5, 10))
    for k in (1, 3, 5, 10):
        i2t, t2i = _brute_force(sim, owner, k)
        assert got["image_to_text"][k] == pytest.approx(i2t)
        assert got["text_to_image"][k] == pytest.approx(t2i)


def test_perfect_and_reversed_similarities():
    owner = np.array([0, 0, 1, 2])
    perfect = np.eye(3)[:, owner]
    assert recall_at_k(perfect, owner)["text_to_image"][1] == 1.0
    assert recall_at_k(-perfect, owner, (1,))["image_to_text"][1] == 0.0
    tie = np.zeros((3, 4))  # everything tied: the model found nothing
    assert recall_at_k(tie, owner, (1,))["text_to_image"][1] == 0.0


def test_sampled_protocol_is_seeded(bundled_engine):
    sim, pairs = encode_pairs(bundled_engine, load_pairs(str(examples.PAIRS)))
    a = sampled_recall(sim, pairs.image_of_caption, 10, 20, seed=3)
    b = sampled_recall(sim, pairs.image_of_caption, 10, 20, seed=3)
    assert a == b
    assert a["text_to_image"][10] is None  # among 10 images a caption's image is always in the top 10: no measure
    assert a["image_to_text"][10] is not None  # 10 images hold 20 captions: R@10 image -> text still measures
    assert 0.0 <= a["image_to_text"][1][0] <= 1.0


def test_bundled_model_retrieves_the_true_scene_first(bundled_engine):
    sim, pairs = encode_pairs(bundled_engine, load_pairs(str(examples.PAIRS)))
    assert not pairs.skipped
    scenes = [i for i, p in enumerate(pairs.images) if "scene_" in p]
    cols = np.flatnonzero(np.isin(pairs.image_of_caption, scenes))
    sim = sim[np.ix_(scenes, cols)]
    owner = np.searchsorted(scenes, pairs.image_of_caption[cols])
    assert recall_at_k(sim, owner, (1,))["text_to_image"][1] >= 0.6


def _write(path, colour):
    Image.new("RGB", (64, 64), colour).save(path)


def test_store_persists_and_never_serves_a_stale_embedding(random_engine, tmp_path, monkeypatch):
    """--gallery DIR's store: kept on disk, reused after a restart, a changed file encoded again alone."""
    monkeypatch.setenv("CLIPDEMO_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "gallery"
    folder.mkdir()
    paths = [str(folder / f"{i}.png") for i in range(5)]
    for i, p in enumerate(paths):
        _write(p, (i * 50, 10, 10))
    first = build_gallery(random_engine, folder=str(folder))
    assert first.report.embedded == 5 and len(first.store) == 5
    assert list((tmp_path / "cache" / "stores").rglob("manifest.json"))  # on disk, under the cache folder

    again = build_gallery(random_engine, folder=str(folder))  # what a restarted app does: open the same store
    assert again.report.embedded == 0
    np.testing.assert_array_equal(again.store.vectors, first.store.vectors)

    _write(paths[2], (0, 200, 0))  # the file changes under the same name
    _write(folder / "new.png", (9, 9, 9))
    changed = build_gallery(random_engine, folder=str(folder))
    assert changed.report.embedded == 2  # the changed file and the new one, nothing else
    assert changed.store.paths == paths + [str(folder / "new.png")]
    fresh = random_engine.encode_images([Image.open(paths[2]).convert("RGB")]).numpy()[0]
    np.testing.assert_allclose(changed.store.vectors[2], fresh, atol=1e-6)
    assert not np.allclose(changed.store.vectors[2], first.store.vectors[2])


def test_hnsw_agrees_with_exact_search():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(2000, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = v[:50] + 0.05 * rng.normal(size=(50, 64)).astype(np.float32)
    exact, _ = build(v, choose_index(len(v), 64, *thresholds("exact")))
    hnsw, report = build(v, choose_index(len(v), 64, *thresholds("hnsw")))
    assert report["kind"] == "hnsw"
    _, exact = exact.search(q, 10)
    _, approx = hnsw.search(q, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.9 and (exact[:, 0] == np.arange(50)).all()


def test_eval_command_prints_recall_both_ways(capsys):
    from clipdemo.__main__ import main  # in-process: test_indexer runs the entry point as typed

    assert main(["eval", str(examples.PAIRS / "pairs.csv"), "--model", "tiny-scenes", "--repeats", "5"]) == 0
    out = capsys.readouterr().out
    assert "image to text" in out and "text to image" in out and "R@10" in out
    assert "5 x 10 sampled images" in out


def test_a_tie_counts_against_the_model_in_evaluation_and_in_the_embedding_map():
    """One Recall@K, one tie rule: a wrong text scoring exactly as high as the true one ranks above it."""
    from clipdemo.analysis.embedding_map import retrieval

    images = np.eye(2)  # image i is the unit vector e_i
    texts = np.array([[1.0, 0.0], [1.0, 0.0]])  # both texts are e_0: each image's true and wrong text tie
    sim = images @ texts.T  # [[1, 1], [0, 0]]
    got = recall_at_k(sim, np.array([0, 1]), (1, 2))
    assert got["image_to_text"] == {1: 0.0, 2: 1.0}  # both images tie their wrong text: a miss at 1
    assert got["text_to_image"] == {1: 0.5, 2: 1.0}  # text 0 wins outright (1 > 0); text 1 ties (0 = 0)
    mapped = retrieval(images, texts, [(0, 0), (1, 1)], ks=(1, 2))
    assert mapped.zero_shot_accuracy == 0.0
    assert mapped.recall == {"image->text R@1": 0.0, "text->image R@1": 0.5,
                             "image->text R@2": 1.0, "text->image R@2": 1.0}


def _pairs_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("image,caption\n" + "".join(f"{i},{c}\n" for i, c in rows))
    return path


def test_eval_reads_the_users_own_files_absolute_or_under_images(tmp_path, capsys):
    """Flickr30k and COCO annotation files name images relative to an images folder kept elsewhere."""
    scenes, captions = examples.scene_files()[:4], examples.scene_captions()[:4]
    images, elsewhere = tmp_path / "flickr" / "images", tmp_path / "elsewhere"
    for folder in (images, elsewhere):
        folder.mkdir(parents=True)
    rows = []
    for i, (scene, caption) in enumerate(zip(scenes, captions)):
        if i < 2:
            shutil.copy(scene, images)
            rows.append((Path(scene).name, caption))  # relative: resolved under --images
        else:
            shutil.copy(scene, elsewhere)
            rows.append((str(elsewhere / Path(scene).name), caption))  # absolute: read as written
    csv_path = _pairs_csv(tmp_path / "annotations" / "pairs.csv", rows)
    from clipdemo.__main__ import main

    command = ["eval", str(csv_path), "--model", "tiny-scenes", "--sample-images", "0"]
    assert main(command + ["--images", str(images)]) == 0
    out = capsys.readouterr()
    assert "images: 4  captions: 4" in out.out and "skipped" not in out.err, out.err
    assert re.search(r"text to image\s+100\.0%", out.out), out.out  # each caption finds its scene
    # without --images the relative rows resolve beside the CSV, where they are not: left out, by name
    assert main(command) == 0
    out = capsys.readouterr()
    assert "images: 2  captions: 2" in out.out and out.err.count("skipped:") == 2, out.err
    # the server keeps its rule: the same CSV's absolute paths are refused there
    served = load_pairs(str(csv_path))
    assert len(served.images) == 2 and all("not a file inside the upload" in r for r in served.skipped)
