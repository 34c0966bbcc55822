"""The append-only run journal: the truth the catalog is rebuilt from.

Layout: a magic line, then records ``<u32 length><u32 crc32><u8 kind><payload>``. The CRC covers
the kind byte and the payload, so a torn or flipped tail is detected and dropped, never misread.
Metric batches are columnar binary (one key table, then step/value/time arrays) so that a flush
of 100,000 points costs a few milliseconds; every other event is a JSON object.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"DLBJ1\n"
HEADER = struct.Struct("<IIB")
KIND_EVENT = 1
KIND_METRICS = 2
MAX_RECORD = 1 << 30


def _record(kind: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(bytes((kind,))))
    return HEADER.pack(len(payload), crc, kind) + payload


def encode_event(event: dict[str, Any]) -> bytes:
    return _record(KIND_EVENT, json.dumps(event, default=str, allow_nan=True).encode())


def encode_metrics(
    keys: list[str], key_idx: np.ndarray, steps: np.ndarray, values: np.ndarray, ts: np.ndarray
) -> bytes:
    head = json.dumps({"keys": keys, "n": int(len(steps))}).encode()
    payload = b"".join(
        (
            struct.pack("<I", len(head)),
            head,
            np.ascontiguousarray(key_idx, dtype="<i4").tobytes(),
            np.ascontiguousarray(steps, dtype="<i8").tobytes(),
            np.ascontiguousarray(values, dtype="<f8").tobytes(),
            np.ascontiguousarray(ts, dtype="<f8").tobytes(),
        )
    )
    return _record(KIND_METRICS, payload)


@dataclass
class MetricBatch:
    keys: list[str]
    key_idx: np.ndarray
    steps: np.ndarray
    values: np.ndarray
    ts: np.ndarray


def decode_metrics(payload: bytes) -> MetricBatch:
    (hlen,) = struct.unpack_from("<I", payload, 0)
    head = json.loads(payload[4 : 4 + hlen])
    n = head["n"]
    pos = 4 + hlen
    key_idx = np.frombuffer(payload, "<i4", n, pos)
    pos += 4 * n
    steps = np.frombuffer(payload, "<i8", n, pos)
    pos += 8 * n
    values = np.frombuffer(payload, "<f8", n, pos)
    pos += 8 * n
    ts = np.frombuffer(payload, "<f8", n, pos)
    return MetricBatch(head["keys"], key_idx, steps, values, ts)


@dataclass
class JournalChunk:
    """What one read found: complete records from ``start`` up to ``end``."""

    events: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[MetricBatch] = field(default_factory=list)
    start: int = 0
    end: int = 0
    records: int = 0
    trailing_bytes: int = 0  # bytes after ``end`` that do not (yet) form a valid record
    problem: str | None = None  # why reading stopped early, when it did


def read_journal(path: Path, offset: int = 0) -> JournalChunk:
    """Read every complete, intact record after ``offset``.

    A live writer may be mid-append, so an incomplete tail is left for the next read; the
    caller decides, once the writer is gone, that such bytes are a torn tail to report.
    """
    with open(path, "rb") as f:
        if offset == 0:
            magic = f.read(len(MAGIC))
            if magic != MAGIC:
                if len(magic) < len(MAGIC) and MAGIC.startswith(magic):
                    return JournalChunk(start=0, end=0, trailing_bytes=len(magic))
                return JournalChunk(problem="not a dlbench journal (bad header)", trailing_bytes=len(magic))
            offset = len(MAGIC)
        f.seek(offset)
        data = f.read()
    chunk = JournalChunk(start=offset, end=offset)
    pos = 0
    size = len(data)
    while pos + HEADER.size <= size:
        length, crc, kind = HEADER.unpack_from(data, pos)
        if length > MAX_RECORD:
            chunk.problem = f"record at byte {offset + pos} claims {length} bytes"
            break
        body_start = pos + HEADER.size
        if body_start + length > size:
            break  # incomplete: the writer may still be appending
        payload = data[body_start : body_start + length]
        if zlib.crc32(payload, zlib.crc32(bytes((kind,)))) != crc:
            chunk.problem = f"checksum mismatch in the record at byte {offset + pos}"
            break
        if kind == KIND_EVENT:
            chunk.events.append(json.loads(payload))
        elif kind == KIND_METRICS:
            chunk.metrics.append(decode_metrics(payload))
        else:
            chunk.problem = f"unknown record kind {kind} at byte {offset + pos}"
            break
        chunk.records += 1
        pos = body_start + length
    chunk.end = offset + pos
    chunk.trailing_bytes = size - pos
    return chunk


class JournalWriter:
    """Appends whole records with one ``write`` each flush; ``sync`` makes them durable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if os.fstat(self._fd).st_size == 0:
            os.write(self._fd, MAGIC)

    def append(self, records: list[bytes]) -> None:
        if records:
            data = b"".join(records)
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def pack_metric_buffer(
    entries: list[tuple[tuple[str, ...], int, float, tuple[float, ...]]],
) -> bytes:
    """Turn buffered ``(keys, step, ts, values)`` log calls into one columnar record.

    Consecutive calls with the same keys (the common case: the same dict every step) are
    converted with one numpy call, keeping the flush thread's hold on the GIL short.
    """
    key_table: dict[str, int] = {}
    idx_parts: list[np.ndarray] = []
    step_parts: list[np.ndarray] = []
    value_parts: list[np.ndarray] = []
    ts_parts: list[np.ndarray] = []
    i = 0
    n = len(entries)
    while i < n:
        keys = entries[i][0]
        j = i + 1
        while j < n and entries[j][0] == keys:
            j += 1
        group = entries[i:j]
        width = len(keys)
        ids = np.array([key_table.setdefault(k, len(key_table)) for k in keys], dtype="<i4")
        count = j - i
        steps = np.fromiter([e[1] for e in group], dtype="<i8", count=count)
        ts = np.fromiter([e[2] for e in group], dtype="<f8", count=count)
        vals = np.fromiter(chain.from_iterable([e[3] for e in group]), dtype="<f8", count=count * width)
        idx_parts.append(np.tile(ids, count))
        step_parts.append(np.repeat(steps, width))
        ts_parts.append(np.repeat(ts, width))
        value_parts.append(vals)
        i = j
    return encode_metrics(
        list(key_table),
        np.concatenate(idx_parts),
        np.concatenate(step_parts),
        np.concatenate(value_parts),
        np.concatenate(ts_parts),
    )


__all__ = [
    "JournalChunk",
    "JournalWriter",
    "MetricBatch",
    "encode_event",
    "pack_metric_buffer",
    "read_journal",
]
