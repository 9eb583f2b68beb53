"""`make checkpoint` and `make checkpoint-siglip` are the commands that made the bundled checkpoints.

Each bundled checkpoint's training_args.json records the command of its last stage and, nested under
init_training_args, those of the stages before it. Here the Makefile's commands are read back and held to
that record: the same recipes, in the same order, with the same loss and overrides, each stage starting from
the one before. A renamed recipe or a retrained checkpoint whose Makefile target was not updated fails here.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from clipdemo.train.__main__ import parser
from clipdemo.train.recipes import FROM_SCRATCH, RECIPES

ROOT = Path(__file__).resolve().parents[1]
# what a stage's command sets, besides where it reads and writes
SETTINGS = ("recipe", "loss", "steps", "batch_size", "lr", "pool", "seed", "skip_phases", "tokenizer")


def make_commands(target: str) -> list[list[str]]:
    """The `python -m clipdemo.train` argument lists of a Makefile target, in order."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    body = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert body, f"no target {target} in the Makefile"
    return [shlex.split(line.split("-m clipdemo.train", 1)[1]) for line in body.group(1).splitlines()]


def recorded_commands(checkpoint: Path) -> list[list[str]]:
    """The commands in a checkpoint's training_args.json, the first stage first."""
    record, commands = json.loads((checkpoint / "training_args.json").read_text()), []
    while record:
        commands.insert(0, shlex.split(record["command"].split("python -m clipdemo.train", 1)[1]))
        record = record.get("init_training_args")
    return commands


def settings(argv: list[str]) -> dict:
    args = parser().parse_args(argv)
    return {key: getattr(args, key) for key in SETTINGS}


@pytest.mark.parametrize("target, name", [("checkpoint", "tiny-scenes"), ("checkpoint-siglip", "tiny-scenes-siglip")])
def test_the_make_target_is_the_recipe_the_bundled_checkpoint_records(target, name):
    made, recorded = make_commands(target), recorded_commands(ROOT / "clipdemo" / "checkpoints" / name)
    assert [settings(argv) for argv in made] == [settings(argv) for argv in recorded]
    stages = [parser().parse_args(argv) for argv in made]
    assert stages[0].recipe in FROM_SCRATCH and stages[0].init is None
    for before, stage in zip(stages, stages[1:]):
        assert stage.recipe in RECIPES and stage.recipe not in FROM_SCRATCH and stage.init == before.out
    assert stages[-1].out == f"clipdemo/checkpoints/{name}"
