"""One adapter per dual-encoder family: what differs between CLIP and SigLIP, decided once at load.

transformers' zero-shot pipeline tests `"siglip" in model_type` where it pads texts and where it turns
logits into scores. Here that knowledge lives in one `Family`, looked up from `config.model_type` when
the model loads; everything above the engine asks the family and never the model type.

    family      score                               texts                          image pooling
    clip        softmax(logit_scale * cos)          padded to the longest          CLS token
    siglip      sigmoid(logit_scale * cos + bias)   padded to max_length 64        attention head (MAP)
    siglip2     sigmoid(logit_scale * cos + bias)   padded to max_length 64        attention head (MAP)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import ModelError


@dataclass(frozen=True)
class Family:
    """What a family's checkpoints need from the code around them.

    Attributes:
        name: short family name ("clip", "siglip", ...).
        model_types: transformers `config.model_type` values of this family.
        score: "softmax" (probabilities over the candidates, summing to 1) or "sigmoid" (one independent
            probability per image-text pair, with the model's learned `logit_bias`).
        text_kwargs: tokenizer arguments the family was trained with (SigLIP pools the last position,
            so its texts must be padded to `max_length` exactly as in training).
        pooling: "cls" (a class token) or "map" (multihead attention pooling over every patch).
        saliency: methods that explain this family's image pooling; occlusion works for any model.
        label: how the page names the family.
    """

    name: str
    model_types: tuple[str, ...]
    score: str
    text_kwargs: dict = field(default_factory=dict)
    pooling: str = "cls"
    saliency: tuple[str, ...] = ("relevance", "occlusion")
    label: str = ""

    @property
    def independent(self) -> bool:
        """True when each pair's score stands alone (sigmoid): the scores of a row need not sum to 1."""
        return self.score == "sigmoid"

    def pad_texts(self, tokenizer, texts: list[str], max_tokens: int) -> dict[str, torch.Tensor]:
        """Tokenize `texts` as the family was trained, cut at `max_tokens`: a dict of [N, L] tensors."""
        kwargs = {"padding": True, **self.text_kwargs, "truncation": True}
        if kwargs.get("padding") == "max_length":
            kwargs["max_length"] = min(kwargs.get("max_length", max_tokens), max_tokens)
        else:
            kwargs["max_length"] = max_tokens
        return dict(tokenizer(texts, return_tensors="pt", **kwargs))

    def probabilities(self, logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """Scores from logits (logit_scale * cos, plus the bias for sigmoid families).

        softmax: normalised along `dim` (each row sums to 1). sigmoid: element-wise, never renormalised.
        """
        return torch.sigmoid(logits) if self.independent else logits.softmax(dim)


_SIGLIP_TEXT = {"padding": "max_length", "max_length": 64}

FAMILIES: tuple[Family, ...] = (
    Family("clip", ("clip",), "softmax", label="CLIP (softmax over the candidates)"),
    Family("metaclip_2", ("metaclip_2",), "softmax", label="MetaCLIP 2 (softmax over the candidates)"),
    Family("siglip", ("siglip",), "sigmoid", _SIGLIP_TEXT, pooling="map", saliency=("occlusion",),
           label="SigLIP (independent sigmoid per label)"),
    # SigLIP 2 (Siglip2Model) reads images as variable patch sequences with spatial shapes (NaFlex):
    # encoding passes them through; no saliency method here handles them yet
    Family("siglip2", ("siglip2",), "sigmoid", _SIGLIP_TEXT, pooling="map", saliency=(),
           label="SigLIP 2 (independent sigmoid per label)"),
)

# families transformers knows but this app does not serve, and why
_REFUSED = {
    "altclip": "AltCLIP's text tower is an XLM-R encoder whose get_text_features needs its own processor",
    "chinese_clip": "Chinese-CLIP's tokenizer and prompts are Chinese; its scores would not mean what the page says",
    "align": "ALIGN uses an EfficientNet image tower with no patch grid, which no saliency method here explains",
}


def supported() -> list[str]:
    """The supported family names, for messages."""
    return [f.name for f in FAMILIES]


def family_of(config) -> Family:
    """The family of a transformers config (or of a `model_type` string).

    Raises:
        ModelError: the model type is not a supported dual encoder; the message names the supported ones.
    """
    model_type = config if isinstance(config, str) else getattr(config, "model_type", "")
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    why = _REFUSED.get(model_type, "it is not a dual image-text encoder this app knows how to score")
    raise ModelError(f"Unsupported architecture {model_type!r}: {why}. Supported families: "
                     f"{', '.join(supported())}.")
