"""Where in the image a text matches: relevance maps per text, and which words drove the match.

Two methods. Which apply to a model is its family's to say (`engine.family.saliency`):

- "relevance": gradient-weighted attention relevance (Chefer, Gur and Wolf, "Generic Attention-model
  Explainability for Interpreting Bi-Modal and Encoder-Decoder Transformers", ICCV 2021). Every layer's
  attention map A [heads, n, n] is weighted by the gradient of the score with respect to it, negatives
  dropped and heads averaged, Ā = mean_h (∇A ⊙ A)^+, and accumulated as R <- R + Ā R from R = I. The
  CLS token's row of R over the patch tokens is the image map; the end-of-text token's row over the word
  tokens is the text's per-token relevance. Needs attention weights, so it runs on the engine's eager
  twin (`engine.eager_model()`), never on the fast path. It reads the CLS token's row, so it applies to
  families that pool a class token (CLIP); SigLIP pools with an attention head (MAP) and has no CLS row,
  so relevance is refused there with a message that names occlusion.
- "occlusion": a grey patch (the dataset mean, 0 after normalisation) covers one patch of the model's
  input at a time; the map is the drop in the text's cosine. No gradients: it works for any model.

The image is padded to a square with the mean colour (not cropped, as CLIP's processor would), so the
map covers the whole image as given; it is returned at the image's aspect ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..engine import pooled
from ..errors import InputError

METHODS = ("relevance", "occlusion")
METHOD_NAMES = {
    "relevance": "gradient-weighted attention relevance (Chefer et al., ICCV 2021)",
    "occlusion": "occlusion (drop in cosine when a grey patch covers each region)",
}
MAP_MAX_SIDE = 224  # maps are returned at the image's size, or this long side if the image is larger
NULL_CAPTION = "a photo."  # a caption that names nothing: what a text must beat to say something about the image


@dataclass(frozen=True)
class WordRelevance:
    word: str
    relevance: float  # the word's share of the text's relevance, in [0, 1]; a text's words sum to 1


@dataclass(frozen=True)
class SaliencyResult:
    texts: list[str]
    method: str  # one of METHODS
    maps: np.ndarray  # [T, H, W] in [0, 1], rows top to bottom, covering the whole image; 1 = most relevant
    grid: np.ndarray  # [T, g, g] the raw per-patch values on the model's (padded, square) input
    cosine: list[float]  # cosine(image, text) of each text, in [-1, 1]
    words: list[list[WordRelevance]]  # per text; empty for methods that give no per-word relevance
    null_cosine: float  # cosine(image, NULL_CAPTION), by the same model and input as `cosine`

    @property
    def method_name(self) -> str:
        return METHOD_NAMES[self.method]

    def as_dict(self) -> dict:
        """The JSON form (the command line's `--json` and the Saliency tab's download), ready for json.dumps:
        {"texts": [T strings], "maps": [T][H][W] floats in [0, 1] rounded to 4 places, rows top to bottom,
        covering the whole image, 1 = most relevant, "method": one of METHODS, "cosine": [T] each text's
        cosine with the image, "null_cosine": the image's cosine with NULL_CAPTION}."""
        maps = np.round(self.maps.astype(np.float64), 4).tolist()
        return {"texts": list(self.texts), "maps": maps, "method": self.method,
                "cosine": [round(c, 6) for c in self.cosine], "null_cosine": round(self.null_cosine, 6)}


# -- preparing the input -----------------------------------------------------------------------------


def _pad_square(image: Image.Image, fill: tuple[int, int, int]) -> tuple[Image.Image, tuple[int, int, int]]:
    """The image centred on a square of `fill`; returns it and (side, x offset, y offset) in pixels."""
    image = image.convert("RGB")
    w, h = image.size
    side = max(w, h)
    if w == h:
        return image, (side, 0, 0)
    canvas = Image.new("RGB", (side, side), fill)
    ox, oy = (side - w) // 2, (side - h) // 2
    canvas.paste(image, (ox, oy))
    return canvas, (side, ox, oy)


def padded_pixel_values(engine, image: Image.Image):
    """pixel_values [1, 3, S, S] of the image padded to a square with the mean colour, and the padding
    geometry (side, x offset, y offset) in the image's pixels."""
    fill = tuple(int(round(255 * m)) for m in engine.image_processor.image_mean)
    square, geometry = _pad_square(image, fill)
    return engine.image_inputs([square])["pixel_values"], geometry


def _check(engine, texts: Sequence[str], method: str) -> list[str]:
    texts = [t.strip() for t in texts if t and t.strip()]
    if not texts:
        raise InputError("No texts given: enter at least one text to locate in the image.")
    if method not in METHODS:
        raise InputError(f"Unknown saliency method {method!r}: use one of {', '.join(METHODS)}.")
    if not engine.family.saliency:
        raise InputError(f"No saliency method here explains {engine.info.name} ({engine.family.name}): its image "
                         "tower reads variable patch sequences (NaFlex). Try a CLIP or SigLIP model.")
    if method not in engine.family.saliency:
        raise InputError(f"'{method}' cannot explain {engine.info.name} ({engine.family.name}): it pools the image "
                         f"with an attention head, not a class token. Use {' or '.join(engine.family.saliency)}.")
    return texts


def to_image_grid(grid: np.ndarray, geometry: tuple[int, int, int], image_size: tuple[int, int],
                  max_side: int = MAP_MAX_SIDE) -> np.ndarray:
    """Upsample per-patch maps [T, g, g] (bilinear) to the image as given: [T, H', W'] in [0, 1].

    The padded square is scaled so the image's long side is min(its size, max_side), and the padding is
    cut off again: a square image of up to max_side pixels maps 1:1.
    """
    side, ox, oy = geometry
    w, h = image_size
    scale = min(1.0, max_side / side)
    out = max(1, round(side * scale))
    up = F.interpolate(torch.as_tensor(grid, dtype=torch.float32)[:, None], size=(out, out), mode="bilinear",
                       align_corners=False)[:, 0]
    x0, y0 = round(ox * scale), round(oy * scale)
    up = up[:, y0:y0 + max(1, round(h * scale)), x0:x0 + max(1, round(w * scale))].numpy()
    lo, hi = up.min(axis=(1, 2), keepdims=True), up.max(axis=(1, 2), keepdims=True)
    return (up - lo) / np.where(hi - lo > 0, hi - lo, 1)


# -- gradient-weighted attention relevance --------------------------------------------------------------


def _capture_attentions(model):
    """Forward hooks that keep every attention map (with its graph) of the vision and text encoders."""
    store = {"vision": [], "text": []}
    handles = []
    for name, layers in (("vision", model.vision_model.encoder.layers), ("text", model.text_model.encoder.layers)):
        for layer in layers:
            handles.append(layer.self_attn.register_forward_hook(
                lambda _m, _inp, out, key=name: store[key].append(out[1])))
    return store, handles


def _rollout(attentions: list[torch.Tensor], grads: list[torch.Tensor]) -> torch.Tensor:
    """R = I; R <- R + mean_h((grad * A)^+) @ R over layers. attentions, grads: [B, heads, n, n]. Returns [B, n, n]."""
    b, _, n, _ = attentions[0].shape
    relevance = torch.eye(n, dtype=torch.float32, device=attentions[0].device).expand(b, n, n).clone()
    for a, g in zip(attentions, grads):
        cam = (g.float() * a.float()).clamp(min=0).mean(dim=1)  # [B, n, n]
        relevance = relevance + torch.bmm(cam, relevance)
    return relevance


def _words(engine, input_ids: torch.Tensor, token_relevance: torch.Tensor) -> list[WordRelevance]:
    """Group BPE tokens into words (CLIP's BPE marks a word's last token with '</w>') and share out relevance."""
    tokens = engine.tokenizer.convert_ids_to_tokens(input_ids.tolist())
    special = set(engine.tokenizer.all_special_tokens)
    words, current, value = [], "", 0.0
    for tok, rel in zip(tokens, token_relevance.tolist()):
        if tok in special:
            continue
        current, value = current + tok.replace("</w>", ""), value + rel
        if tok.endswith("</w>"):
            words.append((current, value))
            current, value = "", 0.0
    if current:
        words.append((current, value))
    total = sum(v for _, v in words) or 1.0
    return [WordRelevance(w, v / total) for w, v in words]


def _relevance(engine, pixels: torch.Tensor, texts: list[str]):
    """Per-patch relevance [T, g, g], cosines [T], per-word relevance per text, and the image's cosine with
    NULL_CAPTION."""
    model = engine.eager_model()
    batch, null = engine.text_inputs(texts), engine.text_inputs([NULL_CAPTION])
    input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
    t = len(texts)
    with engine.forward_lock, torch.enable_grad():
        store, handles = _capture_attentions(model)
        try:
            image_embeds = pooled(model.get_image_features(pixel_values=pixels.expand(t, -1, -1, -1)))
            text_embeds = pooled(model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))
        finally:
            for h in handles:
                h.remove()
        cosine = F.cosine_similarity(image_embeds.float(), text_embeds.float(), dim=-1)  # [T]
        # samples in a batch are independent, so the gradient of the sum gives each text its own gradients
        grads = torch.autograd.grad(cosine.sum(), store["vision"] + store["text"])
        with torch.no_grad():
            null_embeds = pooled(model.get_text_features(input_ids=null["input_ids"],
                                                         attention_mask=null["attention_mask"]))
            null_cosine = F.cosine_similarity(image_embeds[:1].detach().float(), null_embeds.float(), dim=-1).item()
    nv = len(store["vision"])
    vision = _rollout([a.detach() for a in store["vision"]], grads[:nv])
    patches = vision[:, 0, 1:]  # the CLS row over the patch tokens: [T, g*g]
    g = int(round(patches.shape[1] ** 0.5))
    text = _rollout([a.detach() for a in store["text"]], grads[nv:])
    eos = _eos_positions(engine, input_ids)
    token_rel = text[torch.arange(t), eos]  # [T, L]
    words = [_words(engine, input_ids[i][attention_mask[i].bool()], token_rel[i][attention_mask[i].bool()])
             for i in range(t)]
    return patches.reshape(t, g, g).cpu().numpy(), cosine.detach().cpu().tolist(), words, null_cosine


