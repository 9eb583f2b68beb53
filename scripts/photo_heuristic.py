"""Measure clipdemo.analysis.photo's heuristic: example photos against example and generated scenes.

    python scripts/photo_heuristic.py [-n 150]      (a few seconds)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from clipdemo.analysis.photo import photo_guess
from clipdemo.scenes import random_scene, scene_rng

ROOT = Path(__file__).resolve().parents[1] / "examples"
# the renderers measured in docs/photo_heuristic.md (the training-only "wide" is left out)
RENDERERS = ("train", "shifted", "robust", "unseen-family")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-n", type=int, default=150, help="generated scenes per renderer (RENDERERS)")
    args = p.parse_args(argv)
    photos = sorted((ROOT / "photos").glob("*.jpg"))
    found = {f.name: photo_guess(Image.open(f)).likely_photo for f in photos}
    groups = {"examples": [Image.open(f) for f in sorted((ROOT / "scenes").glob("*.png"))
                           + sorted((ROOT / "pairs").glob("*.png"))]}
    for style in RENDERERS:
        rng = scene_rng(5, "heldout")
        groups[f"{style} renderer"] = [random_scene(rng, style=style).image for _ in range(args.n)]
    hits = sum(found.values())
    print(f"photos called photos: {hits}/{len(photos)} ({hits / len(photos):.0%}); "
          f"missed: {', '.join(n for n, ok in found.items() if not ok) or 'none'}")
    for name, images in groups.items():
        wrong = sum(photo_guess(im).likely_photo for im in images)
        print(f"{name}: {wrong}/{len(images)} called photos ({wrong / len(images):.1%})")
    scenes = [im for images in groups.values() for im in images]
    false = sum(photo_guess(im).likely_photo for im in scenes)
    print(f"scenes called photos: {false}/{len(scenes)} ({false / len(scenes):.1%})")
    total = len(photos) + len(scenes)
    print(f"accuracy: {(hits + len(scenes) - false) / total:.1%} of {total} images")
    return {"photos": (hits, len(photos)), "scenes_false": (false, len(scenes))}


if __name__ == "__main__":
    main()
