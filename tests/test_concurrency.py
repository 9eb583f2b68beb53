"""20 concurrent clients across the endpoints: every request answered, one model in memory."""

from __future__ import annotations

import concurrent.futures as cf

import pytest
from gradio_client import Client, handle_file

from app_server import running_app
from clipdemo.engine import pool as pool_module
from clipdemo.engine.pool import ModelPool
from clipdemo.ui import common, examples


@pytest.mark.slow
def test_twenty_concurrent_clients(monkeypatch):
    loads, served_by = [], []
    original = pool_module.load_with_fallback  # how the pool loads a model
    monkeypatch.setattr(pool_module, "load_with_fallback", lambda *a, **k: loads.append(a) or original(*a, **k))
    # every request's handler asks the model pool for its engine: record which one each request got
    pool_get = ModelPool.get

    def get(self, name=None):
        engine = pool_get(self, name)
        served_by.append(id(engine))
        return engine

    monkeypatch.setattr(ModelPool, "get", get)
    files = [handle_file(f) for f in examples.scene_files()]
    captions = "\n".join(examples.scene_captions())

    def call(i: int, url: str):
        client = Client(url, verbose=False)
        try:
            kind = i % 4
            if kind == 0:
                return client.predict(files[:2], examples.SCENE_LABELS, "a photo of a {}.", False, 3,
                                      api_name="/zero_shot")[2]["data"][0][2]
            if kind == 1:
                return client.predict(files[i % 8], captions, api_name="/rank_captions")[2]["data"][0][1]
            if kind == 2:
                return client.predict(files, captions, "cosine", api_name="/similarity_matrix")[2]
            return client.predict(api_name="/model_info")["name"]
        finally:
            client.close()

    with running_app() as (url, _):
        with cf.ThreadPoolExecutor(20) as pool:
            results = list(pool.map(lambda i: call(i, url), range(20)))
    assert len(results) == 20 and all(results)
    assert len(loads) == 1
    assert len(served_by) >= 20 and len(set(served_by)) == 1  # every request served by the one engine


def test_every_model_request_waits_in_one_queue():
    """One first-come-first-served queue for the model's requests: with a queue per endpoint, the endpoint whose
    calls hold their slots a little longer collects nearly every waiting client (issue #26). Long jobs (indexing,
    Recall@K, training, probe suites, the embedding map with UMAP) keep their own queue, so they never hold the
    model queue's slots for minutes."""
    from clipdemo.ui.app import build_demo

    queue_of = {fn.api_name: fn.concurrency_id for fn in build_demo().fns.values()}
    requests = ["zero_shot", "zero_shot_cifar100", "compare", "zero_shot_where", "rank_captions",
                "rank_captions_where", "similarity_matrix", "similarity_matrix_view", "saliency", "search_text",
                "search_text_submit", "search_image"]
    assert {queue_of[name] for name in requests} == {common.MODEL_QUEUE}
    long_jobs = ["index_gallery", "evaluate_pairs", "train", "probe", "compare_probes", "embedding_map",
                 "embedding_map_redraw"]
    assert common.MODEL_QUEUE not in {queue_of[name] for name in long_jobs}
    assert len({queue_of[name] for name in long_jobs}) == len(long_jobs)


def test_the_embedding_maps_options_redraw_through_one_event():
    """Both options (projection, remove the means) start one event that runs the latest change after the current
    one: with an event each, two quick changes ran side by side and the slower, stale map could land last (a
    browser test caught a gap-axis map left on screen after PCA was chosen)."""
    from clipdemo.ui.app import build_demo

    fns = {fn.api_name: fn for fn in build_demo().fns.values()}
    start, redraw = fns["embedding_map_redraw_start"], fns["embedding_map_redraw"]
    assert [event for _, event in start.targets] == ["change", "change"]
    assert len({block for block, _ in start.targets}) == 2
    assert redraw.trigger_mode == "always_last"
