"""The process that runs one job: ``python -m jupyter_dlbench.execution.runner JOB_ID``.

It holds the job's claim lock for its whole life (so its death is visible to any scheduler),
creates the job's run, executes the notebook snapshot through papermill with the run id in the
kernel's environment (the notebook's ``dlb.init()`` attaches to that run), stores the output
notebook and log as artifacts, and writes the verdict. It is started in its own session so a
scheduler restart does not kill it.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import DlbenchError
from ..store import Workspace
from ..tracking.journal import JournalWriter
from ..tracking.run import Run
from .jobs import CANCELLED, FAILED, FINISHED, PRUNED, RUNNING, STARTING, JobSpec, JobStore
from .report_queue import ReportQueue
from .warm_kernel import WarmKernel, key_for, register_engine


def header_cell(run_id: str, spec: JobSpec, attempt: int) -> Any:
    import nbformat

    def esc(text: object) -> str:
        out = str(text)
        for ch in "\\`*_{}[]()#+-.!|<>":
            out = out.replace(ch, "\\" + ch)
        return out

    rows = "\n".join(f"| {esc(k)} | {esc(repr(v))} |" for k, v in sorted(spec.params.items()))
    params = f"| param | value |\n|---|---|\n{rows}" if rows else "_no parameters_"
    text = (
        f"**jupyter-dlbench run** `{run_id}` · job `{spec.job_id}` · attempt {attempt} · "
        f"executor {esc(spec.executor)} · GPUs {esc(os.environ.get('CUDA_VISIBLE_DEVICES') or 'none')}\n\n"
        f"{params}\n\n"
        f"Dataset versions the notebook opens are recorded as the run's inputs: "
        f"`dlbench runs show {run_id}`."
    )
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = ["dlbench-header"]
    return cell


_NOT_USER_CELLS = {"dlbench-header", "injected-parameters", "papermill-error-cell-tag"}


def _failing_cell(output: Path) -> tuple[int | None, str]:
    """The failing cell as the user counts it (1-based, in their notebook) and its first line."""
    try:
        import nbformat

        nb = nbformat.read(output, as_version=4)
    except Exception:  # noqa: BLE001 - the message is still useful without it
        return None, ""
    user_cells = [c for c in nb.cells if not _NOT_USER_CELLS & set(c.metadata.get("tags", []))]
    for number, cell in enumerate(user_cells, start=1):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            lines = cell.source.strip().splitlines()
            return number, lines[0][:80] if lines else ""
    return None, ""


def _failure_message(error: BaseException, output: Path) -> tuple[str, int | None]:
    ename = getattr(error, "ename", None)
    if ename is not None:
        number, first_line = _failing_cell(output)
        where = f"cell {number}" if number else "a cell"
        if first_line:
            where += f" ({first_line!r})"
        return f"{where} raised {ename}: {getattr(error, 'evalue', '')}", number
    name = type(error).__name__
    if name == "DeadKernelError" or "Kernel died" in str(error):
        return f"the kernel died while executing the notebook ({str(error).strip()[:200]})", None
    return f"{name}: {str(error).strip()[:500]}", None


class _CancelWatcher(threading.Thread):
    """Kills the kernel when ``dlbench jobs cancel`` (a file in the job folder) asks for it.

    A runner that serves several jobs still has children of earlier ones (report writers):
    those are spared; the kernel kept from an earlier trial (``keep``) is not.
    """

    def __init__(self, store: JobStore, job_id: str, keep: set[int] | None = None) -> None:
        super().__init__(name="dlbench-cancel-watch", daemon=True)
        self.store, self.job_id = store, job_id
        self.cancelled = threading.Event()
        self.done = threading.Event()
        import psutil

        self._spared = {c.pid for c in psutil.Process().children(recursive=True)} - (keep or set())

    def include(self, pids: set[int]) -> None:
        """Kill these too on cancel: the kept kernel this job now runs on."""
        self._spared -= pids

    def run(self) -> None:
        while not self.done.wait(0.3):
            # kill again on every tick: a cancel that comes while papermill is still starting
            # the kernel would otherwise miss the kernel that starts after the first kill
            if self.cancelled.is_set() or self.store.cancel_requested(self.job_id):
                self.cancel()

    def cancel(self) -> None:
        self.cancelled.set()
        import psutil

        for child in psutil.Process().children(recursive=True):
            if child.pid in self._spared:
                continue
            try:
                child.kill()
            except psutil.Error:
                pass


KERNEL_STARTS = 3  # a kernel that dies before its first reply is started again, this many in all


def _kernel_never_started(error: RuntimeError) -> bool:
    """jupyter_client's words for a kernel that never answered ``kernel_info``: no cell ran, so
    starting another is safe. Why it happens: kernels started at the same moment by separate
    processes can pick the same free TCP port, and the loser exits at once."""
    text = str(error)
    return text.startswith(("Kernel died before replying to kernel_info", "Kernel didn't respond in"))


def _execute_here(spec: JobSpec, input_nb: Path, output_nb: Path, job_dir: Path,
                  watcher: _CancelWatcher, warm: WarmKernel | None = None
                  ) -> tuple[str, str | None, int | None]:
    """Run the notebook through papermill: on a fresh kernel, or on ``warm``'s kernel for a
    sweep trial that reuses one (see :mod:`.warm_kernel`)."""
    import papermill

    cwd = Path(spec.notebook).parent if Path(spec.notebook).parent.is_dir() else job_dir
    reuse: dict[str, Any] = {}
    if warm is not None and spec.sweep_id and spec.reuse_kernel:
        try:
            km = warm.acquire(key_for(spec.sweep_id, spec.snapshot_oid, spec.kernel_name, cwd))
            reuse = {"km": km, "kc": warm.kc, "engine_name": register_engine()}
            watcher.include(warm.pids())
        except Exception:  # noqa: BLE001 - papermill starts its own kernel and says what is wrong
            warm.shutdown()
    elif warm is not None:
        warm.shutdown()  # another kind of job: the kept kernel would only hold memory
    starts = 1 if reuse else KERNEL_STARTS  # a kept kernel is never started again here
    try:
        for start in range(1, starts + 1):
            try:
                papermill.execute_notebook(
                    str(input_nb), str(output_nb), parameters=spec.params, kernel_name=spec.kernel_name,
                    cwd=str(cwd), progress_bar=False, log_output=True, request_save_on_cell_execute=True,
                    execution_timeout=spec.timeout_s, **reuse,
                )
                break
            except RuntimeError as e:
                if start == starts or watcher.cancelled.is_set() or not _kernel_never_started(e):
                    raise
                print(f"dlbench: the kernel failed to start ({e}); starting another "
                      f"({start + 1} of {starts})", file=sys.stderr, flush=True)
                time.sleep(0.5 * start)
    except BaseException as e:  # noqa: BLE001 - every way a notebook can end is a verdict
        if reuse and warm is not None:
            warm.end_trial(finished=False)
        if watcher.cancelled.is_set():
            return CANCELLED, "cancelled by request", None
        error, cell = _failure_message(e, output_nb)
        return FAILED, error, cell
    if reuse and warm is not None:
        warm.end_trial(finished=not watcher.cancelled.is_set())
    return FINISHED, None, None


class _RemoteError(Exception):
    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(info.get("text") or "")
        self.ename = info.get("ename")
        self.evalue = info.get("evalue")
        self.cell_index = info.get("cell_index")
        if self.ename is None:
            del self.ename
        self.kind = info.get("type") or ""


def _execute_on_ray(ws: Workspace, spec: JobSpec, run: Run, input_nb: Path, output_nb: Path,
                    watcher: _CancelWatcher, store: JobStore) -> tuple[str, str | None, int | None]:
    import blake3

    from .ray_executor import RayJob
    from .remote_data import take_shipped_journal

    run.flush()
    journal_head = (ws.run_dir(run.id) / "journal.dlj").read_bytes()
    kernel_env = {k: v for k, v in os.environ.items()
                  if k.startswith("DLBENCH_") and k not in ("DLBENCH_HOME", "DLBENCH_RUN_ID")}
    try:
        job = RayJob(spec.ray_address, spec.gpus, spec.cpus, spec.retries)
    except DlbenchError as e:  # unreachable, or an address the configuration does not allow
        return FAILED, e.message, None
    try:
        objects_actor = job.start_object_service(ws, spec.job_id)
        job.submit(input_nb.read_bytes(), spec.params, spec.kernel_name, run.id, journal_head,
                   kernel_env, spec.timeout_s, objects_actor)
        result = job.wait(0.5, watcher.cancelled.is_set)
    finally:
        job.close()
    # the task's journal when it returned; else what it shipped before it was lost or cancelled
    shipped = take_shipped_journal(ws, spec.job_id)
    tail = result["journal_tail"] if result.get("journal_tail") is not None else shipped
    if tail:
        writer = JournalWriter(ws.run_dir(run.id) / "journal.dlj")
        writer.append([tail])
        writer.close()
    if result.get("cancelled"):
        return CANCELLED, "cancelled by request", None
    for oid, data in (result.get("objects") or {}).items():
        if blake3.blake3(data).hexdigest() == oid:
            ws.objects.put_bytes(data)
    if result.get("output"):
        output_nb.write_bytes(result["output"])
    placement = {"t": "placement", "host": result.get("host"), "gpu_ids": result.get("gpu_ids"),
                 "cuda_visible_devices": result.get("cuda_visible_devices")}
    store.append(spec.job_id, dict(placement))
    run.record_event("placement", **{k: v for k, v in placement.items() if k != "t"})
    if result.get("transfer"):
        # what crossed the network for datasets: a second job on the same node fetches nothing
        store.append(spec.job_id, {"t": "transfer", **result["transfer"]})
    if result.get("error"):
        err = _RemoteError(result["error"])
        if err.kind.startswith(("WorkerCrashed", "NodeDied", "RayClusterLost")) or "Ray worker" in str(err):
            return FAILED, str(err), None
        error, cell = _failure_message(err, output_nb)
        return FAILED, error, cell
    return FINISHED, None, None


CLAIM_WAIT_S = 10.0


def _claim(path: Path) -> int | None:
    """The job's claim lock, waiting a little: a stale runner (see below) holds it only for
    the moment it takes to see it has nothing to do."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + CLAIM_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.1)


