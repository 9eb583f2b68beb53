"""Running suites and reporting them: a table, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json

from ..analysis.probes import ProbeReport, evaluate_items
from .published import published_for
from .suites import SUITES, suite_names

DEFAULT_N = 200


def run_suites(engine, suites=("all",), n: int = DEFAULT_N, seed: int = 0, template: str = "{}",
               progress=None) -> list[ProbeReport]:
    """Score `engine` on each suite (n items each; 'photos' has its 8 fixed items)."""
    reports = []
    names = suite_names(suites)
    for i, name in enumerate(names):
        if progress:
            progress(i, len(names), name)
        reports.append(evaluate_items(engine, SUITES[name](n, seed), name, template))
    if progress:
        progress(len(names), len(names), "done")
    return reports


def summary_rows(reports: list[ProbeReport]) -> list[dict]:
    rows = []
    for r in reports:
        pub = published_for(r.suite)
        rows.append({"suite": r.suite, "accuracy": round(r.accuracy, 4), "chance": round(r.chance, 4), "items": r.n,
                     "published_benchmark": pub.benchmark if pub else "",
                     "published_accuracy": pub.accuracy if pub else None,
                     "published_chance": pub.chance if pub else None, "source": pub.source if pub else ""})
    return rows


def item_rows(reports: list[ProbeReport]) -> list[dict]:
    return [{"suite": r.suite, "item": it.name, "true": it.candidates[it.answer], "predicted": it.candidates[p],
             "correct": p == it.answer, "confidence": round(c, 4)}
            for r in reports for it, p, c in zip(r.items, r.predictions, r.confidence)]


def to_csv(reports: list[ProbeReport]) -> str:
    out = io.StringIO()
    rows = item_rows(reports)
    w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["suite"])
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def to_json(reports: list[ProbeReport], model: str = "") -> str:
    return json.dumps({"model": model, "suites": summary_rows(reports), "items": item_rows(reports)}, indent=2)


def format_table(reports: list[ProbeReport]) -> str:
    lines = [f"{'suite':<10} {'accuracy':>8} {'chance':>7} {'items':>6}   published (OpenAI CLIP ViT-B/32)"]
    for row in summary_rows(reports):
        pub = (f"{row['published_accuracy']:.1%} on {row['published_benchmark']} (chance {row['published_chance']:.1%})"
               if row["published_accuracy"] is not None else "-")
        lines.append(f"{row['suite']:<10} {row['accuracy']:8.1%} {row['chance']:7.1%} {row['items']:6d}   {pub}")
    return "\n".join(lines)
