"""Parsing the user's text: one item per line, templates with a `{}`."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InputError
from .limits import MAX_TEMPLATES, MAX_TEXT_CHARS, MAX_TEXTS


@dataclass
class Lines:
    items: list[str]
    notes: list[str] = field(default_factory=list)  # e.g. "2 duplicate lines removed"


def parse_lines(text: str | list[str] | None, what: str = "labels", limit: int = MAX_TEXTS) -> Lines:
    """Split on newlines, strip, drop blank lines (silently) and exact duplicates (first kept, noted).

    Raises:
        InputError: nothing left, more than `limit` items, or a line over MAX_TEXT_CHARS characters.
    """
    raw = text if isinstance(text, list) else (text or "").splitlines()
    stripped = [str(line).strip() for line in raw]
    items = list(dict.fromkeys(s for s in stripped if s))
    notes = []
    dupes = sum(1 for s in stripped if s) - len(items)
    if dupes:
        notes.append(f"{dupes} duplicate {what[:-1] if dupes == 1 else what} removed")
    if not items:
        raise InputError(f"No {what} given: enter one per line.")
    if len(items) > limit:
        raise InputError(f"Too many {what}: {len(items)}; the limit is {limit} per request.")
    long = [s for s in items if len(s) > MAX_TEXT_CHARS]
    if long:
        raise InputError(f"A line of the {what} has {len(long[0])} characters; the limit is {MAX_TEXT_CHARS}.")
    return Lines(items, notes)


def check_template(template: str) -> str:
    """A prompt template must contain `{}` exactly once, where the label goes.

    Raises:
        InputError: no `{}`, or more than one.
    """
    template = (template or "").strip()
    n = template.count("{}")
    if n != 1:
        raise InputError(f"The template {template!r} must contain {{}} exactly once, where the label goes, "
                         "for example 'a photo of a {}.'")
    return template


def fill(template: str, label: str) -> str:
    """Put `label` into `template` (str.replace, so braces inside labels are harmless)."""
    return template.replace("{}", label, 1)


def parse_templates(text: str | list[str]) -> list[str]:
    return [check_template(t) for t in parse_lines(text, "templates", MAX_TEMPLATES).items]


def formatted(x: float, spec: str) -> str:
    """format(x, spec) with no minus sign on a zero: -0.004 with ".2f" reads "0.00", not "-0.00"."""
    text, zero = format(x, spec), format(0.0, spec)
    return zero if text == "-" + zero else text


def fixed(x: float, places: int = 2) -> str:
    """`x` to `places` decimals, with no minus sign on a zero (formatted)."""
    return formatted(x, f".{places}f")


def percent(p: float) -> str:
    """A probability as people read it, in tables and on bars alike: 99.9%, 0.4%, <0.1%."""
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"
