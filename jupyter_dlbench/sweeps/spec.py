"""The sweep spec: ``lr=1e-3,1e-4 batch=32,64 wd=1e-5..1e-2:log`` parsed, checked and typed.

Every mistake is caught here, before a kernel starts, with a one-line message that quotes the
offending token: a sweep that fails ten minutes in because of a typo costs far more than a strict
parser. Values are typed the way a person reads them (``1e-3`` is a float, ``true`` a bool,
``"a b"`` a string) and later coerced to the type of the notebook's default, exactly as
``dlbench run -p`` does (:func:`..execution.notebooks.coerce_parameters`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import InvalidInput
from ..execution.notebooks import Parameter, ParameterError, coerce_parameters

METHODS = ("grid", "random", "tpe")
GRID_LIMIT = 1000
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INT = re.compile(r"^[+-]?\d+$")
_SCALES = ("log", "int", "uniform")


def _bad(token: str, why: str) -> InvalidInput:
    return InvalidInput(f"sweep spec {token!r}: {why}")


@dataclass(frozen=True)
class Dimension:
    """One swept parameter: a list of choices, or a numeric range for random/TPE search."""

    name: str
    token: str  # as the user wrote it, for messages
    choices: tuple[Any, ...] | None = None
    raw: tuple[str | None, ...] = ()  # each choice as typed (None: given as a Python object)
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.choices is None

    def to_dict(self) -> dict[str, Any]:
        if self.is_range:
            return {"name": self.name, "token": self.token, "low": self.low, "high": self.high,
                    "log": self.log, "integer": self.integer}
        return {"name": self.name, "token": self.token, "choices": list(self.choices or ()),
                "raw": list(self.raw)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dimension:
        if "choices" in d:
            return cls(d["name"], d["token"], tuple(d["choices"]), tuple(d.get("raw") or ()))
        return cls(d["name"], d["token"], low=d["low"], high=d["high"], log=d["log"],
                   integer=d["integer"])

    def describe(self) -> str:
        if self.is_range:
            kind = ("log-int" if self.log else "int") if self.integer else ("log" if self.log else "uniform")
            return f"{self.low:g}..{self.high:g} ({kind})"
        return ", ".join(repr(c) for c in self.choices or ())


@dataclass(frozen=True)
class SweepSpec:
    """A parameter space plus how to search it; immutable, JSON-serialisable."""

    dims: tuple[Dimension, ...]
    method: str = "grid"
    random_n: int | None = None
    seed: int | None = None
    max_runs: int | None = None
    validated: bool = field(default=False, compare=False)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    @property
    def grid_size(self) -> int:
        size = 1
        for d in self.dims:
            size *= len(d.choices or ()) if not d.is_range else 1
        return size

    @property
    def n_runs(self) -> int:
        """How many trials the sweep will run at most."""
        if self.method == "grid":
            size = self.grid_size
            return min(size, self.max_runs) if self.max_runs else size
        counts = [n for n in (self.random_n, self.max_runs) if n]
        return min(counts)

    def validate_against(self, parameters: list[Parameter] | None, notebook: str = "") -> SweepSpec:
        """Check names and types against a notebook's parameters cell; return the typed spec.

        Choices are converted to the type of each default (``batch=32`` for an ``int``, ``lr=1``
        becomes ``1.0`` for a ``float``), a range over an ``int`` parameter samples integers.
        """
        declared = {p.name: p for p in parameters or []}
        dims = []
        for d in self.dims:
            if d.name not in declared:
                try:  # the same message as `dlbench run -p`: valid names and a close match
                    coerce_parameters({d.name: ""}, parameters, notebook=notebook)
                except ParameterError as e:
                    raise _bad(d.token, e.message) from None
            p = declared[d.name]
            dims.append(_range_for(d, p) if d.is_range else _choices_for(d, p, parameters, notebook))
        return replace(self, dims=tuple(dims), validated=True)

    def expand(self) -> list[dict[str, Any]]:
        """The trials' params in order: the grid, or seeded random samples.

        For ``tpe`` only the random start-up trials are known in advance (what the sampler
        draws before it has results to learn from); the rest are chosen as results come in.
        """
        from .space import expand

        return expand(self)

    def to_dict(self) -> dict[str, Any]:
        return {"dims": [d.to_dict() for d in self.dims], "method": self.method,
                "random_n": self.random_n, "seed": self.seed, "max_runs": self.max_runs,
                "validated": self.validated}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepSpec:
        return cls(tuple(Dimension.from_dict(x) for x in d["dims"]), d["method"], d.get("random_n"),
                   d.get("seed"), d.get("max_runs"), bool(d.get("validated")))


def _choices_for(d: Dimension, p: Parameter, parameters: list[Parameter] | None,
                 notebook: str) -> Dimension:
    out = []
    for value, raw in zip(d.choices or (), d.raw or (None,) * len(d.choices or ()), strict=False):
        # a str default takes the text as typed: name=007 stays "007", not "7"
        given = raw if raw is not None and p.type_name in ("str", "int", "float", "bool") else value
        try:
            out.append(coerce_parameters({d.name: given}, parameters, notebook=notebook)[d.name])
        except ParameterError as e:
            raise _bad(d.token, e.message) from None
    return replace(d, choices=tuple(out), raw=())


def _range_for(d: Dimension, p: Parameter) -> Dimension:
    if p.type_name == "int":
        if d.low != math.floor(d.low or 0) or d.high != math.floor(d.high or 0):
            raise _bad(d.token, f"{d.name} is an int parameter (default {p.source}); a range over "
                       "it needs whole-number bounds")
        return replace(d, integer=True)
    if p.type_name in ("float", "none", "other"):
        return d
    raise _bad(d.token, f"{d.name} is a {p.type_name} parameter (default {p.source}); a range "
               "needs a number parameter, list the values instead (name=a,b)")


# -- the grammar ---------------------------------------------------------------------------


def split_line(line: str) -> list[str]:
    """Split a magic/command line on spaces outside quotes, keeping the quotes.

    ``shlex`` would drop them, and then ``name="a,b"`` could no longer be told from
    ``name=a,b``.
    """
    tokens: list[str] = []
    cur: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(line):
                cur.append(line[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch.isspace():
            if cur:
                tokens.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
        i += 1
    if quote:
        raise _bad("".join(cur), f"unbalanced {quote} quote")
    if cur:
        tokens.append("".join(cur))
    return tokens


def _split_values(token: str, text: str) -> list[tuple[str, bool]]:
    """Comma-separated items as ``(text, quoted)``; quotes protect commas and spaces."""
    items: list[tuple[str, bool]] = []
    cur: list[str] = []
    quoted = False
    i = 0
    while i <= len(text):
        ch = text[i] if i < len(text) else ","
        if ch in "\"'" and i < len(text):
            if "".join(cur).strip():
                raise _bad(token, f"a quote inside a value (at {text[: i + 1]!r}); put the whole "
                           "value in quotes instead")
            end = i + 1
            body: list[str] = []
            while end < len(text) and text[end] != ch:
                if text[end] == "\\" and end + 1 < len(text):
                    end += 1
                body.append(text[end])
                end += 1
            if end >= len(text):
                raise _bad(token, f"unbalanced {ch} quote")
            cur, quoted = body, True
            i = end + 1
            while i < len(text) and text[i] != ",":
                if not text[i].isspace():
                    raise _bad(token, f"unexpected {text[i]!r} after a quoted value; separate values with commas")
                i += 1
            continue
        if ch == ",":
            value = "".join(cur) if quoted else "".join(cur).strip()
            if not value and not quoted:
                where = "after '='" if not items and i >= len(text) else (
                    "before the first comma" if not items else "after the last comma"
                    if i >= len(text) else "between two commas")
                raise _bad(token, f"empty value {where}" if where != "after '='" else "no values after '='")
            items.append((value, quoted))
            cur, quoted = [], False
        else:
            cur.append(ch)
        i += 1
    return items


def _typed(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if _INT.match(text):
        try:
            return int(text)
        except ValueError:  # longer than Python's int-string limit: keep the text
            return text
    if _NUMBER.match(text):
        return float(text)
    return text


def _number(token: str, text: str) -> float:
    if not _NUMBER.match(text.strip()):
        raise _bad(token, f"range bounds must be numbers, got {text.strip()!r}")
    value = float(text)
    if not math.isfinite(value):
        raise _bad(token, f"range bounds must be finite numbers, got {text.strip()!r}")
    return value


def _looks_like_range(text: str) -> bool:
    return ".." in text and bool(re.match(r"^\s*[-+]?(\d|\.\d)", text))


def _parse_range(token: str, name: str, text: str) -> Dimension:
    body, _, scale = text.partition(":")
    scale = scale.strip().lower() or "uniform"
    if scale not in _SCALES:
        raise _bad(token, f"unknown range scale {scale!r}; use :log, :int or :uniform")
    lo_text, _, hi_text = body.partition("..")
    low, high = _number(token, lo_text), _number(token, hi_text)
    if low >= high:
        raise _bad(token, f"low must be below high (got {lo_text.strip()} >= {hi_text.strip()})")
    if scale == "log" and low <= 0:
        raise _bad(token, f"a :log range needs positive bounds (got {lo_text.strip()})")
    if scale == "int" and (low != math.floor(low) or high != math.floor(high)):
        raise _bad(token, "an :int range needs whole-number bounds")
    return Dimension(name, token, low=low, high=high, log=scale == "log", integer=scale == "int")


def parse_token(token: str) -> Dimension:
    """One ``NAME=VALUES`` or ``NAME=LOW..HIGH[:scale]`` token."""
    if not isinstance(token, str):
        raise InvalidInput(f"sweep spec tokens must be strings, got {type(token).__name__}")
    name, eq, text = token.partition("=")
    name = name.strip()
    if not eq:
        raise _bad(token, "expected NAME=VALUES (e.g. lr=1e-3,1e-4) or NAME=LOW..HIGH[:log|:int]")
    if not name.isidentifier():
        raise _bad(token, f"{name!r} is not a parameter name (letters, digits and _, not starting with a digit)")
    if not text.strip():
        raise _bad(token, "no values after '='")
    if _looks_like_range(text) and text.count(",") == 0 and text.strip()[0] not in "\"'":
        return _parse_range(token, name, text)
    items = _split_values(token, text)
    if len(items) > 1 and any(not q and _looks_like_range(t) for t, q in items):
        raise _bad(token, "a range cannot be part of a list; give either a,b,c or low..high")
    values = tuple(t if q else _typed(t) for t, q in items)
    return Dimension(name, token, values, tuple(t for t, _ in items))


def _check_count(what: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(f"{what} must be a positive whole number of runs, got {value!r}")
    return value


def finish_spec(dims: list[Dimension], method: str | None, random_n: int | None,
                seed: int | None, max_runs: int | None) -> SweepSpec:
    """Check the dimensions as a whole and choose the search method."""
    if not dims:
        raise InvalidInput("a sweep needs at least one NAME=VALUES, e.g. lr=1e-3,1e-4")
    seen: dict[str, Dimension] = {}
    for d in dims:
        if d.name in seen:
            raise _bad(d.token, f"{d.name} is given twice (also in {seen[d.name].token!r})")
        seen[d.name] = d
    random_n = _check_count("--random", random_n)
    max_runs = _check_count("--max-runs", max_runs)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidInput(f"--seed must be a whole number, got {seed!r}")
    if method is not None and method not in METHODS:
        raise InvalidInput(f"unknown search method {method!r}; use grid, random or tpe")
    method = method or ("random" if random_n else "grid")
    ranges = [d for d in dims if d.is_range]
    if method == "grid":
        if random_n:
            raise InvalidInput("--random N samples at random; it cannot be combined with --method grid")
        if ranges:
            raise _bad(ranges[0].token, "a range cannot be gridded; use --random N or --method tpe "
                       "(or list the values: name=a,b,c)")
        spec = SweepSpec(tuple(dims), method, None, seed, max_runs)
        if spec.grid_size > GRID_LIMIT and not max_runs:
            sizes = " × ".join(f"{d.token} ({len(d.choices or ())})" for d in dims)
            raise InvalidInput(f"the grid {sizes} has {spec.grid_size:,} runs; more than "
                               f"{GRID_LIMIT:,} needs --max-runs N (or sample with --random N)")
        return spec
    if not random_n and not max_runs:
        flag = "--random N" if method == "random" else "--max-runs N (or --random N)"
        raise InvalidInput(f"--method {method} needs {flag}: how many trials to run")
    return SweepSpec(tuple(dims), method, random_n, seed, max_runs)


def parse_spec(tokens: list[str] | tuple[str, ...] | str, method: str | None = None,
               random_n: int | None = None, seed: int | None = None,
               max_runs: int | None = None) -> SweepSpec:
    """Parse ``NAME=VALUES`` tokens (or one line of them) into a :class:`SweepSpec`.

    Raises
    ------
    InvalidInput
        For any malformed token, naming it: missing ``=``, empty values, unbalanced quotes,
        duplicate names, a bad range (``low >= high``, ``:log`` over non-positive bounds), a
        range in a grid, or a grid above 1,000 runs without ``max_runs``.
    """
    if isinstance(tokens, str):
        tokens = split_line(tokens)
    if not isinstance(tokens, (list, tuple)):
        raise InvalidInput(f"a sweep spec is a list of NAME=VALUES strings, got {type(tokens).__name__}")
    return finish_spec([parse_token(t) for t in tokens], method, random_n, seed, max_runs)


def _dim_from_value(name: str, value: Any) -> Dimension:
    token = f"{name}={value!r}"
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidInput(f"sweep space key {name!r} is not a parameter name")
    if isinstance(value, str):
        return parse_token(f"{name}={value}") if _looks_like_range(value) else \
            Dimension(name, f"{name}={value}", (value,), (None,))
    if isinstance(value, tuple) and len(value) in (2, 3) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value[:2]):
        scale = value[2] if len(value) == 3 else "uniform"
        if not isinstance(scale, str):
            raise _bad(token, "the third item of a range tuple is 'log', 'int' or 'uniform'")
        return _parse_range(token, name, f"{value[0]!r}..{value[1]!r}:{scale}")
    if isinstance(value, (list, tuple)):
        if not value:
            raise _bad(token, "empty list of values")
        return Dimension(name, token, tuple(value), (None,) * len(value))
    return Dimension(name, token, (value,), (None,))


def spec_from_dict(space: dict[str, Any], method: str | None = None, random_n: int | None = None,
                   seed: int | None = None, max_runs: int | None = None) -> SweepSpec:
    """The Python form: ``{"lr": [1e-3, 1e-4], "wd": "1e-5..1e-2:log", "p": (0.1, 0.5)}``."""
    if not isinstance(space, dict):
        raise InvalidInput(f"a sweep space is a dict of name → values, got {type(space).__name__}")
    return finish_spec([_dim_from_value(k, v) for k, v in space.items()], method, random_n, seed,
                       max_runs)
