"""Validation and normalisation of what users log: metric names and values, params."""

from __future__ import annotations

import json
import math
from typing import Any

from ..errors import InvalidInput

MAX_NAME = 1000


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"{what} names must be strings, got {type(name).__name__} {name!r}")
    if not name.strip():
        raise InvalidInput(f"{what} names must not be empty")
    if len(name) > MAX_NAME:
        raise InvalidInput(
            f"{what} name {name[:40]!r}… is {len(name)} characters long; at most {MAX_NAME} are allowed"
        )
    if "\x00" in name or "\n" in name or "\r" in name:
        raise InvalidInput(f"{what} name {name[:60]!r} contains a NUL or line break")
    if not _is_unicode(name):
        raise InvalidInput(
            f"{what} name {name[:60]!r} is not valid Unicode (it holds a lone surrogate, usually "
            "undecodable bytes from a file name); decode it or pick another name"
        )
    return name


def _is_unicode(text: str) -> bool:
    """False for strings with lone surrogates (``os.fsdecode`` of bad bytes): UTF-8 has no form
    for them, so the catalog could not store them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_float(key: str, value: object) -> float:
    """Numbers, numpy scalars, 0-d tensors and bools become floats; NaN and ±inf are kept."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            out = item()
        except (ValueError, RuntimeError, TypeError):
            raise InvalidInput(
                f"metric {key!r} must be a single number, got an array-like of shape "
                f"{getattr(value, 'shape', '?')}"
            ) from None
        if isinstance(out, (int, float)):
            return float(out)
    raise InvalidInput(
        f"metric {key!r} must be a number (int, float, numpy or torch scalar), got "
        f"{type(value).__name__} {str(value)[:60]!r}"
    )


def param_row(value: Any) -> tuple[str | None, float | None, str]:
    """How a param is stored: text, its numeric value when it has one, and its type name."""
    if value is None:
        return None, None, "null"
    if isinstance(value, bool):
        return str(value), float(value), "bool"
    if isinstance(value, int):
        return str(value), float(value), "int"
    if isinstance(value, float):
        return repr(value) if not math.isnan(value) else "nan", value, "float"
    if isinstance(value, str):
        if not _is_unicode(value):  # kept exactly as JSON text (ASCII escapes); read back as the str
            return json.dumps(value), None, "json"
        return value, None, "str"
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return param_row(item())
        except (ValueError, RuntimeError, TypeError):
            pass
    try:
        return json.dumps(value, sort_keys=True, default=str), None, "json"
    except (TypeError, ValueError):
        return str(value), None, "str"


def jsonable(value: Any) -> Any:
    """A JSON-safe form of a param value (tensors and numpy scalars become Python numbers)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (ValueError, RuntimeError, TypeError):
            pass
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)
