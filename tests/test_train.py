"""Training: the tokenizer, the loss, a short run, and the saved checkpoint's format."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clipdemo.scenes import random_scene, scene_rng
from clipdemo.train.loop import ScenePool, TrainConfig, contrastive_loss, normalise, train
from clipdemo.train.model import build_model, tiny_processor, with_image_size, with_vision_layers
from clipdemo.train.recipes import FROM_CHECKPOINT
from clipdemo.train.tokenizer import save_clip_vocab

ROOT = Path(__file__).resolve().parents[1]


def test_any_text_tokenizes_without_unknowns(tokenizer):
    ids = tokenizer("Zebra-crossing café ☕ 123, naïve?")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.eos_token_id not in ids[1:-1]  # nothing unknown became EOS


def test_loss_with_identity_truth_is_clips_loss():
    logits = torch.randn(6, 6)
    clip = (torch.nn.functional.cross_entropy(logits, torch.arange(6))
            + torch.nn.functional.cross_entropy(logits.T, torch.arange(6))) / 2
    torch.testing.assert_close(contrastive_loss(logits, torch.eye(6, dtype=torch.bool)), clip)


def test_training_preprocessing_matches_the_clip_image_processor(tokenizer):
    from PIL import Image

    from clipdemo.scenes import random_scene, scene_rng

    image = random_scene(scene_rng(1, "heldout")).image
    processor = tiny_processor(tokenizer)
    reference = processor.image_processor([image], return_tensors="pt")["pixel_values"]
    size = processor.image_processor.crop_size["height"]
    ours = normalise(torch.from_numpy(np.array(image.resize((size, size), Image.BICUBIC)))[None])
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)


def test_hard_negatives_are_false_and_one_edit_away():
    from clipdemo.scenes import hard_negative, relation_scene, scene_rng
    from clipdemo.scenes.grammar import canonical_caption

    rng = scene_rng(0, "heldout")
    for _ in range(20):
        scene = relation_scene(rng)
        negative = hard_negative(scene.key, rng)
        assert negative not in scene.truths
        assert sorted(canonical_caption(negative).split()) == sorted(canonical_caption(scene.key).split())
    pool = ScenePool(64, 32, seed=0)
    _, captions, truth = pool.batch(np.random.default_rng(0), 32, hard_negatives=1.0)
    assert truth.shape == (32, len(captions)) and len(captions) > 40
    assert truth[:, :32].diagonal().all() and truth[:, 32:].sum() < truth[:, 32:].numel() * 0.1


def test_symmetries_turn_and_mirror_groups_only():
    """Each group is shown in one of the square's 8 symmetries, which keep its captions true; digits and
    two-object scenes, whose captions a turn or mirror would change, are shown as drawn."""
    pool = ScenePool(48, 32, seed=0, mix={"group": 0.5, "relation": 0.2, "digit": 0.3})
    plain, _, _ = pool.batch(np.random.default_rng(0), 48)
    stored = pool.pixels.clone()
    turned, _, _ = pool.batch(np.random.default_rng(0), 48, symmetries=True)
    assert torch.equal(pool.pixels, stored)  # the batch's copy is turned, never the pool
    idx = np.random.default_rng(0).choice(48, 48, replace=False)  # the batch's first draw: the same scenes
    moved = mirrored = rotated = 0
    for j, i in enumerate(idx):
        if pool.scenes[i].kind != "group":
            torch.testing.assert_close(turned[j], plain[j], atol=0, rtol=0)
            continue
        turns = [torch.rot90(plain[j], k, (1, 2)) for k in range(4)]
        mirrors = [v.flip(2) for v in turns]
        assert any(torch.equal(turned[j], v) for v in turns + mirrors), pool.scenes[i].key
        moved += not torch.equal(turned[j], plain[j])
        mirrored += not any(torch.equal(turned[j], v) for v in turns)  # a view only a mirror gives
        rotated += not any(torch.equal(turned[j], v) for v in (plain[j], mirrors[0]))  # only a turn gives
    groups = sum(pool.scenes[i].kind == "group" for i in idx)
    assert groups >= 10 and moved >= groups // 2 and mirrored >= 3 and rotated >= 3, (groups, moved, mirrored,
                                                                                     rotated)


def test_training_passes_its_symmetries_to_the_pool(tokenizer):
    from clipdemo.train.loop import TrainConfig, train

    class Recording(ScenePool):
        def batch(self, *args, **kwargs):
            self.asked = args[4:] + tuple(kwargs.values())
            return super().batch(*args, **kwargs)

    model = build_model(tokenizer, seed=0, width=32, vision_layers=1, text_layers=1, image_size=32)
    for symmetries in (False, True):
        pool = Recording(32, 32, seed=0)
        list(train(model, tokenizer, TrainConfig(steps=1, batch_size=8, warmup=1, symmetries=symmetries), pool=pool))
        assert pool.asked == (symmetries,)


def test_a_pool_in_parts_is_the_single_pool_then_fresh_scenes_with_their_own_truths():
    single = ScenePool(24, 32, seed=5, style="robust")
    parts = ScenePool(24, 32, seed=5, style="robust", parts=3)  # rendered by worker processes
    assert parts.pixels.shape == (72, 32, 32, 3) and len(parts.scenes) == 72
    assert torch.equal(parts.pixels[:24], single.pixels) and parts.scenes[:24] == single.scenes
    # the other parts are new scenes, not the first part again, and each keeps its own key and truths
    assert not torch.equal(parts.pixels[24:48], parts.pixels[:24])
    assert not torch.equal(parts.pixels[48:], parts.pixels[24:48])
    assert len({scene.key for scene in parts.scenes}) > len({scene.key for scene in single.scenes})
    redrawn = random_scene(scene_rng(5, "train", 2), size=96, style="robust")  # the third part's first scene
    assert parts.scenes[48].key == redrawn.key
    assert torch.equal(parts.pixels[48], torch.from_numpy(np.asarray(redrawn.image.resize((32, 32), Image.BICUBIC))))
    # a replay part is the next part's stream drawn by the first renderer, after the parts in the pool's style
    replayed = ScenePool(24, 32, seed=5, style="robust", parts=2, replay=1)
    assert torch.equal(replayed.pixels[:48], parts.pixels[:48])
    first = random_scene(scene_rng(5, "train", 2), size=96, style="train")
    assert replayed.scenes[48].key == first.key
    assert torch.equal(replayed.pixels[48], torch.from_numpy(np.asarray(first.image.resize((32, 32), Image.BICUBIC))))
    assert not torch.equal(replayed.pixels[48:], parts.pixels[48:])


def test_the_sides_phase_asks_only_where_one_object_is_against_the_other_side():
    from clipdemo.train.recipes import SIDES_PHASE

    pool = ScenePool(64, 32, seed=0, mix=SIDES_PHASE.mix)
    assert {scene.kind for scene in pool.scenes} == {"relation"}
    _, captions, truth = pool.batch(np.random.default_rng(0), 32, SIDES_PHASE.hard_negatives,
                                    SIDES_PHASE.relation_captions)
    assert len(captions) == 64 and truth[:, :32].diagonal().all() and not truth[:, 32:].diagonal().any()
    for true, false in zip(captions[:32], captions[32:]):
        sides = [word for word in ("left", "right", "top", "bottom") if word in true]
        assert len(sides) == 1 and " to the " not in true and " and " not in true, true
        opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}[sides[0]]
        assert opposite in false and sides[0] not in false, (true, false)


def test_the_default_recipe_is_the_plain_config():
    # `python -m clipdemo.train --out DIR` must keep reproducing the first stage of the bundled checkpoint
    from clipdemo.train.recipes import RECIPES

    assert RECIPES["scenes"] == (TrainConfig(),)
    assert TrainConfig().mix == {"group": 0.45, "relation": 0.1, "digit": 0.45}


def test_the_spatial_recipe_runs_from_the_command_line(tokenizer, tmp_path, capsys):
    import json

    from clipdemo.train.__main__ import main

    model = build_model(tokenizer, seed=0, width=32, vision_layers=1, text_layers=1, image_size=32)
    model.save_pretrained(tmp_path / "base")
    (tmp_path / "base" / "training_args.json").write_text('{"recipe": "scenes"}')
    assert main(["--recipe", "spatial", "--init", str(tmp_path / "base"), "--out", str(tmp_path / "out"),
                 "--steps", "3", "--batch-size", "8", "--pool", "40"]) == 0
    assert "phase 2/2  step     3/3" in capsys.readouterr().out
    record = json.loads((tmp_path / "out" / "training_args.json").read_text())
    assert [p["mix"] for p in record["phases"]] == [{"relation": 1.0}, {"group": 0.35, "relation": 0.3, "digit": 0.35}]
    assert record["init_training_args"] == {"recipe": "scenes"}


@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_a_larger_input_gives_what_transformers_interpolation_gives(tokenizer, loss):
    # the resized model stores the position embeddings that transformers would interpolate on every call
    model = build_model(tokenizer, seed=0, loss=loss, width=32, vision_layers=1, text_layers=1, image_size=32)
    larger = with_image_size(model, 48)
    assert larger.config.vision_config.image_size == 48 and model.config.vision_config.image_size == 32
    pixels = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        expected = model.get_image_features(pixel_values=pixels, interpolate_pos_encoding=True).pooler_output
        torch.testing.assert_close(larger.get_image_features(pixel_values=pixels).pooler_output, expected)
    assert with_image_size(model, 32) is model
    with pytest.raises(ValueError, match="positive multiple of the patch size"):
        with_image_size(model, 50)


@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_a_deepened_vision_tower_starts_as_the_same_function_and_then_learns(tokenizer, loss):
    model = build_model(tokenizer, seed=0, loss=loss, width=32, vision_layers=1, text_layers=1, image_size=32)
    deeper = with_vision_layers(model, 3)
    assert len(deeper.vision_model.encoder.layers) == 3 and deeper.config.vision_config.num_hidden_layers == 3
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(deeper.get_image_features(pixel_values=pixels).pooler_output,
                                   model.get_image_features(pixel_values=pixels).pooler_output)
    new = deeper.vision_model.encoder.layers[2].mlp.fc2.weight
    assert not new.any()
    list(train(deeper, tokenizer, TrainConfig(steps=2, batch_size=8, lr=1e-3, warmup=1), pool=ScenePool(16, 32)))
    assert new.abs().sum() > 0  # the zero branches get gradients: the new layers are not dead
    assert with_vision_layers(model, 1) is model
    with pytest.raises(ValueError, match="only ever added"):
        with_vision_layers(deeper, 2)


@pytest.mark.parametrize("loss, recipe", [("softmax", "wide-replay-80"), ("sigmoid", "siglip-replay2-80")])
def test_a_recipe_that_changes_the_input_size_saves_a_model_and_processor_of_that_size(tokenizer, tmp_path, loss,
                                                                                        recipe):
    from transformers import AutoModel, CLIPProcessor

    from clipdemo.train.__main__ import main

    build_model(tokenizer, seed=0, loss=loss, width=32, vision_layers=1, text_layers=1, image_size=32).save_pretrained(
        tmp_path / "base")
    assert main(["--recipe", recipe, "--init", str(tmp_path / "base"), "--out", str(tmp_path / "out"),
                 "--steps", "2", "--batch-size", "8", "--pool", "20"]) == 0
    assert AutoModel.from_pretrained(tmp_path / "out").config.vision_config.image_size == 80
    inputs = CLIPProcessor.from_pretrained(tmp_path / "out")(images=[Image.new("RGB", (96, 96))], return_tensors="pt")
    assert inputs["pixel_values"].shape == (1, 3, 80, 80)


def test_a_recipe_that_deepens_the_vision_tower_saves_the_deeper_model(tokenizer, tmp_path):
    from transformers import AutoModel

    from clipdemo.train.__main__ import main

    build_model(tokenizer, seed=0, width=32, vision_layers=1, text_layers=1, image_size=32).save_pretrained(
        tmp_path / "base")
    assert main(["--recipe", "wide-replay2-80-d6", "--init", str(tmp_path / "base"), "--out", str(tmp_path / "out"),
                 "--steps", "2", "--batch-size", "8", "--pool", "20"]) == 0
    vision = AutoModel.from_pretrained(tmp_path / "out").config.vision_config
    assert (vision.num_hidden_layers, vision.image_size) == (6, 80)


@pytest.mark.parametrize("recipe", sorted(FROM_CHECKPOINT))
def test_a_tuning_recipe_without_a_checkpoint_is_refused(recipe, tmp_path, capsys):
    # without --init these would silently train a fresh softmax CLIP from random weights
    from clipdemo.train.__main__ import main

    with pytest.raises(SystemExit):
        main(["--recipe", recipe, "--out", str(tmp_path / "out")])
    assert "--init DIR" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_short_training_run_lowers_the_loss(tokenizer):
    model = build_model(tokenizer, seed=0, width=64, vision_layers=2, text_layers=1, image_size=32)
    pool = ScenePool(400, 32, seed=0)
    reports = list(train(model, tokenizer, TrainConfig(steps=60, batch_size=32, lr=2e-3, warmup=5), pool=pool,
                         report_every=1))
    first, last = np.mean([r.loss for r in reports[:5]]), np.mean([r.loss for r in reports[-5:]])
    assert last < first - 0.3, (first, last)
    assert reports[-1].similarity.shape == (8, 8)


def test_checkpoint_loads_through_the_standard_transformers_path(tokenizer, tmp_path):
    from transformers import CLIPModel, CLIPProcessor

    model = build_model(tokenizer, seed=0, width=32, vision_layers=1, text_layers=1)
    model.save_pretrained(tmp_path)
    tiny_processor(tokenizer).save_pretrained(tmp_path)
    save_clip_vocab(tokenizer, tmp_path)
    assert (tmp_path / "vocab.json").exists() and (tmp_path / "merges.txt").exists()
    loaded = CLIPModel.from_pretrained(tmp_path)
    processor = CLIPProcessor.from_pretrained(tmp_path)
    inputs = processor(text=["a red circle"], images=[np.zeros((96, 96, 3), np.uint8)], return_tensors="pt")
    assert inputs["pixel_values"].shape == (1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits_per_image, model(**inputs).logits_per_image)


def test_a_new_vocabulary_is_the_same_in_every_process():
    # tokenizers' BpeTrainer broke ties by hash order, so token ids (and a seeded run) changed per process
    code = ("import hashlib, json; from clipdemo.train.tokenizer import build_tokenizer; "
            "print(hashlib.sha256(json.dumps(build_tokenizer().get_vocab(), sort_keys=True).encode()).hexdigest())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1]
            for _ in range(2)}
    assert len(runs) == 1


def test_one_sigmoid_loss_step_equals_the_papers_formula(tokenizer):
    """L = -(1/|B|) sum_i sum_j log sigmoid(z_ij (t x_i . y_j + b)), computed here with numpy from the
    model's own unit embeddings, t = exp(t') and b: the loss the first training step reports."""
    import copy

    from clipdemo.train.loop import tokenize

    model = build_model(tokenizer, seed=0, loss="sigmoid", width=32, vision_layers=1, text_layers=1, image_size=32)
    before = copy.deepcopy(model)
    pool = ScenePool(64, 32, seed=0)
    config = TrainConfig(steps=1, batch_size=16, warmup=1, seed=3)
    (report,) = train(model, tokenizer, config, pool=pool, report_every=1)
    pixels, captions, truth = pool.batch(np.random.default_rng(config.seed), 16, config.hard_negatives,
                                         config.relation_captions)  # the same first batch as train() drew
    with torch.no_grad():
        x = before.get_image_features(pixel_values=pixels).pooler_output.double().numpy()
        y = before.get_text_features(**tokenize(before, tokenizer, captions)).pooler_output.double().numpy()
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    t, b = np.exp(before.logit_scale.item()), before.logit_bias.item()
    assert (t, b) == (pytest.approx(10.0), -10.0)  # the paper's initialisation
    z = np.where(truth.numpy(), 1.0, -1.0)
    expected = -np.sum(np.log(1 / (1 + np.exp(-z * (t * x @ y.T + b))))) / len(x)
    assert report.loss == pytest.approx(expected, abs=1e-6 * max(1.0, expected))
    assert report.logit_bias is not None


def test_the_compact_siglip_batch_gives_the_padded_batchs_embeddings(tokenizer):
    """Training reads SigLIP texts compactly (real tokens + the pooled last position); same numbers."""
    from clipdemo.engine.families import family_of
    from clipdemo.train.loop import tokenize

    model = build_model(tokenizer, seed=0, loss="sigmoid", width=32, vision_layers=1, text_layers=1, image_size=32)
    captions = ["a red circle", "three blue stars to the left of the digit 7", "4"]
    padded = family_of(model.config).pad_texts(tokenizer, captions, 64)
    compact = tokenize(model, tokenizer, captions)
    assert padded["input_ids"].shape[1] == 64 > compact["input_ids"].shape[1]
    with torch.no_grad():
        torch.testing.assert_close(model.get_text_features(**compact).pooler_output,
                                   model.get_text_features(**padded).pooler_output, atol=1e-5, rtol=0)


def test_sigmoid_training_lowers_the_held_out_loss_and_moves_the_bias(tokenizer):
    from clipdemo.train.loop import sigmoid_loss, tokenize

    model = build_model(tokenizer, seed=0, loss="sigmoid", width=32, vision_layers=1, text_layers=1, image_size=32)
    held_out = ScenePool(64, 32, seed=1)  # scenes the run never sees
    pixels, captions, truth = held_out.batch(np.random.default_rng(1), 32)

    def held_out_loss():
        with torch.no_grad():
            return sigmoid_loss(model(**tokenize(model, tokenizer, captions), pixel_values=pixels).logits_per_image,
                                truth).item()

    first, b0 = held_out_loss(), model.logit_bias.item()
    reports = list(train(model, tokenizer, TrainConfig(steps=150, batch_size=32, lr=2e-3, warmup=5),
                         pool=ScenePool(400, 32, seed=0), report_every=50))
    assert held_out_loss() < 0.8 * first
    # b is learned (weight decay 0, so a frozen or dropped b would stay at exactly -10), but it moves slowly:
    # the towers move the cosines to balance positives against negatives faster than b does. 150 steps move
    # it by ~0.02 here; the shipped model's 3,600 steps by ~0.26 (its card).
    assert abs(reports[-1].logit_bias - b0) > 0.005 and model.logit_bias.item() == pytest.approx(reports[-1].logit_bias)


@pytest.mark.slow
def test_the_loss_comparison_script_trains_both_losses_at_each_batch(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("loss_vs_batch", ROOT / "scripts" / "loss_vs_batch.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out, results = tmp_path / "figure.png", tmp_path / "runs.jsonl"
    common = ["--examples", "64", "--pool", "200", "--eval", "12", "--out", str(out), "--results", str(results)]
    argv = common + ["--batches", "8", "32"]
    assert script.main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("| softmax", "| sigmoid"))]
    assert sorted(r.split(" | ")[:2] for r in rows) == [["| sigmoid", "32"], ["| sigmoid", "8"],
                                                         ["| softmax", "32"], ["| softmax", "8"]]
    assert out.stat().st_size > 10_000
    # each run is kept: the same study again reads them back and trains nothing; a new seed adds to them
    runs = results.read_text()
    assert len(runs.splitlines()) == 4
    assert script.main(argv) == 0 and results.read_text() == runs
    assert script.main(common + ["--batches", "8", "--seeds", "1"]) == 0
    assert len(results.read_text().splitlines()) == 6
    table = capsys.readouterr().out
    assert "| softmax | 8 | 0,1 |" in table and "| softmax | 32 | 0 |" in table, table


@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_float32_logits_are_the_forwards_own(tokenizer, loss):
    from clipdemo.train.loop import float32_logits, tokenize

    model = build_model(tokenizer, seed=0, loss=loss, width=32, vision_layers=1, text_layers=1, image_size=32)
    with torch.no_grad():
        model.logit_scale.fill_(3.0)  # exp(3) = 20, away from the initial scale, so a dropped scale shows
    pixels, captions, _ = ScenePool(16, 32, seed=0).batch(np.random.default_rng(0), 8)
    texts = tokenize(model, tokenizer, captions)
    with torch.no_grad():
        out = model(**texts, pixel_values=pixels)
        torch.testing.assert_close(float32_logits(model, out), out.logits_per_image)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(**texts, pixel_values=pixels)
    assert low.image_embeds.dtype == torch.bfloat16
    logits = float32_logits(model, low)
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, out.logits_per_image, atol=0.2, rtol=0)  # a cosine off by < 0.01


@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_a_bf16_step_follows_the_float32_step(tokenizer, loss):
    """Under bfloat16 autocast the weights stay float32; the loss a step reports is the one of bfloat16
    towers with float32 logits; and the step's loss and update are float32's within bfloat16's precision."""
    import copy

    from clipdemo.train.loop import float32_logits, loss_for, tokenize

    model = build_model(tokenizer, seed=0, loss=loss, width=64, vision_layers=2, text_layers=1, image_size=32)
    pool = ScenePool(64, 32, seed=0)
    runs = {}
    for bf16 in (False, True):
        m = copy.deepcopy(model)
        config = TrainConfig(steps=1, batch_size=32, lr=1e-3, warmup=1, weight_decay=0.0, schedule="constant",
                             bf16=bf16)
        (report,) = train(m, tokenizer, config, pool=pool, report_every=1)
        step = torch.cat([(a.detach() - b.detach()).flatten() for a, b in zip(m.parameters(), model.parameters())])
        runs[bf16] = report.loss, step, {p.dtype for p in m.parameters()}
    (loss32, step32, dtypes32), (loss16, step16, dtypes16) = runs[False], runs[True]
    assert dtypes16 == dtypes32 == {torch.float32}

    pixels, captions, truth = pool.batch(np.random.default_rng(config.seed), 32, config.hard_negatives,
                                         config.relation_captions)  # the batch both runs drew
    model.set_attn_implementation("eager")  # as a bfloat16 step runs the towers
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(**tokenize(model, tokenizer, captions), pixel_values=pixels)
    assert loss16 == pytest.approx(loss_for(model)(float32_logits(model, out), truth).item(), rel=1e-6)
    assert loss16 == pytest.approx(loss32, rel=0.01) and abs(loss16 - loss32) > 1e-5 * loss32
    # Adam's first step is lr * sign(gradient), so the updates agree wherever the gradients' signs do
    assert step32.abs().max() > 0 and torch.nn.functional.cosine_similarity(step16, step32, dim=0) > 0.9


