"""Published zero-shot figures for OpenAI's CLIP ViT-B/32 on the public benchmark nearest each suite.

Data, kept in one place. Sources: open_clip's published zero-shot results table (docs/openclip_results.csv,
"ViT-B-32 openai" row) and the vl_compo study of compositional reasoning (arXiv 2406.09388).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    benchmark: str
    accuracy: float
    chance: float
    source: str


OPEN_CLIP = "open_clip results table, ViT-B-32 openai"
VL_COMPO = "vl_compo study, arXiv 2406.09388"

PUBLISHED: dict[str, Published] = {
    "counting": Published("CLEVR counts", 0.232, 0.125, OPEN_CLIP),
    "digits": Published("MNIST", 0.484, 0.10, OPEN_CLIP),
    "text": Published("Rendered SST2", 0.587, 0.50, OPEN_CLIP),
    "spatial": Published("What'sUp (left/right/on/under)", 0.31, 0.25, VL_COMPO),
    "binding": Published("Winoground (text score)", 0.312, 0.25, VL_COMPO),
}


def published_for(suite: str) -> Published | None:
    return PUBLISHED.get(suite)
