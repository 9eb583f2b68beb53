"""How the page reads the loaded model's numbers: its score kind, its own typical cosines, its card.

Shared by the Zero-shot, Caption ranking and Similarity matrix tabs (issue 22 point 3, issue 27
points 2-4): each "Reading the numbers" text is written for the model that answers, and each result's
notes say what kind of score it carries and which of the model's measured weak spots it touches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..analysis.photo import PHOTO_COLOURS, PHOTO_TEXTURE, photo_guess
from ..analysis.typical import TypicalCosines, doubled_articles, typical_for as measured_once
from ..images import open_images
from ..model_card import ModelCard, card_for
from ..text import fixed
from . import examples

def typical_for(engine) -> TypicalCosines:
    """The model's own typical matching and non-matching cosines, measured once per engine on its
    examples: the 8 OpenAI notebook photos and their descriptions for a model of photos, else the 8
    example scenes and their captions (16 encodings, cached)."""
    def pairs():
        if engine.info.knows_photos:
            files, texts = examples.similarity_examples()[0]
            where = f"the {len(files)} example photos and their descriptions"
        else:
            files, texts = examples.scene_files(), "\n".join(examples.scene_captions())
            where = f"the {len(files)} example scenes and their captions"
        loaded, _ = open_images(files)
        return [im.image for im in loaded], texts.splitlines(), where
    return measured_once(engine, pairs)


def card(engine) -> ModelCard:
    """The model's card (model_card.card_for; a bundled card is read from disk once)."""
    return card_for(engine.info)


def default_template(engine) -> str:
    """The prompt the model was trained with (its card), "a photo of a {}." for a CLIP of photos."""
    return card(engine).default_template


def score_kind(engine, n: int | None = None, what: str = "labels") -> str:
    """One line that says which kind of score a result carries."""
    if engine.family.independent:
        return (f"independent sigmoid per {what[:-1]}, sigmoid(t·cos + b) with t = {engine.logit_scale:.1f}, "
                f"b = {engine.logit_bias:.1f}: the scores do not sum to 100% and none is forced to win")
    among = f"the {n} {what}" if n else f"the {what}"
    return f"softmax over {among}, softmax(t·cos) with t = {engine.logit_scale:.1f}: the scores sum to 100%"


def kind_short(engine) -> str:
    """'softmax' or 'sigmoid': a column header's or a chart title's word for the score."""
    return "sigmoid" if engine.family.independent else "softmax"


def photo_caveat(engine, loaded) -> str:
    """The "trained on no photos" warning, beside a result only when an input image is likely a photo
    (analysis.photo's heuristic); the banner says it always."""
    if engine.info.knows_photos:
        return ""
    photos = [im.name for im in loaded if photo_guess(im.image).likely_photo]
    if not photos:
        return ""
    return (f"> ⚠️ **`{engine.info.name}` was trained only on synthetic scenes** (shapes, colours, counts, "
            "digits), "
            f"and {_list(photos)} look{'s like a photo' if len(photos) == 1 else ' like photos'} (many colours "
            "or texture everywhere). "
            "On a photo its answer is confident noise, not recognition: load a real CLIP "
            "(`--model openai/clip-vit-base-patch32`) for photos.")


def notes_then_caveat(notes: Sequence[str], caveat: str) -> str:
    """The notes as a list, then the photo caveat (if any) last: right above the numbers it is about."""
    listed = "\n".join(f"- {n}" for n in notes)
    return "\n\n".join(part for part in (listed, caveat) if part)


def text_notes(engine, texts: Sequence[str], template: str | None = None) -> list[str]:
    """Notes on the labels or captions themselves: the model's measured weak spots they touch (with the
    card's number) and articles the template doubles."""
    notes = []
    model_card = card(engine)
    by_spot: dict[str, list[str]] = {}
    figures = {}
    for text in texts:
        for spot in model_card.touched(text):
            by_spot.setdefault(spot.name, []).append(text)
            figures[spot.name] = spot.figure
    for name, touched in by_spot.items():
        extra = ""
        if name == "unseen words":
            words = list(dict.fromkeys(w for t in touched for w in model_card.unseen_words(t)))
            extra = f" (never in its captions: {_list(words[:8])})"
        notes.append(f"⚠️ Weak spot of `{engine.info.name}`: **{name}**, {figures[name]}. "
                     f"Touched by {_list(touched[:5])}{'…' if len(touched) > 5 else ''}{extra}.")
    if template:
        doubled = doubled_articles(template, texts)
        if doubled:
            example = template.replace("{}", doubled[0].strip())
            notes.append(f"{_list(doubled[:5])} already start{'s' if len(doubled) == 1 else ''} with an article, "
                         f"and the template `{template}` adds one: the model reads “{example}”. "
                         "Drop the label's article or use the template `{}`.")
    return notes


