"""`make checkpoint` and `make checkpoint-siglip` are the commands that made the bundled checkpoints.

Each bundled checkpoint's training_args.json records the command of its last stage, the phases it ran and,
nested under init_training_args, the same for the stages before it. Here the Makefile's commands are read
back and held to that record: the same recipes, in the same order, with the same loss and overrides, each
stage starting from the one before, and each recipe still the phases it ran then. A renamed or edited recipe,
or a retrained checkpoint whose Makefile target was not updated, fails here.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict
from pathlib import Path

import pytest

from clipdemo.train.__main__ import parser, recipe_phases
from clipdemo.train.loop import TrainConfig
from clipdemo.train.recipes import FROM_SCRATCH, RECIPES

ROOT = Path(__file__).resolve().parents[1]
TRAIN = "-m clipdemo.train"
# what a stage's command sets, besides where it reads and writes
SETTINGS = ("recipe", "loss", "steps", "batch_size", "lr", "pool", "seed", "skip_phases", "tokenizer")


def make_commands(target: str) -> list[list[str]]:
    """The `python -m clipdemo.train` argument lists of a Makefile target, in order."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    body = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert body, f"no target {target} in the Makefile"
    return [shlex.split(line.split(TRAIN, 1)[1]) for line in body.group(1).splitlines() if TRAIN in line]


def records(checkpoint: Path) -> list[dict]:
    """The training records in a checkpoint's training_args.json, the first stage first."""
    record, stages = json.loads((checkpoint / "training_args.json").read_text()), []
    while record:
        stages.insert(0, record)
        record = record.get("init_training_args")
    return stages


def argv(record: dict) -> list[str]:
    return shlex.split(record["command"].split(TRAIN, 1)[1])


def settings(args: list[str]) -> dict:
    parsed = parser().parse_args(args)
    return {key: getattr(parsed, key) for key in SETTINGS}


@pytest.mark.parametrize("target, name", [("checkpoint", "tiny-scenes"), ("checkpoint-siglip", "tiny-scenes-siglip")])
def test_the_make_target_is_the_recipe_the_bundled_checkpoint_records(target, name):
    made, recorded = make_commands(target), records(ROOT / "clipdemo" / "checkpoints" / name)
    assert [settings(args) for args in made] == [settings(argv(record)) for record in recorded]
    stages = [parser().parse_args(args) for args in made]
    assert stages[0].recipe in FROM_SCRATCH and stages[0].init is None
    for before, stage in zip(stages, stages[1:]):
        assert stage.recipe in RECIPES and stage.recipe not in FROM_SCRATCH and stage.init == before.out
    assert stages[-1].out == f"clipdemo/checkpoints/{name}"
    for before, record in zip([None, *recorded], recorded):  # each record started from the one nested in it
        assert record["init"] == (before and parser().parse_args(argv(before)).out)


@pytest.mark.parametrize("name", ["tiny-scenes", "tiny-scenes-siglip"])
def test_each_recorded_recipe_still_runs_the_phases_it_ran(name):
    default = asdict(TrainConfig())
    for record in records(ROOT / "clipdemo" / "checkpoints" / name):
        args = parser().parse_args(argv(record))
        assert record["recipe"] == args.recipe
        now = [asdict(config) for config in recipe_phases(args)[1]]  # what the same command would run today
        assert len(now) == len(record["phases"])
        for phase, ran in zip(now, record["phases"]):
            assert {k: phase[k] for k in ran} == ran
            # fields added to TrainConfig since the run was recorded are not in its record: it ran their defaults
            added = phase.keys() - ran
            assert {k: phase[k] for k in added} == {k: default[k] for k in added}
