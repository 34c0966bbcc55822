"""Library settings: explicit argument > ``DLBENCH_*`` environment variable > default."""

from __future__ import annotations

import os

from .errors import InvalidInput

HOME_ENV = "DLBENCH_HOME"
WORKSPACE_DIRNAME = ".dlbench"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise InvalidInput(f"{name}={raw!r} must be a positive number of seconds")
    return value


def flush_interval() -> float:
    """Seconds between journal flushes of a run; DESIGN.md caps the loss window at 100 ms."""
    return min(_env_float("DLBENCH_FLUSH_INTERVAL", 0.1), 0.1)


def system_metrics_interval() -> float:
    """Seconds between samples of CPU, memory and GPU use."""
    return _env_float("DLBENCH_SYSTEM_INTERVAL", 10.0)


def heartbeat_interval() -> float:
    return _env_float("DLBENCH_HEARTBEAT_INTERVAL", 5.0)


def stale_heartbeat_after() -> float:
    """A run on another host with no heartbeat for this long is considered crashed."""
    return _env_float("DLBENCH_STALE_AFTER", 120.0)


def catalog_lock_timeout() -> float:
    return _env_float("DLBENCH_LOCK_TIMEOUT", 120.0)


def capture_enabled(what: str) -> bool:
    """``DLBENCH_CAPTURE_<WHAT>=0`` turns off one kind of automatic capture."""
    return os.environ.get(f"DLBENCH_CAPTURE_{what.upper()}", "1") not in ("0", "false", "no")


RAY_ALLOWED_ENV = "DLBENCH_RAY_ALLOWED_ADDRESSES"
# loopback only: `auto` finds a cluster started on this machine, `local` starts one here
LOOPBACK_RAY_ADDRESSES = ("127.0.0.1", "localhost", "::1", "auto", "local")


def ray_allowed_addresses() -> tuple[str, ...]:
    """The Ray clusters jobs may be sent to: ``DLBENCH_RAY_ALLOWED_ADDRESSES``, comma-separated
    entries ``HOST`` (any port), ``HOST:PORT``, ``ray://HOST:PORT``, ``auto``, ``local`` or
    ``*`` (any cluster); default loopback only.

    A Ray job ships the notebook, its parameters and dataset bytes to the cluster and runs code
    there, and anyone who can submit a job (a REST client included) names the address. So the
    owner of the process that submits and runs jobs decides where they may go; it is not a
    JupyterLab user setting, which the browser could change.
    """
    raw = os.environ.get(RAY_ALLOWED_ENV)
    if raw is None or not raw.strip():
        return LOOPBACK_RAY_ADDRESSES
    return tuple(e.strip() for e in raw.split(",") if e.strip())


def ray_lost_after() -> float:
    """Seconds a Ray cluster's head may refuse connections before its running jobs fail as
    "lost the Ray cluster"; Ray ends a driver that lost its head for 60 s, so keep it below."""
    return min(_env_float("DLBENCH_RAY_LOST_AFTER", 10.0), 50.0)
