"""Labelling in the notebook: one item at a time, a button (and a digit key) per class.

Labels are data of the dataset version they describe: a table ``labels.csv`` with columns
``path, label, labelled_by, labelled_at`` inside the version. Committing writes the table into a
new version (the labelled one as parent), so relabelling never rewrites history and a run that
reads the dataset records which labels it trained on.

ipywidgets has no keyboard events, so shortcuts go through a small text box: typing ``1``-``9``
picks that class, ``s`` skips and ``b`` goes back; each button's caption shows its digit.
Every user string shown in HTML (file names, text items, messages) goes through
:func:`html.escape`.
"""

from __future__ import annotations

import getpass
import html
import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..errors import DlbenchError, InvalidInput

LABEL_COLUMNS = ("path", "label", "labelled_by", "labelled_at")
LABEL_FILES = ("labels.csv", "labels.parquet")
IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".gif": "gif", ".webp": "webp",
                 ".bmp": "bmp"}
TEXT_EXTS = {".txt", ".md"}
MAX_TEXT = 4000


@dataclass(frozen=True)
class Item:
    """One thing to label: ``key`` is what the labels table records in its ``path`` column."""

    key: str
    kind: str  # "image" | "text"
    source: Path | None = None
    text: str | None = None

    def image_bytes(self) -> bytes:
        assert self.source is not None
        return self.source.read_bytes()

    def image_format(self) -> str:
        return IMAGE_FORMATS.get(os.path.splitext(self.key)[1].lower(), "png")

    def content(self) -> str:
        if self.text is not None:
            return self.text
        assert self.source is not None
        return self.source.read_text(errors="replace")[:MAX_TEXT]


