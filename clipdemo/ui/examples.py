"""The examples the tabs offer: files under examples/ at the repository root."""

from __future__ import annotations

from pathlib import Path

from ..prompts import DEFAULT_TEMPLATE

ROOT = Path(__file__).resolve().parents[2] / "examples"
PHOTOS, SCENES, PAIRS = ROOT / "photos", ROOT / "scenes", ROOT / "pairs"
NOTEBOOK_IMAGES = ("page", "chelsea", "astronaut", "rocket", "motorcycle_right", "camera", "horse", "coffee")

SCENE_LABELS = "\n".join(f"{c} {s}" for c, s in [("red", "circle"), ("blue", "star"), ("green", "triangle"),
                                                  ("yellow", "square"), ("purple", "cross"), ("orange", "diamond")])
COUNT_LABELS = "one shape\ntwo shapes\nthree shapes\nfour shapes"
DIGIT_LABELS = "\n".join(f"the digit {d}" for d in range(10))
PHOTO_LABELS = "cat\ndog\nastronaut\ncup of coffee\nrocket\nhorse\nmotorcycle\npage of text\ncamera"


def _files(folder: Path, *stems: str, ext: str = ".png") -> list[str]:
    return [str(folder / f"{s}{ext}") for s in stems]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def scene_captions() -> list[str]:
    return _read(SCENES / "captions.txt").splitlines()


def scene_files() -> list[str]:
    """The example scenes in the order of their captions (each file is named after its caption)."""
    return [str(SCENES / (c.replace(" ", "_") + ".png")) for c in scene_captions()]


def cifar100_images() -> list[str]:
    return _files(PHOTOS, "chelsea", "rocket", "motorcycle_right", "horse", ext=".jpg")


def zero_shot_examples() -> list[list]:
    return [
        [_files(SCENES, "a_green_triangle", "a_purple_cross", "three_blue_stars"), SCENE_LABELS, DEFAULT_TEMPLATE],
        [_files(SCENES, "two_red_circles", "three_blue_stars", "four_yellow_squares"), COUNT_LABELS, "a photo of {}."],
        [_files(SCENES, "the_digit_7", "the_digit_3"), DIGIT_LABELS, "a photo of {}."],
        [_files(PHOTOS, "chelsea", "astronaut", "coffee", "rocket", ext=".jpg"), PHOTO_LABELS, DEFAULT_TEMPLATE],
    ]


# gradio cuts example labels at 60 characters
ZERO_SHOT_EXAMPLE_LABELS = [
    "Shapes and colours: 3 scenes x 6 labels",
    "Counting: 2, 3 and 4 shapes",
    "Printed digits 7 and 3",
    "4 photos: a real CLIP's task; tiny-scenes cannot (noise)",
]
CAPTION_EXAMPLE_LABELS = [
    "Left or right? Word order matters",
    "Which caption fits three blue stars?",
    "A cat photo: a real CLIP's task; tiny-scenes cannot (noise)",
]
SIMILARITY_EXAMPLE_LABELS = [
    "OpenAI's 8 photos x 8 texts; tiny-scenes cannot (noise)",
    "8 scenes x their 8 captions: the diagonal wins",
]


def caption_examples() -> list[list]:
    return [
        [str(SCENES / "an_orange_diamond_to_the_left_of_a_blue_circle.png"),
         "an orange diamond to the left of a blue circle\na blue circle to the left of an orange diamond\n"
         "an orange circle and a blue diamond\ntwo orange diamonds"],
        [str(SCENES / "three_blue_stars.png"), "\n".join(scene_captions())],
        [str(PHOTOS / "chelsea.jpg"), _read(PHOTOS / "descriptions.txt")],
    ]


SALIENCY_EXAMPLE_LABELS = [
    "Two objects: where is each?",
    "A triangle, and a circle that is not there",
    "A cat photo: a real CLIP's task; tiny-scenes cannot (noise)",
]
EMBEDDING_EXAMPLE_LABELS = [
    "8 scenes and their 8 captions",
    "OpenAI's 8 photos x 8 texts; tiny-scenes cannot (noise)",
]


def saliency_examples() -> list[list]:
    return [
        # each object named as the model's captions name one: a bare "orange diamond" matches only half the
        # scene (cosine 0.31 against the captions' 0.67), though it is not flagged as absent
        [str(SCENES / "an_orange_diamond_to_the_left_of_a_blue_circle.png"),
         "an orange diamond on the left\na blue circle on the right"],
        [str(SCENES / "a_green_triangle.png"), "green triangle\nred circle"],
        [str(PHOTOS / "chelsea.jpg"), "a cat\na photo of a cat's eyes"],
    ]


def embedding_examples() -> list[list]:
    return [
        [scene_files(), "\n".join(scene_captions())],
        [_files(PHOTOS, *NOTEBOOK_IMAGES, ext=".jpg"), _read(PHOTOS / "descriptions.txt")],
    ]


def similarity_examples() -> list[list]:
    return [
        [_files(PHOTOS, *NOTEBOOK_IMAGES, ext=".jpg"), _read(PHOTOS / "descriptions.txt")],
        [scene_files(), "\n".join(scene_captions())],
    ]


def preview(files) -> list[tuple]:
    """The uploaded images as the model sees them (upright, RGB); unusable files are left out."""
    from ..images import open_images
    from .common import upload_path

    if not files:
        return []
    files = files if isinstance(files, list) else [files]
    loaded, _ = open_images([upload_path(f) for f in files])
    return [(im.image, im.name) for im in loaded]


def preview_one(file):
    """The one uploaded image as the model sees it, or nothing when it cannot be used."""
    shown = preview(file)
    return shown[0][0] if shown else None
