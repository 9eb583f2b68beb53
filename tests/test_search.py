"""The one search path: the command line and the Search tab search a store through one function, under one
serving-backend rule and one model fingerprint."""

from __future__ import annotations

import shutil

import pytest
import torch

from clipdemo.errors import InputError
from clipdemo.search import index_source, open_store, query, search_store


@pytest.fixture
def store(bundled_engine, scene_files, tmp_path):
    """A store of the eight held-out scenes, built by the bundled model."""
    paths, captions = scene_files
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for p in paths:
        shutil.copy(p, gallery)
    index_source(str(gallery), str(tmp_path / "store"), clip_engine=bundled_engine, progress=False)
    return tmp_path / "store", captions


def _spy(monkeypatch):
    """Record every call of the one search function, wherever it was imported."""
    from clipdemo import search as package
    from clipdemo.ui import search as tab

    calls = []

    def spy(*args, **kwargs):
        calls.append(query.search_store(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(package, "search_store", spy)
    monkeypatch.setattr(tab, "search_store", spy)
    return calls


def test_the_command_line_and_the_search_tab_give_the_same_hits(bundled_engine, store, capsys, monkeypatch):
    from clipdemo.__main__ import main
    from clipdemo.ui import search as tab
    from clipdemo.ui.state import ServerState

    folder, captions = store
    calls = _spy(monkeypatch)
    assert main(["search", str(folder), captions[1], "-k", "4"]) == 0
    printed = [line.split() for line in capsys.readouterr().out.strip().splitlines()[1:]]
    state = ServerState(store=tab.open_served_store(str(folder)))  # what the app's --store does
    images, table = tab.search_text(captions[1], 4, None, None, "tiny-scenes", state=state)  # the store's model
    assert len(calls) == 2 and calls[0] == calls[1]  # both went through search_store, with one answer
    shown = [(int(r["Rank"]), f"{r['Cosine']:.4f}", r["Image"]) for _, r in table.iterrows()]
    assert shown == [(int(rank), score, path) for rank, score, path in printed]
    assert len(shown) == 4 and shown[0][2].endswith("scene1.png")  # "three blue stars" finds its scene
    assert [caption.split(" · ")[1] for _, caption in images] == [path.rsplit("/", 1)[1] for *_, path in printed]


def test_a_cpu_backend_store_is_served_by_the_model_itself_on_a_gpu(store, monkeypatch):
    """The app's rule, now the command line's too: int8 and ONNX run on CPU only, so a GPU serves such a
    store with the model as loaded; a CPU machine keeps the store's backend."""
    from clipdemo.engine import ClipEngine

    folder, _ = store
    opened = open_store(folder)
    opened.manifest["backend"] = "int8"
    asked = []
    monkeypatch.setattr(ClipEngine, "load", classmethod(lambda cls, name, device, backend: asked.append(backend)))
    query.load_engine_for(opened, device="cuda")
    query.load_engine_for(opened, device="cpu")
    assert asked == ["torch", "int8"]
    assert query.serving_backend("onnx", "cuda:1") is None and query.serving_backend("onnx", "cpu") == "onnx"


def test_a_store_refuses_another_models_query(store, random_engine):
    folder, captions = store
    with pytest.raises(InputError, match=r"was built with model 'tiny-scenes', not 'random-tiny'"):
        search_store(open_store(folder), random_engine, captions[0])


def test_the_fingerprint_changes_with_any_weight_and_not_with_fp16(tokenizer):
    from clipdemo.engine.fingerprint import model_fingerprint
    from clipdemo.train.model import build_model

    model = build_model(tokenizer, seed=1, width=32, vision_layers=1, text_layers=1)
    before = model_fingerprint(model)
    assert model_fingerprint(build_model(tokenizer, seed=1, width=32, vision_layers=1, text_layers=1)) == before
    with torch.no_grad():  # a weight deep inside one tower, changed in place (as an optimiser step does)
        model.text_model.encoder.layers[0].mlp.fc1.weight[3, 5] += 0.5
    changed = model_fingerprint(model)
    assert changed != before
    assert model_fingerprint(model.half()) == changed
