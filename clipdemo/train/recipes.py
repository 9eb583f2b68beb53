"""Named training recipes: `python -m clipdemo.train --recipe NAME` runs a recipe's phases in order.

scenes   from random weights: the bundled checkpoint's first 3,600 steps (49 minutes on 2 CPU cores).
spatial  from a scenes checkpoint (`--init DIR`): left and right, in two phases (about 20 minutes).
sides    spatial's first phase alone (7 minutes): what `make checkpoint` runs between stage 1 and the tune, whose
         own mix (relation scenes 30% of it) stands in for spatial's second phase (the same mix, 1,200 steps).
robust   from random weights, one command: tried for issue 25 and stopped (its model card, "Runs tried").
         Issue 25's renderer, which varies every axis a caption leaves open (clipdemo.scenes: backgrounds
         of five kinds at any brightness, outlines, free rotation, sizes 0.06-0.22, overlap, blur, JPEG,
         18 fonts), then
         spatial's two phases on the same renderer, with relation captions already in the sides phase (30%),
         as its model card suggested for left and right. Batch 128 throughout and 2,700 + 1,000 + 1,000
         steps, to fit 90 minutes on 2 CPU cores (1.0-1.5 s a step there).
robust-tune  from a scenes checkpoint (`--init`, the first tiny-scenes): 1,500 steps of the spatial recipe's
         mixed phase on the robust renderer, at lr 3e-4 and batch 128 (about 30 minutes): what knows shapes
         and digits already learns the new looks far faster than random weights learn everything (the
         `robust` recipe's first phase reached shape 50% and digit 58% on its own renderer in 50 minutes).
robust-sym  an earlier bundled tiny-scenes' last stage: robust-tune, with each group scene shown in one of
         the square's 8 symmetries (turned by a multiple of 90 degrees, mirrored or not;
         `TrainConfig.symmetries`), which keep every group caption true. A 20,000-scene pool is seen about
         ten times in 1,500 steps, and a one-off supervised check (the vision tower alone, 500 steps on 6,000
         robust scenes, not scripted) read shapes on held-out scenes at 74% without them and 83% with them,
         which suggests the groups were being memorised. Through the contrastive loss they bought less (its
         model card).
robust-fresh  robust-sym with three times the scenes: three 20,000-scene parts from independent streams
         (`TrainConfig.pool_parts`; the first is robust-sym's pool), rendered in parallel (about 4 minutes
         on 2 cores), each seen about three times instead of ten.
robust-wide  an earlier bundled tiny-scenes' last stage: robust-fresh on the "wide" renderer (clipdemo.scenes):
         the robust one plus faint lines and dots behind, and digits sheared, stretched, thickened or
         thinned, some as if scanned at 8-19 px. Four 15,000-scene parts, so the two cores render two each
         (about 25 minutes in all).
wide-replay  an earlier bundled tiny-scenes' last stage: robust-wide plus one more 15,000-scene part, drawn by the
         first renderer (`TrainConfig.replay_parts`), so that a fifth of the pool rehearses the look the first
         checkpoint learned, where robust-wide had lost it some digits (about 28 minutes).
wide-replay-80  wide-replay with the model reading 80 px instead of 64 (`TrainConfig.image_size`; the position
         embeddings resized to the 10 x 10 patch grid): at 64 px, wide-replay named single filled shapes of
         radius under 0.12 (under 7.7 px there) 48% of the time on held-out families, larger ones 91%. On
         1,000 items per attribute held-out shapes rose 7.3 points, digits 2.8 (17 minutes on a 2-core
         AMD EPYC, where wide-replay's 64 px steps take 0.52 s and these 0.63 s).
wide-replay-96  the same at 96 px (a 12 x 12 grid, 1.1 s a step, 27 minutes): held-out shapes 4.2 points above
         wide-replay-80, first-renderer counts 2.2 under it (91.1%).
wide-replay2-80  an earlier bundled tiny-scenes' last stage: wide-replay-80 with two first-renderer parts
         instead of one (a third of the pool): first-renderer shapes and counts at issue 4's floors again,
         held out within noise of wide-replay-80 but left/right (+3.7). 16 minutes.
wide-replay2-80-long  an earlier bundled tiny-scenes' last stage: wide-replay2-80 for 3,000 steps instead of
         1,500 (its cosine schedule stretched; 32 minutes). At 1,500 steps it was underfitting, not memorising: it named
         shapes on its own tuning pool's group scenes 69% of the time, and counted its own renderer's scenes
         78%, as it counted the held-out families'. Twice the steps raised every held-out attribute (1,000 items:
         shape +4.5, digit +5.4, count +4.6, left/right +9.2 points) and first-renderer counts (+2.4).
outlined-80-long  wide-replay2-80-long on the "outlined" renderer (the wide one with half its shape scenes outlined
         instead of 30%), groups half the pool and relations 0.15 (were 0.35 and 0.3): tried, not bundled.
         Outlined groups were what tiny-scenes miscounted, but on 1,000 held-out items per attribute it
         counted 1.0 point better, named shapes and digits within noise and lost left/right 11.8 (33 minutes;
         at lr 3e-4, and with two changes at once). At lr 1e-3 (`--lr 1e-3`) against wide-replay2-80-long-lr1e-3:
         held-out shape the same, left/right -4.8, scans -2.9, the rest within 1.5 points.
wide-replay2-80-long-lr1e-3  the previous bundled tiny-scenes' last stage: wide-replay2-80-long at lr 1e-3
         instead of 3e-4 (the rate tiny-scenes-siglip's tunes have always used; 34 minutes). Its training loss
         ran above the 3e-4 run's for the first 1,200 steps and well under it after. On 1,000 held-out items per
         attribute: shape +5.6, shape+colour +6.1, digit +5.5, count +4.8 points, scans +13.3; first-renderer counts
         +2.1. The largest gain of any change in issue 25. At lr 2e-3 (`--lr 2e-3`, run once, not bundled)
         its loss ran higher still until step 2,250, and it ended 0.3-2.9 points above this one on every
         held-out attribute (digit +2.4, count +2.9, shape +0.7), scans and first renderer within 1, but its
         saliency maps pointed at the named object less often (relevance 86%, occlusion 82%, against 93/97%).
         At 4,500 steps (`--steps 4500`, 47 minutes) held-out shape and shape+colour reached 90% on the model
         card's 1,000 items and the tests' own, every figure rising: the next recipe.
wide-replay2-80-4500  the last stage of both models' checkpoints before last: wide-replay2-80-long-lr1e-3 for 4,500
         steps (47 minutes), after `sides` alone instead of the whole `spatial` recipe, so that `make
         checkpoint` takes about issue 25's 90 minutes (91, timed end to end; about 103 with the whole recipe).
         Against tiny-scenes' checkpoint before it on 1,000 held-out items per attribute: shape +2.2,
         shape+colour +0.9, digit +1.6, count +2.5 points, left/right -2.5, scans -4.4.
wide-replay2-80-5000-bf16  the last stage of both previous bundled models: wide-replay2-80-4500 with the towers' matrix
         products and attention in bfloat16 (autocast, `TrainConfig.bf16`; the weights, logits and loss stay
         float32), which on a 2-core AMD EPYC with AVX512-BF16 takes 0.52-0.53 s a step instead of 0.61, so
         5,000 steps fit the time 4,500 took (45 minutes; `make checkpoint` 90, the sum of its stages, each
         timed; tiny-scenes-siglip: 0.55 s, 48 minutes). From the same `sides` checkpoint, against wide-replay2-80-4500 on 1,000 held-out items per
         attribute: shape +0.1, shape+colour +0.3, digit +0.1, count +0.1, left/right +2.7 points; on the
         tests' items shape +0.8, shape+colour +2.8, count +3.0, left/right +3.4. One run: the 500 more
         steps and bfloat16 are not told apart.
wide6-replay3-80-8500-bf16  the last stage of both bundled models (tiny-scenes-siglip: `make checkpoint-siglip`,
         the same three commands with `--loss sigmoid`): wide-replay2-80-5000-bf16 for 8,500 steps, on a pool half
         as large again (six wide parts and three first-renderer parts: 135,000 scenes, each seen about 8 times,
         the 90,000 about 7). train() now runs bfloat16 phases with plain matmul-and-softmax attention instead of PyTorch's
         fused kernel, whose bfloat16 backward had been half of every step (bench/train_step.py): 0.28 s a step
         instead of 0.53, so the 8,500 steps took 42 minutes, less than 5,000 had. From the same `sides`
         checkpoint, against wide-replay2-80-5000-bf16 on 1,000 held-out items per attribute: shape +3.6,
         shape+colour +3.3, digit +0.4, count +4.5 points, scans +4.2; on the tests' items shape +3.2,
         shape+colour +2.8, count +4.4, count+colour+shape +5.2. tiny-scenes-siglip (0.29 s a step, 44 minutes),
         against its own 5,000-step tune: shape +6.9, shape+colour +6.3, digit +3.4, count +5.8, left/right
         +2.5 points on the same 1,000 items; on the tests' items held-out shape +8.6, first-renderer count +3.0.
wide-replay2-96-3500-bf16  wide-replay2-80-5000-bf16 at a 96 px input from its first step (0.73 s a step against
         0.53 at 80 px, so 3,500 steps in the same 45 minutes). Tried, not bundled: from the same `sides`
         checkpoint, on 1,000 held-out items per attribute shape -0.8, shape+colour -0.6, digit -0.4, count
         -1.6, left/right -2.1 points, scans -3.2; small single shapes +3 on the failure script's items,
         counts -3.6 there. The steps it gave up cost more than the resolution bought.
wide-replay2-80-96  the lr 1e-3 tune over 2,400 steps (its cosine schedule too), then 400 steps at a 96 px
         input (lr 3e-4, a fresh pool of 16,000 wide and 8,000 first-renderer scenes), so that the small
         shapes a 96 px render loses at 80 are read at full size, in about the time of the 3,000-step tune
         (33 minutes; ViTs fine-tuned at a higher resolution: Touvron et al. 2019). Tried, not bundled:
         held-out single shapes +2 points over two 1,000-item sets, but counts -2.5 to -3 on every
         renderer and scans -7.
wide-replay2-96  wide-replay-96 with two first-renderer parts, as wide-replay2-80 is wide-replay-80 (27 minutes):
         held-out shapes 3 points above wide-replay2-80, but first-renderer counts still under issue 4's 93%
         (91.9% on 1,000 items, 89.3% on the tests' items), so not bundled.
wide-replay2-80-d6  wide-replay2-80 with the vision tower deepened from 4 to 6 layers (`TrainConfig.vision_layers`;
         the new layers start as the identity): tried, not bundled. Every held-out figure within 1.6 points of
         wide-replay2-80's at 1.5 times the time a step (0.9 s against 0.59): steps, not depth, were short.
siglip   the previous tiny-scenes-siglip's first stage, from random weights with `--loss sigmoid`: the scenes
         phase, then spatial's mixed phase, each shortened to the time there was: 1,200 steps of the scenes
         phase's 2,600-step cosine schedule, then 400 steps of the whole mix at lr 3e-4 (about 40 minutes on 2
         CPU cores). No sides phase, so left and right stayed at chance through every tune after it.
siglip-robust  from the `siglip` run (`--init`): the scenes phase on the robust renderer, 2,000 steps at
         batch 128, lr 1e-3 with cosine decay (about 36 minutes): an earlier bundled tiny-scenes-siglip. Tried
         first, `robust-tune` (tiny-scenes' earlier tuning: the mix at lr 3e-4) taught this less-trained
         model less (shape 54% against 70% on the first renderer; its model card).
siglip-wide  an earlier bundled tiny-scenes-siglip's last stage: siglip-robust on the wide renderer, with group
         symmetries and four 15,000-scene parts (its own seed and mix, so not robust-wide's scenes; about
         35 minutes on 2 idle cores, 44 measured while evaluations shared them).
siglip-replay  an earlier bundled tiny-scenes-siglip's last stage: siglip-wide plus one part drawn by the first
         renderer, as in wide-replay (its own seed and mix; 55 minutes measured while evaluations shared
         the 2 cores for part of it).
siglip-replay2-80  an earlier bundled tiny-scenes-siglip's last stage: siglip-replay at 80 px with two
         first-renderer parts, as wide-replay2-80 is wide-replay.
siglip-replay2-80-long  the previous bundled tiny-scenes-siglip's last stage: siglip-replay2-80 for 3,000
         steps instead of 2,000, as tiny-scenes' previous tune ran (about 35 minutes): first-renderer shape
         +4.4 points, held-out shape +7.4, digit +8.8 on the tests' items.

Why "spatial" has two phases. Trained on everything at once, the model never learns left from right:
while no image embedding carries position, the texts "... on the left" and "... on the right" are
pulled together, and while they are together no gradient asks the images for position. Phase 1 breaks
that tie with only two-object scenes, each captioned by where one object is ("a red circle on the
left") against the other side as a hard negative, at a constant learning rate: around step 700 both
towers part left from right at once. Phase 2 brings back every kind of scene and caption at a lower
rate, so counts, shapes and digits return and the relation wording ("to the left of") follows.
"""

