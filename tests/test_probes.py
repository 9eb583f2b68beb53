"""Probe suites: ground truth checked from pixels, scoring against a brute-force reference, reports."""

from __future__ import annotations

import io
from pathlib import Path
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from clipdemo.analysis.probes import evaluate_items
from clipdemo.errors import InputError
from clipdemo.probes import PUBLISHED, SUITES, run_suites, suite_names, to_csv, to_json
from clipdemo.probes.custom import load_probe_set
from clipdemo.probes.suites import binding, counting, digits, negation, photos, spatial, text
from clipdemo.scenes import SHAPES
from clipdemo.scenes.grammar import NUMBER_WORDS, plural
from clipdemo.scenes.render import SHIFTED_FONTS, TRAIN_FONTS, font
from pixels import objects, shapes_in


def _components(image, colour) -> list[tuple[float, float]]:
    """(y, x) centre of every blob of `colour`."""
    return [ndimage.center_of_mass(m) for m in objects(image, colour)]


def test_counting_labels_match_connected_components():
    for item in counting(40, seed=1):
        true = item.candidates[item.answer]
        words = true.split()
        first = words[0]
        count = int(first) if first.isdigit() else (1 if first in ("a", "an") else NUMBER_WORDS.index(first))
        colour = words[1]
        assert len(_components(item.image, colour)) == count, true


def test_counting_uses_words_and_digits():
    captions = {c for it in counting(10) for c in it.candidates}
    assert any(c.startswith("three ") for c in captions) and any(c.startswith("3 ") for c in captions)


def test_spatial_truth_matches_pixel_positions():
    for item in spatial(30, seed=2):
        true = item.candidates[item.answer]
        words = true.split()
        colour_a, colour_b = words[1], words[-2]
        (ya, xa), (yb, xb) = _components(item.image, colour_a)[0], _components(item.image, colour_b)[0]
        if "left of" in true:
            assert xa < xb - 10
        elif "right of" in true:
            assert xa > xb + 10
        elif " above " in true:
            assert ya < yb - 10
        else:
            assert ya > yb + 10


def test_binding_distractor_swaps_colours_only():
    for item in binding(20, seed=3):
        true, wrong = item.candidates[item.answer], item.candidates[1 - item.answer]
        t, w = true.split(), wrong.split()
        assert (t[2], t[-1]) == (w[2], w[-1]) and (t[1], t[-2]) == (w[-2], w[1])  # same shapes, colours swapped
        assert len(_components(item.image, t[1])) == 1 and len(_components(item.image, t[-2])) == 1


def test_negation_truth_matches_the_shapes_in_the_pixels():
    from_plural = {plural(s): s for s in SHAPES}
    for item in negation(40, seed=7):
        true = item.candidates[item.answer]
        asked = from_plural[true.split()[-1]]
        assert (asked in shapes_in(item.image)) == (" no " not in true), true


def _ink_box(image) -> np.ndarray:
    """The image's text, cropped to its ink and resized to 24 x 64 (ink is whatever is far from the median)."""
    a = np.asarray(image.convert("L"), np.float32)
    ink = np.abs(a - np.median(a)) > 60
    ys, xs = np.nonzero(ink)
    crop = Image.fromarray((ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1] * 255).astype(np.uint8))
    return np.asarray(crop.resize((64, 24), Image.BILINEAR), np.float32) / 255


def test_text_truth_is_the_word_that_matches_the_ink():
    # each candidate word drawn plainly in every font; the shown one must match the item's ink best
    for item in text(12, seed=8):
        shown = _ink_box(item.image)
        best = {}
        for caption in item.candidates:
            word = caption.split('"')[1]
            for name in TRAIN_FONTS + SHIFTED_FONTS:
                canvas = Image.new("L", (400, 120), 255)
                ImageDraw.Draw(canvas).text((20, 10), word, font=font(name, 64), fill=0)
                match = float(np.corrcoef(shown.ravel(), _ink_box(canvas).ravel())[0, 1])
                best[caption] = max(best.get(caption, -1.0), match)
        assert max(best, key=best.get) == item.candidates[item.answer], best


def test_handwritten_digits_are_load_digits_images_with_their_labels():
    from sklearn.datasets import load_digits

    data = load_digits()
    for item in digits(20, seed=9):
        small = np.asarray(item.image.convert("L").resize((8, 8), Image.BOX), np.float32) / 255 * 16
        nearest = int(np.abs(data.images - small).sum((1, 2)).argmin())
        assert data.target[nearest] == item.answer and item.candidates[item.answer] == f"the digit {item.answer}"


