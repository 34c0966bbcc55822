"""The objective: which metric a sweep optimises, and its values per step read live.

Values come straight from the run journals (append-only, read incrementally from the last
offset), not the catalog: a driver polling every fraction of a second never takes the catalog
lock, and sees what the notebook logged up to its last flush, 100 ms ago at most.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import InvalidInput
from ..tracking.journal import read_journal

DIRECTIONS = ("max", "min")


def parse_objective(text: str | tuple[str, str] | list[str] | None) -> tuple[str, str] | None:
    """``"val_acc:max"`` → ``("val_acc", "max")``; the direction is required (no silent guess)."""
    if text is None:
        return None
    if isinstance(text, (tuple, list)) and len(text) == 2:
        metric, direction = str(text[0]), str(text[1])
    elif isinstance(text, str):
        metric, _, direction = text.rpartition(":")
        if not metric:
            raise InvalidInput(f"objective {text!r} needs a direction: {text}:max or {text}:min")
    else:
        raise InvalidInput(f"objective must be 'metric:max' or 'metric:min', got {text!r}")
    direction = {"maximize": "max", "minimize": "min"}.get(direction.lower(), direction.lower())
    if direction not in DIRECTIONS:
        raise InvalidInput(f"objective {text!r}: the direction after ':' is max or min, got {direction!r}")
    if not metric.strip():
        raise InvalidInput(f"objective {text!r}: no metric name before ':'")
    return metric.strip(), direction


class MetricFollower:
    """One metric's step → value history of many runs, read incrementally from their journals."""

    def __init__(self, runs_dir: Path, key: str) -> None:
        self.runs_dir = runs_dir
        self.key = key
        self._offsets: dict[str, int] = {}
        self._history: dict[str, dict[int, float]] = {}

    def history(self, run_id: str) -> dict[int, float]:
        """Everything logged so far (reads only the bytes appended since the last call)."""
        path = self.runs_dir / run_id / "journal.dlj"
        hist = self._history.setdefault(run_id, {})
        if not path.exists():
            return hist
        chunk = read_journal(path, self._offsets.get(run_id, 0))
        self._offsets[run_id] = chunk.end
        for batch in chunk.metrics:
            if self.key not in batch.keys:
                continue
            wanted = batch.keys.index(self.key)
            mask = batch.key_idx == wanted
            for step, value in zip(batch.steps[mask].tolist(), batch.values[mask].tolist(), strict=True):
                if not math.isnan(value):
                    hist[int(step)] = float(value)
        return hist


def last_value(history: dict[int, float]) -> float | None:
    return history[max(history)] if history else None


def best_value(history: dict[int, float], direction: str) -> float | None:
    if not history:
        return None
    return max(history.values()) if direction == "max" else min(history.values())
