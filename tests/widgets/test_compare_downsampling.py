"""Curves are downsampled inside DuckDB to at most N points, keeping every curve's true min and max."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.store import CatalogSession, Workspace
from jupyter_dlbench.tracking.query import metric_curves


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogSession]:
    ws = Workspace.find_at(tmp_path_factory.mktemp("ds") / ".dlbench")
    with ws.catalog.session(write=True) as s:
        s.execute("INSERT INTO run_rows (run_id, started_at, closed) VALUES ('a', 100.0, true), ('b', 100.0, true)")
        yield s


def put(session: CatalogSession, run_id: str, values: list[float]) -> None:
    session.execute("DELETE FROM metric_rows WHERE run_id = ?", [run_id])
    n = len(values)
    session.insert_arrow("metric_rows", pa.table({
        "run_id": [run_id] * n, "key": ["loss"] * n, "step": list(range(n)),
        "value": pa.array(values, pa.float64()), "ts": [100.0 + i for i in range(n)]}),
        ["run_id", "key", "step", "value", "ts"])


finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.lists(finite, min_size=1, max_size=2000), b=st.lists(finite, min_size=1, max_size=300),
       max_points=st.integers(min_value=2, max_value=400))
def test_downsampled_curves_keep_true_min_and_max_within_the_point_budget(session, a, b, max_points) -> None:
    put(session, "a", a)
    put(session, "b", b)
    frame = metric_curves(session, ["a", "b"], "loss", max_points=max_points)
    for run_id, values in (("a", a), ("b", b)):
        got = frame[frame["run_id"] == run_id]
        assert len(got) <= max_points
        assert got["value"].min() == min(values) and got["value"].max() == max(values)
        steps = list(got["step"])
        assert steps == sorted(set(steps)), "points stay in step order, none twice"
        assert all(values[s] == v for s, v in zip(steps, got["value"], strict=True)), "real points only"
        if len(values) <= max_points:
            assert steps == list(range(len(values))), "short curves are returned whole"


def test_a_spike_survives_downsampling_of_a_long_curve(session) -> None:
    values = [math.sin(i / 500) for i in range(100_000)]
    values[77_777] = 50.0
    put(session, "a", values)
    got = metric_curves(session, ["a"], "loss")
    assert len(got) <= 2000 and got["value"].max() == 50.0
    assert (got["wall_s"] == got["step"]).all(), "wall time counts from the run's start (1 s a step here)"


def test_nan_points_do_not_hide_the_maximum(session) -> None:
    put(session, "a", [1.0, float("nan"), 5.0, 2.0] * 500)
    got = metric_curves(session, ["a"], "loss", max_points=10)
    assert got["value"].max() == 5.0 and got["value"].min() == 1.0


def test_bad_point_budget_is_refused(session) -> None:
    with pytest.raises(InvalidInput, match="max_points must be an integer of at least 2, got 1"):
        metric_curves(session, ["a"], "loss", max_points=1)
