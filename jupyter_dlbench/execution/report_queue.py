"""One background report writer per serving runner, fed run ids on its stdin.

``Run.finish`` starts a report writer process per run; it imports the whole reports stack
(~1.5 s of CPU) to write one page. A runner that serves many jobs (a sweep's trials, a batch)
hands its runs' ids to one writer instead, started on the first run and ended, after its queue,
when the runner closes the pipe or exits. The reports layer sits above execution, so the writer
is started by module name, never imported.
"""

from __future__ import annotations

import subprocess
import sys

from ..store import Workspace


class ReportQueue:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._proc: subprocess.Popen[bytes] | None = None

    def add(self, run_id: str) -> None:
        """Queue the run's report (``Run.report_sink``; ``DLBENCH_AUTO_REPORT=0`` is checked
        there, as for runs that start their own writer)."""
        try:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "jupyter_dlbench.reports.autowrite", "--stdin",
                     "--workspace", str(self.ws.root)],
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True, close_fds=True)
            assert self._proc.stdin is not None
            self._proc.stdin.write(f"{run_id}\n".encode())
            self._proc.stdin.flush()
        except OSError as e:  # the run is recorded; only its report is missing
            print(f"dlbench: could not queue the report of run {run_id}: {e}", file=sys.stderr)
            self._proc = None

    def close(self) -> None:
        """No more runs: the writer finishes its queue and exits (it is not waited for)."""
        if self._proc is not None and self._proc.stdin is not None:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        self._proc = None
