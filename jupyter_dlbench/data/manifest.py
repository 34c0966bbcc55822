"""A dataset version's manifest: relative path → object, size, exec bit or symlink target.

The manifest is canonical JSON (sorted keys, no spaces), so identical content always hashes to
the same manifest object and "nothing changed" is a string comparison of two object ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple

from ..errors import InvalidInput, ObjectCorrupt

FORMAT = 1
_OID = re.compile(r"^[0-9a-f]{64}$")


class Entry(NamedTuple):
    """One file of a version. A symlink has ``symlink`` set and no object (``oid`` is None).

    A named tuple, not a frozen dataclass: an add or a checkout of 20,000 files makes one per
    file, and the dataclass took twice as long to build (11 ms against 5).
    """

    oid: str | None
    size: int
    executable: bool = False
    symlink: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.symlink is not None:
            return {"symlink": self.symlink, "size": self.size}
        out: dict[str, Any] = {"oid": self.oid, "size": self.size}
        if self.executable:
            out["exec"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        if "symlink" in data:
            return cls(None, int(data.get("size", 0)), False, str(data["symlink"]))
        oid = str(data["oid"])
        if not _OID.match(oid):  # an object id ends up in a file path: never trust it blindly
            raise ValueError(f"{oid[:80]!r} is not an object id")
        return cls(oid, int(data["size"]), bool(data.get("exec", False)))


_OID_OF = attrgetter("oid")


class Manifest:
    """An immutable mapping path → :class:`Entry` with canonical bytes."""

    __slots__ = ("_bytes", "entries")

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        self.entries: dict[str, Entry] = dict(sorted(entries.items()))
        self._bytes: bytes | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and self.entries == other.entries

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries.values() if e.symlink is None)

    def oids(self) -> set[str]:
        oids = set(map(_OID_OF, self.entries.values()))
        oids.discard(None)  # symlinks
        return oids  # type: ignore[return-value]

    def to_bytes(self) -> bytes:
        if self._bytes is None:  # entries are never mutated after construction: encode once
            self._bytes = _encode(self.entries)
        return self._bytes

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "manifest") -> Manifest:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"unknown manifest format {doc.get('format')!r}")
            files = doc["files"]
            # paths are checked too: a crafted manifest must not write outside a checkout folder
            check_relpaths(files)
            entries = {p: _entry_of(e) for p, e in files.items()}
            _check_oids(e.oid for e in entries.values() if e.oid is not None)
            return cls(entries)
        except (ValueError, KeyError, TypeError, AttributeError, InvalidInput) as e:
            raise ObjectCorrupt(f"the {what} is not a valid dataset manifest ({e})") from None

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {p: e.to_json() for p, e in self.entries.items()}


def canonical_json(entries: Mapping[str, Entry]) -> bytes:
    """The reference encoding: sorted keys, no spaces, ASCII (a name with a newline stays a
    plain escaped string). :func:`_encode` must produce exactly these bytes."""
    doc = {"format": FORMAT, "files": {p: e.to_json() for p, e in entries.items()}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")


_PLAIN = re.compile(r'[ -!#-\[\]-~]*')  # printable ASCII but '"' and '\\': written as they are


def _encode(entries: Mapping[str, Entry]) -> bytes:
    """:func:`canonical_json` without building the document: a re-add of 20,000 files spent
    30 ms of its ~250 in ``json.dumps``. ``entries`` are in path order (as ``Manifest`` keeps
    them); entries' own keys are written in sorted order by hand. When no path needs escaping
    (checked once over all of them, not per path), each path is written as it is."""
    dumps, items = json.dumps, entries.items()
    if _PLAIN.fullmatch("".join(entries)):  # the usual case: no path needs escaping
        parts = [f'"{path}":{{"oid":"{oid}","size":{size}}}' if link is None and not executable else
                 _encode_entry(f'"{path}"', oid, size, executable, link)
                 for path, (oid, size, executable, link) in items]
    else:
        parts = [_encode_entry(f'"{path}"' if _PLAIN.fullmatch(path) else dumps(path), *entry)
                 for path, entry in items]
    return ('{"files":{' + ",".join(parts) + '},"format":' + str(FORMAT) + "}").encode("ascii")


def _encode_entry(key: str, oid: str | None, size: int, executable: bool, link: str | None) -> str:
    if link is not None:
        return f'{key}:{{"size":{size},"symlink":{json.dumps(link)}}}'
    if executable:
        return f'{key}:{{"exec":true,"oid":"{oid}","size":{size}}}'
    return f'{key}:{{"oid":"{oid}","size":{size}}}'


@dataclass(frozen=True)
class Change:
    path: str
    change: str  # "added" | "removed" | "modified"
    old_size: int | None
    new_size: int | None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "change": self.change, "old_size": self.old_size,
                "new_size": self.new_size}


def diff(old: Manifest, new: Manifest) -> list[Change]:
    """Changes from ``old`` to ``new`` sorted by path (a changed exec bit or link target counts)."""
    out: list[Change] = []
    a, b = old.entries, new.entries
    for path in sorted(a.keys() | b.keys()):
        ea, eb = a.get(path), b.get(path)
        if ea is None and eb is not None:
            out.append(Change(path, "added", None, eb.size))
        elif eb is None and ea is not None:
            out.append(Change(path, "removed", ea.size, None))
        elif ea != eb and ea is not None and eb is not None:
            out.append(Change(path, "modified", ea.size, eb.size))
    return out


def _entry_of(data: Mapping[str, Any]) -> Entry:
    """:meth:`Entry.from_json` without the per-entry id check (:func:`_check_oids` does all)."""
    if "symlink" in data:
        return Entry(None, int(data.get("size", 0)), False, str(data["symlink"]))
    return Entry(str(data["oid"]), int(data["size"]), bool(data.get("exec", False)))


def _check_oids(oids: Iterable[str]) -> None:
    """Every id is 64 lowercase hex digits (an id ends up in a file path: never trust it blindly).

    Checked over all ids at once, in C (their lengths, then one hex decode of them joined),
    where a pattern match per id cost a 20,000-file checkout 10 ms."""
    oids = list(oids)
    joined = "".join(oids)
    try:
        fine = (all(len(o) == 64 for o in oids) and joined.lower() == joined
                and len(bytes.fromhex(joined)) * 2 == len(joined))  # fromhex skips spaces
    except ValueError:
        fine = False
    if not fine:
        bad = next(o for o in oids if not _OID.match(o))
        raise ValueError(f"{bad[:80]!r} is not an object id")


# With every path between NULs (which no path may hold), these mark a bad one: a leading or
# trailing '/', an empty part, an empty path, a '.' or '..' part.
_BAD_PARTS = ("\0/", "/\0", "//", "\0\0") + tuple(
    f"{a}{dots}{b}" for dots in (".", "..") for a in "/\0" for b in "/\0")


def check_relpaths(paths: Iterable[str]) -> None:
    """:func:`check_relpath` for many paths at once (a manifest's): a few substring searches
    over them all, where a split per path cost a 20,000-file checkout 10 ms. A bad path raises
    :func:`check_relpath`'s error for it."""
    paths = list(paths)
    joined = "\0" + "\0".join(paths) + "\0"
    try:
        joined.encode("utf-8")  # a lone surrogate (from a JSON escape) is not a file name
        fine = joined.count("\0") == len(paths) + 1 and not any(b in joined for b in _BAD_PARTS)
    except UnicodeEncodeError:
        fine = False
    if not fine:
        for p in paths:
            check_relpath(p)


def check_relpath(path: str) -> str:
    """A manifest path: relative, '/'-separated, no '.', '..' or empty parts, valid UTF-8."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in path:
        raise InvalidInput(f"{path!r} is not a relative file path inside a dataset")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        try:  # a name read from disk: its bytes as they are there
            shown = path.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate from elsewhere (a crafted manifest)
            shown = path.encode("utf-8", "backslashreplace")
        raise InvalidInput(f"the file name {shown!r} is not valid UTF-8; rename it before adding "
                           "the folder") from None
    return path


def from_rows(rows: Iterable[tuple[str, str | None, int, bool, str | None]]) -> Manifest:
    """Build from (path, oid, size, executable, symlink) rows."""
    return Manifest({p: Entry(o, s, bool(x), ln) for p, o, s, x, ln in rows})
