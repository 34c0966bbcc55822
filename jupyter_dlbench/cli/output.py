"""Printing for the CLI: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return jsonable(item())
        except (ValueError, TypeError):
            pass
    if hasattr(value, "isoformat"):
        try:
            return None if value != value else value.isoformat()  # NaT != NaT
        except (ValueError, TypeError):
            pass
    return str(value)


def print_json(value: Any) -> None:
    print(json.dumps(jsonable(value), indent=2, allow_nan=False))


def frame_records(frame) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [jsonable(r) for r in frame.to_dict(orient="records")]


def fmt(value: Any) -> str:
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def print_table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*[Text(fmt(v)) for v in r])  # Text: user strings are never markup
    import sys

    width = None if sys.stdout.isatty() else 200
    Console(markup=False, width=width).print(table)