from __future__ import annotations

from dataclasses import replace

from .loop import TrainConfig

SIDES_PHASE = TrainConfig(steps=1000, batch_size=128, lr=1e-3, warmup=20, weight_decay=0.0, seed=11, pool=4000,
                          hard_negatives=1.0, mix={"relation": 1.0}, relation_captions={"side": 1.0},
                          schedule="constant")
MIXED_PHASE = TrainConfig(steps=1200, lr=3e-4, warmup=20, seed=12, pool=20_000,
                          mix={"group": 0.35, "relation": 0.3, "digit": 0.35})

ROBUST_TUNE = replace(MIXED_PHASE, style="robust", batch_size=128, steps=1500, warmup=50, seed=13)
WIDE_TUNE = replace(ROBUST_TUNE, symmetries=True, pool=15_000, pool_parts=4, style="wide")
WIDE_80 = replace(WIDE_TUNE, replay_parts=2, image_size=80)  # wide-replay2-80, and the base of the tunes after it
WIDE_80_LONG = replace(WIDE_80, steps=3000)
WIDE_80_LR = replace(WIDE_80_LONG, lr=1e-3)  # wide-replay2-80-long-lr1e-3, and the base of the tunes after it
SIGLIP_WIDE = TrainConfig(style="wide", batch_size=128, steps=2000, warmup=100, seed=14, symmetries=True, pool=15_000,
                          pool_parts=4)