def weak_match_notes(engine, winners: Sequence[tuple[str, str, float]]) -> list[str]:
    """A note per (image, winning text, cosine) whose cosine sits far below the model's typical match."""
    typical = typical_for(engine)
    if not typical.separates:
        return [f"⚠️ On {typical.measured_on}, `{engine.info.name}` does not score matching pairs clearly above "
                f"the rest (median cosine {fixed(typical.match)} against {fixed(typical.nonmatch)}; a model that tells "
                "them apart scores its matches 0.05 or more higher): its ranking here is noise."]
    weak = [(image, text, cos) for image, text, cos in winners if typical.is_weak(cos)]
    level = (f"far below this model's typical match ({fixed(typical.match)}; its non-matching pairs sit at "
             f"{fixed(typical.nonmatch)})")
    first = "came first" if engine.family.independent else "won"  # independent scores: nothing is forced to win
    if len(weak) > 3:
        listed = "; ".join(f"{image}: “{text}” {cos:.3f}" for image, text, cos in weak[:6])
        return [f"⚠️ Weak matches on {len(weak)} images, their best text's cosine {level}: {listed}"
                f"{'…' if len(weak) > 6 else ''}. They {first} only among these candidates."]
    return [f"⚠️ Weak match on {image}: “{text}” {first} with cosine {cos:.3f}, {level}. It {first} only among "
            "these candidates: it is probably not what the image shows." for image, text, cos in weak]


def typical_line(engine) -> str:
    typical = typical_for(engine)
    line = (f"For **`{engine.info.name}`**, measured on {typical.measured_on}: a matching pair's cosine sits "
            f"around **{fixed(typical.match)}**, a non-matching one around **{fixed(typical.nonmatch)}**")
    if not typical.separates:
        return line + ": it does not tell them apart, so its rankings are noise and no weak match is flagged."
    return line + f"; a winner below {fixed(typical.weak_below)} is flagged as a weak match."


def _scale_line(engine) -> str:
    t, b = engine.logit_scale, engine.logit_bias
    if engine.family.independent:
        edge = -b / t if t else float("nan")
        family = (engine.family.label or "SigLIP").split(" (")[0]
        return (f"Each score is `sigmoid(t x cosine + b)`, one pair at a time, as {family} was trained: "
                f"`t` (logit_scale, **{t:.1f}** here) stretches the cosine and `b` (logit_bias, "
                f"**{b:.1f}** here) shifts it, so a pair scores above 50% only when its cosine passes "
                f"-b/t = **{edge:.2f}**. The scores are independent probabilities: they do not sum to 100%, "
                "no label is forced to win, and **a low score for every label is an answer**: none of them "
                "fits. Nothing on this page renormalises them.")
    return (f"The *probability* is `softmax(logit_scale x cosine)` over the candidates you gave. This model's "
            f"`logit_scale` is **{t:.1f}**: a cosine gap of 0.1 becomes a factor of e^{t * 0.1:.1f} = "
            f"{math.exp(min(t * 0.1, 50)):,.0f} in odds. The probabilities are relative to your candidates: they "
            "always sum to 100%, so if the right answer is missing, a wrong label still gets most of the share.")


def explainer(tab: str, engine, ensemble_size: int = 12) -> str:
    """The "Reading the numbers" text of `tab` ("zero_shot", "captions", "similarity") for `engine`."""
    lead = "**Reading the numbers.** "
    if tab == "zero_shot":
        body = (f"Each label is put into the template (this model's default: `{default_template(engine)}`) and "
                "encoded; the *cosine* is the similarity of that text's embedding with the image's. "
                f"{typical_line(engine)} {_scale_line(engine)} **Ensemble** averages each label's embedding "
                f"over {ensemble_size} templates (CLIP's ImageNet prompt ensembling), which helps on photos.")
    elif tab == "captions":
        body = (f"The *cosine* is the raw similarity of the image with each caption. {typical_line(engine)} "
                f"{_scale_line(engine)} `{engine.info.name}` reads at most {engine.max_text_tokens} tokens; "
                "longer captions are cut, and the table marks them.")
    else:
        views = ("*Sigmoid (per pair)* is each cell's own probability, `sigmoid(t x cosine + b)`, never "
                 "normalised along a row or a column." if engine.family.independent else
                 "*Softmax over texts* is what zero-shot classification uses: each image's row, times "
                 "`logit_scale`, normalised to sum to 1; *softmax over images* normalises each text's column "
                 "instead. Both are relative to the images and texts on this chart.")
        body = (f"*Cosine* is the raw similarity of each image's and each text's embedding. {typical_line(engine)} "
                f"{_scale_line(engine)} {views}")
    return lead + body + _photo_rule(engine)


def _photo_rule(engine) -> str:
    if engine.info.knows_photos:
        return ""
    return (f"\n\n`{engine.info.name}` knows no photos. A result warns when an input looks like one: more than "
            f"{PHOTO_COLOURS} colours or a median neighbour step above {PHOTO_TEXTURE} at 64 px (9 of the 10 "
            "example photos, 53 of 640 scenes of four renderers; docs/photo_heuristic.md).")


def _list(items: Sequence[str]) -> str:
    quoted = [f"“{i}”" for i in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
