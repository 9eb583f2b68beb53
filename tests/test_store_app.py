"""`python app.py --store STORE`: the Search tab serves a store built by `python -m clipdemo index`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gradio_client import Client

from app_server import free_port
from clipdemo.search import index_source

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def served(bundled_engine, tmp_path_factory):
    """A store of eight held-out scenes, served by the real command line in its own process."""
    from clipdemo.scenes import group_scene, scene_rng

    rng = scene_rng(11, "heldout")
    gallery = tmp_path_factory.mktemp("gallery")
    for i, (n, colour, shape) in enumerate([(1, "red", "circle"), (3, "blue", "star"), (2, "green", "triangle"),
                                            (1, "yellow", "square"), (4, "purple", "cross")]):
        group_scene(rng, n=n, colour=colour, shape=shape).image.save(gallery / f"{colour}_{shape}.png")
    store = tmp_path_factory.mktemp("store")
    index_source(str(gallery), str(store), clip_engine=bundled_engine, progress=False)
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "app.py", "--store", str(store), "--port", str(port)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url, client = f"http://127.0.0.1:{port}/", None
    try:
        deadline = time.monotonic() + 90
        while client is None:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start:\n" + (server.stdout.read() if server.poll() is not None
                                                                 else "(still starting after 90 s)"))
            try:
                client = Client(url, verbose=False)
            except Exception:  # not listening yet
                time.sleep(0.5)
        yield client, store, server.pid
    finally:
        if client is not None:
            client.close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def test_the_search_tab_serves_the_store(served):
    client, store, pid = served
    images, table = client.predict("three blue stars", 3, api_name="/search_text")
    rows = [dict(zip(table["headers"], row)) for row in table["data"]]
    assert [row["Rank"] for row in rows] == [1, 2, 3]
    assert rows[0]["Image"].endswith("/blue_star.png"), table
    assert re.fullmatch(r"[-\d.]+ · blue_star\.png", images[0]["caption"]) and len(images) == 3
    info = client.predict(api_name="/model_info")
    assert info["name"] == "tiny-scenes" and info["backend"] == "torch"  # the store's model, unasked
    maps = Path(f"/proc/{pid}/maps").read_text() if Path(f"/proc/{pid}/maps").exists() else None
    if maps is not None:  # Linux: the index is mapped from its file, not read into the heap
        assert str(store / "index.faiss") in maps


def test_indexing_nothing_points_at_the_store(served):
    client, _, _ = served
    with pytest.raises(Exception, match="serves a store"):
        client.predict(None, "exact", api_name="/index_gallery")
