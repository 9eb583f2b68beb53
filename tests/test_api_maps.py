"""The saliency and embedding-map endpoints through gradio_client (and as MCP tools), on the bundled model."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from gradio_client import handle_file

from app_server import app_client, running_app
from clipdemo.ui import examples

SCENES = examples.SCENES


@pytest.fixture(scope="module")
def client():
    with app_client() as c:
        yield c


def test_endpoints_are_named(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/saliency", "/embedding_map", "/zero_shot_where", "/rank_captions_where", "/train"} <= names


def test_saliency_endpoint_points_at_each_named_object(client):
    scene = handle_file(str(SCENES / "an_orange_diamond_to_the_left_of_a_blue_circle.png"))
    notes, plot, words, maps_file = client.predict(scene, "orange diamond\nblue circle", "relevance",
                                                   api_name="/saliency")
    assert "Chefer" in notes and "bright" in notes
    out = json.load(open(maps_file))
    assert out["texts"] == ["orange diamond", "blue circle"] and out["method"] == "relevance"
    maps = np.array(out["maps"])
    width = maps.shape[2]
    assert maps.shape[1] == width  # a square image maps 1:1
    diamond_x = np.unravel_index(maps[0].argmax(), maps[0].shape)[1]
    circle_x = np.unravel_index(maps[1].argmax(), maps[1].shape)[1]
    assert diamond_x < width / 2 < circle_x  # the diamond is on the left, the circle on the right
    assert "diamond" in [token["token"].strip() for token in words]  # per-word relevance came back


def test_saliency_endpoint_refuses_no_texts(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="No texts"):
        client.predict(handle_file(str(SCENES / "a_green_triangle.png")), "  ", "occlusion", api_name="/saliency")


def test_embedding_map_endpoint_measures_the_gap_and_exports_csv(client):
    files = [handle_file(f) for f in examples.scene_files()]
    notes, plot, csv_file = client.predict(files, "\n".join(examples.scene_captions()), "PCA", False,
                                           api_name="/embedding_map")
    assert "centroid distance (the gap)" in notes and "zero-shot accuracy" in notes
    rows = list(csv.DictReader(open(csv_file)))
    assert len(rows) == 2 * len(files) and {r["kind"] for r in rows} == {"image", "text"}
    assert plot is not None


def test_maps_warn_of_photos_only_on_photos(client):
    """Issue #27 point 2 in the map tabs too: a scene gets no "trained on no photos" warning, a photo does."""
    caveat = "trained only on synthetic scenes"
    scene, photo = handle_file(str(SCENES / "two_red_circles.png")), handle_file(str(examples.PHOTOS / "chelsea.jpg"))
    notes, *_ = client.predict(scene, "red circle", "occlusion", api_name="/saliency")
    assert caveat not in notes
    notes, *_ = client.predict(photo, "red circle", "occlusion", api_name="/saliency")
    assert caveat in notes and "chelsea.jpg" in notes
    captions = "\n".join(examples.scene_captions())
    notes, *_ = client.predict([handle_file(f) for f in examples.scene_files()], captions, "PCA", False,
                               api_name="/embedding_map")
    assert caveat not in notes
    notes, *_ = client.predict([photo, scene], "a cat\nred circles", "PCA", False, api_name="/embedding_map")
    assert caveat in notes and "chelsea.jpg" in notes


def test_where_buttons(client):
    plot = client.predict([handle_file(str(SCENES / "a_green_triangle.png"))], examples.SCENE_LABELS,
                          "a photo of a {}.", False, api_name="/zero_shot_where")
    assert plot is not None
    plot = client.predict(handle_file(str(SCENES / "three_blue_stars.png")), "\n".join(examples.scene_captions()),
                          api_name="/rank_captions_where")
    assert plot is not None


def test_mcp_tools_include_saliency_and_embedding_map():
    import httpx

    with running_app(mcp=True) as (url, _):
        schema = httpx.get(url + "gradio_api/mcp/schema", timeout=60).json()
    tools = {t["name"]: t for t in schema}
    assert "Where in the image each text matches" in tools["saliency"]["description"]
    assert "method" in tools["saliency"]["inputSchema"]["properties"]
    assert "modality gap" in tools["embedding_map"]["description"]
