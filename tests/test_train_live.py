"""The Train tab's run (clipdemo/train/live.py): either loss, a fixed batch for the map, and the engine it becomes."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from clipdemo.train.live import create_live_run


@pytest.fixture(scope="module")
def trained():
    """trained(loss): a 3-step run of that loss, its weights before training and its reports (made once each)."""

    @functools.cache
    def run(loss: str):
        live = create_live_run(steps=3, batch_size=8, learning_rate=2e-3, seed=0, loss=loss)
        before = [p.detach().clone() for p in live.model.parameters()]
        return live, before, list(live.steps())

    return run


@pytest.mark.parametrize("loss, family", [("softmax", "CLIPModel"), ("sigmoid", "SiglipModel")])
def test_a_live_run_trains_the_model_of_its_loss(trained, loss, family):
    live, before, reports = trained(loss)
    assert type(live.model).__name__ == family
    assert [r.step for r in reports] == [1, 2, 3]  # a report every step: the page draws from step 1
    assert all(np.isfinite(r.loss) for r in reports)
    assert any(not torch.equal(a, b) for a, b in zip(before, live.model.parameters()))  # trained in place


@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_the_fixed_batch_is_the_same_scenes_every_time(trained, loss):
    live = trained(loss)[0]
    (pixels, captions), (again, captions_again) = live.fixed_batch(4), live.fixed_batch(4)
    assert torch.equal(pixels, again) and captions == captions_again and len(set(captions)) > 1


def test_the_engine_encodes_as_the_train_tab_drew_it(trained):
    """The model the other tabs get is the one trained: its text features are the map's."""
    live = trained("softmax")[0]
    pixels, captions = live.fixed_batch(4)
    _, text_features = live.embed(pixels, captions)
    engine = live.engine("trained here")
    assert engine.model is live.model and engine.info.knows_photos is False
    assert np.allclose(engine.encode_texts(captions).numpy(), text_features, atol=1e-5)


def test_the_temperature_and_bias_words_follow_the_numbers_shown():
    """A fall from 14.29 to 14.22 shows as 14.3 -> 14.2: it says "fell", never "unchanged" beside a falling
    curve; equal at the precision shown is "unchanged so far"."""
    from clipdemo.ui.train import change_words

    assert change_words(14.22, 14.29, ".1f") == "(fell from 14.3)"  # 14.3 -> 14.2 on the page
    assert change_words(14.28, 14.26, ".1f") == "(unchanged so far)"  # 14.3 and 14.3
    assert change_words(10.06, 10.0, ".1f") == "(rose from 10.0)"
    assert change_words(-9.996, -10.0, ".2f") == "(unchanged so far)"
    assert change_words(-9.98, -10.0, ".2f") == "(rose from -10.00)"
