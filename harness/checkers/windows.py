"""Placing a checker's findings in the fault windows (`history.fault_windows`): the
labels a report and results.json use, which windows were in force at an instant, and how
many instants fall in each."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

NO_FAULT = "no fault"


def window_label(w: dict[str, Any], i: int) -> str:
    """"partition isolate-node #2 (12.3-27.4s)": the fault, its shape, its number, its span."""
    shape = w["value"].get("shape") if isinstance(w.get("value"), dict) else None
    return f"{w['fault']}{' ' + shape if shape else ''} #{i + 1} ({w['start'] / 1e9:.1f}-{w['end'] / 1e9:.1f}s)"


def windows_at(t: float, windows: list[dict[str, Any]], labels: list[str]) -> list[str]:
    """The labels of the windows in force at t, or [NO_FAULT]."""
    return [labels[i] for i, w in enumerate(windows) if w["start"] <= t <= w["end"]] or [NO_FAULT]


def count_by_window(ends: list[float], windows: list[dict[str, Any]], labels: list[str]) -> dict[str, int]:
    """How many of the times `ends` (sorted) fall in each window, and in none:
    O(windows × log n)."""
    counts = {}
    for lab, w in zip(labels, windows):
        n = bisect_right(ends, w["end"]) - bisect_left(ends, w["start"])
        if n:
            counts[lab] = n
    covered, union = 0, []
    for w in sorted(windows, key=lambda w: w["start"]):   # merge into disjoint spans
        if union and w["start"] <= union[-1][1]:
            union[-1][1] = max(union[-1][1], w["end"])
        else:
            union.append([w["start"], w["end"]])
    for a, b in union:
        covered += bisect_right(ends, b) - bisect_left(ends, a)
    if len(ends) > covered:
        counts[NO_FAULT] = len(ends) - covered
    return counts
