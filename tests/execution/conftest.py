from __future__ import annotations

from pathlib import Path

import nbformat
import pytest


def write_notebook(path: Path, params: str | None, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if params is not None:
        cell = nbformat.v4.new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def make_notebook(tmp_path: Path):
    def make(name: str, params: str | None, *cells: str) -> Path:
        return write_notebook(tmp_path / name, params, *cells)

    return make
