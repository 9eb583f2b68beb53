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


def with_image_size(model, image_size: int):
    """`model` (CLIPModel or SiglipModel) reading `image_size` px instead: the same weights, with the patch grid's
    position embeddings resized bicubically to the new grid (as ViTs are fine-tuned at a higher resolution;
    Touvron et al. 2019, Dosovitskiy et al. 2021). CLIP's class-token position is kept as it is. Returns `model`
    itself when its size is already `image_size`."""
    import torch
    import torch.nn.functional as F

    vision = model.config.vision_config
    if vision.image_size == image_size:
        return model
    if image_size <= 0 or image_size % vision.patch_size:
        raise ValueError(f"image_size {image_size} is not a positive multiple of the patch size {vision.patch_size}")
    config = model.config.__class__.from_dict(model.config.to_dict())
    config.vision_config.image_size = image_size
    resized = model.__class__(config)
    state = model.state_dict()
    key = next(k for k in state if k.endswith("embeddings.position_embedding.weight") and "vision" in k)
    old = state[key]
    grid, new_grid = vision.image_size // vision.patch_size, image_size // vision.patch_size
    extra = old.shape[0] - grid * grid  # 1 for CLIP's class token, 0 for SigLIP
    patches = old[extra:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=(new_grid, new_grid), mode="bicubic", align_corners=False)
    state[key] = torch.cat([old[:extra], patches.permute(0, 2, 3, 1).reshape(new_grid * new_grid, -1)])
    resized.load_state_dict(state)
    weight = next(model.parameters())
    return resized.to(weight.device, weight.dtype).train(model.training)