def _eos_positions(engine, input_ids: torch.Tensor) -> torch.Tensor:
    """Where the text model pools: the first end-of-text token of each row."""
    eos = engine.model.config.text_config.eos_token_id
    return (input_ids == eos).int().argmax(dim=-1)


# -- occlusion -----------------------------------------------------------------------------------------


def occlusion_grid(engine, pixels: torch.Tensor, text_features: torch.Tensor,
                   batch_size: int = 64) -> tuple[np.ndarray, list[float]]:
    """The drop in cosine when each patch is greyed out. pixels [1, 3, S, S]; text_features [T, D] unit.

    Returns ([T, g, g] drops, cosines [T] of the whole image)."""
    vision = engine.model.config.vision_config
    p, g = vision.patch_size, vision.image_size // vision.patch_size
    masked = pixels.repeat(g * g, 1, 1, 1)
    for k in range(g * g):
        r, c = divmod(k, g)
        masked[k, :, r * p:(r + 1) * p, c * p:(c + 1) * p] = 0  # the dataset mean, after normalisation
    full = unit_image_features(engine, pixels)
    occluded = torch.cat([unit_image_features(engine, masked[i:i + batch_size]) for i in range(0, g * g, batch_size)])
    base = full @ text_features.T  # [1, T]
    drop = base - occluded @ text_features.T  # [g*g, T]
    return drop.T.reshape(-1, g, g).numpy(), base[0].tolist()


