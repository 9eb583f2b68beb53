"""The probe lab: where CLIP fails (counting, digits, spatial relations, binding, negation, text in images)."""

from .published import PUBLISHED, published_for
from .report import format_table, run_suites, to_csv, to_json
from .suites import SUITES, suite_label, suite_names

__all__ = ["PUBLISHED", "SUITES", "format_table", "published_for", "run_suites", "suite_label", "suite_names", "to_csv",
           "to_json"]
