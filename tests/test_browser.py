"""The real page in headless Chromium: every tab driven like a person would, with screenshots.

Screenshots land in artifacts/screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app_server import running_app
from clipdemo.ui import examples

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with running_app() as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_default_timeout(90_000)
            pg.goto(url)
            pg.get_by_text("Model:").first.wait_for()
            yield pg
        finally:
            browser.close()


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()
    return page.locator(".tabitem:visible").first


def _upload(panel, files):
    panel.locator("input[type=file]").first.set_input_files(files)


def _dismiss_toasts(page):
    for close in page.locator(".toast-close").all():
        close.click()


def _run(page, panel, button: str):
    panel.get_by_role("button", name=button).click()
    panel.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(500)


def test_banner_names_the_bundled_model(page):
    banner = page.locator("#model-banner")
    assert "tiny-scenes" in banner.inner_text() and "cpu" in banner.inner_text()
    assert "synthetic" in banner.inner_text()
    page.screenshot(path=str(SHOTS / "0-banner.png"))


def test_zero_shot_tab(page):
    panel = _tab(page, "Zero-shot classification")
    _upload(panel, [str(examples.SCENES / "a_green_triangle.png"), str(examples.SCENES / "a_purple_cross.png")])
    panel.get_by_label("Candidate labels (one per line)").fill(examples.SCENE_LABELS + "\ngreen triangle")
    _run(page, panel, "Classify")
    table = page.locator("#zero-shot-table")
    expect(table).to_contain_text("a_purple_cross.png")
    text = table.inner_text()
    assert re.search(r"a_green_triangle\.png\s+1\s+green triangle", text), text
    assert re.search(r"a_purple_cross\.png\s+1\s+purple cross", text), text
    assert "1 duplicate label removed" in panel.inner_text()
    page.screenshot(path=str(SHOTS / "1-zero-shot.png"), full_page=True)


def test_zero_shot_bad_input_shows_a_message(page):
    panel = _tab(page, "Zero-shot classification")
    panel.get_by_label("Prompt template ({} is the label)").fill("a photo of a cat")
    panel.get_by_role("button", name="Classify").click()
    toast = page.get_by_text("must contain {} exactly once").first
    toast.wait_for()
    page.screenshot(path=str(SHOTS / "1b-zero-shot-error.png"))
    _dismiss_toasts(page)
    panel.get_by_label("Prompt template ({} is the label)").fill("a photo of a {}.")


def test_cifar100_is_one_click(page):
    panel = _tab(page, "Zero-shot classification")
    panel.get_by_role("button", name="CIFAR-100: top 5 of 100 classes").click()
    page.get_by_text("Top 5 of 100 labels").first.wait_for()
    assert "aquarium fish" in panel.get_by_label("Candidate labels (one per line)").input_value()


def test_caption_tab(page):
    panel = _tab(page, "Caption ranking")
    _upload(panel, [str(examples.SCENES / "three_blue_stars.png")])
    panel.get_by_label("Candidate captions (one per line)").fill("\n".join(examples.scene_captions()))
    _run(page, panel, "Rank captions")
    expect(page.locator("#captions-table")).to_contain_text("three blue stars")
    rows = page.locator("#captions-table").inner_text()
    assert re.search(r"\n1\s+three blue stars\s", rows), rows  # rank 1 is the true caption
    page.screenshot(path=str(SHOTS / "2-captions.png"), full_page=True)


def test_similarity_tab(page):
    panel = _tab(page, "Similarity matrix")
    _upload(panel, examples.scene_files())
    panel.get_by_label("Texts (columns, one per line)").fill("\n".join(examples.scene_captions()))
    _run(page, panel, "Compute matrix")
    assert panel.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot .hm").count() >= 1
    assert "three blue stars" in panel.locator(".js-plotly-plot").first.inner_text()
    panel.get_by_label("softmax over texts").check()
    page.get_by_text("softmax over texts: 8 images").first.wait_for()
    _dismiss_toasts(page)
    page.wait_for_timeout(1500)  # let toasts fade before the screenshot
    page.screenshot(path=str(SHOTS / "3-similarity.png"), full_page=True)


def test_saliency_tab(page):
    panel = _tab(page, "Saliency")
    _upload(panel, [str(examples.SCENES / "an_orange_diamond_to_the_left_of_a_blue_circle.png")])
    panel.get_by_label("Texts to locate (one per line, at most 6)").fill("orange diamond\nblue circle")
    _run(page, panel, "Show where")
    expect(page.locator("#saliency-notes")).to_contain_text("Chefer")
    assert panel.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot .hm").count() >= 1
    expect(page.locator("#saliency-words")).to_contain_text("diamond")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "7-saliency.png"), full_page=True)


def test_zero_shot_where(page):
    panel = _tab(page, "Zero-shot classification")
    _upload(panel, [str(examples.SCENES / "a_green_triangle.png")])
    panel.get_by_label("Candidate labels (one per line)").fill(examples.SCENE_LABELS)
    panel.get_by_role("button", name="Where? Show where the top 3 labels match in the first image").click()
    page.locator("#zero-shot-where .js-plotly-plot").wait_for()
    page.wait_for_timeout(1000)
    page.locator("#zero-shot-where").screenshot(path=str(SHOTS / "7b-zero-shot-where.png"))


def test_embedding_map_tab(page):
    panel = _tab(page, "Embedding map")
    _upload(panel, examples.scene_files())
    panel.get_by_label("Texts (one per line; text i describes image i)").fill("\n".join(examples.scene_captions()))
    _run(page, panel, "Draw the map")
    expect(page.locator("#embedding-notes")).to_contain_text("centroid distance (the gap)")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "8-embedding-map.png"), full_page=True)
    panel.get_by_label("gap axis").check()
    panel.get_by_role("button", name="Draw the map").click()
    page.get_by_text("Images and texts in 2-D (gap axis)").first.wait_for()
    page.wait_for_timeout(1000)
    panel.locator(".js-plotly-plot").first.screenshot(path=str(SHOTS / "8b-embedding-map-gap-axis.png"))
    panel.get_by_label("Remove each modality's mean (close the gap)").check()
    panel.get_by_role("button", name="Draw the map").click()
    expect(page.locator("#embedding-notes")).to_contain_text("with each modality's mean removed")
    page.wait_for_timeout(1000)
    panel.locator(".js-plotly-plot").first.screenshot(path=str(SHOTS / "8c-embedding-map-means-removed.png"))


def test_train_tab_then_use_the_trained_model(page):
    panel = _tab(page, "Train")
    panel.get_by_role("button", name="Train").click()
    panel.get_by_text(re.compile(r"Step \d+/300")).first.wait_for()
    page.wait_for_timeout(3000)
    panel.get_by_role("button", name="Stop").click()
    panel.get_by_text("Stopped.").wait_for(timeout=30_000)  # stopped early: it says so, not "Done."
    assert panel.locator(".js-plotly-plot").count() == 3  # curves, batch similarity, embedding map
    page.screenshot(path=str(SHOTS / "4-train.png"), full_page=True)
    panel.get_by_label("trained here").check()
    page.locator("#model-banner").get_by_text("trained in this session").wait_for()
    panel.get_by_label("shared model").check()  # and back: the later tests expect the bundled model
    expect(page.locator("#model-banner")).not_to_contain_text("trained in this session")


def test_search_tab(page):
    panel = _tab(page, "Search")
    _upload(panel, examples.scene_files())
    panel.get_by_role("button", name="Index gallery").click()
    panel.get_by_text("Indexed 8 images").wait_for()
    panel.get_by_label("Text query").fill("the digit 7")
    panel.get_by_role("button", name="Search images").click()
    results = page.locator("#search-results")
    expect(results).to_contain_text("the_digit_7.png")
    first_caption = results.locator("img").first.get_attribute("alt") or results.inner_text()
    assert "the_digit_7" in first_caption or results.inner_text().index("the_digit_7.png") < 40
    page.screenshot(path=str(SHOTS / "5-search.png"), full_page=True)


def test_probes_tab(page):
    panel = _tab(page, "Probes")
    panel.get_by_role("button", name="Run probes").click()
    table = page.locator("#probes-table")
    expect(table).to_contain_text("CLEVR counts", timeout=180_000)
    for suite in ("counting", "digits", "spatial", "binding", "negation"):
        assert suite in table.inner_text()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "6-probes.png"), full_page=True)