def unit_image_features(engine, pixels: torch.Tensor) -> torch.Tensor:
    """Unit image features [B, D] (float32, CPU) of ready pixel_values [B, 3, S, S]: no processor, no cache."""
    with engine.forward_lock, torch.inference_mode():
        features = pooled(engine.model.get_image_features(pixel_values=pixels)).float().cpu()
    return features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)


# -- the one entry point --------------------------------------------------------------------------------


def saliency(engine, image: Image.Image, texts: Sequence[str], method: str = "relevance",
             max_side: int = MAP_MAX_SIDE) -> SaliencyResult:
    """Where in `image` each text matches.

    Args:
        engine: a ClipEngine (its model is used as is; the fast path is left alone).
        image: any RGB image; padded to a square, never cropped.
        texts: one or more texts.
        method: "relevance" (Chefer et al. 2021, gives per-word relevance too) or "occlusion".
        max_side: the long side of the returned maps at most (smaller images map 1:1).
    Returns:
        A SaliencyResult: maps [T, H, W] in [0, 1] over the whole image (1 = most relevant), the raw
        per-patch grid, each text's cosine, per-word relevance (relevance method only), and the image's
        cosine with NULL_CAPTION.
    """
    texts = _check(engine, texts, method)
    pixels, geometry = padded_pixel_values(engine, image)
    if method == "relevance":
        grid, cosine, words, null_cosine = _relevance(engine, pixels, texts)
    else:
        grid, cosine = occlusion_grid(engine, pixels, engine.encode_texts(texts + [NULL_CAPTION]))
        grid, cosine, null_cosine = grid[:-1], cosine[:-1], cosine[-1]  # no map for the null caption
        words = [[] for _ in texts]
    maps = to_image_grid(grid, geometry, image.size, max_side)
    return SaliencyResult(texts, method, maps, grid, [float(c) for c in cosine], words, null_cosine)


