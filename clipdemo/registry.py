"""The one registry of known models: short name -> Hugging Face hub id or bundled checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

BUNDLED_DIR = Path(__file__).parent / "checkpoints"
BUNDLED_MODEL = "tiny-scenes"
BUNDLED_SIGLIP = "tiny-scenes-siglip"  # the same scenes, trained with SigLIP's sigmoid loss
DEFAULT_MODEL = "openai/clip-vit-base-patch32"

_MODELS = {
    "clip-vit-base-patch32": "openai/clip-vit-base-patch32",
    "clip-vit-base-patch16": "openai/clip-vit-base-patch16",
    "clip-vit-large-patch14": "openai/clip-vit-large-patch14",
    "siglip-base-patch16-224": "google/siglip-base-patch16-224",
    "siglip-so400m-patch14-384": "google/siglip-so400m-patch14-384",
    "siglip2-base-patch16-224": "google/siglip2-base-patch16-224",
    "siglip2-so400m-patch14-384": "google/siglip2-so400m-patch14-384",
    "siglip2-base-patch16-naflex": "google/siglip2-base-patch16-naflex",
    "metaclip-2-worldwide-huge-quickgelu": "facebook/metaclip-2-worldwide-huge-quickgelu",
    BUNDLED_MODEL: str(BUNDLED_DIR / BUNDLED_MODEL),
    BUNDLED_SIGLIP: str(BUNDLED_DIR / BUNDLED_SIGLIP),
}


def available_models() -> list[str]:
    """Short names accepted by `--model` (a hub id or a local checkpoint directory also work)."""
    return [name for name in _MODELS if not name.startswith("tiny-scenes") or name in bundled_models()]


def bundled_path(name: str = BUNDLED_MODEL) -> str:
    return _MODELS[name]


def bundled_models() -> list[str]:
    """The checkpoints shipped inside the package (present on disk), tiny-scenes first."""
    return [name for name in (BUNDLED_MODEL, BUNDLED_SIGLIP) if (Path(_MODELS[name]) / "config.json").is_file()]


def resolve_model(name: str) -> str:
    """Map a short name, hub id ('org/name') or checkpoint directory to what `from_pretrained` takes.

    Raises:
        InputError: `name` is none of those; the message lists the short names.
    """
    name = (name or "").strip()
    if name in _MODELS:
        return _MODELS[name]
    if name in _MODELS.values() or os.path.isdir(os.path.expanduser(name)):
        return os.path.expanduser(name) if os.path.isdir(os.path.expanduser(name)) else name
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        return name  # a hub id such as "openai/clip-vit-base-patch32"
    raise InputError(f"Unknown model {name!r}. Use one of {', '.join(available_models())}, "
                     "a Hugging Face hub id such as openai/clip-vit-base-patch32, or a local checkpoint directory.")


def knows_photos(source: str) -> bool:
    """False when the checkpoint's model card (README.md front matter) says `knows_photos: false`.

    The app then prints a warning beside every result: such a model answers photos with confident noise.
    """
    card = Path(source) / "README.md"
    if not card.is_file():
        return True
    lines = card.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return True
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        if key.strip() == "knows_photos":
            return value.strip().lower() not in ("false", "no")
    return True