@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_bf16_training_attends_eagerly_and_hands_the_attention_back(tokenizer, loss):
    """A bfloat16 phase swaps PyTorch's fused attention for plain matmul and softmax (the same function, faster
    to differentiate in bfloat16 on a CPU), and the model leaves training with the attention it came with."""
    from clipdemo.train.loop import tokenize

    model = build_model(tokenizer, seed=0, loss=loss, width=32, vision_layers=1, text_layers=1, image_size=32)
    assert model.config._attn_implementation == "sdpa"
    pixels, captions, _ = ScenePool(16, 32, seed=0).batch(np.random.default_rng(0), 8)
    texts = tokenize(model, tokenizer, captions)
    with torch.no_grad():
        fused = model(**texts, pixel_values=pixels).logits_per_image
        model.set_attn_implementation("eager")
        torch.testing.assert_close(model(**texts, pixel_values=pixels).logits_per_image, fused)
        model.set_attn_implementation("sdpa")

    config = TrainConfig(steps=2, batch_size=8, warmup=1, bf16=True)
    during = [model.config._attn_implementation for _ in train(model, tokenizer, config, pool=ScenePool(16, 32),
                                                               report_every=1)]
    assert during == ["eager", "eager"] and model.config._attn_implementation == "sdpa" and not model.training
    steps = train(model, tokenizer, replace(config, steps=5), pool=ScenePool(16, 32), report_every=1)
    next(steps)
    steps.close()  # a consumer that stops early, as the Train tab's Stop does
    assert model.config._attn_implementation == "sdpa" and not model.training
    float32 = TrainConfig(steps=1, batch_size=8, warmup=1)
    assert [model.config._attn_implementation for _ in train(model, tokenizer, float32, pool=ScenePool(16, 32))] \
        == ["sdpa"]