def items_from_folder(root: str | os.PathLike[str], files: Iterable[str] | None = None) -> list[Item]:
    """Images and text files of a dataset folder, in path order (the labels table excluded)."""
    base = Path(root)
    rels = sorted(files) if files is not None else sorted(
        p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
    items = []
    for rel in rels:
        ext = os.path.splitext(rel)[1].lower()
        if rel in LABEL_FILES:
            continue
        if ext in IMAGE_FORMATS:
            items.append(Item(rel, "image", base / rel))
        elif ext in TEXT_EXTS:
            items.append(Item(rel, "text", base / rel))
    return items


def items_from_rows(rows: Iterable[Mapping[str, Any]], key: str) -> list[Item]:
    """Text items from table rows (e.g. ``frame.to_dict("records")``); ``key`` names the
    column that identifies a row in the labels table."""
    items = []
    for n, row in enumerate(rows):
        if key not in row:
            raise InvalidInput(f"row {n + 1} has no column {key!r}; columns: {list(row)}")
        text = "\n".join(f"{k}: {v}" for k, v in row.items() if k != key)
        items.append(Item(str(row[key]), "text", text=text))
    return items


def read_labels(root: str | os.PathLike[str]):  # type: ignore[no-untyped-def]
    """The labels table of a dataset folder as a DataFrame, or None when it has none."""
    import pandas as pd

    base = Path(root)
    if (base / "labels.parquet").is_file():
        frame = pd.read_parquet(base / "labels.parquet")
    elif (base / "labels.csv").is_file():
        frame = pd.read_csv(base / "labels.csv", dtype=str, keep_default_na=False)
    else:
        return None
    missing = [c for c in ("path", "label") if c not in frame.columns]
    if missing:
        raise InvalidInput(f"the labels table in {str(base)!r} lacks columns {missing}; "
                           f"expected {list(LABEL_COLUMNS)}")
    return frame


def _text(value: Any) -> str:
    """A table cell as text; missing (None/NaN) is empty."""
    return "" if value is None or value != value else str(value)


def _check_classes(classes: Sequence[str]) -> list[str]:
    if isinstance(classes, str) or not classes:
        raise InvalidInput("classes must be a non-empty list of class names, e.g. ['cat', 'dog']")
    names = [str(c) for c in classes]
    if any(not n.strip() for n in names) or len(set(names)) != len(names):
        raise InvalidInput(f"class names must be non-empty and unique, got {names}")
    return names


class LabellingWidget(w.VBox):
    """Shows one item, records a class per click, and commits the labels table.

    The state machine is plain methods (``label``, ``skip``, ``back``, ``goto``, ``commit``)
    that the buttons and the shortcut box call, so it can be driven from code too.
    """

    def __init__(self, items: Sequence[Item], classes: Sequence[str],
                 commit: Callable[[Any], Any] | None = None, labelled_by: str | None = None,
                 existing: Any = None, clock: Callable[[], datetime] | None = None) -> None:
        self.classes = _check_classes(classes)
        if not items:
            raise InvalidInput("there is nothing to label: no images or text items were found")
        self.items = list(items)
        self.commit_fn = commit
        self.labelled_by = labelled_by or os.environ.get("DLBENCH_USER") or getpass.getuser()
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.labels: dict[str, tuple[str, str, str]] = {}
        if existing is not None:
            for rec in existing.to_dict("records"):
                self.labels[str(rec["path"])] = (str(rec["label"]), _text(rec.get("labelled_by")),
                                                 _text(rec.get("labelled_at")))
        self.committed: Any = None
        # start at the first unlabelled item (the first item when all are labelled)
        self.index = next((n for n, i in enumerate(self.items) if i.key not in self.labels), 0)

        self.title = w.HTML()
        self.image = w.Image(layout=w.Layout(width="256px", image_rendering="pixelated"))
        self.text = w.HTML()
        self.buttons = []
        for n, cls in enumerate(self.classes):
            caption = f"{n + 1} · {cls}" if n < 9 else cls
            b = w.Button(description=caption, tooltip=f"label as {cls}" + (
                f" (key {n + 1})" if n < 9 else ""))
            b.on_click(lambda _b, cls=cls: self._safely(self.label, cls))
            self.buttons.append(b)
        self.back_button = w.Button(description="← back (b)")
        self.back_button.on_click(lambda _b: self._safely(self.back))
        self.skip_button = w.Button(description="skip (s) →")
        self.skip_button.on_click(lambda _b: self._safely(self.skip))
        self.commit_button = w.Button(description="commit", button_style="primary",
                                      icon="check")
        self.commit_button.on_click(lambda _b: self._safely(self.commit))
        self.shortcut = w.Text(placeholder="type 1-9 to label, s skip, b back",
                           description="keys", continuous_update=True)
        self.shortcut.observe(self._on_key, names="value")
        self.progress = w.IntProgress(min=0, max=len(self.items))
        self.progress_label = w.Label()
        self.status = w.HTML()
        super().__init__([
            self.title, self.image, self.text, w.HBox(self.buttons),
            w.HBox([self.back_button, self.skip_button, self.shortcut]),
            w.HBox([self.progress, self.progress_label, self.commit_button]), self.status])
        self._render()

    # -- state ---------------------------------------------------------------------------------

    @property
    def current(self) -> Item | None:
        """The item on screen, or None once past the last one."""
        return self.items[self.index] if self.index < len(self.items) else None

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i.key in self.labels)

    def label(self, cls: str) -> None:
        """Give the current item class ``cls`` and move to the next item."""
        if cls not in self.classes:
            raise InvalidInput(f"{cls!r} is not one of the classes {self.classes}")
        item = self.current
        if item is None:
            raise InvalidInput("every item has been shown: go back to change a label, or commit")
        stamp = self._clock().astimezone(timezone.utc).isoformat(timespec="seconds")
        self.labels[item.key] = (cls, self.labelled_by, stamp)
        self.goto(self.index + 1)

    def skip(self) -> None:
        self.goto(min(self.index + 1, len(self.items)))

    def back(self) -> None:
        self.goto(max(self.index - 1, 0))

    def goto(self, index: int) -> None:
        if not 0 <= index <= len(self.items):
            raise InvalidInput(f"item index {index} is out of range 0..{len(self.items) - 1}")
        self.index = index
        self.status.value = ""
        self._render()

    def labels_frame(self):  # type: ignore[no-untyped-def]
        """The labels table: one row per labelled path (items in order, then earlier labels
        of paths not shown here), columns ``path, label, labelled_by, labelled_at``."""
        import pandas as pd

        order = [i.key for i in self.items if i.key in self.labels]
        order += sorted(k for k in self.labels if k not in set(order))
        rows = [(k, *self.labels[k]) for k in order]
        return pd.DataFrame(rows, columns=list(LABEL_COLUMNS))

    def commit(self) -> Any:
        """Hand the labels table to the commit function; returns what it returns (a version)."""
        if self.commit_fn is None:
            raise InvalidInput("this widget has no commit function; pass commit=... "
                               "(labels_frame() gives the table)")
        if not self.labels:
            raise InvalidInput("nothing is labelled yet: label at least one item before committing")
        self.committed = self.commit_fn(self.labels_frame())
        what = getattr(self.committed, "ref", None) or getattr(self.committed, "version", None) \
            or self.committed
        self.status.value = (f"<span style='color:#2e7d32'>committed {self.done} labels as "
                             f"<b>{html.escape(str(what))}</b></span>")
        return self.committed

    # -- view ----------------------------------------------------------------------------------

    def _safely(self, action: Callable[..., Any], *args: Any) -> None:
        """Button callbacks have nowhere to raise to: show our errors in the status line."""
        try:
            action(*args)
        except DlbenchError as e:
            self.status.value = f"<span style='color:#c62828'>{html.escape(e.message)}</span>"

    def _on_key(self, change: Mapping[str, Any]) -> None:
        value = str(change["new"])
        if not value:
            return
        key = value[-1].lower()
        self.shortcut.value = ""
        if key.isdigit() and key != "0":
            n = int(key)
            if n > min(len(self.classes), 9):
                self.status.value = html.escape(f"key {n}: there are only {len(self.classes)} classes")
                return
            self._safely(self.label, self.classes[n - 1])
        elif key == "s":
            self._safely(self.skip)
        elif key == "b":
            self._safely(self.back)
        else:
            self.status.value = html.escape(f"key {key!r} does nothing: use 1-9, s or b")

    def _render(self) -> None:
        item = self.current
        n = len(self.items)
        self.progress.value = self.done
        self.progress_label.value = f"{self.done} / {n} labelled"
        if item is None:
            self.title.value = (f"<b>all {n} items shown</b>: {self.done} labelled. Go back to "
                                "change a label, or commit.")
            self.image.layout.display = "none"
            self.text.value = ""
            for b in self.buttons:
                b.button_style = ""
            return
        current = self.labels.get(item.key, (None,))[0]
        self.title.value = (f"<b>{self.index + 1} / {n}</b> <code>{html.escape(item.key)}</code>"
                            + (f" — labelled <b>{html.escape(current)}</b>" if current else ""))
        if item.kind == "image":
            self.image.format = item.image_format()
            self.image.value = item.image_bytes()
            self.image.layout.display = ""
            self.text.value = ""
        else:
            self.image.layout.display = "none"
            self.text.value = f"<pre style='white-space:pre-wrap'>{html.escape(item.content())}</pre>"
        for b, cls in zip(self.buttons, self.classes, strict=True):
            b.button_style = "success" if cls == current else ""