RECIPES: dict[str, tuple[TrainConfig, ...]] = {
    "scenes": (TrainConfig(),),
    "spatial": (SIDES_PHASE, MIXED_PHASE),
    "sides": (SIDES_PHASE,),
    "siglip": (TrainConfig(steps=2600, stop_after=1200), replace(MIXED_PHASE, steps=400)),
    "robust-tune": (ROBUST_TUNE,),
    "robust-sym": (replace(ROBUST_TUNE, symmetries=True),),
    "robust-fresh": (replace(ROBUST_TUNE, symmetries=True, pool_parts=3),),
    "robust-wide": (WIDE_TUNE,),
    "wide-replay": (replace(WIDE_TUNE, replay_parts=1),),
    "wide-replay-80": (replace(WIDE_TUNE, replay_parts=1, image_size=80),),
    "wide-replay-96": (replace(WIDE_TUNE, replay_parts=1, image_size=96),),
    "wide-replay2-80": (WIDE_80,),
    "wide-replay2-80-long": (WIDE_80_LONG,),
    "wide-replay2-80-long-lr1e-3": (WIDE_80_LR,),
    "wide-replay2-80-4500": (replace(WIDE_80_LR, steps=4500),),
    "wide-replay2-80-5000-bf16": (replace(WIDE_80_LR, steps=5000, bf16=True),),
    "wide6-replay3-80-8500-bf16": (replace(WIDE_80_LR, steps=8500, bf16=True, pool_parts=6, replay_parts=3),),
    "wide-replay2-96-3500-bf16": (replace(WIDE_80_LR, image_size=96, steps=3500, bf16=True),),
    "wide-replay2-80-96": (replace(WIDE_80_LR, steps=2400),
                           replace(WIDE_80, image_size=96, steps=400, seed=14, pool=4000)),
    "outlined-80-long": (replace(WIDE_80_LONG, style="outlined", mix={"group": 0.5, "relation": 0.15, "digit": 0.35}),),
    "wide-replay2-96": (replace(WIDE_80, image_size=96),),
    "wide-replay2-80-d6": (replace(WIDE_80, vision_layers=6),),
    "siglip-robust": (TrainConfig(style="robust", batch_size=128, steps=2000, warmup=100, seed=14),),
    "siglip-wide": (SIGLIP_WIDE,),
    "siglip-replay": (replace(SIGLIP_WIDE, replay_parts=1),),
    "siglip-replay2-80": (replace(SIGLIP_WIDE, replay_parts=2, image_size=80),),
    "siglip-replay2-80-long": (replace(SIGLIP_WIDE, replay_parts=2, image_size=80, steps=3000),),
    "robust": (TrainConfig(style="robust", batch_size=128, steps=2700),
               replace(SIDES_PHASE, style="robust", relation_captions={"side": 0.7, "rel": 0.3}),
               replace(MIXED_PHASE, style="robust", batch_size=128, steps=1000, pool=12_000)),
}

# recipes that start from random weights; every other one continues a checkpoint (--init)
FROM_SCRATCH = {"scenes", "siglip", "robust"}
FROM_CHECKPOINT = set(RECIPES) - FROM_SCRATCH
