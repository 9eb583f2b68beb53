"""Write examples/: scikit-image's sample photos, rendered scenes, and the label and caption sets.

Run from the repository root: `python scripts/make_examples.py`. Deterministic; the output is committed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import skimage
from PIL import Image

from clipdemo.scenes import describe, digit_scene, group_scene, random_scene, relation_scene, scene_rng

ROOT = Path(__file__).resolve().parents[1] / "examples"

# The eight images of the similarity heatmap in OpenAI's CLIP notebook, with descriptions of our own.
NOTEBOOK = {
    "page": "a scanned page of printed text with a few diagrams",
    "chelsea": "a close-up of a striped tabby cat looking at the camera",
    "astronaut": "an astronaut in a white spacesuit posing in front of a flag",
    "rocket": "a rocket on its launch pad under a clear sky",
    "motorcycle_right": "a red motorbike parked in a workshop",
    "camera": "a man in a coat looking through a camera on a tripod",
    "horse": "the black silhouette of a galloping horse",
    "coffee": "a cup of coffee with latte art on a saucer",
}
EXTRA_PHOTOS = ("coins", "text")
SECOND_CAPTIONS = {  # a second caption per photo for the paired retrieval set
    "page": "black text and figures on a white sheet of paper",
    "chelsea": "an orange and grey cat with green eyes",
    "astronaut": "a smiling woman in a space suit holding a helmet",
    "rocket": "a tall white launch vehicle with a tower beside it",
    "motorcycle_right": "a shiny motorcycle seen from the side indoors",
    "camera": "a photographer with a tripod outdoors in black and white",
    "horse": "a horse drawn in solid black on a white background",
    "coffee": "a white cup filled with coffee seen from above",
}
PAIRED_SCENES = 32

SCENES = [  # scenes the bundled model knows; each file is named after its caption
    lambda r: group_scene(r, n=2, colour="red", shape="circle", size=192),
    lambda r: group_scene(r, n=3, colour="blue", shape="star", size=192),
    lambda r: group_scene(r, n=1, colour="green", shape="triangle", size=192),
    lambda r: group_scene(r, n=4, colour="yellow", shape="square", size=192),
    lambda r: group_scene(r, n=1, colour="purple", shape="cross", size=192),
    lambda r: digit_scene(r, digit=7, size=192),
    lambda r: digit_scene(r, digit=3, size=192),
    lambda r: relation_scene(r, a=("orange", "diamond"), b=("blue", "circle"), rel="left of", size=192),
]


def main() -> None:
    photos, scenes = ROOT / "photos", ROOT / "scenes"
    for folder in (photos, scenes):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    data = Path(skimage.__file__).parent / "data"
    for name in [*NOTEBOOK, *EXTRA_PHOTOS]:
        im = Image.open(data / f"{name}.{'jpg' if name == 'rocket' else 'png'}").convert("RGB")
        im.save(photos / f"{name}.jpg", quality=88)
    (ROOT / "photos" / "descriptions.txt").write_text("\n".join(NOTEBOOK.values()) + "\n")
    captions = []
    for i, factory in enumerate(SCENES):
        scene = factory(scene_rng(1000 + i, "heldout"))
        scene.image.save(scenes / f"{scene.caption.replace(' ', '_')}.png")
        captions.append(scene.caption)
    (scenes / "captions.txt").write_text("\n".join(captions) + "\n")
    write_pairs(ROOT / "pairs")


def write_pairs(folder: Path) -> None:
    """A paired set for Recall@K: held-out scenes with two true captions each, and the photos with two each."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rows = []
    rng = scene_rng(2000, "heldout")
    for i in range(PAIRED_SCENES):
        scene = random_scene(rng, size=128)
        name = f"scene_{i:02d}.png"
        scene.image.save(folder / name)
        rows += [(name, scene.caption), (name, describe(scene.key, rng).rstrip("."))]
    # the photos are copied in, so the folder is self-contained: zipped, it is an upload for the Search tab
    (folder / "photos").mkdir()
    for name, caption in NOTEBOOK.items():
        shutil.copy(ROOT / "photos" / f"{name}.jpg", folder / "photos" / f"{name}.jpg")
        rows += [(f"photos/{name}.jpg", caption), (f"photos/{name}.jpg", SECOND_CAPTIONS[name])]
    with open(folder / "pairs.csv", "w", newline="") as f:
        import csv

        w = csv.writer(f)
        w.writerow(["image", "caption"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
