"""The analysis scripts under scripts/: their figures must be the tests' and the probes' own.

failures.py sorts a model's errors by what the renderer drew; binding_gap.py asks whether a model parts a
pair of objects from the same pair with its colours swapped.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from clipdemo.analysis import probes
from clipdemo.probes.suites import binding, spatial
from clipdemo.train.evaluate import TEMPLATE, attribute_items, evaluate_items

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str = "failures"):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_its_shape_figure_is_the_evaluations_on_the_same_scenes(bundled_engine, capsys):
    """The single shapes are the evaluation's "shape" items of seed 7, scored the same way, and every
    breakdown covers each of them once."""
    n = 120
    _script().main(["--model", "tiny-scenes", "-n", str(n)])
    out = capsys.readouterr().out
    shapes = float(re.search(r"shapes ([\d.]+)% of", out).group(1)) / 100
    expected = evaluate_items(bundled_engine, attribute_items("shape", n, seed=7, style="unseen-family"), "shape",
                              TEMPLATE).accuracy
    assert abs(shapes - expected) < 1e-3, (shapes, expected)
    for line in ("by size", "by look and size", "by shape", "by count"):
        counted = re.search(rf"  {line}: (.*)", out).group(1)
        assert sum(int(k) for k in re.findall(r"\(of (\d+)\)", counted)) == n, (line, counted)


def test_confusions_name_the_commonest_errors_first():
    script = _script()
    assert script.confusions([0, 0, 0, 1, 2], [1, 1, 2, 1, 2], ["a", "b", "c"]) == "a as b 2, a as c 1"
    assert script.confusions([0, 1], [0, 1], ["a", "b"]) == "none"


def test_binding_gaps_win_rate_is_the_probes_accuracy(bundled_engine, capsys):
    n = 60
    _script("binding_gap").main(["--models", "tiny-scenes", "-n", str(n)])
    out = capsys.readouterr().out.splitlines()
    for suite, items in (("binding", binding), ("spatial", spatial)):
        line = next(line for line in out if f" {suite} " in line)
        wins = float(re.search(r"right caption wins +([\d.]+)%", line).group(1)) / 100
        expected = probes.evaluate_items(bundled_engine, items(n, seed=0), suite).accuracy
        assert abs(wins - expected) < 1e-3, (suite, wins, expected)


def test_absent_flags_reads_the_apps_rule_and_the_old_line(capsys):
    """On two-object scenes the line alone flags present names (the misfire), the app's rule does not, and
    both flag most absent names that share nothing with the scene."""
    _script("absent_flags").main(["-n", "12"])
    line = re.search(r"2-object scenes \(12\): (.*)", capsys.readouterr().out).group(1)
    shares = [(int(a), int(b)) for a, b in re.findall(r"(\d+)% -> (\d+)%", line)]
    (present_line, present_rule), _, (neither_line, neither_rule) = shares
    assert present_line >= 50 and present_rule == 0, line
    assert neither_line >= 75 and neither_rule >= 75, line
