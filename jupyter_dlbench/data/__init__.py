"""Datasets: immutable, content-addressed versions of folders, with lineage to runs.

``versions`` commits and resolves versions, ``snapshot`` hashes folders into manifests,
``checkout`` materialises them, ``maintenance`` verifies and garbage-collects. This package
imports only ``store``, ``settings`` and ``errors``; recording a version as a run's input or
output is done one layer up (``jupyter_dlbench.api``) through the run's journal.
"""

from __future__ import annotations

from .checkout import CheckoutStats, checkout
from .dataset import Dataset, checkout_ref, checkout_version, diff_versions, open_dataset
from .maintenance import GcReport, VerifyReport, gc, used_by, verify
from .manifest import Entry, Manifest
from .snapshot import SnapshotStats
from .versions import (
    AddResult,
    DatasetVersion,
    add,
    commit,
    list_datasets,
    list_versions,
    parse_ref,
    resolve,
)

__all__ = [
    "AddResult", "CheckoutStats", "Dataset", "DatasetVersion", "Entry", "GcReport", "Manifest",
    "SnapshotStats", "VerifyReport", "add", "checkout", "checkout_ref", "checkout_version", "commit", "diff_versions",
    "gc", "list_datasets", "list_versions", "open_dataset", "parse_ref", "resolve", "used_by", "verify",
]
