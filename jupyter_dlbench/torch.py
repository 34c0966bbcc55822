"""PyTorch helpers: a drop-in for TensorBoard's ``SummaryWriter`` scalar API, and checkpoints.

Training code written for TensorBoard keeps calling ``writer.add_scalar(...)``; only the
import changes, and its curves land in the run's catalog next to the params, the notebook
snapshot and the environment::

    from jupyter_dlbench.torch import SummaryWriter   # was: torch.utils.tensorboard

torch is imported only inside :func:`save_checkpoint`, so ``import jupyter_dlbench.torch``
stays cheap and works where torch is not installed (tensor values are handled by duck typing).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from .api import init
from .tracking import current
from .tracking.run import Run


class SummaryWriter:
    """Writes TensorBoard scalar calls into a jupyter-dlbench run.

    Parameters
    ----------
    log_dir, comment
        Accepted so existing calls work unchanged; nothing is written there. When the writer
        starts its own run, its name comes from ``comment`` (else the last part of
        ``log_dir``), the way TensorBoard names its run folders.
    run
        The run to write into. Default: the current run (``dlb.init()`` earlier in the
        notebook), else a new run in ``project`` that this writer owns and ``close()``
        finishes; a borrowed run is only flushed, since its owner finishes it.
    **ignored
        TensorBoard options with no meaning here (``purge_step``, ``max_queue``,
        ``flush_secs``, ``filename_suffix``).

    Notes
    -----
    A scalar logged without ``global_step`` gets its tag's next step: 0, 1, 2 … counted per
    tag (per ``main_tag`` for :meth:`add_scalars`). TensorBoard would store such points without
    a step, and a run's history is ordered by step, so a counter keeps the curve in call
    order; an explicit ``global_step`` moves that tag's counter on past it. ``walltime`` is
    ignored: the run stamps each point with the time it was logged.
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, comment: str = "", *,
                 run: Run | None = None, project: str | None = None, **ignored: Any) -> None:
        self.log_dir = None if log_dir is None else str(log_dir)
        self._owned = False
        if run is None:
            run = current.peek_current()
        if run is None:
            name = comment.strip("_- ") or (Path(self.log_dir).name if self.log_dir else "")
            run = init(project=project, name=name or None)
            self._owned = True
        self.run = run
        self._next_step: dict[str, int] = {}

    def _step(self, tag: str, global_step: Any) -> int:
        # int() also takes a 0-d tensor or numpy integer, which training loops often pass
        step = self._next_step.get(tag, 0) if global_step is None else int(global_step)
        self._next_step[tag] = step + 1
        return step

    def get_logdir(self) -> str | None:
        """The ``log_dir`` given (TensorBoard API); nothing is written there."""
        return self.log_dir

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        """Log one value: a number, a numpy scalar or a one-element tensor.

        Values go through ``run.log``'s own validation, so a non-scalar tensor fails here
        with the tag named instead of corrupting the curve.
        """
        self.run.log({tag: scalar_value}, step=self._step(tag, global_step))

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any],
                    global_step: int | None = None, walltime: float | None = None) -> None:
        """Log several related values at one step, each under ``main_tag/tag``.

        TensorBoard writes one sub-run per tag; flattened names keep them in the same run,
        where ``dlb.runs()`` shows them as ``metrics.main_tag/tag`` columns.
        """
        values = {f"{main_tag}/{tag}": value for tag, value in tag_scalar_dict.items()}
        self.run.log(values, step=self._step(main_tag, global_step))

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: dict[str, list[Any]] | None = None,
                    run_name: str | None = None, global_step: int | None = None) -> None:
        """Record hyperparameters as run params and ``metric_dict`` as metrics.

        Params are what ``dlb.runs(where="params.lr < 0.01")`` and comparisons filter on, so
        that is where hyperparameters belong. The metrics are logged at ``global_step``
        (default 0). ``hparam_domain_discrete`` and ``run_name`` only shape TensorBoard's
        HParams view and are ignored.
        """
        self.run.log_params(dict(hparam_dict))
        if metric_dict:
            self.run.log(dict(metric_dict), step=0 if global_step is None else int(global_step))

    def flush(self) -> None:
        """Write buffered points to the run's journal now (it happens every 100 ms anyway)."""
        self.run.flush()

    def close(self) -> None:
        """Finish the run if this writer started it, else just flush it."""
        if self._owned:
            self.run.finish()
        else:
            self.run.flush()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, etype, value, tb) -> None:  # type: ignore[no-untyped-def]
        if self._owned:
            # the run's own exit marks it failed (with the error) when the block raised
            self.run.__exit__(etype, value, tb)
        else:
            self.run.flush()


def save_checkpoint(obj: Any, name: str = "checkpoint.pt", run: Run | None = None) -> str:
    """``torch.save`` ``obj`` and store the file as an artifact of the run.

    The bytes go into the content-addressed object store, so a checkpoint survives the
    notebook's working folder and identical checkpoints are stored once.

    Parameters
    ----------
    obj
        Anything ``torch.save`` accepts; usually ``model.state_dict()`` (or a model).
    name
        The artifact's path within the run.
    run
        Default: the current run (raises ``NoActiveRun`` when there is none).

    Returns
    -------
    str
        The artifact path; ``dlb.run_info(run_id)["artifacts"]`` gives its object id.
    """
    import torch

    run = run or current.get_current()
    fd, tmp = tempfile.mkstemp(prefix="dlbench-ckpt-", suffix=Path(name).suffix or ".pt")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        return run.log_artifact(tmp, name=name)[0]
    finally:
        os.unlink(tmp)