# ---------------------------------------------------------------------------------------------
# Datasets


def commit_labels(ws: Any, ds: Any, frame: Any, file: str = "labels.csv",
                  message: str | None = None) -> Any:
    """Commit ``ds``'s files plus the labels table as the next version of its dataset (parent:
    ``ds``'s version). No file is copied: the table is one new object, the rest is reused."""
    from ..data.manifest import Entry, Manifest
    from ..data.versions import commit

    if file not in LABEL_FILES:
        raise InvalidInput(f"the labels table must be one of {list(LABEL_FILES)}, got {file!r}")
    if file.endswith(".parquet"):
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        data = buf.getvalue()
    else:
        data = frame.to_csv(index=False).encode()
    stored = ws.objects.put_bytes(data)
    entries = {p: e for p, e in ds.manifest.entries.items() if p not in LABEL_FILES}
    entries[file] = Entry(stored.oid, stored.size)
    counts = frame["label"].value_counts().sort_index().to_dict()
    summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
    return commit(ws, ds.name, Manifest(entries),
                  message=message or f"labels: {len(frame)} items ({summary})",
                  metadata={"operation": "label", "labelled": len(frame),
                            "classes": {str(k): int(v) for k, v in counts.items()}},
                  parent=ds.version)


def _write_folder_labels(root: Path, frame: Any) -> Path:
    target = root / "labels.csv"
    tmp = root / ".labels.csv.tmp"
    frame.to_csv(tmp, index=False)
    os.replace(tmp, target)
    return target


def label(ds: Any, classes: Sequence[str], commit: Callable[[Any], Any] | None = None,
          labelled_by: str | None = None, workspace: Any = None) -> LabellingWidget:
    """A labelling widget for a dataset version (``dlb.dataset(...)``) or a plain folder.

    For a version, commit writes a new version with the labels table (``workspace`` defaults
    to the nearest one); for a folder, it writes ``labels.csv`` into the folder. Give
    ``commit(labels_frame) -> anything`` to do something else. Existing labels are loaded and
    the widget starts at the first unlabelled item.
    """
    if hasattr(ds, "manifest") and hasattr(ds, "path"):
        root = Path(ds.path)
        items = items_from_folder(root, ds.files)
        if commit is None:
            if workspace is None:
                from ..store import Workspace

                workspace = Workspace.find()
            ws = workspace
            commit = lambda frame: commit_labels(ws, ds, frame)  # noqa: E731
    else:
        root = Path(ds)
        if not root.is_dir():
            raise InvalidInput(f"{str(root)!r} is not a dataset or a folder to label")
        items = items_from_folder(root)
        if commit is None:
            commit = lambda frame: _write_folder_labels(root, frame)  # noqa: E731
    return LabellingWidget(items, classes, commit=commit, labelled_by=labelled_by,
                           existing=read_labels(root))
