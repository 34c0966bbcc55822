"""A tracked run: the in-process side that writes the journal.

``log`` only validates and appends to an in-memory deque (a few hundred nanoseconds); a
background thread packs the deque into columnar journal records every 100 ms. The run never
opens the catalog: ingestion folds the journal in later, from any process.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import InvalidInput, RunStateError, StorageFull, WorkspaceNotWritable
from ..store import Workspace
from ..store.objects import DISK_FULL, storage_full
from . import capture, current
from .journal import JournalWriter, encode_event, pack_metric_buffer, read_journal
from .outputs import OutputCapture
from .system import SystemSampler
from .values import check_name, jsonable, to_float

TERMINAL = ("finished", "failed", "crashed", "cancelled", "pruned")
_now = time.time


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


class Run:
    """One execution of a notebook or script. Create it with :func:`jupyter_dlbench.init`."""

    def __init__(self, workspace: Workspace, run_id: str, project: str, name: str) -> None:
        self.workspace = workspace
        self.id = run_id
        self.project = project
        self.name = name
        self.dir = workspace.run_dir(run_id)
        self.status = "running"
        self.params: dict[str, Any] = {}
        self._metrics: deque[tuple[tuple[str, ...], int, float, tuple[float, ...]]] = deque()
        self._events: deque[dict[str, Any]] = deque()
        self._known_keys: set[tuple[str, ...]] = set()
        self._append = self._metrics.append
        self._blocked = False  # finished, or the journal cannot be written: log() must raise
        self._next_step = 0
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._journal: JournalWriter | None = None
        self._alive_fd = -1
        self._threads: list[threading.Thread] = []
        self._flush_error: BaseException | None = None
        self._pending: list[bytes] = []
        self._failed: str | None = None
        self._finished = False
        self._ending: str | None = None  # finish() began but its last flush failed: retryable
        self._output: OutputCapture | None = None
        self._hooks: list[Any] = []
        self._attached = False
        # who writes report.html at finish(): None starts a writer process per run; a job runner
        # serving many runs hands their ids to one writer it keeps (execution.report_queue)
        self.report_sink: Callable[[str], None] | None = None
        self._snapshot_oid: str | None = None

    def __repr__(self) -> str:
        return f"<Run {self.id} project={self.project!r} name={self.name!r} status={self.status}>"

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        project: str | None = None,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        workspace: Workspace | None = None,
        capture_code: bool = True,
        code: tuple[str | None, str] | None = None,
        snapshot_oid: str | None = None,
        managed: bool = False,
    ) -> Run:
        """Create a run. ``managed`` runs belong to a job runner: no hooks, no output tee.

        Inside a job's kernel ``DLBENCH_RUN_ID`` names the run its runner created; ``init()``
        then attaches to it, so a job has exactly one run whether or not the notebook calls it.
        """
        if params is not None and not isinstance(params, dict):
            raise InvalidInput(f"params must be a dict of name → value, got {type(params).__name__}")
        attach_to = os.environ.get("DLBENCH_RUN_ID")
        if attach_to and not managed and workspace is None:
            return cls._attach(attach_to, params, project)
        ws = workspace or Workspace.find()
        if not ws.writable():
            raise WorkspaceNotWritable(
                f"the workspace {ws.root} is read-only, so a run cannot be recorded there; "
                "set DLBENCH_HOME to a writable folder"
            )
        if code is not None:
            code, code_kind = code
        else:
            code, code_kind = capture.code_path() if capture_code else (None, "none")
        project = check_name(project or os.environ.get("DLBENCH_PROJECT") or "default", "project")
        default_name = Path(code).stem if code else "run"
        name = check_name(name or default_name, "run")
        # every name is checked before the run folder exists: a bad one leaves no half-made run
        given = {check_name(key, "param"): value for key, value in (params or {}).items()}
        tags = [check_name(t, "tag") for t in tags or []]
        run = cls(ws, new_run_id(), project, name)
        run._open(code, code_kind, tags)
        merged: dict[str, tuple[Any, str]] = {}
        if capture_code and code_kind == "notebook" and not managed:
            merged.update(capture.papermill_parameters(code))
        for key, value in given.items():
            merged[key] = (value, "job" if managed else "explicit")
        if merged:
            run._log_params(merged)
        run._snapshot_oid = snapshot_oid
        run._start_background(code, code_kind, managed=managed)
        if not managed:
            current.set_current(run)
        return run

    @classmethod
    def _attach(cls, run_id: str, params: dict[str, Any] | None, project: str | None = None) -> Run:
        ws = Workspace.find()
        journal = ws.run_dir(run_id) / "journal.dlj"
        if not journal.is_file():
            raise InvalidInput(f"DLBENCH_RUN_ID={run_id!r} names no run in the workspace {ws.root}")
        start = next((e for e in read_journal(journal).events if e.get("t") == "start"), {})
        run = cls(ws, run_id, start.get("project") or "default", start.get("name") or run_id)
        run._attached = True
        run._journal = JournalWriter(journal)
        run._snapshot_oid = os.environ.get("DLBENCH_SNAPSHOT_OID")
        run._events.append({"t": "attach", "pid": os.getpid(), "ts": time.time()})
        if project is not None and not os.environ.get("DLBENCH_JOB_PROJECT"):
            # the notebook's dlb.init(project="digits") files the run unless the job named one
            run.project = check_name(project, "project")
            run._events.append({"t": "identity", "project": run.project, "ts": time.time()})
        merged = capture.papermill_parameters(os.environ.get("DLBENCH_INPUT_NOTEBOOK"))
        for key, value in (params or {}).items():
            merged[check_name(key, "param")] = (value, "explicit")
        if merged:
            run._log_params(merged)
        run._start_background(start.get("code_path"), "notebook", managed=False, tee=False)
        current.set_current(run)
        return run

    def _open(self, code: str | None, code_kind: str, tags: list[str]) -> None:
        """Create the run folder atomically, holding its liveness lock before anyone sees it."""
        tmp = self.workspace.runs_dir / f".tmp-{self.id}"
        try:
            tmp.mkdir(parents=True)
            self._alive_fd = os.open(tmp / "alive.lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._alive_fd, fcntl.LOCK_EX)
            self._journal = JournalWriter(tmp / "journal.dlj")
            start = {
                "t": "start", "run_id": self.id, "project": self.project, "name": self.name,
                "ts": time.time(), "hostname": capture.socket.gethostname(), "pid": os.getpid(),
                "user": capture.username(), "code_path": code, "code_kind": code_kind,
                "python": sys.version.split()[0], "tags": tags,
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "job_id": os.environ.get("DLBENCH_JOB_ID"),
                "executor": os.environ.get("DLBENCH_EXECUTOR"),
                "queued_at": float(os.environ["DLBENCH_QUEUED_AT"]) if os.environ.get("DLBENCH_QUEUED_AT") else None,
            }
            self._journal.append([encode_event(start)])
            os.rename(tmp, self.dir)
        except PermissionError as e:
            raise WorkspaceNotWritable(f"cannot create the run folder in {self.workspace.runs_dir}: {e.strerror}") from None
        except OSError as e:
            if e.errno in DISK_FULL:
                raise storage_full(e, self.workspace.runs_dir, "creating a run folder") from None
            raise
        self._journal.path = self.dir / "journal.dlj"

    def _start_background(self, code: str | None, code_kind: str, managed: bool, tee: bool = True) -> None:
        if not managed and tee:
            self._output = OutputCapture(self.dir / "output.log")
            self._output.install()
        flusher = threading.Thread(target=self._flush_loop, name=f"dlbench-flush-{self.id}", daemon=True)
        # captured before logging starts: on 2 cores a capture thread would slow the first
        # thousands of log calls more than this costs once
        self._capture(code, code_kind)
        self._threads = [flusher]
        if settings.capture_enabled("system") and not managed:
            sampler = SystemSampler(self._log_system, settings.system_metrics_interval(), self._stop)
            self._threads.append(threading.Thread(target=sampler.loop, name=f"dlbench-sys-{self.id}", daemon=True))
        for t in self._threads:
            t.start()
        if not managed:
            self._install_hooks()

    def _capture(self, code: str | None, code_kind: str) -> None:
        try:
            event: dict[str, Any] = {"t": "environment", "environment": capture.environment(),
                                     "hardware": capture.hardware()}
            if self._snapshot_oid:
                event["snapshot_oid"] = self._snapshot_oid
            if code and Path(code).is_file():
                event.setdefault("snapshot_oid", self.workspace.objects.put_file(code).oid)
                if settings.capture_enabled("git"):
                    git = capture.git_state(Path(code))
                    diff = git.pop("diff", "")
                    if diff:
                        git["diff_oid"] = self.workspace.objects.put_bytes(diff.encode()).oid
                    event["git"] = git
            else:
                git = capture.git_state(Path.cwd()) if settings.capture_enabled("git") else {}
                diff = git.pop("diff", "")
                if diff:
                    git["diff_oid"] = self.workspace.objects.put_bytes(diff.encode()).oid
                event["git"] = git
            if settings.capture_enabled("packages"):
                event["packages_oid"] = self.workspace.objects.put_bytes(
                    capture.installed_packages().encode()).oid
            self._events.append(event)
        except Exception as e:  # noqa: BLE001 - capture is best-effort; say what failed
            self._events.append({"t": "warning", "message": f"environment capture failed: {e!r}"})

    def _install_hooks(self) -> None:
        atexit.register(self._at_exit)
        self._hooks.append(("atexit", self._at_exit))
        try:
            from IPython import get_ipython

            ip = get_ipython()
        except ImportError:
            ip = None
        if ip is not None and hasattr(ip, "set_custom_exc"):
            run = self

            def on_cell_error(shell, etype, value, tb, tb_offset=None):  # type: ignore[no-untyped-def]
                run.mark_failed(f"{etype.__name__}: {value}")
                shell.showtraceback((etype, value, tb), tb_offset=tb_offset)

            ip.set_custom_exc((Exception,), on_cell_error)
            self._hooks.append(("ipython", ip))
            # each finished cell is a natural durability point: a kernel that dies in the next
            # cell (os._exit, segfault, OOM) loses nothing that an earlier cell logged
            ip.events.register("post_run_cell", self._after_cell)
            self._hooks.append(("post_run_cell", ip))
        else:
            previous = sys.excepthook

            def on_uncaught(etype, value, tb):  # type: ignore[no-untyped-def]
                if not issubclass(etype, KeyboardInterrupt):
                    self.mark_failed(f"{etype.__name__}: {value}")
                    self.finish("failed")
                previous(etype, value, tb)

            sys.excepthook = on_uncaught
            self._hooks.append(("excepthook", previous))

    def _remove_hooks(self) -> None:
        for kind, obj in self._hooks:
            if kind == "atexit":
                atexit.unregister(obj)
            elif kind == "ipython":
                obj.set_custom_exc((), None)
            elif kind == "post_run_cell":
                try:
                    obj.events.unregister("post_run_cell", self._after_cell)
                except ValueError:
                    pass
            elif kind == "excepthook":
                sys.excepthook = obj
        self._hooks = []

    def _after_cell(self, *_: Any) -> None:
        try:
            self._flush()
        except (OSError, StorageFull):
            pass  # kept in _flush_error; the next log() call reports it

    def _at_exit(self) -> None:
        if not self._finished:
            try:
                self.finish("failed" if self._failed else "finished")
            except (OSError, StorageFull) as e:  # the interpreter is ending: say it, no traceback
                print(f"dlbench: run {self.id} could not be finished: {e}; its unwritten points "
                      "are lost and the run will show as crashed", file=sys.stderr)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, etype, value, tb) -> None:  # type: ignore[no-untyped-def]
        if etype is not None and not issubclass(etype, (KeyboardInterrupt, GeneratorExit)):
            self.mark_failed(f"{etype.__name__}: {value}")
            self.finish("failed")
        elif etype is not None:
            self.finish("cancelled")
        else:
            self.finish()

    def mark_failed(self, error: str) -> None:
        """Record a failure now (a failing cell); the run may still log and finish later."""
        self._failed = error
        self.status = "failed"
        self._events.append({"t": "status", "status": "failed", "error": error, "ts": time.time()})

    def finish(self, status: str = "finished") -> None:
        """Flush everything durably and close the run; calling it again does nothing.

        On a full disk it raises :class:`StorageFull` and keeps every unflushed point and the
        end record in memory, with the run's journal and liveness lock still held (the run is
        not "crashed": this process still has its data). Call ``finish()`` again once space is
        freed and the same records are written then; ``status`` of the retry is ignored.
        """
        if self._finished:
            return
        if self._ending is None:
            if status not in TERMINAL:
                raise InvalidInput(f"status must be one of {', '.join(TERMINAL)}, got {status!r}")
            if status == "finished" and self._failed:
                status = "failed"
            self._ending = status
            self._blocked = True
            self._stop.set()
            for t in self._threads:
                if t is not threading.current_thread():
                    t.join(timeout=30)
            if self._output is not None:
                self._output.uninstall()
            self._remove_hooks()
            self.status = status
            # an attached kernel hands the verdict to the job runner that owns the run
            end = {"t": "detach" if self._attached else "end", "status": status, "ts": time.time(),
                   "error": self._failed, "output_tail": self._output.tail() if self._output else ""}
            self._events.append(end)
        try:
            self._flush()
            if self._journal is not None:
                self._journal.sync()
        except (OSError, StorageFull) as e:
            raise self._finish_failed(e) from None
        self._finished = True
        if self._journal is not None:
            self._journal.close()
        if self._alive_fd >= 0:
            os.close(self._alive_fd)
            self._alive_fd = -1
        current.clear_current(self)
        if not self._attached:  # an attached kernel's runner owns the end, and the report
            self._spawn_report()

    def _finish_failed(self, e: BaseException) -> StorageFull | OSError:
        """The error ``finish()`` raises when its last flush fails; everything stays retryable.

        ``atexit`` gets one more try, so a script that ends right after the failed finish
        still writes its points if space came back meanwhile.
        """
        if not any(kind == "atexit" for kind, _ in self._hooks):
            atexit.register(self._at_exit)
            self._hooks.append(("atexit", self._at_exit))
        kept = (f"{len(self._pending)} journal records (every point not yet written and the end "
                "record) are kept in memory, nothing partial was written")
        full = isinstance(e, StorageFull) or (isinstance(e, OSError) and e.errno in DISK_FULL)
        if full:
            where = self._journal.path if self._journal is not None else self.dir
            error: StorageFull | OSError = StorageFull(
                f"no space left on the disk holding {where} while finishing run {self.id}: {kept} "
                "— free some space and call run.finish() again to write them")
        else:
            error = OSError(getattr(e, "errno", None),
                            f"cannot finish run {self.id} ({getattr(e, 'strerror', None) or e}): "
                            f"{kept} — call run.finish() again once the cause is fixed")
        self._flush_error = error
        return error

    def _spawn_report(self) -> None:
        """Write ``report.html`` in a detached process (the report layer sits above tracking,
        so it is started by module name, never imported). ``DLBENCH_AUTO_REPORT=0`` disables it."""
        if os.environ.get("DLBENCH_AUTO_REPORT", "1") == "0":
            return
        if self.report_sink is not None:
            self.report_sink(self.id)
            return
        import subprocess

        try:
            subprocess.Popen(
                [sys.executable, "-m", "jupyter_dlbench.reports.autowrite", self.id,
                 "--workspace", str(self.workspace.root)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True)
        except OSError as e:  # the run is recorded; only its report is missing
            print(f"dlbench: could not start the report writer for run {self.id}: {e}", file=sys.stderr)

    # -- recording -------------------------------------------------------------------------

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Record scalar metrics at ``step`` (default: one more than the last step).

        The hot path: no I/O, no locks; values are checked here so a bad one fails at the
        caller's line, and the flush thread does the rest.
        """
        if self._blocked:
            self._raise_blocked()
        if step is None:
            step = self._next_step
        elif step.__class__ is not int:
            step = self._check_step(step)
        self._next_step = step + 1
        keys = tuple(metrics)
        if keys not in self._known_keys:
            self._learn_keys(metrics, keys)
        values = tuple(metrics.values())
        for v in values:
            if v.__class__ is not float and v.__class__ is not int:
                values = tuple(to_float(k, x) for k, x in zip(keys, values, strict=True))
                break
        self._append((keys, step, _now(), values))

    def _raise_blocked(self) -> None:
        if self._finished:
            raise RunStateError(f"run {self.id} is {self.status}; start a new run to log more")
        if self._ending is not None:
            raise RunStateError(f"run {self.id} is being finished ({self._ending}) and takes no more "
                                "points; call run.finish() again to complete it")
        if self._flush_error is not None:
            raise self._flush_error

    def _learn_keys(self, metrics: object, keys: tuple[str, ...]) -> None:
        if not isinstance(metrics, dict):
            raise InvalidInput(f"run.log takes a dict of name → number, got {type(metrics).__name__}")
        for k in keys:
            check_name(k, "metric")
        self._known_keys.add(keys)

    @staticmethod
    def _check_step(step: object) -> int:
        if isinstance(step, bool) or not hasattr(step, "__index__"):
            raise InvalidInput(f"step must be an integer, got {type(step).__name__} {step!r}")
        return int(step)  # type: ignore[call-overload]

    def _log_system(self, values: dict[str, float], step: int) -> None:
        self._metrics.append((tuple(values), step, time.time(), tuple(values.values())))

    def record_event(self, kind: str, **fields: Any) -> None:
        """Append an event (``dataset`` lineage, ``placement``...) to the run's journal.

        It is buffered and flushed with the metrics, so layers above tracking record facts
        about a run through the journal, which stays the truth the catalog is rebuilt from.
        Events of a run that has ended are dropped: its journal is closed.
        """
        if self.status != "running":
            return
        self._events.append({**fields, "t": kind, "ts": time.time()})

    def log_params(self, params: dict[str, Any]) -> None:
        if not isinstance(params, dict):
            raise InvalidInput(f"params must be a dict of name → value, got {type(params).__name__}")
        self._log_params({check_name(k, "param"): (v, "explicit") for k, v in params.items()})

    def _log_params(self, params: dict[str, tuple[Any, str]]) -> None:
        for key, (value, _source) in params.items():
            self.params[key] = value
        self._events.append({"t": "params", "ts": time.time(),
                             "params": {k: [jsonable(v), s] for k, (v, s) in params.items()}})

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> list[str]:
        """Store a file (or every file of a folder) as content-addressed artifacts of this run."""
        if self._finished or self._ending is not None:
            raise RunStateError(f"run {self.id} is {self.status}; artifacts can no longer be added")
        src = Path(path)
        if not src.exists():
            raise InvalidInput(f"artifact {str(src)!r} does not exist")
        base = name or src.name
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        stored = []
        for f in files:
            rel = base if f == src else f"{base}/{f.relative_to(src).as_posix()}"
            obj = self.workspace.objects.put_file(f)
            self._events.append({"t": "artifact", "path": rel, "oid": obj.oid, "size": obj.size,
                                 "kind": "file", "ts": time.time()})
            stored.append(rel)
        return stored

    def set_tags(self, tags: list[str]) -> None:
        self._events.append({"t": "tags", "tags": [check_name(t, "tag") for t in tags]})

    # -- background flushing ---------------------------------------------------------------

    def _flush_loop(self) -> None:
        interval = settings.flush_interval()
        beat = settings.heartbeat_interval()
        next_beat = time.monotonic() + beat
        while not self._stop.wait(interval):
            try:
                self._flush()
            except BaseException:  # noqa: BLE001 - kept in _flush_error and raised to the user
                continue
            if time.monotonic() >= next_beat:
                self._events.append({"t": "heartbeat", "ts": time.time()})
                next_beat += beat

    def flush(self) -> None:
        """Write what is buffered to the journal now (it happens every 100 ms anyway)."""
        self._flush()

    def _flush(self) -> None:
        with self._flush_lock:
            metrics = self._metrics
            n = len(metrics)
            entries = [metrics.popleft() for _ in range(n)]
            events = self._events
            records = self._pending
            if entries:
                records.append(pack_metric_buffer(entries))
            records.extend(encode_event(events.popleft()) for _ in range(len(events)))
            if self._output is not None:
                try:
                    self._output.flush_to_file()
                except OSError:
                    pass  # output.log is best effort; a full disk is reported by the journal write
            if not records or self._journal is None:
                return
            size = os.fstat(self._journal._fd).st_size
            try:
                self._journal.append(records)
            except OSError as e:
                # undo a partial append so the journal stays a clean sequence of records
                try:
                    os.ftruncate(self._journal._fd, size)
                except OSError:
                    pass
                kept = f"{len(records)} records are kept in memory and retried"
                self._flush_error = storage_full(
                    e, self._journal.path, f"writing the journal of run {self.id}; {kept}"
                ) if e.errno in DISK_FULL else OSError(
                    e.errno, f"cannot write the journal of run {self.id} ({e.strerror}); {kept}"
                )
                self._blocked = True
                raise self._flush_error from None
            self._pending = []
            self._flush_error = None
            self._blocked = self._finished or self._ending is not None
