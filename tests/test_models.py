"""Several models on one server (issue 24): each endpoint's `model` argument, refusals, the LRU bound, Compare.

The server offers tiny-scenes (bundled) and two tiny random checkpoints (a SigLIP and a CLIP) saved as a user
would save them, with at most two in memory.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from gradio_client import handle_file
from scipy.stats import spearmanr

from app_server import app_client
from clipdemo.ui import examples

SIGLIP, CLIP = "tiny-siglip", "tiny-clip"
SCENES = [str(examples.SCENES / f"{n}.png") for n in ("a_green_triangle", "a_purple_cross", "three_blue_stars")]
LABELS = ["green triangle", "purple cross", "blue star", "red circle", "yellow square"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, tokenizer):
    from families import save

    root = tmp_path_factory.mktemp("models")
    return save("siglip", tokenizer, root / SIGLIP), save("clip", tokenizer, root / CLIP, seed=1)


@pytest.fixture(scope="module")
def client(checkpoints):
    siglip, clip = checkpoints
    with app_client(models=["tiny-scenes", str(siglip), str(clip)], max_models=2) as c:
        yield c


def _files(paths):
    return [handle_file(p) for p in paths]


def _loaded(client) -> list[str]:
    return client.predict(api_name="/model_info")["models"]["loaded"]


def test_model_info_lists_the_offered_models_without_server_paths(client):
    models = client.predict(api_name="/model_info")["models"]
    # the models named at launch, then the bundled ones not named (tiny-scenes-siglip)
    assert models["offered"] == ["tiny-scenes", SIGLIP, CLIP, "tiny-scenes-siglip"] and models["default"] == "tiny-scenes"
    assert models["max_models"] == 2


@pytest.mark.parametrize("api_name, args, family_word", [
    ("/zero_shot", lambda: [_files(SCENES), "\n".join(LABELS), "{}", False, 3], None),
    ("/rank_captions", lambda: [handle_file(SCENES[0]), "\n".join(LABELS)], None),
    ("/similarity_matrix", lambda: [_files(SCENES), "\n".join(LABELS), "cosine"], None),
    ("/saliency", lambda: [handle_file(SCENES[0]), "green triangle", "occlusion"], None),
    ("/embedding_map", lambda: [_files(SCENES), "\n".join(LABELS[:3]), "PCA", False], None),
])
def test_each_endpoint_answers_with_the_model_it_names(client, api_name, args, family_word):
    """The notes of each result name the model that answered: the named one, or the default for ""."""
    named = client.predict(*args(), SIGLIP, api_name=api_name)[0]
    default = client.predict(*args(), "", api_name=api_name)[0]
    assert f"Answered by **`{SIGLIP}`** (sigmoid scores)" in named, named
    assert "Answered by **`tiny-scenes`** (softmax scores)" in default, default
    omitted = client.predict(*args(), api_name=api_name)[0]  # an old caller, who never heard of `model`
    assert "Answered by **`tiny-scenes`**" in omitted


def test_probes_search_and_recall_use_the_named_model(client):
    report = client.predict(["counting"], 10, "{}", 0, None, CLIP, api_name="/probe")[5]  # the JSON
    assert json.load(open(report))["model"] == CLIP
    *_, recall = client.predict(None, 5, 5, 0, CLIP, api_name="/evaluate_pairs")
    assert json.load(open(recall))["model"] == CLIP
    a = client.predict(handle_file(SCENES[0]), "\n".join(LABELS), 5, SIGLIP, api_name="/search_image")
    b = client.predict(handle_file(SCENES[0]), "\n".join(LABELS), 5, "tiny-scenes", api_name="/search_image")
    cos_a = {row[2]: row[1] for row in a["data"]}
    cos_b = {row[2]: row[1] for row in b["data"]}
    assert cos_a != cos_b  # two models, two sets of cosines for the same image and captions
    status = client.predict(_files(SCENES), "exact", SIGLIP, api_name="/index_gallery")
    assert f"model `{SIGLIP}`" in (status if isinstance(status, str) else status[0])


@pytest.mark.parametrize("name", ["openai/clip-vit-base-patch32", "/etc", "../tiny-siglip", "tiny-scenes "
                                  "; rm -rf /"])
def test_a_name_not_offered_is_refused_with_the_offered_ones(client, name):
    with pytest.raises(Exception) as err:
        client.predict(_files(SCENES[:1]), "red circle\nblue star", "{}", False, 2, name, api_name="/zero_shot")
    message = str(err.value)
    assert "is not offered by this server" in message and f"tiny-scenes, {SIGLIP}, {CLIP}" in message, message
    with pytest.raises(Exception, match="Nothing was trained in this browser session"):
        client.predict(_files(SCENES[:1]), "red circle\nblue star", "{}", False, 2, "trained here",
                       api_name="/zero_shot")


def test_at_most_max_models_stay_loaded_and_the_least_recently_used_goes(client):
    def use(name):
        client.predict(handle_file(SCENES[0]), "red circle\nblue star", name, api_name="/rank_captions")

    use("tiny-scenes"), use(SIGLIP)
    assert _loaded(client) == [SIGLIP, "tiny-scenes"]  # model_info uses the default: now the most recent
    use(CLIP)  # the third: the least recently used (SIGLIP, since model_info used tiny-scenes) goes
    assert _loaded(client) == [CLIP, "tiny-scenes"]
    use(SIGLIP)  # and it comes back when asked for, another one making room
    assert set(_loaded(client)) == {SIGLIP, "tiny-scenes"}


def test_compare_agreement_and_rank_correlation_equal_the_models_own_scores(client, checkpoints):
    """The Compare tab's numbers against a direct computation on each model's zero-shot scores."""
    from clipdemo.analysis.zero_shot import zero_shot
    from clipdemo.engine import load
    from clipdemo.images import open_images

    notes, _, _, _, per_image, _, table = client.predict(_files(SCENES), "\n".join(LABELS), "{}", 3, SIGLIP,
                                                          "tiny-scenes", api_name="/compare")
    images = [im.image for im in open_images(SCENES)[0]]
    own = {}
    for name, source in (("tiny-scenes", "tiny-scenes"), (SIGLIP, str(checkpoints[0]))):
        results = zero_shot(load(source, "cpu", backend="torch"), images, LABELS, ["{}"])
        own[name] = np.array([[{s.label: s.score for s in r.scores}[label] for label in LABELS] for r in results])
    agree = own["tiny-scenes"].argmax(1) == own[SIGLIP].argmax(1)
    rho = [spearmanr(a, b).statistic for a, b in zip(own["tiny-scenes"], own[SIGLIP])]
    rows = [dict(zip(per_image["headers"], row)) for row in per_image["data"]]
    assert [r["Top-1 agrees"] == "yes" for r in rows] == agree.tolist()
    assert [r["Spearman ρ"] for r in rows] == pytest.approx(rho, abs=1e-3)
    assert f"Top-1 agreement: {agree.mean():.0%}" in notes and f"{np.mean(rho):.2f}" in notes
    assert "sigmoid" in notes and "softmax" in notes  # the two kinds of score are named
    exported = list(csv.DictReader(open(table)))
    assert len(exported) == len(SCENES) * len(LABELS) and {r["model_b"] for r in exported} == {SIGLIP}


def test_compare_probes_runs_both_models_on_the_same_items(client):
    from clipdemo.text import percent

    _, chart, table, exported = client.predict(["counting", "spatial"], 10, "{}", 0, CLIP, "tiny-scenes",
                                               api_name="/compare_probes")
    rows = list(csv.DictReader(open(exported)))
    assert [r["Suite"] for r in rows] == ["counting", "spatial"]
    assert all(0 <= float(r["A: tiny-scenes"]) <= 1 and 0 <= float(r[f"B: {CLIP}"]) <= 1 for r in rows)
    # the bundled model was trained on these suites' scenes: it beats a random CLIP on counting
    assert float(rows[0]["A: tiny-scenes"]) > float(rows[0][f"B: {CLIP}"])
    # the page shows the same numbers as percentages, as the Probes tab does
    shown = [dict(zip(table["headers"], row)) for row in table["data"]]
    assert [r["A: tiny-scenes"] for r in shown] == [percent(float(r["A: tiny-scenes"])) for r in rows]
    assert shown[0]["Chance"] == "16.7%"


def test_disagreements_leave_out_labels_both_models_reject():
    """Below a confident softmax's winner every label scores 0.0%: ranks among labels both models score under
    1% are noise, and listing them (the largest rank gaps) hid the one place the models part."""
    from clipdemo.analysis.compare import ModelScores, compare

    a = np.array([[0.97, 0.02, 0.004, 0.003, 0.002, 0.001]])  # a softmax: one winner, then a runner-up
    b = np.array([[0.95, 0.001, 0.30, 0.002, 0.004, 0.003]])  # sigmoid: rejects A's runner-up, likes label 2
    result = compare(ModelScores("A", "softmax", a, a), ModelScores("B", "sigmoid", b, b), ["x.png"], list("pqrstu"))
    assert [(d.label, d.rank_a, d.rank_b) for d in result.disagreements] == [("q", 2, 6), ("r", 3, 2)]


def test_spearman_with_ties_matches_scipy():
    from clipdemo.analysis.compare import spearman

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, (20, 7)).astype(float), rng.normal(size=(20, 7))
    expected = [spearmanr(x, y).statistic for x, y in zip(a, b)]
    assert spearman(a, b) == pytest.approx(expected, nan_ok=True)


def test_command_line_offers_each_model_and_bounds_memory(monkeypatch, checkpoints):
    """`--model A --model B --max-models 1` reaches the engine's pool; CLIPDEMO_MODEL still names one model."""
    from clipdemo import engine
    from clipdemo.ui import app

    monkeypatch.setattr(app, "launch", lambda *args, **kwargs: None)
    try:
        app.main(["--model", "tiny-scenes", "--model", str(checkpoints[0]), "--max-models", "1", "--backend", "torch"])
        pool = engine.get_pool()
        assert pool.offered()[:2] == ["tiny-scenes", SIGLIP] and pool.default == "tiny-scenes"
        assert pool.max_models == 1
        monkeypatch.setenv("CLIPDEMO_MODEL", str(checkpoints[1]))
        assert app.parse_args([]).model == [str(checkpoints[1])]
        assert app.parse_args(["--model", "tiny-scenes"]).model == ["tiny-scenes"]
        assert app.parse_args([]).max_models == 3
    finally:
        engine.configure()


