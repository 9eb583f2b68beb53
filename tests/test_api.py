"""Every API endpoint through gradio_client, on the bundled model, including calls that break the limits."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file

from app_server import app_client, running_app
from clipdemo.limits import MAX_IMAGES, MAX_TEXTS
from clipdemo.ui import examples
from clipdemo.ui.state import ServerState

SCENES = examples.SCENES


@pytest.fixture(scope="module")
def client():
    state = ServerState()
    with app_client(state=state) as c:
        c.state = state
        yield c


def _scene(name):
    return handle_file(str(SCENES / f"{name}.png"))


PUBLIC_ENDPOINTS = {"/zero_shot", "/zero_shot_where", "/rank_captions", "/rank_captions_where", "/similarity_matrix",
                    "/saliency", "/embedding_map", "/index_gallery", "/search_text", "/search_image",
                    "/evaluate_pairs", "/probe", "/train", "/stop_training", "/model_info", "/compare",
                    "/compare_probes"}


def test_named_endpoints_are_the_contract(client):
    """Exactly these: none renamed by accident, no UI helper (`*_start`, `*_failed`, previews) made public."""
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == PUBLIC_ENDPOINTS, (sorted(names - PUBLIC_ENDPOINTS), sorted(PUBLIC_ENDPOINTS - names))


def _rows(table: dict) -> list[dict]:
    """A table from the API as dicts keyed by its (readable) column names."""
    return [dict(zip(table["headers"], row)) for row in table["data"]]


def test_model_info(client):
    info = client.predict(api_name="/model_info")
    assert info["name"] == "tiny-scenes" and info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["parameters"] > 100_000 and info["logit_scale"] > 1
    assert info["knows_photos"] is False  # from the bundled model card's front matter


def test_results_of_a_model_that_knows_no_photos_carry_the_warning_on_photos_only(client):
    """Issue #16 point 2: beside the numbers, not only in the banner; issue #27 point 2: only when the
    input is likely a photo (a scene gets no such warning)."""
    notes, *_ = client.predict([handle_file(str(examples.PHOTOS / "chelsea.jpg"))], "cat\ncup of coffee",
                               "a photo of a {}.", False, 2, api_name="/zero_shot")
    assert "`tiny-scenes` was trained only on synthetic scenes" in notes and "confident noise" in notes
    assert "chelsea.jpg" in notes.split("trained only on synthetic scenes")[1]  # it names the photo
    notes, *_ = client.predict(_scene("three_blue_stars"), "three blue stars\na purple cross",
                               api_name="/rank_captions")
    assert "trained only on synthetic scenes" not in notes


def test_zero_shot_right_label_wins(client):
    notes, _, table, csv_file = client.predict(
        [_scene("a_green_triangle"), _scene("a_purple_cross")], examples.SCENE_LABELS, "a photo of a {}.", False, 3,
        api_name="/zero_shot")
    top = {row["Image"]: row["Label"] for row in _rows(table) if row["Rank"] == 1}
    assert top == {"a_green_triangle.png": "green triangle", "a_purple_cross.png": "purple cross"}
    rows = list(csv.DictReader(open(csv_file)))
    assert len(rows) == 2 * 6  # the CSV has every label, the table only the top 3
    for image in top:
        assert sum(float(r["probability"]) for r in rows if r["image"] == image) == pytest.approx(1, abs=1e-3)


def test_zero_shot_bad_file_is_reported_and_the_rest_processed(client, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    notes, _, table, _ = client.predict([_scene("a_green_triangle"), handle_file(str(bad))], examples.SCENE_LABELS,
                                        "a photo of a {}.", False, 3, api_name="/zero_shot")
    assert "broken.png" in notes
    assert {row["Image"] for row in _rows(table)} == {"a_green_triangle.png"}


@pytest.mark.parametrize("labels,template,message", [
    ("", "a photo of a {}.", "No labels given"),
    ("cat\ndog", "a photo of a cat", "exactly once"),
    ("\n".join(f"label {i}" for i in range(MAX_TEXTS + 1)), "{}", f"limit is {MAX_TEXTS}"),
])
def test_zero_shot_bad_text_gives_the_promised_message(client, labels, template, message):
    with pytest.raises(Exception, match=message):
        client.predict([_scene("a_green_triangle")], labels, template, False, 3, api_name="/zero_shot")


def test_too_many_images_is_refused(client):
    files = [_scene("a_green_triangle")] * (MAX_IMAGES + 1)
    with pytest.raises(Exception, match=f"limit is {MAX_IMAGES}"):
        client.predict(files, "a\nb", "{}", False, 3, api_name="/zero_shot")


def test_only_bad_files_is_a_clear_error(client, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(Exception, match="notes.txt: not an image"):
        client.predict([handle_file(str(bad))], "a\nb", "{}", False, 3, api_name="/zero_shot")


def test_thousand_labels(client):
    labels = "\n".join(["green triangle"] + [f"label number {i}" for i in range(999)])
    _, _, table, _ = client.predict([_scene("a_green_triangle")], labels, "a photo of a {}.", False, 5,
                                    api_name="/zero_shot")
    assert len(table["data"]) == 5


def test_rank_captions_truth_first_and_long_caption_flagged(client):
    long_caption = " ".join(["a very long caption"] * 75)  # 300 words
    notes, _, table, _ = client.predict(
        _scene("an_orange_diamond_to_the_left_of_a_blue_circle"),
        "an orange diamond to the left of a blue circle\nthe digit 4\nthree green stars\ntwo red crosses\n"
        + long_caption,
        api_name="/rank_captions")
    assert _rows(table)[0]["Caption"] == "an orange diamond to the left of a blue circle"
    assert "truncated" in notes
    assert [row["Cut at 77 tokens"] for row in _rows(table) if row["Caption"] == long_caption] == ["yes"]


def test_similarity_matrix_views_and_csv(client):
    files, captions = examples.scene_files(), "\n".join(examples.scene_captions())
    matrices = {}
    for view in ("cosine", "softmax over texts", "softmax over images"):
        _, figure, csv_file = client.predict([handle_file(f) for f in files], captions, view,
                                             api_name="/similarity_matrix")
        rows = list(csv.reader(open(csv_file)))
        assert rows[0][1:] == examples.scene_captions()
        matrices[view] = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(matrices["softmax over texts"].sum(1), 1, atol=1e-4)
    np.testing.assert_allclose(matrices["softmax over images"].sum(0), 1, atol=1e-4)
    cos = matrices["cosine"]
    assert (cos.argmax(1) == np.arange(len(cos))).mean() >= 0.75  # mostly diagonal


def test_upload_size_is_limited_by_the_server(client):
    import httpx

    # Straight to the server, past gradio_client's own check: the server must refuse it too.
    response = httpx.post(client.src.rstrip("/") + "/gradio_api/upload",
                          files={"files": ("huge.png", b"\0" * (26 * 1024 * 1024), "image/png")}, timeout=60)
    assert response.status_code == 413, response.text


def test_train_endpoint_streams_and_lowers_loss(client):
    job = client.submit(20, 16, 3e-3, 0, api_name="/train")
    outputs = list(job)
    assert len(outputs) >= 2
    run_id, final = job.outputs()[-1][:2]
    assert len(run_id) >= 16 and "Step **20/20**" in final and "Done" in final


def test_stop_training_stops_only_the_run_it_names(client):
    first = client.submit(2000, 8, 3e-3, 0, api_name="/train")
    while not first.outputs():  # the run id comes with the first update
        time.sleep(0.2)
    first_id = first.outputs()[0][0]
    assert "No run with that id" in client.predict("not-a-run", api_name="/stop_training")
    assert not first.done()
    assert "Stopping" in client.predict(first_id, api_name="/stop_training")
    run_id, final = first.result(timeout=120)[:2]
    assert run_id == first_id and "Stopped" in final and "Step **2000/2000**" not in final
    assert len(client.state.runs) == 0  # an ended run leaves nothing behind


def test_train_with_the_sigmoid_loss_streams_t_and_b_and_can_be_stopped(client):
    """/train's last parameter picks SigLIP's loss: the curves carry b, the heatmap sigmoid probabilities."""
    job = client.submit(2000, 8, 3e-3, 0, "sigmoid", api_name="/train")
    deadline = time.monotonic() + 240
    while len(job.outputs()) < 2 and time.monotonic() < deadline:  # the first drawn update, after the run id
        time.sleep(0.2)
    run_id = job.outputs()[0][0]
    assert "Stopping" in client.predict(run_id, api_name="/stop_training")
    final = job.result(timeout=120)[1]
    assert "Stopped" in final and "logit_bias b" in final, final
    drawn = [o for o in job.outputs() if isinstance(o[2], dict) and "plot" in o[2]]  # the last one skips them
    curves, batch = (json.loads(p["plot"]) for p in drawn[-1][2:4])
    assert [d["name"] for d in curves["data"]][-1] == "logit_bias b"
    bias = curves["data"][-1]["y"]
    assert -10.5 < bias[0] < -9.5  # SigLIP's start, b = -10
    assert "sigmoid(t·cos + b)" in batch["layout"]["title"]["text"]
    cells = np.array(batch["data"][0]["text"], float)  # the printed cells (z is binary-encoded)
    assert cells.shape == (8, 8) and cells.min() >= 0 and cells.max() <= 1
    assert not np.allclose(cells.sum(1), 1)  # independent probabilities, not rows that sum to 1


def test_the_queue_cannot_be_skipped_and_is_bounded(client):
    import httpx

    from clipdemo.limits import QUEUE_SIZE

    # The REST route that would run an event outside the queue is closed (queue(api_open=False)).
    response = httpx.post(client.src.rstrip("/") + "/gradio_api/run/model_info", json={"data": []}, timeout=30)
    assert response.status_code >= 400, response.text
    config = httpx.get(client.src.rstrip("/") + "/config", timeout=30).json()
    assert config["max_file_size"] == 25 * 1024 * 1024
    assert client.demo._queue.max_size == QUEUE_SIZE


def test_mcp_serves_the_endpoints_as_documented_tools():
    import httpx

    with running_app(mcp=True) as (url, _):
        schema = httpx.get(url + "gradio_api/mcp/schema", timeout=60).json()
    tools = {t["name"]: t for t in schema}
    for name in ("zero_shot", "rank_captions", "similarity_matrix", "model_info", "compare"):
        assert name in tools, list(tools)
    assert "model" in tools["zero_shot"]["inputSchema"]["properties"]
    assert {"model", "other_model"} <= set(tools["compare"]["inputSchema"]["properties"])
    assert "Zero-shot image classification" in tools["zero_shot"]["description"]
    assert "candidate_labels" in tools["zero_shot"]["inputSchema"]["properties"]


def test_gallery_folder_search_both_ways(client, tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPDEMO_CACHE", str(tmp_path / "cache"))
    client.state.gallery_folder = str(examples.SCENES)  # what --gallery DIR does
    try:
        status = client.predict(None, "exact", api_name="/index_gallery")
        assert "Indexed **8** images (8 encoded now" in status
        assert "0 encoded now" in client.predict(None, "exact", api_name="/index_gallery")  # from the disk store
        _, hits = client.predict("the digit 3", 3, api_name="/search_text")
        assert _rows(hits)[0]["Image"] == "the_digit_3.png"
        found = client.predict(_scene("two_red_circles"), "\n".join(examples.scene_captions()), 2,
                               api_name="/search_image")
        assert _rows(found)[0]["Caption"] == "two red circles"
    finally:
        client.state.gallery_folder = None


def _zip_folder(folder: Path, out: Path) -> str:
    with zipfile.ZipFile(out, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder))
    return str(out)


def test_evaluate_your_own_pairs_from_a_zip(client, tmp_path):
    """The bundled pairs folder, zipped as a user would, plus a row naming a server file and a broken image."""
    folder = tmp_path / "mine"
    shutil.copytree(examples.PAIRS, folder)
    (folder / "broken.png").write_bytes(b"not an image")
    with open(folder / "pairs.csv", "a") as f:
        f.write("/etc/hostname,a server file\nbroken.png,a broken image\n")
    notes, table, _, csv_file, json_file = client.predict(
        handle_file(_zip_folder(folder, tmp_path / "mine.zip")), 10, 5, 0, api_name="/evaluate_pairs")
    assert "Left out 2" in notes and "/etc/hostname" in notes and "broken.png" in notes
    report = json.load(open(json_file))
    # the same numbers as the bundled example evaluated on the server's own copy
    _, bundled, *_ = client.predict(None, 10, 5, 0, api_name="/evaluate_pairs")
    assert table["data"] == bundled["data"]
    assert report["whole_set"]["text_to_image"]["10"] > 0.5 and len(report["skipped"]) == 2
    # 10 images per sample: R@10 of a sample finds every one by construction, so it is left blank, and said why
    sampled = {(row[0], row[1]): row[3] for row in table["data"]}
    assert sampled[("text to image", "R@10")] in (None, "") and 0 < sampled[("text to image", "R@1")] < 1, sampled
    assert 0 < sampled[("image to text", "R@10")] <= 1, sampled  # 10 images hold 20 captions: not trivial
    assert "left blank where K reaches every candidate" in notes


def test_a_csv_alone_is_refused_with_the_format(client, tmp_path):
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text("image,caption\n/etc/hostname,x\n")
    with pytest.raises(Exception, match=r"upload a \.zip holding pairs\.csv"):
        client.predict(handle_file(str(csv_path)), 10, 5, 0, api_name="/evaluate_pairs")


def test_gallery_from_a_zip_is_searchable_and_removed_when_replaced(client, tmp_path, monkeypatch):
    import tempfile

    def extracted():
        return set(Path(tempfile.gettempdir()).glob("clipdemo-zip-*"))

    monkeypatch.setenv("CLIPDEMO_CACHE", str(tmp_path / "cache"))
    archive = _zip_folder(examples.SCENES, tmp_path / "scenes.zip")
    before = extracted()
    status = client.predict([handle_file(archive)], "exact", api_name="/index_gallery")
    assert "Indexed **8** images" in status and len(extracted() - before) == 1
    _, hits = client.predict("the digit 3", 3, api_name="/search_text")
    assert _rows(hits)[0]["Image"] == "the_digit_3.png"
    client.predict([_scene("the_digit_3")], "exact", api_name="/index_gallery")  # another gallery replaces it
    assert extracted() == before


def test_model_info_reports_the_limits_and_cache_bytes(client):
    from clipdemo import limits

    info = client.predict(api_name="/model_info")
    assert info["limits"]["max_zip_bytes"] == limits.MAX_ZIP_BYTES
    assert info["cache"]["texts"]["limit_bytes"] == limits.TEXT_CACHE_BYTES
    assert 0 <= info["cache"]["texts"]["bytes"] <= limits.TEXT_CACHE_BYTES


def test_a_user_mistake_is_one_log_line_not_a_traceback(client, caplog, capfd):
    caplog.set_level(logging.INFO, logger="clipdemo.requests")
    with pytest.raises(Exception, match="No labels given"):
        client.predict([_scene("a_green_triangle")], "", "{}", False, 3, api_name="/zero_shot")
    err = capfd.readouterr().err
    assert "Traceback" not in err
    lines = [r.getMessage() for r in caplog.records if r.name == "clipdemo.requests"]
    assert lines == ["/zero_shot refused: No labels given: enter one per line."]
