"""Tiny random checkpoints of each verified dual-encoder family, built from configs and saved as a user
would save a real one (`save_pretrained` of model, tokenizer and image processor): no download."""

from __future__ import annotations

from pathlib import Path

SIDE, PATCH, WIDTH = 32, 8, 32


def _text(tokenizer, positions: int) -> dict:
    return dict(vocab_size=len(tokenizer), hidden_size=WIDTH, intermediate_size=2 * WIDTH, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=positions, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)


def _vision(**extra) -> dict:
    return dict(hidden_size=WIDTH, intermediate_size=2 * WIDTH, num_hidden_layers=1, num_attention_heads=2,
                patch_size=PATCH, **extra)


def build(family: str, tokenizer, seed: int = 0):
    """(model, image processor) of `family` with random weights (seeded)."""
    import torch
    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, MetaClip2Config, MetaClip2Model,
                              SiglipConfig, SiglipImageProcessor, SiglipModel)

    torch.manual_seed(seed)
    clip_processor = CLIPImageProcessor(size={"shortest_edge": SIDE}, crop_size={"height": SIDE, "width": SIDE})
    if family == "clip":
        config = CLIPConfig(text_config=_text(tokenizer, 77), vision_config=_vision(image_size=SIDE),
                            projection_dim=WIDTH)
        return CLIPModel(config), clip_processor
    if family == "metaclip_2":
        config = MetaClip2Config(text_config=_text(tokenizer, 77), vision_config=_vision(image_size=SIDE),
                                 projection_dim=WIDTH)
        return MetaClip2Model(config), clip_processor
    if family == "siglip":
        config = SiglipConfig(text_config=_text(tokenizer, 64), vision_config=_vision(image_size=SIDE))
        model = SiglipModel(config)
        with torch.no_grad():  # the paper's start, not torch.randn: scores in a readable range
            model.logit_scale.fill_(2.3)
            model.logit_bias.fill_(-1.0)
        return model, SiglipImageProcessor(size={"height": SIDE, "width": SIDE})
    if family == "siglip2":
        from transformers import Siglip2Config, Siglip2ImageProcessor, Siglip2Model

        config = Siglip2Config(text_config=_text(tokenizer, 64), vision_config=_vision(num_patches=16))
        model = Siglip2Model(config)
        with torch.no_grad():
            model.logit_scale.fill_(2.3)
            model.logit_bias.fill_(-1.0)
        return model, Siglip2ImageProcessor(patch_size=PATCH, max_num_patches=16)
    raise ValueError(family)


def save(family: str, tokenizer, folder: Path, seed: int = 0) -> Path:
    """A checkpoint directory of `family`, as `save_pretrained` writes one."""
    model, image_processor = build(family, tokenizer, seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    image_processor.save_pretrained(folder)
    return folder
