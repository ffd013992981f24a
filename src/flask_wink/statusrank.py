"""Statuses that only move forward: each has a rank, and a later rank is never replaced by an earlier one."""

from __future__ import annotations

from collections.abc import Mapping


def replaceable_by(ranks: Mapping[str, int], status: str) -> list[str]:
    """The statuses in ``ranks`` that ``status`` may replace: those ranked no later (itself included)."""
    return [str(old) for old, rank in ranks.items() if rank <= ranks[status]]
