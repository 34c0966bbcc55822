"""Tee of stdout/stderr into the run folder, keeping a bounded tail for the catalog."""

from __future__ import annotations

import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any, TextIO

TAIL_CHARS = 8000


class _Tee:
    """Forwards everything to the original stream and copies the text to ``sink``."""

    def __init__(self, stream: TextIO, sink: Any) -> None:
        self._dlbench_stream = stream
        self._dlbench_sink = sink

    def write(self, text: str) -> int:
        n = self._dlbench_stream.write(text)
        if isinstance(text, str) and text:
            self._dlbench_sink(text)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dlbench_stream, name)


class OutputCapture:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._tail: deque[str] = deque()
        self._tail_chars = 0
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._saved: tuple[TextIO, TextIO] | None = None

    def _sink(self, text: str) -> None:
        with self._lock:
            self._pending.append(text)
            self._tail.append(text)
            self._tail_chars += len(text)
            while self._tail_chars > TAIL_CHARS and len(self._tail) > 1:
                self._tail_chars -= len(self._tail.popleft())

    def install(self) -> None:
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, self._sink)  # type: ignore[assignment]
        sys.stderr = _Tee(sys.stderr, self._sink)  # type: ignore[assignment]

    def uninstall(self) -> None:
        if self._saved is None:
            return
        out, err = self._saved
        if isinstance(sys.stdout, _Tee) and sys.stdout._dlbench_sink == self._sink:
            sys.stdout = out
        if isinstance(sys.stderr, _Tee) and sys.stderr._dlbench_sink == self._sink:
            sys.stderr = err
        self._saved = None

    def flush_to_file(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            with open(self.path, "a", encoding="utf-8", errors="replace") as f:
                f.write("".join(pending))

    def tail(self) -> str:
        with self._lock:
            return "".join(self._tail)[-TAIL_CHARS:]


def file_tail(path: Path, chars: int = TAIL_CHARS) -> str:
    """The end of a run's output log (for runs that died before writing their end event)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - chars * 4))
            return f.read().decode("utf-8", errors="replace")[-chars:]
    except OSError:
        return ""
