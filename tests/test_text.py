from __future__ import annotations

import pytest

from clipdemo.errors import InputError
from clipdemo.limits import MAX_TEXTS
from clipdemo.text import check_template, fill, fixed, parse_lines


def test_blank_and_duplicate_lines():
    lines = parse_lines("cat\n\n  dog \ncat\n\n")
    assert lines.items == ["cat", "dog"]
    assert lines.notes == ["1 duplicate label removed"]


def test_zero_labels():
    with pytest.raises(InputError, match="No labels given"):
        parse_lines(" \n\n")


def test_thousand_labels_pass_and_over_the_limit_fails():
    assert len(parse_lines("\n".join(f"label {i}" for i in range(1000))).items) == 1000
    with pytest.raises(InputError, match=f"limit is {MAX_TEXTS}"):
        parse_lines("\n".join(f"label {i}" for i in range(MAX_TEXTS + 1)))


@pytest.mark.parametrize("template", ["a photo of a cat", "{} and {}", ""])
def test_template_needs_exactly_one_placeholder(template):
    with pytest.raises(InputError, match="exactly once"):
        check_template(template)


def test_braces_in_labels_are_harmless():
    assert fill("a photo of a {}.", "{weird} label") == "a photo of a {weird} label."


@pytest.mark.parametrize("value, shown", [(-0.004, "0.00"), (-0.0, "0.00"), (-0.16, "-0.16"), (0.5904, "0.59")])
def test_fixed_never_shows_a_negative_zero(value, shown):
    """A typical non-matching cosine of -0.004 read "-0.00" on the page, as if it were below zero."""
    assert fixed(value) == shown


def test_an_accuracy_of_zero_reads_zero_and_a_tiny_one_less_than_a_tenth():
    """in_percent read an accuracy of 0 as "<0.1%", as if something had been right."""
    import pandas as pd

    from clipdemo.ui.common import in_percent

    table = in_percent(pd.DataFrame({"a": [0.5604, 0.0004, 0.0, None], "b": list("wxyz")}), ["a"])
    assert table["a"].tolist() == ["56.0%", "<0.1%", "0.0%", ""] and table["b"].tolist() == list("wxyz")
