"""Fixtures for dataset tests: real folders of real files under tmp_path."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def write_tree(root: Path, files: dict[str, bytes | str], age_s: float = 60.0) -> Path:
    """Create ``files`` (relative path → content) under ``root``, with mtimes ``age_s`` in the past.

    Old mtimes matter: the stat cache ignores files modified in the last second (they could
    change again within the same timestamp tick), so fresh files would always be re-hashed.
    """
    root.mkdir(parents=True, exist_ok=True)
    past = time.time() - age_s
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        os.utime(p, (past, past))
    return root


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, files: dict[str, bytes | str], age_s: float = 60.0) -> Path:
        return write_tree(tmp_path / name, files, age_s)

    return make


@pytest.fixture(name="write_tree")
def write_tree_fixture() -> Callable[..., Path]:
    return write_tree