def test_a_default_that_cannot_load_is_offered_as_the_model_that_answers(monkeypatch):
    """Offline, the default CLIP falls back to the bundled model: the picker then offers it under its own name
    (not CLIP's), the default's name still reaches it, and picking it by name loads nothing more."""
    from clipdemo.engine import pool as pool_module
    from clipdemo.engine.pool import ModelPool
    from clipdemo.registry import BUNDLED_MODEL, DEFAULT_MODEL

    loads = []
    original = pool_module.load_with_fallback

    def load(source, *args):
        loads.append(source)
        if source is None:  # the default, as if it could not be downloaded here
            return original(BUNDLED_MODEL, *args)
        return original(source, *args)

    monkeypatch.setattr(pool_module, "load_with_fallback", load)
    pool = ModelPool()
    assert pool.offered()[0] == DEFAULT_MODEL
    engine = pool.get()
    assert engine.info.name == BUNDLED_MODEL
    assert pool.offered()[0] == BUNDLED_MODEL and DEFAULT_MODEL not in pool.offered()
    assert pool.default == BUNDLED_MODEL and pool.check(DEFAULT_MODEL) == BUNDLED_MODEL
    assert pool.get(BUNDLED_MODEL) is engine and pool.get(DEFAULT_MODEL) is engine
    assert loads == [None] and pool.loaded() == [BUNDLED_MODEL]


def test_a_probe_gap_is_called_only_beyond_noise():
    """Compare's probe summary: 54% against 48% on 50 items is noise, not "A is ahead"; the same gap on
    5,000 items is not; 30% on a 50%-chance suite of 50 items is below chance, 38% is not."""
    from clipdemo.analysis.compare import ahead, below_chance, noise

    assert noise(0.5, 0.5, 50) == pytest.approx(0.2)
    assert ahead(0.54, 0.48, 50) == "" and ahead(0.96, 0.38, 50) == "A" and ahead(0.38, 0.96, 50) == "B"
    assert ahead(0.54, 0.48, 5000) == "A"
    assert below_chance(0.30, 0.5, 50) and not below_chance(0.38, 0.5, 50)
