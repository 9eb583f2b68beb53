"""Every verified family on a tiny random checkpoint, loaded as `--model DIR` loads it: the scores equal
transformers' zero-shot pipeline, texts are padded as each family was trained, sigmoid scores stay
independent, and the models that cannot load say why."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from clipdemo.analysis.captions import rank_captions
from clipdemo.analysis.similarity import similarity_matrix
from clipdemo.analysis.zero_shot import zero_shot
from clipdemo.engine import load
from clipdemo.engine.families import FAMILIES
from clipdemo.errors import ModelError
from clipdemo.scenes import group_scene, scene_rng

from families import save

VERIFIED = ["clip", "siglip", "siglip2", "metaclip_2"]
LABELS = ["a red circle", "three blue stars on the left", "the digit 7", "xylophone", "a green triangle"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, tokenizer):
    root = tmp_path_factory.mktemp("families")
    return {family: save(family, tokenizer, root / f"tiny-{family}") for family in VERIFIED}


def _image(seed=4):
    return group_scene(scene_rng(seed, "heldout")).image


def test_every_family_in_the_table_is_verified_here():
    assert sorted(f.name for f in FAMILIES) == sorted(VERIFIED)


@pytest.mark.parametrize("family", VERIFIED)
def test_zero_shot_equals_the_transformers_pipeline(family, checkpoints):
    from transformers import pipeline

    pipe = pipeline("zero-shot-image-classification", model=str(checkpoints[family]), device="cpu")
    image = _image()
    reference = pipe(image, candidate_labels=LABELS, hypothesis_template="a photo of {}.")
    engine = load(str(checkpoints[family]))
    assert engine.family.name == family
    (ours,) = zero_shot(engine, [image], LABELS, ["a photo of {}."])
    ref = {r["label"]: r["score"] for r in reference}
    np.testing.assert_allclose([s.score for s in ours.scores], [ref[s.label] for s in ours.scores], atol=1e-5)
    assert ours.score_kind == ("sigmoid" if family.startswith("siglip") else "softmax")


def test_zero_shot_through_the_api_equals_the_pipeline_for_every_family(checkpoints, tmp_path):
    """What a client of the served app gets: `/zero_shot` with `model` naming each family's checkpoint,
    called through gradio_client, scores as transformers' pipeline does on the same checkpoint."""
    import pandas as pd
    from gradio_client import handle_file
    from transformers import pipeline

    from app_server import app_client

    image = _image()
    image.save(tmp_path / "scene.png")  # PNG: the server reads the same pixels
    with app_client(models=[str(checkpoints[f]) for f in VERIFIED]) as client:
        assert set(client.predict(api_name="/model_info")["models"]["offered"]) >= {
            checkpoints[f].name for f in VERIFIED}
        for family in VERIFIED:
            name = checkpoints[family].name
            notes, _, _, csv = client.predict([handle_file(tmp_path / "scene.png")], "\n".join(LABELS),
                                              "a photo of {}.", False, 5, name, api_name="/zero_shot")
            assert notes.startswith(f"Answered by **`{name}`**"), notes
            ours = pd.read_csv(csv)
            pipe = pipeline("zero-shot-image-classification", model=str(checkpoints[family]), device="cpu")
            ref = {r["label"]: r["score"] for r in pipe(image, candidate_labels=LABELS,
                                                        hypothesis_template="a photo of {}.")}
            np.testing.assert_allclose(ours["probability"], [ref[label] for label in ours["label"]],
                                       atol=1e-5, err_msg=family)
            assert set(ours["score"]) == {"sigmoid" if family.startswith("siglip") else "softmax"}


