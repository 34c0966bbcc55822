"""A kernel kept alive across the trials of one sweep, inside one job runner.

Why: a sweep runs the same notebook many times, and starting a Python process, a kernel and
re-importing torch for every trial costs seconds each — the accepted practice (W&B agents, Ray
Tune's ``reuse_actors``, Optuna's in-process objective) is to reuse the worker. Each trial still
gets its own tracked run, its own output notebook and its own injected parameters; between
trials the kernel's namespace, input history, execution count, environment variables and working
directory are reset to what a fresh kernel had. Module state (imported modules, the global
random generators, CUDA allocations) is kept: that is what makes reuse fast, and why
``dlbench sweep --fresh-kernel`` exists.

A kernel is reused only for the next trial of the same sweep with the same snapshot, kernel,
working directory and GPUs, and only after a trial that finished: after a failure, a timeout,
a cancel or a prune the kernel is shut down and the next trial starts a fresh one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the variables a runner sets per job; a reused kernel gets the current job's values
JOB_ENV_KEYS = (
    "DLBENCH_JOB_ID", "DLBENCH_EXECUTOR", "DLBENCH_QUEUED_AT", "DLBENCH_HOME", "DLBENCH_SNAPSHOT_OID",
    "DLBENCH_JOB_PROJECT", "DLBENCH_RUN_ID", "DLBENCH_INPUT_NOTEBOOK", "DLBENCH_NOTEBOOK_PATH",
)

# run in the kernel with a private globals dict (exec), so nothing lands in the user namespace
_BASELINE = """
import os
get_ipython()._dlbench_baseline = (dict(os.environ), os.getcwd())
"""

_RESET = """
import gc, os
ip = get_ipython()
env0, cwd0 = ip._dlbench_baseline
ip.reset(new_session=True)
os.environ.clear()
os.environ.update({k: v for k, v in env0.items() if k not in JOB_KEYS})
os.environ.update(JOB_ENV)
os.chdir(cwd0)
gc.collect()
"""

# the notebook's dlb.init() attached to the job's run; a fresh kernel ends that attachment at
# exit (atexit), a reused one must end it here, before the runner writes the run's verdict
_END_TRIAL = """
import sys
current = sys.modules.get("jupyter_dlbench.tracking.current")
run = current.peek_current() if current is not None else None
if run is not None:
    run.finish()
"""


def _private(code: str, **values: Any) -> str:
    """One expression statement that runs ``code`` without touching the user's namespace."""
    names = {"get_ipython": "get_ipython", **{k: json.dumps(v) for k, v in values.items()}}
    glb = "{" + ", ".join(f"{k!r}: {v}" for k, v in names.items()) + "}"
    return f"exec(compile({code!r}, '<dlbench>', 'exec'), {glb})"


@dataclass(frozen=True)
class KernelKey:
    """What must match for a kernel to be reused: same sweep, notebook, kernel, folder, GPUs."""

    sweep_id: str
    snapshot_oid: str
    kernel_name: str
    cwd: str
    cuda_visible_devices: str | None


class WarmKernel:
    """At most one live kernel per runner, handed from one sweep trial to the next."""

    def __init__(self) -> None:
        self.km: Any = None
        self.key: KernelKey | None = None
        self.trials = 0  # trials run on the current kernel
        # one client for the kernel's life, used by papermill and by the resets: clients of one
        # manager share its session (the identity replies are routed to), and connecting a new
        # one costs ~0.2 s of readiness polling per trial
        self.kc: Any = None

    # -- lifecycle -------------------------------------------------------------------------

    def acquire(self, key: KernelKey) -> Any:
        """A live kernel manager for this trial: the kept kernel, reset, when it matches;
        otherwise a freshly started one. The environment is this process's (the job's).

        Raises whatever starting a kernel raised (no such kernel, it never answered); the
        caller then lets papermill start its own and report the problem in its words.
        """
        if self.km is not None and self.key == key and self._alive():
            job_env = {k: os.environ[k] for k in JOB_ENV_KEYS if k in os.environ}
            if self._run(_private(_RESET, JOB_ENV=job_env, JOB_KEYS=list(JOB_ENV_KEYS))):
                self.trials += 1
                return self.km
        self.shutdown()
        self._start(key)
        self.trials = 1
        return self.km

    def end_trial(self, finished: bool) -> None:
        """After a trial: end the run the notebook attached to; keep the kernel only when the
        trial finished and that worked."""
        if self.km is None:
            return
        if not finished or not self._alive() or not self._run(_private(_END_TRIAL)):
            self.shutdown()

    def pids(self) -> set[int]:
        """The kernel's process id (for the cancel watcher), when one is running."""
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None) if self.km is not None else None
        return {pid} if isinstance(pid, int) else set()

    def shutdown(self) -> None:
        """Stop the kept kernel, if any (idempotent; a dead kernel is fine)."""
        from jupyter_core.utils import run_sync

        km, kc = self.km, self.kc
        self.km, self.kc, self.key, self.trials = None, None, None, 0
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:  # noqa: BLE001,S110 - the kernel is going away anyway
                pass
        if km is not None:
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 - already dead, or dying: nothing to keep
                pass

    # -- internals -------------------------------------------------------------------------

    def _start(self, key: KernelKey) -> None:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        km = AsyncKernelManager(kernel_name=key.kernel_name)
        # as nbclient starts its kernels: an in-memory history, in the notebook's folder
        run_sync(km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:"],
                                  cwd=key.cwd)
        self.km, self.key = km, key
        self.kc = km.client()
        self.kc.start_channels()
        try:
            run_sync(self.kc.wait_for_ready)(timeout=60)
            if not self._run(_private(_BASELINE)):
                raise RuntimeError("the kernel did not run its setup code")
        except BaseException:
            self.shutdown()
            raise

    def _alive(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:  # noqa: BLE001 - a manager that cannot tell is not trusted
            return False

    def _run(self, code: str, timeout: float = 60.0) -> bool:
        """Execute housekeeping code silently; True when its reply says it ran without error.

        Only the shell reply is awaited; its output on IOPub is left for nbclient, which skips
        messages that answer other requests.
        """
        import time

        from jupyter_core.utils import run_sync

        if self.kc is None:
            return False
        deadline = time.monotonic() + timeout
        try:
            msg_id = self.kc.execute(code, silent=True, store_history=False)
            while True:
                reply = run_sync(self.kc.get_shell_msg)(timeout=max(0.01, deadline - time.monotonic()))
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    return bool(reply.get("content", {}).get("status") == "ok")
        except Exception:  # noqa: BLE001 - a kernel that does not answer in time is not reused
            return False


def key_for(sweep_id: str, snapshot_oid: str, kernel_name: str, cwd: Path) -> KernelKey:
    return KernelKey(sweep_id, snapshot_oid, kernel_name, str(cwd), os.environ.get("CUDA_VISIBLE_DEVICES"))


def register_engine() -> str:
    """Register (once) the papermill engine that executes on a kernel it is handed and does not
    shut it down; returns its name for ``execute_notebook(engine_name=...)``."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, logger, papermill_engines
    from papermill.utils import merge_kwargs, remove_args

    name = "dlbench-warm"
    if name in papermill_engines._engines:
        return name

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,  # type: ignore[no-untyped-def]
                                     stderr_file=None, start_timeout=60, execution_timeout=None,
                                     **kwargs):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger,
                                 log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
            kc = final.pop("kc", None)
            client = PapermillNotebookClient(nb_man, **final)
            client.kc = kc  # connected and ready: nbclient then neither waits nor disconnects
            return client.execute()

    papermill_engines.register(name, WarmEngine)
    return name