# what one job sets in this process's environment; a runner serving several jobs clears them
_JOB_ENV = ("DLBENCH_JOB_ID", "DLBENCH_EXECUTOR", "DLBENCH_QUEUED_AT", "DLBENCH_SNAPSHOT_OID",
            "DLBENCH_JOB_PROJECT", "DLBENCH_RUN_ID", "DLBENCH_INPUT_NOTEBOOK", "DLBENCH_NOTEBOOK_PATH")


def run_job(ws: Workspace, job_id: str, attempt: int | None = None,
            warm: WarmKernel | None = None, reports: ReportQueue | None = None) -> int:
    """Run one job to its verdict. A serving runner passes ``warm`` to keep a sweep's kernel
    and ``reports`` to have its runs' reports written by one writer process, not one each."""
    store = JobStore(ws)
    job_dir = store.dir(job_id)
    claim = _claim(job_dir / "claim.lock")
    if claim is None:
        print(f"job {job_id} is already being run by another process", file=sys.stderr)
        return 3
    state = store.load(job_id)
    if state.status != STARTING or (attempt is not None and state.attempt != attempt):
        # a runner that came up late for a start its scheduler gave up on (requeued after a
        # scheduler restart, or cancelled): the current start has, or will have, its own runner
        print(f"job {job_id} is {state.status} (attempt {state.attempt}), not this runner's "
              f"start (attempt {attempt}); nothing to run", file=sys.stderr)
        os.close(claim)
        return 3
    spec = state.spec
    import nbformat

    for key in _JOB_ENV:
        os.environ.pop(key, None)
    env = {"DLBENCH_JOB_ID": job_id, "DLBENCH_EXECUTOR": spec.executor,
           "DLBENCH_QUEUED_AT": str(state.queued_at or spec.submitted_at),
           "DLBENCH_HOME": str(ws.root), "DLBENCH_SNAPSHOT_OID": spec.snapshot_oid}
    if spec.project:  # the job named its project: a dlb.init(project=...) in the notebook yields
        env["DLBENCH_JOB_PROJECT"] = spec.project
    os.environ.update(env)
    run = Run.start(project=spec.project, name=spec.name or Path(spec.notebook).stem,
                    params=spec.params, workspace=ws, code=(spec.notebook, "notebook"),
                    snapshot_oid=spec.snapshot_oid, managed=True)
    if reports is not None:
        run.report_sink = reports.add
    input_nb = job_dir / f"input-{state.attempt or 1}.ipynb"
    output_nb = job_dir / "output.ipynb"
    nb = nbformat.reads(ws.objects.read_bytes(spec.snapshot_oid).decode("utf-8"), as_version=4)
    nb.cells.insert(0, header_cell(run.id, spec, state.attempt or 1))
    # papermill needs the language; notebooks written by scripts often lack a kernelspec
    nb.metadata.setdefault("kernelspec", {"name": spec.kernel_name, "language": "python",
                                          "display_name": spec.kernel_name})
    nb.metadata["kernelspec"].setdefault("language", "python")
    nbformat.write(nb, input_nb)
    os.environ.update({"DLBENCH_RUN_ID": run.id, "DLBENCH_INPUT_NOTEBOOK": str(input_nb),
                       "DLBENCH_NOTEBOOK_PATH": spec.notebook})
    store.append(job_id, {"t": RUNNING, "run_id": run.id, "pid": os.getpid(),
                          "host": socket.gethostname()})
    watcher = _CancelWatcher(store, job_id, keep=warm.pids() if warm is not None else None)
    watcher.start()
    signal.signal(signal.SIGTERM, lambda *_: watcher.cancel())
    t0 = time.time()
    if spec.executor == "ray":
        status, error, cell = _execute_on_ray(ws, spec, run, input_nb, output_nb, watcher, store)
    else:
        status, error, cell = _execute_here(spec, input_nb, output_nb, job_dir, watcher, warm)
    watcher.done.set()
    if status == CANCELLED and store.cancel_reason(job_id) == PRUNED:
        status, error = PRUNED, "stopped early by the sweep's early-stopping rule"
    if error:
        print(f"dlbench: job {job_id} {status}: {error}", file=sys.stderr, flush=True)
    run_status = {FINISHED: "finished", CANCELLED: "cancelled", PRUNED: "pruned"}.get(status, "failed")
    if error and "kernel died" in error:
        run_status = "crashed"
    if error and status != PRUNED:
        run.mark_failed(error)  # the end record's status (crashed, cancelled) still wins
    if output_nb.exists():
        run.log_artifact(output_nb, "output.ipynb")
    sys.stdout.flush()
    log = job_dir / "job.log"
    if log.exists() and log.stat().st_size:
        run.log_artifact(log, "job.log")
    run.log({"sys/job_duration_s": time.time() - t0}, step=0)
    run.finish(run_status)
    store.append(job_id, {"t": status, "error": error, "cell": cell, "run_id": run.id})
    os.close(claim)
    return 0 if status == FINISHED else 1