@pytest.mark.parametrize("family", ["siglip", "siglip2"])
def test_sigmoid_scores_are_independent_never_renormalised(family, checkpoints):
    engine = load(str(checkpoints[family]))
    image = _image()
    (one,) = zero_shot(engine, [image], LABELS[:2], ["{}"])
    (many,) = zero_shot(engine, [image], LABELS, ["{}"])
    by_label = {s.label: s.score for s in many.scores}
    for s in one.scores:  # adding candidates changes no other label's score
        assert s.score == pytest.approx(by_label[s.label], abs=1e-6)
    assert abs(sum(by_label.values()) - 1) > 1e-3  # not a distribution over the labels
    inputs = {**engine.text_inputs(LABELS), **engine.image_inputs([image])}
    with torch.no_grad():
        reference = torch.sigmoid(engine.model(**inputs).logits_per_image)[0]
    ours = torch.tensor([by_label[label] for label in LABELS])
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)
    captions = rank_captions(engine, image, LABELS)
    assert {c.caption: c.probability for c in captions} == pytest.approx(by_label, abs=1e-6)
    matrix = similarity_matrix(engine, [image, _image(5)], LABELS)
    np.testing.assert_allclose(matrix.view("sigmoid (per pair)")[0], ours.numpy(), atol=1e-5)


def test_siglip_texts_are_padded_to_max_length_as_trained(checkpoints):
    engine = load(str(checkpoints["siglip"]))
    inputs = engine.text_inputs(["a red circle"])
    assert inputs["input_ids"].shape == (1, 64)
    with torch.no_grad():
        as_trained = engine.model.get_text_features(**inputs).pooler_output
        longest = engine.model.get_text_features(
            **engine.tokenizer(["a red circle"], padding=True, return_tensors="pt")).pooler_output
    # SigLIP pools the last position: padded to the longest text it reads another token, another embedding
    assert torch.nn.functional.cosine_similarity(as_trained, longest).item() < 0.99
    torch.testing.assert_close(engine.encode_texts(["a red circle"])[0],
                               as_trained[0] / as_trained[0].norm(), atol=1e-6, rtol=0)


def test_token_limit_is_the_models_own(checkpoints):
    long = " ".join(["word"] * 100)
    for family, limit in (("clip", 77), ("siglip", 64)):
        engine = load(str(checkpoints[family]))
        assert engine.max_text_tokens == engine.info.max_text_tokens == limit
        (caption,) = rank_captions(engine, _image(), [long])
        assert caption.truncated


def test_model_info_shows_no_server_path(checkpoints):
    engine = load(str(checkpoints["siglip"]))
    info = json.dumps(asdict(engine.info))
    assert engine.info.source == "tiny-siglip" and engine.info.family == "siglip"
    assert str(checkpoints["siglip"].parent) not in info


def test_relevance_is_refused_for_an_attention_pooled_model_with_occlusion_named(checkpoints):
    from clipdemo.analysis.saliency import saliency
    from clipdemo.errors import InputError

    engine = load(str(checkpoints["siglip"]))
    with pytest.raises(InputError, match="occlusion"):
        saliency(engine, _image(), ["a red circle"], method="relevance")
    result = saliency(engine, _image(), ["a red circle"], method="occlusion")
    assert result.maps.shape[0] == 1 and np.isfinite(result.maps).all()


@pytest.mark.parametrize("backend", ["int8", "onnx"])
def test_cpu_backends_serve_siglip_or_refuse_clearly(backend, checkpoints, tmp_path, monkeypatch):
    from clipdemo.errors import InputError

    monkeypatch.setenv("CLIPDEMO_CACHE", str(tmp_path))
    engine = load(str(checkpoints["siglip"]), backend=backend)
    assert engine.info.backend == backend and engine.info.agreement["min_cosine"] >= 0.995
    if backend == "onnx":
        with pytest.raises(InputError, match="NaFlex"):
            load(str(checkpoints["siglip2"]), backend=backend)


def test_unsupported_architecture_is_refused_by_name(tmp_path):
    folder = tmp_path / "align-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "align"}))
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelError, match=r"Unsupported architecture 'align'.*Supported families: clip, metaclip_2"):
        load(str(folder))


def test_missing_files_are_named(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load(str(empty))
    (empty / "config.json").write_text(json.dumps({"model_type": "siglip"}))
    with pytest.raises(ModelError, match="no weights"):
        load(str(empty))
