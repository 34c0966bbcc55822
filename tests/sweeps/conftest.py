"""Sweeps run real notebooks: the same notebook factory as the execution tests."""

from tests.execution.conftest import make_notebook, write_notebook

__all__ = ["make_notebook", "write_notebook"]
