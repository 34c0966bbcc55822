"""Hyperparameter sweeps: a spec grammar, grid/random/TPE search, early stopping, and a driver
that turns trials into ordinary notebook jobs.

>>> spec = parse_spec(["lr=1e-3,1e-4", "batch=32,64"])
>>> sweep = start_sweep(ws, "train.ipynb", spec, concurrency=2, objective="val_acc:max")
>>> sweep.wait().best
"""

from __future__ import annotations

from .engine import Sweep, SweepFailed, list_sweeps, load_sweep, start_sweep
from .pruning import Asha, MedianStop
from .spec import SweepSpec, parse_spec, spec_from_dict, split_line
from .store import SweepNotFound

__all__ = [
    "Asha",
    "MedianStop",
    "Sweep",
    "SweepFailed",
    "SweepNotFound",
    "SweepSpec",
    "list_sweeps",
    "load_sweep",
    "parse_spec",
    "spec_from_dict",
    "split_line",
    "start_sweep",
]
