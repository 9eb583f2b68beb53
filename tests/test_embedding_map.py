"""The embedding map: the modality gap and retrieval against direct numpy computations, the means removed."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from clipdemo.analysis.embedding_map import coordinates_csv, embedding_map, modality_gap
from clipdemo.errors import InputError
from clipdemo.ui import examples


@pytest.fixture(scope="module")
def features(bundled_engine):
    from clipdemo.images import open_images

    loaded, _ = open_images(examples.scene_files())
    texts = examples.scene_captions()
    return (bundled_engine.encode_images([im.image for im in loaded]).numpy(),
            bundled_engine.encode_texts(texts).numpy(), texts)


def test_modality_gap_equals_a_direct_numpy_computation(features):
    images, texts, _ = features
    result = embedding_map(images, texts)
    centroid_gap = np.linalg.norm(images.mean(axis=0) - texts.mean(axis=0))
    cosine = images @ texts.T
    n = len(images)
    assert result.gap.gap == pytest.approx(centroid_gap, abs=1e-6)
    assert result.gap.matched_cosine == pytest.approx(np.trace(cosine) / n, abs=1e-6)
    assert result.gap.unmatched_cosine == pytest.approx((cosine.sum() - np.trace(cosine)) / (n * n - n), abs=1e-6)
    assert result.gap.matched_cosine > result.gap.unmatched_cosine  # the bundled model matches its scenes


def test_retrieval_equals_argmax(features):
    images, texts, _ = features
    result = embedding_map(images, texts)
    cosine = images @ texts.T
    diagonal = np.arange(len(images))
    assert result.raw.zero_shot_accuracy == pytest.approx((cosine.argmax(1) == diagonal).mean())
    assert result.raw.recall["text->image R@1"] == pytest.approx((cosine.argmax(0) == diagonal).mean())
    assert result.raw.recall["image->text R@5"] >= result.raw.recall["image->text R@1"]


def test_removing_the_means_closes_the_gap(features):
    images, texts, _ = features
    result = embedding_map(images, texts, centred=True)
    assert result.gap.gap > 0.3
    assert result.gap_centred.gap < 0.1 * result.gap.gap  # renormalised to unit vectors, so not exactly 0
    centred_i = images - images.mean(0)
    centred_i /= np.linalg.norm(centred_i, axis=1, keepdims=True)
    centred_t = texts - texts.mean(0)
    centred_t /= np.linalg.norm(centred_t, axis=1, keepdims=True)
    accuracy = ((centred_i @ centred_t.T).argmax(1) == np.arange(len(images))).mean()
    assert result.without_means.zero_shot_accuracy == pytest.approx(accuracy)


def test_pca_coordinates_and_csv(features):
    images, texts, captions = features
    result = embedding_map(images, texts)
    xy = np.concatenate([result.image_xy, result.text_xy])
    assert xy.shape == (2 * len(images), 2) and np.allclose(xy.mean(0), 0, atol=1e-9)
    assert result.explained[0] >= result.explained[1] > 0
    rows = list(csv.DictReader(io.StringIO(coordinates_csv(result, [f"i{k}" for k in range(len(images))], captions))))
    assert len(rows) == 2 * len(images) and rows[-1]["kind"] == "text" and rows[-1]["name"] == captions[-1]
    assert float(rows[0]["x"]) == pytest.approx(result.image_xy[0, 0], abs=1e-5)


def test_gap_on_unit_vectors_by_hand():
    images = np.array([[1.0, 0.0], [0.0, 1.0]])
    texts = np.array([[-1.0, 0.0], [0.0, -1.0]])
    gap = modality_gap(images, texts, [(0, 0), (1, 1)])
    assert gap.gap == pytest.approx(np.sqrt(2)) and gap.matched_cosine == pytest.approx(-1)
    assert gap.unmatched_cosine == pytest.approx(0)


def test_too_few_points_are_a_user_error():
    with pytest.raises(InputError):
        embedding_map(np.ones((1, 4)) / 2, np.ones((1, 4)) / 2)


def test_umap_works_out_of_the_box_and_keeps_neighbours_together():
    """umap-learn is a requirement (#27 point 8): offered means it works, on three points too (UMAP's
    default spectral start fails there), and two far-apart groups stay apart in 2-D."""
    few = embedding_map(np.eye(4)[:2], np.eye(4)[2:3], projection="UMAP")
    assert np.isfinite(few.image_xy).all() and np.isfinite(few.text_xy).all()
    rng = np.random.default_rng(0)
    centres = np.eye(16)[[0, 0, 0, 1, 1, 1]]  # images 0-2 near one direction, 3-5 near another; texts too
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    result = embedding_map(unit(centres + 0.05 * rng.normal(size=(6, 16))),
                           unit(centres + 0.05 * rng.normal(size=(6, 16))), projection="UMAP")
    xy = np.concatenate([result.image_xy, result.text_xy])
    group = np.array([0, 0, 0, 1, 1, 1] * 2)
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    same = group[:, None] == group[None]
    assert d[same & ~np.eye(12, dtype=bool)].mean() < 0.5 * d[~same].mean()


def test_gap_axis_draws_the_gap_at_its_true_length(features):
    images, texts, _ = features
    result = embedding_map(images, texts, projection="gap axis")
    drawn = result.image_xy.mean(0) - result.text_xy.mean(0)
    assert drawn[0] == pytest.approx(result.gap.gap, abs=1e-6) and drawn[1] == pytest.approx(0, abs=1e-6)
