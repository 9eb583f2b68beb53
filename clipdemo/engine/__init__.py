"""The engine: loaded dual encoders (CLIP, SigLIP, ...), their caches, families, backends and the contract.

    Engine        the contract analysis code types against (protocol.py)
    ClipEngine    a loaded model: encode_texts / encode_images -> unit vectors [N, D], probabilities(cosine)
    Family        what differs between CLIP and SigLIP (families.py): padding, score, pooling, saliency
    ModelPool     the models a server offers, loaded on first use, at most --max-models in memory
    load          name -> ClipEngine, with honest failures; load_with_fallback for the default model

Nothing is loaded at import time: `get_engine()` loads on first use, and every tab and user shares it.
This package is the only code that touches the hub or the disk for models.
"""

from .cache import image_key, text_key
from .core import ClipEngine, ModelInfo, Progress, pooled
from .families import FAMILIES, Family, family_of
from .loading import check_loadable, display_source, hub_unreachable, load, load_with_fallback, pick_device
from .pool import ModelPool, configure, get_engine, get_pool, set_engine
from .protocol import Engine

ClipEngine.load = staticmethod(load)  # ClipEngine.load(name, device, note, backend): the loader, by its old name

__all__ = ["ClipEngine", "Engine", "FAMILIES", "Family", "ModelInfo", "ModelPool", "Progress", "check_loadable",
           "configure", "display_source", "family_of", "get_engine", "hub_unreachable", "image_key", "load",
           "load_with_fallback", "pick_device", "get_pool", "pooled", "set_engine", "text_key"]
