"""The committed tiny-scenes model: it must have learned what its training data teaches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from clipdemo.analysis.captions import rank_captions
from clipdemo.analysis.similarity import similarity_matrix
from clipdemo.analysis.zero_shot import zero_shot
from clipdemo.images import open_image
from clipdemo.train.evaluate import TEMPLATE, attribute_items, evaluate_items, scanned_digit_items

# The first renderer's scenes (style "train"), on 1,000 fresh held-out items each, so that one unlucky item is
# 0.1 point. Issue 4 asked colour 99%, shape 97%, shape+colour 95%, digit 95%; issue 25 keeps count 93% too.
# The checkpoint, tuned for 8,500 steps at lr 1e-3 and an 80 px input on the wide renderer with a third of
# its scenes from this one (recipe wide6-replay3-80-8500-bf16), measures colour 100%, shape 99.5%,
# shape+colour 99.4%, digit 100%, count 99.8%, count+colour+shape 99.7% here. The floors are those targets
# on purpose. `make checkpoint` reruns the recipe (not bit for bit), so a retrain that loses ground fails.
FLOORS = {"colour": 0.99, "shape": 0.97, "shape+colour": 0.95, "digit": 0.95, "count": 0.93,
          "count+colour+shape": 0.90}


@pytest.mark.parametrize("attribute", list(FLOORS))
def test_held_out_zero_shot_meets_the_floor(bundled_engine, attribute):
    report = evaluate_items(bundled_engine, attribute_items(attribute, 1000, seed=1), attribute, TEMPLATE)
    assert report.accuracy >= FLOORS[attribute], f"{attribute}: {report.accuracy:.1%}"


# Issue 4 also asks that it hold up on a renderer it was not trained on: the "shifted" style draws
# smaller and larger objects, striped or checked backgrounds and fonts of the first recipe's held-out set.
# Measured on these 500 items: 100/96.2/96.2/96.4/99.2/97.0% (the previous checkpoint 100/93.6/93.0/93.8/95.2/
# 93.6%, which fails the count and count+colour+shape floors); the first checkpoint scored 98/68/70/60/75/67%
# and fails every floor below but colour. The floors sit about 3 points under what it measures.
SHIFTED_FLOORS = {"colour": 0.97, "shape": 0.93, "shape+colour": 0.93, "digit": 0.93, "count": 0.96,
                  "count+colour+shape": 0.94}


@pytest.mark.parametrize("attribute", list(SHIFTED_FLOORS))
def test_zero_shot_holds_up_on_the_unseen_renderer(bundled_engine, attribute):
    items = attribute_items(attribute, 500, seed=1, style="shifted")
    report = evaluate_items(bundled_engine, items, attribute, TEMPLATE)
    assert report.accuracy >= SHIFTED_FLOORS[attribute], f"{attribute}: {report.accuracy:.1%}"


# Issue 25: the background kinds and font families that training never drew (style "unseen-family": stripes,
# checks and vignettes; STIX and Pillow's Aileron), with everything else as varied as in training. Its
# targets: colour 95, shape 90, shape+colour 90, digit 90, count 85, left/right 80. Measured on these 500
# items: 99.8, 95.0, 94.4, 95.8, 95.0% (count+colour+shape 90.2%) and left/right 100%, so all reach them,
# as on the model card's three other item sets (shape 91.2-93.7%; the previous checkpoint, 5,000 steps of
# the same tune on two thirds of the scenes: 99.8, 91.8, 91.6, 95.0, 90.6, 85.0, 100%, and shape 87.3-92.3% on
# the other sets; 4,500 steps in float32: 100, 91.0, 88.8, 94.2, 87.6, 82.6, 96.6%; the first checkpoint: 85,
# 50, 47, 49, 57, 66% on 300 items). Each floor sits about 3 points under what it measures, so the previous
# checkpoint fails shape's, count's and count+colour+shape's. Left/right's is 95, not 97: tunes of this family have
# read it anywhere from 96.6% to 100% here.
UNSEEN_FAMILY_FLOORS = {"colour": 0.97, "shape": 0.92, "shape+colour": 0.91, "digit": 0.92, "count": 0.92,
                        "count+colour+shape": 0.87, "left/right": 0.95}


@pytest.mark.parametrize("attribute", list(UNSEEN_FAMILY_FLOORS))
def test_zero_shot_holds_up_on_the_held_out_families(bundled_engine, attribute):
    items = attribute_items(attribute, 500, seed=1, style="unseen-family")
    report = evaluate_items(bundled_engine, items, attribute, TEMPLATE)
    assert report.accuracy >= UNSEEN_FAMILY_FLOORS[attribute], f"{attribute}: {report.accuracy:.1%}"


def test_scanned_digits_are_read_above_chance(bundled_engine):
    """Issue 25's scanned-digit check: load_digits' 8x8 scans, real handwriting, never rendered. 63.6%
    measured (chance 10%; the previous checkpoints 58.6%, 58.4%, 60.6% and 47.2%), the first 29.7%. It
    never saw handwriting, only printed digits at scan resolution (the wide renderer), and the floor, 3
    points under, says so."""
    report = evaluate_items(bundled_engine, scanned_digit_items(500, seed=1), "digit", TEMPLATE)
    assert report.accuracy >= 0.60, f"{report.accuracy:.1%}"


def test_caption_ranking_puts_the_true_caption_first(bundled_engine, scene_files):
    paths, captions = scene_files
    firsts = [rank_captions(bundled_engine, open_image(p).image, captions)[0].caption == c
              for p, c in zip(paths, captions)]
    assert np.mean(firsts) >= 0.75, firsts


def test_eight_by_eight_similarity_is_diagonal_dominant(bundled_engine, scene_files):
    paths, captions = scene_files
    m = similarity_matrix(bundled_engine, [open_image(p).image for p in paths], captions).cosine
    assert (m.argmax(1) == np.arange(8)).mean() >= 0.75
    assert np.diag(m).mean() > m[~np.eye(8, dtype=bool)].mean() + 0.1


def test_probabilities_match_clipmodel_on_the_bundled_model(bundled_engine, scene_files):
    paths, captions = scene_files
    images = [open_image(p).image for p in paths[:4]]
    ours = zero_shot(bundled_engine, images, captions, ["{}"])
    got = torch.tensor([[next(s.score for s in r.scores if s.label == c) for c in captions] for r in ours])
    inputs = {**bundled_engine.tokenizer(captions, return_tensors="pt", padding=True),
              **bundled_engine.image_processor(images, return_tensors="pt")}
    with torch.no_grad():
        reference = bundled_engine.model(**inputs).logits_per_image.softmax(-1)
    torch.testing.assert_close(got, reference, atol=1e-5, rtol=0)


def test_same_answers_as_the_transformers_pipeline(bundled_engine, scene_files):
    from transformers import pipeline

    from clipdemo.registry import bundled_path

    paths, _ = scene_files
    labels = ["red circle", "blue star", "green triangle", "yellow square", "purple cross", "orange diamond"]
    pipe = pipeline("zero-shot-image-classification", model=bundled_path(), device="cpu")
    image = open_image(paths[0]).image
    reference = pipe(image, candidate_labels=labels, hypothesis_template="a photo of a {}.")
    (ours,) = zero_shot(bundled_engine, [image], labels, ["a photo of a {}."])
    assert [s.label for s in ours.scores] == [r["label"] for r in reference]
    np.testing.assert_allclose([s.score for s in ours.scores], [r["score"] for r in reference], atol=1e-5)


# tiny-scenes-siglip, the sigmoid-loss twin (its model card): tiny-scenes' three stages with the sigmoid loss
# (make checkpoint-siglip). Measured on the same 1,000 items each, seed 1: colour 100%, shape 99.3%,
# shape+colour 99.2%, digit 100%, count 98.6%, count+colour+shape 98.8%; on the held-out families (500 items):
# colour 99.6%, shape 86.8%, shape+colour 86.0%, digit 96.0%, count 90.4%, count+colour+shape 80.4%,
# left/right 97.8%. Issue 23 asked colour 97, shape 95, digit 93, count 90 on the first renderer, all met.
# These floors sit 3 points under what it measures, and never under one of those targets, so a retrain that
# loses ground fails (the twin before, 5,000 steps of the tune, fails the held-out ones: shape 78.2%,
# shape+colour 78.2%, count 84.4%, count+colour+shape 73.2%, left/right 94.6%).
SIGLIP_FLOORS = {"colour": 0.97, "shape": 0.963, "shape+colour": 0.962, "digit": 0.97, "count": 0.956,
                 "count+colour+shape": 0.958}
SIGLIP_UNSEEN_FAMILY_FLOORS = {"colour": 0.966, "shape": 0.838, "shape+colour": 0.83, "digit": 0.93,
                               "count": 0.874, "count+colour+shape": 0.774, "left/right": 0.948}


@pytest.fixture(scope="module")
def siglip_engine():
    from clipdemo.engine import ClipEngine

    return ClipEngine.load("tiny-scenes-siglip")


@pytest.mark.parametrize("attribute", list(SIGLIP_FLOORS))
def test_siglip_twin_meets_its_held_out_floor(siglip_engine, attribute):
    assert siglip_engine.family.name == "siglip"
    report = evaluate_items(siglip_engine, attribute_items(attribute, 1000, seed=1), attribute, TEMPLATE)
    assert report.accuracy >= SIGLIP_FLOORS[attribute], f"{attribute}: {report.accuracy:.1%}"


def test_siglip_twin_reads_scanned_digits(siglip_engine):
    """53.6% measured on these 500 scans (chance 10%; the twin before 48.8%; tiny-scenes 63.6%): it never saw
    handwriting."""
    report = evaluate_items(siglip_engine, scanned_digit_items(500, seed=1), "digit", TEMPLATE)
    assert report.accuracy >= 0.50, f"{report.accuracy:.1%}"


@pytest.mark.parametrize("attribute", list(SIGLIP_UNSEEN_FAMILY_FLOORS))
def test_siglip_twin_holds_up_on_the_held_out_families(siglip_engine, attribute):
    items = attribute_items(attribute, 500, seed=1, style="unseen-family")
    report = evaluate_items(siglip_engine, items, attribute, TEMPLATE)
    assert report.accuracy >= SIGLIP_UNSEEN_FAMILY_FLOORS[attribute], f"{attribute}: {report.accuracy:.1%}"


def test_siglip_twin_scores_equal_the_pipelines_sigmoid(siglip_engine, scene_files):
    from transformers import pipeline

    from clipdemo.registry import bundled_path

    paths, captions = scene_files
    pipe = pipeline("zero-shot-image-classification", model=bundled_path("tiny-scenes-siglip"), device="cpu")
    image = open_image(paths[1]).image
    reference = pipe(image, candidate_labels=captions, hypothesis_template="a photo of {}.")
    (ours,) = zero_shot(siglip_engine, [image], captions, ["a photo of {}."])
    assert ours.score_kind == "sigmoid" and ours.scores[0].label == captions[1] == reference[0]["label"]
    ref = {r["label"]: r["score"] for r in reference}
    np.testing.assert_allclose([s.score for s in ours.scores], [ref[s.label] for s in ours.scores], atol=1e-5)