def test_photos_coin_count_is_checkable():
    from skimage.filters import threshold_otsu

    coins = photos()[0]
    gray = np.asarray(coins.image.convert("L"))
    mask = ndimage.binary_opening(ndimage.binary_fill_holes(gray > threshold_otsu(gray)), iterations=2)
    labels, n = ndimage.label(mask)
    sizes = ndimage.sum(mask, labels, range(1, n + 1))
    assert (sizes > 200).sum() == 24 and coins.candidates[coins.answer] == "a photo of 24 coins"


def test_accuracy_and_chance_match_brute_force(random_engine):
    items = counting(12, seed=4) + spatial(12, seed=4)
    report = evaluate_items(random_engine, items, "mixed", "a photo of {}.")
    correct = 0
    for item in items:  # one item at a time, straight through CLIPModel
        inputs = random_engine.processor(text=[f"a photo of {c}." for c in item.candidates], images=[item.image],
                                         return_tensors="pt", padding=True)
        with torch.no_grad():
            correct += int(random_engine.model(**inputs).logits_per_image.argmax()) == item.answer
    assert report.accuracy == pytest.approx(correct / len(items))
    assert report.chance == pytest.approx((12 / 6 + 12 / 2) / 24)


def test_random_weights_sit_at_chance(random_engine):
    for report in run_suites(random_engine, ["spatial", "binding"], n=200, seed=5):
        assert abs(report.accuracy - report.chance) < 0.1, (report.suite, report.accuracy)


def test_bundled_model_is_well_above_chance_where_it_learned(bundled_engine):
    # It learned binding, counts of 1-4 (counting asks 1-6) and, with the spatial recipe and issue 25's tune,
    # left/right and above/below: 100% against 50% on the card's 200 items (before that recipe 48%, then 66%).
    reports = {r.suite: r for r in run_suites(bundled_engine, ["counting", "binding", "spatial"], n=200, seed=6)}
    assert reports["binding"].accuracy > reports["binding"].chance + 0.25
    assert reports["counting"].accuracy > reports["counting"].chance + 0.25
    assert reports["spatial"].accuracy > reports["spatial"].chance + 0.1


def test_reports_export_and_confusion(bundled_engine):
    (report,) = run_suites(bundled_engine, ["counting"], n=30)
    assert report.labels == ["1", "2", "3", "4", "5", "6"] and report.confusion.sum() == 30
    assert "counting" in to_json([report], "tiny-scenes") and to_csv([report]).count("\n") == 31
    assert report.most_confidently_wrong(3) == sorted(report.most_confidently_wrong(3), key=lambda t: -t[2])


def test_suite_names_contract():
    assert list(SUITES) == ["counting", "digits", "text", "spatial", "binding", "negation", "photos"]
    assert suite_names("all") == list(SUITES)
    with pytest.raises(InputError, match="counting, digits"):
        suite_names(["counts"])
    assert PUBLISHED["digits"].accuracy == 0.484 and PUBLISHED["counting"].accuracy == 0.232


def _probe_csv(tmp_path, rows):
    (tmp_path / "probe.csv").write_text("image,captions,answer\n" + "\n".join(rows) + "\n")
    return str(tmp_path / "probe.csv")


def test_custom_probe_set_from_csv_and_zip(tmp_path, scene_files):
    paths, captions = scene_files
    names = [Path(p).name for p in paths]  # beside the CSV
    rows = [f"{names[0]},{captions[0]}|{captions[1]},{captions[0]}", f"{names[3]},{captions[0]}|{captions[3]},1"]
    items = load_probe_set(_probe_csv(tmp_path, rows))
    assert [it.answer for it in items] == [0, 1]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.write(paths[0], "a.png")
        z.writestr("set.csv", f"image,captions,answer\na.png,{captions[0]}|{captions[2]},{captions[0]}\n")
    (tmp_path / "set.zip").write_bytes(buf.getvalue())
    (item,) = load_probe_set(str(tmp_path / "set.zip"))
    assert item.candidates == [captions[0], captions[2]] and item.answer == 0


@pytest.mark.parametrize("row,message", [
    ("x.png,only one caption,0", "at least two captions"),
    ("x.png,a|b,c", "neither one of the captions"),
    ("missing.png,a|b,0", "not in the upload"),
])
def test_bad_probe_csv_says_what_is_wrong(tmp_path, row, message):
    with pytest.raises(InputError, match=message):
        load_probe_set(_probe_csv(tmp_path, [row]))


def test_probe_command_prints_the_table(capsys):
    from clipdemo.__main__ import main  # in-process: test_indexer runs the entry point as typed

    assert main(["probe", "--suite", "counting", "--model", "tiny-scenes", "-n", "20"]) == 0
    out = capsys.readouterr().out
    assert "counting" in out and "CLEVR counts" in out and "chance" in out
