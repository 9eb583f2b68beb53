"""The tiny architectures: a plain `transformers.CLIPModel` (softmax loss) or `SiglipModel` (sigmoid loss).

Both have the same towers' sizes; they differ in the loss they are trained with and in how the image is
pooled (CLIP: a class token; SigLIP: a multihead attention-pooling head), as the real families do.
"""

from __future__ import annotations

import math

from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer, SiglipConfig,
                          SiglipModel)

from ..constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

IMAGE_SIZE = 64
SIGLIP_TEXT_TOKENS = 64  # SigLIP pads every text to this length and pools its last position
# SigLIP's initial temperature and bias (Zhai et al. 2023): t = exp(t') = 10, b = -10, so that at the
# start every pair looks negative, as nearly all of them are
SIGLIP_INIT_SCALE, SIGLIP_INIT_BIAS = 10.0, -10.0


def tiny_config(tokenizer: CLIPTokenizer, width: int = 128, vision_layers: int = 4, text_layers: int = 2,
                heads: int = 4, patch_size: int = 8, image_size: int = IMAGE_SIZE) -> CLIPConfig:
    """A ViT (image_size/patch_size)^2 patches x `vision_layers` and a `text_layers` text transformer.

    eos_token_id is the tokenizer's real EOS (its highest id), never the legacy 2, so the text
    model pools at the EOS position.
    """
    text = dict(vocab_size=len(tokenizer), hidden_size=width, intermediate_size=4 * width,
                num_hidden_layers=text_layers, num_attention_heads=heads, max_position_embeddings=77,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id)
    vision = dict(image_size=image_size, patch_size=patch_size, hidden_size=width, intermediate_size=4 * width,
                  num_hidden_layers=vision_layers, num_attention_heads=heads)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=width)


def tiny_processor(tokenizer: CLIPTokenizer, image_size: int = IMAGE_SIZE) -> CLIPProcessor:
    image_processor = CLIPImageProcessor(size={"shortest_edge": image_size},
                                         crop_size={"height": image_size, "width": image_size},
                                         image_mean=list(OPENAI_DATASET_MEAN), image_std=list(OPENAI_DATASET_STD))
    return CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def tiny_siglip_config(tokenizer: CLIPTokenizer, width: int = 128, vision_layers: int = 4, text_layers: int = 2,
                       heads: int = 4, patch_size: int = 8, image_size: int = IMAGE_SIZE) -> SiglipConfig:
    """The SigLIP twin of `tiny_config`: the same widths and depths, texts of SIGLIP_TEXT_TOKENS positions."""
    text = dict(vocab_size=len(tokenizer), hidden_size=width, intermediate_size=4 * width,
                num_hidden_layers=text_layers, num_attention_heads=heads,
                max_position_embeddings=SIGLIP_TEXT_TOKENS, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    vision = dict(image_size=image_size, patch_size=patch_size, hidden_size=width, intermediate_size=4 * width,
                  num_hidden_layers=vision_layers, num_attention_heads=heads)
    return SiglipConfig(text_config=text, vision_config=vision)


def build_model(tokenizer: CLIPTokenizer, seed: int = 0, loss: str = "softmax", **config):
    """A tiny CLIPModel (loss "softmax") or SiglipModel (loss "sigmoid", t and b at the paper's start)."""
    import torch

    torch.manual_seed(seed)
    if loss == "sigmoid":
        model = SiglipModel(tiny_siglip_config(tokenizer, **config))
        with torch.no_grad():
            model.logit_scale.fill_(math.log(SIGLIP_INIT_SCALE))
            model.logit_bias.fill_(SIGLIP_INIT_BIAS)
        return model.eval()
    return CLIPModel(tiny_config(tokenizer, **config)).eval()


def _rebuilt(model, **vision_changes):
    """A fresh model of `model`'s class and config with `vision_changes` set on its vision config (random weights)."""
    config = model.config.__class__.from_dict(model.config.to_dict())
    for name, value in vision_changes.items():
        setattr(config.vision_config, name, value)
    return model.__class__(config)


def _like(new, model):
    """`new` on `model`'s device and dtype, in its train or eval mode."""
    weight = model.vision_model.embeddings.position_embedding.weight
    return new.to(weight.device, weight.dtype).train(model.training)


def with_image_size(model, image_size: int):
    """`model` (CLIPModel or SiglipModel) reading `image_size` px instead: the same weights, with the patch grid's
    position embeddings resized to the new grid by transformers' own `interpolate_pos_encoding` (bicubic, as
    ViTs are fine-tuned at a higher resolution; Touvron et al. 2019, Dosovitskiy et al. 2021), stored instead of
    recomputed on every call. CLIP's class-token position is kept as it is. Returns `model` itself when its
    size is already `image_size`."""
    import torch

    vision = model.config.vision_config
    if vision.image_size == image_size:
        return model
    if image_size <= 0 or image_size % vision.patch_size:
        raise ValueError(f"image_size {image_size} is not a positive multiple of the patch size {vision.patch_size}")
    resized = _rebuilt(model, image_size=image_size)
    embeddings = model.vision_model.embeddings
    old = embeddings.position_embedding.weight
    extra = old.shape[0] - (vision.image_size // vision.patch_size) ** 2  # 1 for CLIP's class token, 0 for SigLIP
    tokens = torch.zeros(1, (image_size // vision.patch_size) ** 2 + extra, old.shape[1])  # only its shape is read
    state = model.state_dict()
    with torch.no_grad():
        state["vision_model.embeddings.position_embedding.weight"] = embeddings.interpolate_pos_encoding(
            tokens, image_size, image_size)[0]
    resized.load_state_dict(state)
    return _like(resized, model)


def with_vision_layers(model, layers: int):
    """`model` (CLIPModel or SiglipModel) with its vision tower deepened to `layers` transformer layers: the
    trained layers as they are, then new ones whose residual branches start at zero (the attention's output
    projection and the MLP's second layer), so the deeper model computes exactly what the shallower one did
    until training moves them. Returns `model` itself when it already has `layers`; never removes layers."""
    vision = model.config.vision_config
    if vision.num_hidden_layers == layers:
        return model
    if layers < vision.num_hidden_layers:
        raise ValueError(f"vision_layers {layers} is under the model's {vision.num_hidden_layers}: layers are "
                         "only ever added")
    deeper = _rebuilt(model, num_hidden_layers=layers)
    missing, unexpected = deeper.load_state_dict(model.state_dict(), strict=False)
    new = tuple(f"vision_model.encoder.layers.{i}." for i in range(vision.num_hidden_layers, layers))
    if unexpected or not all(k.startswith(new) for k in missing):
        raise RuntimeError(f"deepening left weights unloaded: missing {missing}, unexpected {unexpected}")
    for layer in deeper.vision_model.encoder.layers[vision.num_hidden_layers:]:
        for branch_out in (layer.self_attn.out_proj, layer.mlp.fc2):
            branch_out.weight.data.zero_()
            branch_out.bias.data.zero_()
    return _like(deeper, model)
