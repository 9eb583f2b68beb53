"""The model banner at the top of the page and the `model_info` endpoint."""

from __future__ import annotations

from dataclasses import asdict

from .. import limits
from ..engine import get_pool
from ..registry import BUNDLED_MODEL
from .common import engine_for, picker_choices

LIMITS = {name.lower(): value for name, value in vars(limits).items() if name.isupper()}


def model_info(session_model=None, model: str = "") -> dict:
    """The model serving this session: name, source, device, dtype, parameters, load time, and why it runs;
    and which models the server offers and holds in memory now.

    Args:
        model: one of the offered models ("" is the server's default); it is loaded if it is not in memory.
    Returns:
        A dict with name, source, device, dtype, parameters, load_seconds, embed_dim, image_size,
        logit_scale, note, the embedding caches (entries, bytes, limit_bytes), the server's limits, and
        models: {"default": name, "offered": [names a `model` argument may take], "loaded": [names in memory,
        least recently used first], "max_models": n}.
    """
    engine = engine_for(model, session_model)
    pool = get_pool()
    offered = picker_choices(session_model)
    return {**asdict(engine.info), "logit_scale": round(engine.logit_scale, 3),
            "logit_bias": round(engine.logit_bias, 3), "cache": engine.cache_sizes(), "limits": LIMITS,
            "models": {"default": pool.default, "offered": offered, "loaded": pool.loaded(),
                       "max_models": pool.max_models}}


DETAILS = (("name", "Model"), ("source", "Source (hub id or folder name)"), ("family", "Family"),
           ("score", "Score"), ("logit_scale", "logit_scale (t)"), ("logit_bias", "logit_bias (b)"),
           ("parameters", "Parameters"), ("image_size", "Image input (px)"), ("embed_dim", "Embedding size"),
           ("max_text_tokens", "Text limit (tokens)"), ("device", "Device"), ("dtype", "Precision"),
           ("backend", "Backend"), ("load_seconds", "Loaded in"), ("knows_photos", "Trained on photos"),
           ("note", "Note"))


def details(info: dict) -> str:
    """The model as a readable two-column table: no server paths, no cache byte counts (the
    `model_info` endpoint keeps those for scripts)."""
    def value(key):
        v = info.get(key)
        if key == "parameters":
            return f"{v / 1e6:.1f}M"
        if key == "load_seconds":
            return f"{v:.1f} s"
        if key == "score":
            return ("independent sigmoid per pair: sigmoid(t·cos + b)" if v == "sigmoid"
                    else "softmax over the candidates: softmax(t·cos)")
        if key == "knows_photos":
            return "yes" if v else "no (synthetic scenes only)"
        if key == "logit_bias" and info.get("score") != "sigmoid":
            return None
        return v
    rows = [(label, value(key)) for key, label in DETAILS if info.get(key) not in (None, "")]
    rows = [(label, v) for label, v in rows if v is not None]
    return "| Property | Value |\n|---|---|\n" + "\n".join(f"| {label} | {str(v).replace('|', '/')} |" for label, v in rows)


def banner(info: dict) -> str:
    line = (f"**Model:** `{info['name']}` &nbsp;·&nbsp; {info['device']} / {info['dtype']} &nbsp;·&nbsp; "
            f"{info['parameters'] / 1e6:.1f}M parameters &nbsp;·&nbsp; {info['image_size']} px input &nbsp;·&nbsp; "
            f"{info['score']} scores &nbsp;·&nbsp; logit_scale {info['logit_scale']:.1f} &nbsp;·&nbsp; loaded in {info['load_seconds']:.1f}s")
    if info["note"]:
        line += f"\n\n> ⚠️ {info['note']}"
    elif info["name"] == BUNDLED_MODEL or info["source"] == BUNDLED_MODEL:
        line += ("\n\n> This is the bundled tiny CLIP: it was trained only on synthetic shapes, colours and "
                 "digits, not photos. Use the scene examples to see it work; on photos its answers are noise.")
    elif not info["knows_photos"]:
        line += "\n\n> This model was trained only on synthetic scenes, not photos: on photos its answers are noise."
    return line


def status(session_model=None, model: str = "") -> tuple[str, dict]:
    info = model_info(session_model, model)
    return banner(info), info
