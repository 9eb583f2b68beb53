"""The synthetic scenes' ground truth, checked from the pixels, independently of the generator."""

from __future__ import annotations

import numpy as np
import pytest

from clipdemo.scenes import digit_scene, group_scene, relation_scene, scene_rng
from clipdemo.scenes.grammar import canonical_caption, relation_key
from pixels import colour_mask, objects, shape_of


@pytest.mark.parametrize("seed", range(40))
def test_group_scene_count_matches_connected_components(seed):
    scene = group_scene(scene_rng(seed, "heldout"))
    _, n, colour, _ = scene.key
    assert len(objects(scene.image, colour, min_size=8)) == n, scene.caption


@pytest.mark.parametrize("seed", range(40))
def test_group_scene_shape_matches_the_pixels(seed):
    scene = group_scene(scene_rng(seed, "heldout"))
    _, _, colour, shape = scene.key
    assert {shape_of(m) for m in objects(scene.image, colour, min_size=30)} == {shape}, scene.caption


@pytest.mark.parametrize("seed", range(30))
def test_relation_scene_side_facts_match_the_pixels(seed):
    scene = relation_scene(scene_rng(seed, "heldout"))
    for _, (colour, _), side in (k for k in scene.truths if k[0] == "side"):
        y, x = np.argwhere(colour_mask(scene.image, colour)).mean(0)
        (other,) = [o.colour for o in scene.objects if o.colour != colour]
        oy, ox = np.argwhere(colour_mask(scene.image, other)).mean(0)
        assert {"left": x < ox - 15, "right": x > ox + 15, "top": y < oy - 15, "bottom": y > oy + 15}[side]


@pytest.mark.parametrize("seed", range(30))
def test_relation_scene_positions_match_caption(seed):
    scene = relation_scene(scene_rng(seed, "heldout"))
    _, a, rel, b = scene.key  # canonical: a is left of / above b
    ya, xa = np.argwhere(colour_mask(scene.image, a[0])).mean(0)
    yb, xb = np.argwhere(colour_mask(scene.image, b[0])).mean(0)
    if rel == "left of":
        assert xa + 15 < xb, scene.caption
    else:
        assert ya + 15 < yb, scene.caption


def test_relation_wordings_share_one_key():
    a, b = ("red", "circle"), ("blue", "square")
    assert relation_key(a, "left of", b) == relation_key(b, "right of", a)
    assert canonical_caption(relation_key(b, "right of", a)) == "a red circle to the left of a blue square"


def test_digit_scene_draws_ink():
    scene = digit_scene(scene_rng(0, "heldout"), digit=8)
    a = np.asarray(scene.image, np.float32)
    assert scene.caption == "the digit 8" and a.std() > 10  # something was drawn on the background


def test_splits_are_disjoint_and_deterministic():
    train = np.asarray(group_scene(scene_rng(0, "train")).image)
    held = np.asarray(group_scene(scene_rng(0, "heldout")).image)
    again = np.asarray(group_scene(scene_rng(0, "heldout")).image)
    assert not np.array_equal(train, held) and np.array_equal(held, again)


@pytest.mark.parametrize("style, allowed", [("robust", "ROBUST_FONTS"), ("unseen-family", "HELDOUT_FONTS"),
                                            ("wide", "ROBUST_FONTS"), ("outlined", "ROBUST_FONTS")])
def test_robust_digits_keep_their_font_families_apart(monkeypatch, style, allowed):
    """Issue 25: whole font families are held out; the robust renderer never draws one of them."""
    from clipdemo.scenes import render

    used = []
    real = render.font
    monkeypatch.setattr(render, "font", lambda name, size: used.append(name) or real(name, size))
    rng = scene_rng(3, "heldout")
    for _ in range(200):
        digit_scene(rng, style=style)
    assert set(used) <= set(getattr(render, allowed))
    assert len(set(used)) == len(getattr(render, allowed))  # and every family of its side is drawn
    assert not set(render.ROBUST_FONTS) & set(render.HELDOUT_FONTS)


def test_the_wide_renderers_additions_stay_out_of_the_other_renderers(monkeypatch):
    """The evaluation renderers must draw what they drew before "wide" existed: no clutter, no warped glyphs."""
    import clipdemo.scenes as scenes
    from clipdemo.scenes import random_scene, render

    def refuse(*args, **kwargs):
        raise AssertionError("a wide-only drawing in another renderer")

    monkeypatch.setattr(render, "_clutter", refuse)
    monkeypatch.setattr(scenes, "draw_warped_text", refuse)
    for style in ("train", "shifted", "robust", "unseen-family"):
        rng = scene_rng(0, "heldout")
        for _ in range(60):
            random_scene(rng, style=style)
    with pytest.raises(AssertionError, match="wide-only"):
        for _ in range(60):
            random_scene(rng, style="wide")


