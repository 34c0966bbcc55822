"""What a run records without being asked: code, git state, environment and hardware.

Every probe is best-effort and bounded in time: a missing ``git`` or ``nvidia-smi`` leaves a
field empty, never fails the user's training.
"""

from __future__ import annotations

import ast
import getpass
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

KEY_PACKAGES = (
    "jupyter-dlbench", "torch", "numpy", "pandas", "scikit-learn", "papermill", "ipykernel",
    "duckdb", "pyarrow", "tensorflow", "jax", "transformers", "lightning", "ray",
)


def _run(cmd: list[str], cwd: str | None = None, timeout: float = 5.0) -> str | None:
    try:
        done = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _installed_state() -> tuple[str, tuple[float, ...]]:
    """What the installed packages depend on: the interpreter and its package folders' mtimes
    (installing or removing a distribution changes its folder's mtime)."""
    mtimes = []
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            try:
                mtimes.append(os.stat(entry).st_mtime)
            except OSError:
                continue
    return sys.executable, tuple(mtimes)


_cached: dict[str, tuple[Any, Any]] = {}


def _cache(name: str, key: Any, compute: Any) -> Any:
    """Per-process memo of a capture that cannot change while ``key`` stays the same: a job
    runner serving many jobs, or a kernel reused across sweep trials, captures once."""
    hit = _cached.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = compute()
    _cached[name] = (key, value)
    return value


def environment() -> dict[str, Any]:
    return dict(_cache("environment", _installed_state(), _environment))


def _environment() -> dict[str, Any]:
    from importlib import metadata

    packages: dict[str, str] = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "packages": packages,
    }


def installed_packages() -> str:
    """``name==version`` lines of every installed distribution (a pip-freeze equivalent)."""
    return str(_cache("packages", _installed_state(), _installed_packages))


def _installed_packages() -> str:
    from importlib import metadata

    lines = sorted(
        {f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]},
        key=str.lower,
    )
    return "\n".join(lines) + "\n"


def gpus() -> list[dict[str, Any]]:
    """GPUs seen by ``nvidia-smi``, else by an already-imported torch; never imports torch."""
    found: list[dict[str, Any]] = []
    if shutil.which("nvidia-smi"):
        out = _run(
            ["nvidia-smi", "--query-gpu=index,name,memory.total,uuid,driver_version",
             "--format=csv,noheader,nounits"]
        )
        for line in (out or "").strip().splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 5:
                found.append({"index": int(parts[0]), "name": parts[1], "memory_mb": float(parts[2]),
                              "uuid": parts[3], "driver": parts[4], "source": "nvidia-smi"})
    if not found and "torch" in sys.modules:
        torch = sys.modules["torch"]
        try:
            if torch.cuda.is_available():
                for i in range(torch.cuda.device_count()):
                    props = torch.cuda.get_device_properties(i)
                    found.append({"index": i, "name": props.name,
                                  "memory_mb": props.total_memory / 2**20, "source": "torch"})
        except Exception:  # noqa: BLE001 - a broken CUDA setup must not break tracking
            pass
    return found


def hardware() -> dict[str, Any]:
    import psutil

    return {
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "cpu_model": platform.processor() or platform.machine(),
        "memory_bytes": psutil.virtual_memory().total,
        # the GPUs of a machine do not change under a running process; nvidia-smi costs ~0.1 s
        "gpus": [dict(g) for g in _cache("gpus", "torch" in sys.modules, gpus)],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


def username() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "unknown"


def git_state(path: Path) -> dict[str, Any]:
    """Commit, branch and the uncommitted diff of the repository holding ``path``, if any."""
    cwd = str(path if path.is_dir() else path.parent)
    top = _run(["git", "rev-parse", "--show-toplevel"], cwd=cwd)
    if not top:
        return {}
    commit = (_run(["git", "rev-parse", "HEAD"], cwd=cwd) or "").strip() or None
    branch = (_run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=cwd) or "").strip() or None
    status = _run(["git", "status", "--porcelain"], cwd=cwd) or ""
    diff = (_run(["git", "diff", "HEAD"], cwd=cwd) or "") if commit else ""
    return {"root": top.strip(), "commit": commit, "branch": branch,
            "dirty": bool(status.strip()), "diff": diff}


def _notebook_from_parent() -> str | None:
    """A papermill CLI run: the kernel's parent is ``papermill IN.ipynb OUT.ipynb …``."""
    try:
        import psutil

        parent = psutil.Process(os.getppid())
        cmd = parent.cmdline()
        cwd = parent.cwd()
    except Exception:  # noqa: BLE001
        return None
    if not any(Path(a).name.startswith("papermill") for a in cmd[:3]):
        return None
    for arg in cmd[1:]:
        if arg.endswith(".ipynb"):
            return str((Path(cwd) / arg).resolve())
    return None


def code_path() -> tuple[str | None, str]:
    """The notebook or script being run, and how we know (``kind``)."""
    explicit = os.environ.get("DLBENCH_NOTEBOOK_PATH")
    if explicit:
        return str(Path(explicit).resolve()), "notebook"
    session = os.environ.get("JPY_SESSION_NAME")
    if session and session.endswith(".ipynb") and Path(session).is_file():
        return str(Path(session).resolve()), "notebook"
    if "ipykernel" in sys.modules:
        from_parent = _notebook_from_parent()
        if from_parent:
            return from_parent, "notebook"
        return None, "notebook"
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    if script and Path(script).is_file():
        return str(Path(script).resolve()), "script"
    return None, "interactive"


def parameter_names(notebook: Path) -> list[str]:
    """Names assigned in the cell tagged ``parameters`` (papermill's convention)."""
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and "parameters" in tags:
            source = cell.get("source", "")
            return assigned_names("".join(source) if isinstance(source, list) else source)
    return []


def assigned_names(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        for t in targets:
            if isinstance(t, ast.Name) and t.id not in names:
                names.append(t.id)
    return names


def papermill_parameters(notebook: str | None) -> dict[str, tuple[Any, str]]:
    """Values of the notebook's parameters as the kernel holds them now.

    Names come from the notebook's ``parameters`` cell and from the ``# Parameters`` cell that
    papermill injects (found in the kernel's input history); values come from the user
    namespace, so injected overrides win over defaults. Returns ``{name: (value, source)}``.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    ip = get_ipython()
    if ip is None:
        return {}
    defaults = parameter_names(Path(notebook)) if notebook else []
    injected: list[str] = []
    for cell in ip.history_manager.input_hist_raw if ip.history_manager else []:
        if cell.lstrip().startswith("# Parameters"):
            injected.extend(assigned_names(cell))
    ns = ip.user_ns
    found: dict[str, tuple[Any, str]] = {}
    for name in defaults + injected:
        if name in ns and not callable(ns[name]):
            found[name] = (ns[name], "papermill" if name in injected else "notebook")
    return found
