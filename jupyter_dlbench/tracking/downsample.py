"""Cutting a long metric history down to what a chart can show, without hiding what matters.

A chart 500 pixels wide cannot show a million points, but averaging or striding would smooth
away exactly what a user looks for: a loss spike, a NaN, the moment training diverged. So the
history is cut into equal buckets by position and each bucket keeps its extremes (min and max;
a NaN or infinity in a bucket is kept in place of one of them), plus the first and last point.
Same idea as the min/max decimation of Plotly's resampler and Grafana's "M4" aggregation.
"""

from __future__ import annotations

import numpy as np

MIN_POINTS = 4


def extremes_indices(values: np.ndarray, points: int) -> np.ndarray:
    """Indices (sorted) of at most ``points`` entries of ``values`` that keep its shape.

    ``values`` is a 1-D float array in step order. With ``len(values) <= points`` every index
    is returned.
    """
    n = len(values)
    if points < MIN_POINTS:
        raise ValueError(f"points must be at least {MIN_POINTS}, got {points}")
    if n <= points:
        return np.arange(n)
    inner = values[1:-1]
    buckets = (points - 2) // 2
    edges = np.linspace(0, len(inner), buckets + 1).astype(np.int64)
    keep = [0, n - 1]
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        if stop <= start:
            continue
        seg = inner[start:stop]
        finite = np.isfinite(seg)
        if finite.all():
            picks = [int(np.argmin(seg)), int(np.argmax(seg))]
        else:
            # the first NaN or infinity, and the finite extreme on the other side of it
            bad = int(np.argmax(~finite))
            picks = [bad]
            if finite.any():
                masked = np.where(finite, seg, np.nan)
                other = np.nanargmin(masked) if seg[bad] == np.inf else np.nanargmax(masked)
                picks.append(int(other))
        keep += [start + 1 + i for i in picks]
    return np.unique(np.asarray(keep, dtype=np.int64))