def _next_assignment() -> tuple[str, int] | None:
    """The next ``JOB_ID ATTEMPT`` line from the scheduler; None at end of input (the scheduler
    has no more work for this runner, or is gone)."""
    while True:
        line = sys.stdin.readline()
        if not line:
            return None
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            return parts[0], int(parts[1])
        print(f"dlbench runner: ignoring the assignment {line.strip()[:100]!r}", file=sys.stderr)


def _log_to(store: JobStore, job_id: str, gpu_ids: list[str]) -> None:
    """Point this process's stdout/stderr at the next job's log, and its GPUs at the job's."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(store.dir(job_id) / "job.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)


def _notify(fd: int | None) -> None:
    """Tell the scheduler a job ended (one byte), so it hands over the next without polling."""
    if fd is None:
        return
    try:
        os.write(fd, b"e")
    except OSError:
        pass  # the scheduler is gone; end of input follows


def serve(ws: Workspace, job_id: str, attempt: int | None, notify_fd: int | None = None) -> int:
    """Run the first job, then the ones the scheduler hands over on stdin, until end of input.

    Why: a new process per job pays Python start-up, imports and a kernel start every time;
    a runner that stays saves that (and keeps a sweep's kernel warm). The scheduler accounts
    slots and GPUs per job exactly as for one-job runners: each job has its own claim lock,
    taken here for the job's life and released before the next one is read.
    """
    warm = WarmKernel()
    reports = ReportQueue(ws)
    store = JobStore(ws)

    def stop(*_: Any) -> None:  # between jobs a SIGTERM ends the runner, kernel included
        raise SystemExit(143)

    try:
        code = run_job(ws, job_id, attempt, warm, reports)
        _notify(notify_fd)
        signal.signal(signal.SIGTERM, stop)
        while (nxt := _next_assignment()) is not None:
            job_id, attempt = nxt
            _log_to(store, job_id, store.load(job_id).gpu_ids)
            code = run_job(ws, job_id, attempt, warm, reports)
            _notify(notify_fd)
            signal.signal(signal.SIGTERM, stop)
        return code
    finally:
        warm.shutdown()
        reports.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_dlbench.execution.runner")
    parser.add_argument("job_id")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--attempt", type=int, help="the start this runner was launched for")
    parser.add_argument("--serve", action="store_true",
                        help="after the job, run the jobs named on stdin (JOB_ID ATTEMPT lines)")
    parser.add_argument("--notify-fd", type=int, help="with --serve: write a byte here as each job ends")
    args = parser.parse_args(argv)
    # papermill's log_output=True hands cell output to its logger; send it to stdout, which
    # is the job's log (`dlbench jobs logs`, GET /dlbench/api/jobs/{id}/logs)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("papermill").addHandler(handler)
    logging.getLogger("papermill").setLevel(logging.INFO)
    try:
        ws = Workspace.find_at(args.workspace)
        if args.serve:
            return serve(ws, args.job_id, args.attempt, args.notify_fd)
        return run_job(ws, args.job_id, args.attempt)
    except DlbenchError as e:
        print(f"dlbench runner: error: {e.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