@pytest.mark.parametrize("style", ["wide", "outlined"])
def test_the_wide_renderer_keeps_the_held_out_families_out(style):
    """The "wide" training renderers add clutters and glyph warps, never a held-out background or font."""
    from clipdemo.scenes import _FAMILIES, render

    backgrounds, fonts = _FAMILIES[style]
    assert set(backgrounds) > set(render.ROBUST_BACKGROUNDS) and not set(backgrounds) & set(render.HELDOUT_BACKGROUNDS)
    assert fonts == render.ROBUST_FONTS


@pytest.mark.parametrize("style, share", [("train", 0.0), ("robust", 0.3), ("unseen-family", 0.3), ("wide", 0.3),
                                          ("outlined", 0.5)])
def test_each_renderer_draws_its_share_of_outlines(monkeypatch, style, share):
    """The "outlined" training renderer draws half its shape scenes as outlines; the held-out families keep 30%;
    the first renderer fills every shape."""
    widths, _ = _drawn_outlines(monkeypatch, style)
    outlined = np.mean([w > 0 for w in widths])
    if share:
        assert abs(outlined - share) < 0.08, outlined  # 400 draws: the standard error is 0.025
    else:
        assert outlined == 0


@pytest.mark.parametrize("style", ["train", "unseen-family"])
def test_each_object_records_the_outline_it_was_drawn_with(monkeypatch, style):
    """scripts/failures.py sorts errors by filled or outlined: what it reads must be what was drawn."""
    widths, recorded = _drawn_outlines(monkeypatch, style)
    assert recorded == widths


def _drawn_outlines(monkeypatch, style, n=400):
    """(the outline width draw_shape was given, the width each object records) for n one-object scenes."""
    import clipdemo.scenes as scenes

    widths = []
    real = scenes.draw_shape
    monkeypatch.setattr(scenes, "draw_shape", lambda *a: widths.append(a[-1]) or real(*a))
    rng = scene_rng(5, "heldout")
    recorded = [group_scene(rng, n=1, style=style).objects[0].outline for _ in range(n)]
    return widths, recorded


def test_the_wide_renderer_draws_the_scenes_it_drew_for_the_bundled_tune():
    """`make checkpoint` reproduces tiny-scenes only while the wide renderer draws the same scenes: a change to
    what it draws at random (a new style's share of outlines, say) must not move its stream. The number after
    60 scenes of the bundled tune's mix was read off the renderer as it was when the tune ran."""
    from clipdemo.scenes import random_scene

    rng = scene_rng(0, "train")
    for _ in range(60):
        random_scene(rng, style="wide", mix={"group": 0.35, "relation": 0.3, "digit": 0.35})
    assert rng.random() == pytest.approx(0.27468604076172654, abs=1e-15)


@pytest.mark.parametrize("kind", ["lines", "dots"])
def test_clutter_is_drawn_and_leaves_most_of_the_background_bare(kind):
    from clipdemo.scenes.render import _clutter

    rng = np.random.default_rng(0)
    covered = [(_clutter(96, rng, kind) > 0.5).mean() for _ in range(50)]
    assert min(covered) > 0.003 and np.median(covered) < 0.3, (min(covered), np.median(covered))
    if kind == "lines":  # lines run right across: from edge to edge, across or down
        for _ in range(20):
            drawn = _clutter(96, rng, kind) > 0.5
            assert drawn.any(0).all() or drawn.any(1).all()


def _ink(**warp) -> np.ndarray:
    from PIL import Image

    from clipdemo.scenes.render import draw_warped_text

    img = Image.new("RGB", (96, 96))
    draw_warped_text(img, "1", "DejaVuSans.ttf", 0.6, 0.5, 0.5, (255, 255, 255), **warp)
    return np.asarray(img)[..., 0] > 127


def test_warped_digits_are_sheared_stretched_and_thickened():
    def lean(ink):  # mean ink column of the top quarter minus that of the bottom quarter
        rows = np.nonzero(ink.any(1))[0]
        top, bottom = ink[rows[0]:rows[0] + len(rows) // 4], ink[rows[-1] - len(rows) // 4:rows[-1] + 1]
        return np.nonzero(top)[1].mean() - np.nonzero(bottom)[1].mean()

    plain = _ink()
    # a shear of 0.35 moves the top of a 58 px glyph about 15 px from its foot
    assert lean(_ink(shear=0.35)) < lean(plain) - 10 and lean(_ink(shear=-0.35)) > lean(plain) + 10

    def width(ink):
        columns = np.nonzero(ink.any(0))[0]
        return columns[-1] - columns[0] + 1

    assert width(_ink(aspect=1.3)) > 1.2 * width(plain) and width(_ink(aspect=0.7)) < 0.8 * width(plain)
    assert _ink(weight=2).sum() > 1.3 * plain.sum() and _ink(weight=-1).sum() < 0.9 * plain.sum()
