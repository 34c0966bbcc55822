"""PyTorch helpers: a drop-in for TensorBoard's ``SummaryWriter`` scalar API, and checkpoints.

Existing training code keeps calling ``writer.add_scalar(...)``; only the import changes::

    from jupyter_dlbench.torch import SummaryWriter   # was: torch.utils.tensorboard

torch is imported lazily, so ``import jupyter_dlbench.torch`` works without it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from .api import init
from .tracking import current
from .tracking.run import Run
from .tracking.values import to_float


class SummaryWriter:
    """Writes TensorBoard scalar calls into a jupyter-dlbench run.

    Uses ``run`` if given, else the current run, else starts one (and then owns it: ``close()``
    finishes it). ``log_dir`` and ``comment`` are accepted for compatibility; the run name is
    taken from ``comment`` when the writer starts its own run. A call without ``global_step``
    takes the tag's next step (0, 1, 2 …), so curves stay ordered.
    """

    def __init__(self, log_dir: str | None = None, comment: str = "", *, run: Run | None = None,
                 project: str | None = None, **_ignored: Any) -> None:
        self.log_dir = log_dir
        self._owned = False
        if run is None:
            run = current.peek_current()
        if run is None:
            run = init(project=project, name=comment.strip("_- ") or None)
            self._owned = True
        self.run = run
        self._next_step: dict[str, int] = {}

    def _step(self, tag: str, global_step: int | None) -> int:
        step = self._next_step.get(tag, 0) if global_step is None else int(global_step)
        self._next_step[tag] = step + 1
        return step

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        self.run.log({tag: to_float(tag, scalar_value)}, step=self._step(tag, global_step))

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any],
                    global_step: int | None = None, walltime: float | None = None) -> None:
        values = {f"{main_tag}/{k}": to_float(f"{main_tag}/{k}", v) for k, v in tag_scalar_dict.items()}
        self.run.log(values, step=self._step(main_tag, global_step))

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: dict[str, list[Any]] | None = None,
                    run_name: str | None = None, global_step: int | None = None) -> None:
        """Hyperparameters become run params; the metrics are logged like scalars."""
        self.run.log_params(dict(hparam_dict))
        if metric_dict:
            step = 0 if global_step is None else int(global_step)
            self.run.log({k: to_float(k, v) for k, v in metric_dict.items()}, step=step)

    def flush(self) -> None:
        self.run.flush()

    def close(self) -> None:
        if self._owned:
            self.run.finish()
        else:
            self.run.flush()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def save_checkpoint(obj: Any, name: str = "checkpoint.pt", run: Run | None = None) -> str:
    """``torch.save`` ``obj`` (a state_dict or a model) and store it as an artifact of the run.

    Returns the artifact path; ``dlb.run_info(run_id)["artifacts"]`` has its object id.
    """
    import torch

    run = run or current.get_current()
    fd, tmp = tempfile.mkstemp(suffix=Path(name).suffix or ".pt")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        return run.log_artifact(tmp, name=name)[0]
    finally:
        os.unlink(tmp)
