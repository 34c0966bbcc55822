"""A notebook's papermill ``parameters`` cell: names, types and defaults, and validation of the
values a user passes, before anything runs."""

from __future__ import annotations

import ast
import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

HOW_TO_TAG = (
    "tag the cell that holds your defaults with `parameters`: in JupyterLab select it, open the "
    "property inspector (gear icon, right sidebar) → Common Tools → Cell Tags → add `parameters`"
)


@dataclass(frozen=True)
class Parameter:
    name: str
    type_name: str  # int, float, str, bool, list, dict, none, other
    default: Any
    source: str
    comment: str | None = None


def _type_name(value: Any) -> str:
    if value is None:
        return "none"
    for t, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list"),
                    (tuple, "list"), (dict, "dict")):
        if isinstance(value, t):
            return name
    return "other"


def read_parameters(path: str | Path) -> list[Parameter] | None:
    """The parameters declared by the first code cell tagged ``parameters``; None without one."""
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"notebook {str(path)!r} does not exist")
    if p.suffix != ".ipynb":
        raise InvalidInput(f"{str(path)!r} is not a notebook (expected a .ipynb file)")
    try:
        nb = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{str(path)!r} is not valid notebook JSON: {e}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidInput(f"{str(path)!r} is JSON but not a notebook (no list of cells)")
    for cell in nb["cells"]:
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") == "code" and "parameters" in tags:
            source = cell.get("source", "")
            return parse_parameters("".join(source) if isinstance(source, list) else source, str(path))
    return None


def parse_parameters(source: str, where: str = "") -> list[Parameter]:
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise InvalidInput(f"the parameters cell of {where or 'the notebook'} has a syntax error on "
                           f"line {e.lineno}: {e.msg}") from None
    lines = source.splitlines()
    found: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value_node = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            name, value_node = node.target.id, node.value
        else:
            continue
        text = ast.get_source_segment(source, value_node) or ""
        try:
            default = ast.literal_eval(value_node)
            type_name = _type_name(default)
        except (ValueError, SyntaxError, TypeError):
            default, type_name = None, "other"
        line = lines[node.lineno - 1] if node.lineno - 1 < len(lines) else ""
        comment = line.split("#", 1)[1].strip() if "#" in line[node.end_col_offset:] else None
        found[name] = Parameter(name, type_name, default, text, comment)
    return list(found.values())


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _coerce(p: Parameter, value: Any) -> Any:
    def bad(expected: str) -> InvalidInput:
        return InvalidInput(f"{p.name}={value!r}: expected {expected} like the default {p.source}")

    t = p.type_name
    if t == "float":
        if isinstance(value, bool):
            raise bad("a float")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str) and value.strip():
            try:
                return float(value)
            except ValueError:
                raise bad("a float") from None
        raise bad("a float")
    if t == "int":
        if isinstance(value, bool):
            raise bad("an int")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
        raise bad("an int")
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise bad("true or false")
    if t == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad("a string")
    if t in ("list", "dict"):
        want = list if t == "list" else dict
        if isinstance(value, str):
            parsed = _literal(value)
            if isinstance(parsed, str):
                try:
                    parsed = json.loads(value)
                except ValueError:
                    raise bad(f"a {t} (JSON or Python literal)") from None
            value = parsed
        if isinstance(value, tuple) and want is list:
            value = list(value)
        if not isinstance(value, want):
            raise bad(f"a {t}")
        return value
    return _literal(value) if isinstance(value, str) else value


def coerce_parameters(given: dict[str, Any], declared: list[Parameter] | None, *,
                      allow_no_cell: bool = False, notebook: str = "") -> dict[str, Any]:
    """Check names against the parameters cell and convert values to the defaults' types."""
    if declared is None:
        if not allow_no_cell:
            raise InvalidInput(f"{notebook or 'the notebook'} has no parameters cell, so its "
                               f"parameters cannot be checked: {HOW_TO_TAG}; or pass "
                               "--no-parameters-cell to run it anyway")
        return {k: _literal(v) if isinstance(v, str) else v for k, v in given.items()}
    by_name = {p.name: p for p in declared}
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            valid = ", ".join(by_name) or "none"
            raise InvalidInput(f"unknown parameter {name!r}{hint}; the parameters cell of "
                               f"{notebook or 'the notebook'} defines: {valid}")
        if isinstance(value, str) and value == "" and by_name[name].type_name in ("int", "float", "bool"):
            raise InvalidInput(f"{name}: empty value; expected a {by_name[name].type_name}")
        out[name] = _coerce(by_name[name], value)
    return out


def parse_cli_params(pairs: list[tuple[str, str]] | list[list[str]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, value = pair[0], pair[1]
        if not name.isidentifier():
            raise InvalidInput(f"-p {name!r}: parameter names are Python identifiers")
        if name in out:
            raise InvalidInput(f"parameter {name!r} is given twice (-p {name} {out[name]!r} and -p {name} {value!r})")
        out[name] = value
    return out
