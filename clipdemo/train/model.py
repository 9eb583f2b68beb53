"""The tiny CLIP architecture: a plain `transformers.CLIPModel` built from a `CLIPConfig`."""

from __future__ import annotations

from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

from ..constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

IMAGE_SIZE = 64


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


def build_model(tokenizer: CLIPTokenizer, seed: int = 0, **config) -> CLIPModel:
    import torch

    torch.manual_seed(seed)
    return CLIPModel(tiny_config(tokenizer, **config)).eval()
