"""A notebook's papermill ``parameters`` cell: names, types and defaults, and validation of the
values a user passes, before anything runs.

Papermill itself injects whatever it is given; a typo (``-p lrr 0.1``) or a wrong type
(``-p epochs 3.5``) would only surface minutes later, deep inside the notebook, or never. So we
read the defaults with ``ast`` (never executing the cell) and check names and types up front.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import numbers
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

HOW_TO_TAG = (
    "tag the cell that holds your defaults with `parameters`: in JupyterLab select it, open the "
    "property inspector (gear icon, right sidebar) → Common Tools → Cell Tags → add `parameters`"
)
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")
# IPython lines (`%matplotlib inline`, `!nvidia-smi`) are legal in a cell but not Python
_IPYTHON_LINE = re.compile(r"^(\s*)[%!].*$", re.MULTILINE)


class ParameterError(InvalidInput):
    """A value or name the parameters cell does not accept; ``parameter`` names the culprit."""

    def __init__(self, message: str, parameter: str, valid: list[str] | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.valid = list(valid or [])


@dataclass(frozen=True)
class Parameter:
    """One ``name = default`` line of the parameters cell."""

    name: str
    type_name: str  # int, float, str, bool, list, dict, none, other
    default: Any
    source: str  # the default exactly as written, for messages and the run page
    comment: str | None = None


def _type_name(value: Any) -> str:
    if value is None:
        return "none"
    # bool before int: True is an int to Python, not to the person who wrote it
    for t, name in (
        (bool, "bool"),
        (int, "int"),
        (float, "float"),
        (str, "str"),
        (list, "list"),
        (tuple, "list"),
        (dict, "dict"),
    ):
        if isinstance(value, t):
            return name
    return "other"


def read_parameters(path: str | Path) -> list[Parameter] | None:
    """The parameters declared by the first code cell tagged ``parameters``; None without one.

    Plain JSON is enough to find the cell, so this works without a kernel or nbformat.
    """
    p = Path(path)
    where = str(path)
    if not p.exists():
        raise InvalidInput(f"notebook {where!r} does not exist")
    if p.suffix.lower() != ".ipynb" or not p.is_file():
        raise InvalidInput(f"{where!r} is not a notebook (expected a .ipynb file)")
    try:
        nb = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{where!r} is not a notebook: invalid JSON ({e})") from None
    except OSError as e:
        raise InvalidInput(f"cannot read notebook {where!r}: {e.strerror or e}") from None
    if isinstance(nb, dict) and "worksheets" in nb and "cells" not in nb:
        raise InvalidInput(
            f"{where!r} is an old nbformat 3 notebook; open and save it in "
            "JupyterLab to upgrade it to nbformat 4"
        )
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidInput(f"{where!r} is valid JSON but not a notebook (no list of cells)")
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            raise InvalidInput(
                f"{where!r} is valid JSON but not a notebook (a cell is not an object)"
            )
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        if cell.get("cell_type") == "code" and isinstance(tags, list) and "parameters" in tags:
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else str(source)
            return parse_parameters(text, where)
    return None


def parse_parameters(source: str, where: str = "") -> list[Parameter]:
    """Parameters from the source of a parameters cell; later assignments win, as in Python."""
    # same indentation, same line count: line numbers in errors match what the user sees
    code = _IPYTHON_LINE.sub(lambda m: m.group(1) + "pass", source)
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        raise InvalidInput(
            f"the parameters cell of {where or 'the notebook'} has a syntax error "
            f"on line {e.lineno}: {e.msg}"
        ) from None
    comments = _comments(code)
    found: dict[str, Parameter] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name, value_node = node.targets[0].id, node.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.value is not None
        ):
            name, value_node = node.target.id, node.value
        else:
            continue  # imports, unpacking, bare annotations: nothing papermill can override
        text = ast.get_source_segment(code, value_node) or ""
        try:
            default = ast.literal_eval(value_node)
            type_name = _type_name(default)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            default, type_name = None, "other"  # e.g. `path = os.environ["DATA"]`
        comment = comments.get(node.end_lineno or node.lineno) or comments.get(node.lineno)
        found[name] = Parameter(name, type_name, default, text, comment)
    return list(found.values())


def _comments(code: str) -> dict[int, str]:
    """Trailing comments by line. Tokens, not ``split('#')``: a '#' inside a string is no comment."""
    out: dict[int, str] = {}
    code_lines: set[int] = set()
    skip = (
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    )
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT and tok.start[0] in code_lines:
                text = tok.string[1:].strip()
                if text:
                    out[tok.start[0]] = text
            elif tok.type not in skip:
                code_lines.update(range(tok.start[0], tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass  # ast accepted the code; comments are a nicety
    return out


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _coerce(p: Parameter, value: Any) -> Any:
    def bad(expected: str) -> ParameterError:
        return ParameterError(
            f"{p.name}={_shown(value)}: expected {expected} like the default {p.source}", p.name
        )

    t = p.type_name
    if t in ("int", "float", "bool") and isinstance(value, str) and not value.strip():
        raise ParameterError(
            f"{p.name}: empty value; expected a{'n' if t == 'int' else ''} {t} "
            f"like the default {p.source}",
            p.name,
        )
    if t == "float":
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise bad("a float")
    if t == "int":
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise bad("an int")
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, numbers.Integral) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        raise bad("true or false (also yes/no, 1/0)")
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
            if isinstance(parsed, str):  # not Python: JSON spells true/null differently
                try:
                    parsed = json.loads(value)
                except ValueError:
                    raise bad(f"a {t} (JSON or a Python literal)") from None
            value = parsed
        if isinstance(value, tuple) and want is list:
            value = list(value)
        if not isinstance(value, want):
            raise bad(f"a {t}")
        return value
    return _literal(value) if isinstance(value, str) else value  # none / other: anything goes


def coerce_parameters(
    given: dict[str, Any],
    declared: list[Parameter] | None,
    *,
    allow_no_cell: bool = False,
    notebook: str = "",
) -> dict[str, Any]:
    """Check names against the parameters cell and convert values to the defaults' types.

    Values from the CLI arrive as strings, from Python as objects; both end up as what the
    notebook's default suggests. A ``str`` default keeps strings as given and turns numbers
    into their ``str()`` (so ``tag=3`` from Python equals ``-p tag 3``); any other object for a
    ``str`` default (None, a list, a bool) is rejected as a likely mistake. Defaults that are
    None or not literals accept anything, strings parsed as Python literals when they are one.

    Raises
    ------
    InvalidInput
        Without a parameters cell (unless ``allow_no_cell``), for an unknown name (with the
        valid ones and a close match), or for a value that does not fit the default's type.
    """
    nb = notebook or "the notebook"
    if declared is None:
        if not allow_no_cell:
            raise InvalidInput(
                f"{nb} has no parameters cell, so its parameters cannot be "
                f"checked: {HOW_TO_TAG}; or pass --no-parameters-cell to run "
                "it anyway"
            )
        return {k: _literal(v) if isinstance(v, str) else v for k, v in given.items()}
    by_name = {p.name: p for p in declared}
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            valid = f"defines: {', '.join(by_name)}" if by_name else "defines no parameters"
            raise ParameterError(
                f"unknown parameter {name!r}{hint}; the parameters cell of {nb} {valid}",
                name,
                list(by_name),
            )
        out[name] = _coerce(by_name[name], value)
    return out


def parse_cli_params(pairs: list[tuple[str, str]] | list[list[str]] | None) -> dict[str, str]:
    """``-p NAME VALUE`` pairs (argparse ``nargs=2, action='append'``) as a dict of strings.

    Values stay strings here; :func:`coerce_parameters` types them once the notebook is known.
    """
    out: dict[str, str] = {}
    for pair in pairs or []:
        if len(pair) != 2:
            raise InvalidInput(f"-p takes a name and a value, got {' '.join(pair)!r}")
        name, value = pair[0], pair[1]
        if not name.isidentifier():
            raise InvalidInput(f"-p {name!r}: parameter names are Python identifiers")
        if name in out:
            raise ParameterError(
                f"parameter {name!r} is given twice (-p {name} {out[name]!r} "
                f"and -p {name} {value!r})",
                name,
            )
        out[name] = value
    return out


def notebook_code(raw: bytes) -> str:
    """The code of a notebook snapshot, one ``# %% [n]`` block per code cell (or the text
    of a script snapshot), so diffs read like a script."""
    text = raw.decode("utf-8", errors="replace")
    try:
        nb = json.loads(text)
    except ValueError:
        return text
    if not isinstance(nb, dict) or "cells" not in nb:
        return text
    parts = []
    for i, cell in enumerate(nb.get("cells") or []):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source") or ""
        src = "".join(src) if isinstance(src, list) else str(src)
        parts.append(f"# %% [{i}]\n{src.rstrip()}\n")
    return "\n".join(parts)