# -- reading the maps: is the text there at all, and one scale for all panels ------------------------------

def probably_absent(result: SaliencyResult, typical) -> list[bool]:
    """Per text: probably not in the image. A saliency map is scaled to its own maximum, so a text that is not
    in the image still lights up somewhere; its cosine says whether it matched at all. Two readings must
    agree before a panel is called absent:

    - the cosine is a weak match by the model's own typical cosines (analysis.typical.TypicalCosines.is_weak:
      below the midpoint of its matching and non-matching levels, the line the scoring tabs flag a weak
      winner by), and
    - the image scores the text no higher than it scores NULL_CAPTION, a caption that names nothing.

    The line alone misfired: it comes from whole captions, so a phrase that names half of a two-object scene
    falls under it though present (tiny-scenes: "orange diamond" and "blue circle" beside each other score
    0.31 and 0.26, its line 0.32). The image's cosine with NULL_CAPTION moves with the image. On 100
    two-object probe scenes each (tiny-scenes by relevance, tiny-scenes-siglip by occlusion; their 5,000-step
    checkpoints, before the 8,500-step retunes), the share of
    bare names flagged, the line alone -> both readings (scripts/absent_flags.py):

    - a present object's: 76% -> 0% (tiny-scenes), 76% -> 3% (tiny-scenes-siglip);
    - an absent one that shares a colour or a shape with an object: 100% -> 49%, 98% -> 24%;
    - an absent one that shares neither: 100% -> 92%, 100% -> 62%.

    On one-object scenes tiny-scenes flags the same texts as before (a present name never; an absent one
    that shares neither 95%). tiny-scenes-siglip flags fewer there (85% -> 33% of those sharing neither):
    its absent names often score above "a photo.". A missed flag leaves the cosine in the panel's title
    to read; a false one told users a present object was absent. Measured on the bundled models only: a
    text filled into a template that itself says "a photo" (CLIP's "a photo of a {}.", in the Where? panels)
    shares those words with NULL_CAPTION, which probably makes a flag rarer there (not measured)."""
    return [typical.is_weak(c) and c <= result.null_cosine for c in result.cosine]


def shared_scale_maps(result: SaliencyResult) -> np.ndarray:
    """The maps [T, H, W] on one scale for all texts (0 = the lowest value of any panel, 1 = the highest),
    so panels compare *how much* as well as *where*. Each map is put back on its raw per-patch range
    (the grid's min and max: bilinear upsampling stays within it), then all are scaled together."""
    lo, hi = result.grid.min(axis=(1, 2)), result.grid.max(axis=(1, 2))  # [T]
    raw = result.maps * (hi - lo)[:, None, None] + lo[:, None, None]
    low, high = raw.min(), raw.max()
    return (raw - low) / (high - low if high > low else 1.0)
