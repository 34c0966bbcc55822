"""Early stopping: which running trial to stop, from the objective's values per step.

Two rules users of Optuna and Ray Tune know:

- ``median`` (Optuna's ``MedianPruner``, Google Vizier's median stopping rule): after a warm-up,
  stop a trial whose best value so far is worse than the median of what finished trials had
  reached by the same step.
- ``asha`` (asynchronous successive halving, Li et al. 2018, https://arxiv.org/abs/1810.05934):
  at rungs of ``min_steps * reduction**k`` steps, a trial continues only if it is in the top
  ``1/reduction`` of all trials that reached that rung so far.

Both are pure functions of the histories, so they are tested without running anything. A
history maps step → value of the objective metric, as the notebook logged it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput

History = dict[int, float]
RULES = ("median", "asha")


def _best_until(history: History, step: int, maximize: bool) -> float | None:
    values = [v for s, v in history.items() if s <= step and not math.isnan(v)]
    if not values:
        return None
    return max(values) if maximize else min(values)


def _worse(a: float, b: float, maximize: bool) -> bool:
    return a < b if maximize else a > b


@dataclass
class MedianStop:
    """Stop a trial doing worse than the median of finished trials at the same step."""

    warmup_steps: int = 2
    min_trials: int = 2
    name: str = field(default="median", init=False)

    def decide(self, key: Any, history: History, finished: list[History], others: list[History],
               maximize: bool) -> str | None:
        steps = [s for s, v in history.items() if not math.isnan(v)]
        if len(steps) < self.warmup_steps:
            return None
        step = max(steps)
        mine = _best_until(history, step, maximize)
        peers = [b for h in finished if h and max(h) >= step
                 if (b := _best_until(h, step, maximize)) is not None]
        if mine is None or len(peers) < self.min_trials:
            return None
        median = statistics.median(peers)
        if _worse(mine, median, maximize):
            return (f"median rule: best {mine:.4g} by step {step} is worse than the median "
                    f"{median:.4g} of {len(peers)} finished trials at that step")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": "median", "warmup_steps": self.warmup_steps, "min_trials": self.min_trials}


@dataclass
class Asha:
    """Successive halving at rungs ``min_steps * reduction**k``, decided once per rung."""

    min_steps: int = 1
    reduction: int = 3
    name: str = field(default="asha", init=False)
    _decided: set[tuple[Any, int]] = field(default_factory=set, init=False, repr=False)

    def rung_steps(self, up_to: int) -> list[int]:
        out, r = [], self.min_steps
        while r <= up_to:
            out.append(r)
            r *= self.reduction
        return out

    def decide(self, key: Any, history: History, finished: list[History], others: list[History],
               maximize: bool) -> str | None:
        if not history:
            return None
        rungs = self.rung_steps(max(history))
        if not rungs or (key, rungs[-1]) in self._decided:
            return None
        rung = rungs[-1]
        self._decided.add((key, rung))
        mine = _best_until(history, rung, maximize)
        if mine is None:
            return None
        competing = [b for h in others if h and max(h) >= rung
                     if (b := _best_until(h, rung, maximize)) is not None] + [mine]
        competing.sort(reverse=maximize)
        keep = max(len(competing) // self.reduction - 1, 0)
        if _worse(mine, competing[keep], maximize):
            return (f"asha: {mine:.4g} at rung {rung} is not in the top 1/{self.reduction} of "
                    f"{len(competing)} trials that reached it (needs {competing[keep]:.4g})")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": "asha", "min_steps": self.min_steps, "reduction": self.reduction}


Pruner = MedianStop | Asha


def make_pruner(early_stop: Any) -> Pruner | None:
    """``None``, ``"median"``, ``"asha"``, a pruner, or its ``to_dict()`` form."""
    if early_stop is None or isinstance(early_stop, (MedianStop, Asha)):
        return early_stop
    if isinstance(early_stop, str):
        if early_stop == "median":
            return MedianStop()
        if early_stop == "asha":
            return Asha()
        raise InvalidInput(f"unknown early stopping rule {early_stop!r}; use median or asha")
    if isinstance(early_stop, dict):
        opts = {k: v for k, v in early_stop.items() if k != "rule"}
        rule = early_stop.get("rule")
        try:
            if rule == "median":
                return MedianStop(**opts)
            if rule == "asha":
                return Asha(**opts)
        except TypeError as e:
            raise InvalidInput(f"bad early stopping options {opts!r}: {e}") from None
        raise InvalidInput(f"unknown early stopping rule {rule!r}; use median or asha")
    raise InvalidInput(f"early_stop must be 'median', 'asha' or None, got {early_stop!r}")
