"""Turning a spec into trials: the grid, seeded random samples, and Optuna's TPE (ask side).

Random search uses its own ``random.Random(seed)`` so the same ``--random N --seed S`` gives the
same trials on any machine, in any process, before or after a restart. TPE is Optuna's
(``TPESampler``); only the translation of our dimensions into Optuna distributions lives here.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # optuna is imported lazily: `import jupyter_dlbench` stays fast
    import optuna

    from .spec import Dimension, SweepSpec


def grid(spec: SweepSpec) -> list[dict[str, Any]]:
    names = spec.names
    out = []
    for combo in itertools.product(*[d.choices or () for d in spec.dims]):
        out.append(dict(zip(names, combo, strict=True)))
        if spec.max_runs and len(out) >= spec.max_runs:
            break
    return out


def sample(dim: Dimension, rng: random.Random) -> Any:
    if not dim.is_range:
        return rng.choice(list(dim.choices or ()))
    low, high = float(dim.low or 0), float(dim.high or 0)
    if dim.integer:
        if dim.log:
            value = round(math.exp(rng.uniform(math.log(low), math.log(high))))
            return int(min(max(value, low), high))
        return rng.randint(int(low), int(high))
    if dim.log:
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)


def random_trials(spec: SweepSpec, start: int = 0, count: int | None = None) -> list[dict[str, Any]]:
    """Trials ``start .. start+count`` of the seeded random sequence (the same every time)."""
    rng = random.Random(spec.seed)
    total = spec.n_runs if count is None else start + count
    out = []
    for i in range(total):
        trial = {d.name: sample(d, rng) for d in spec.dims}
        if i >= start:
            out.append(trial)
    return out


def startup_trials(n_runs: int) -> int:
    """Random trials TPE draws before it models: Optuna's 10 would leave a small sweep random."""
    return max(2, min(10, n_runs // 4))


def _primitive(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _label(value: Any) -> Any:
    """Optuna's categorical choices must be primitives: a list choice goes in as its repr."""
    return value if _primitive(value) else repr(value)


def from_optuna(spec: SweepSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's answer as the notebook's params (list/dict choices mapped back from their repr)."""
    out = dict(params)
    for d in spec.dims:
        if not d.is_range and not all(_primitive(c) for c in d.choices or ()):
            out[d.name] = {_label(c): c for c in d.choices or ()}[params[d.name]]
    return out


def distributions(spec: SweepSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for d in spec.dims:
        if not d.is_range:
            out[d.name] = CategoricalDistribution([_label(c) for c in d.choices or ()])
        elif d.integer:
            out[d.name] = IntDistribution(int(d.low or 0), int(d.high or 0), log=d.log)
        else:
            out[d.name] = FloatDistribution(float(d.low or 0), float(d.high or 0), log=d.log)
    return out


def sampler(spec: SweepSpec, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """TPE seeded from the spec; a resumed study offsets the seed so it does not repeat itself."""
    import optuna

    seed = None if spec.seed is None else spec.seed + seed_offset
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(spec.n_runs))


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    if spec.method == "grid":
        return grid(spec)
    if spec.method == "random":
        return random_trials(spec)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler(spec))
    dists = distributions(spec)
    n = min(spec.n_runs, startup_trials(spec.n_runs))
    return [from_optuna(spec, study.ask(dists).params) for _ in range(n)]
