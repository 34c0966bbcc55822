"""Start JupyterLab for the Galata tests on a scratch copy of ``examples/``.

Playwright's ``webServer`` runs this (``jlpm start``). It never touches the checkout: the
notebooks are copied into a fresh temporary folder that becomes the server's root, and the
workspace (``DLBENCH_HOME``) lives in another one, so every test session starts empty and
nothing leaks into ``examples/.dlbench``. ``DLBENCH_GPUS=2`` gives the server's local
scheduler two logical GPUs on machines without one.

Before the server starts, one finished run is recorded through the public Python API, named
like an HTML injection, so the tests can check it is shown as text everywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
XSS_NAME = "<img src=x onerror=alert(1)>"

# A finished run with a loss curve that commits a two-file dataset version, all named
# like HTML, so the sidebar, run page and datasets section are checked for escaping.
SEED_RUN = """
import sys
from pathlib import Path
import jupyter_dlbench as dlb
data = Path(sys.argv[1])
data.mkdir()
(data / "a.txt").write_text("1\\n")
(data / "b.csv").write_text("x,y\\n1,2\\n")
run = dlb.init(project="ui-tests", name=sys.argv[2], params={"lr": 0.5, "note": "<b>bold</b>"})
for step in range(5):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
dlb.log_dataset("toy", str(data), message="<script>alert(2)</script> first cut")
run.finish()
"""


SCRATCH = Path(tempfile.gettempdir()) / "dlbench-ui-tests"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _scratch() -> Path:
    """A folder named after this process, which becomes the server (exec keeps the pid).

    Playwright stops the server with a kill that leaves no chance to clean up, so each
    start removes the folders of servers that are gone, and never those of a live one.
    """
    SCRATCH.mkdir(exist_ok=True)
    for old in SCRATCH.iterdir():
        if not (old.name.isdigit() and _alive(int(old.name))):
            shutil.rmtree(old, ignore_errors=True)
    folder = SCRATCH / str(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)  # left by a dead process that had our pid
    folder.mkdir()
    return folder


def main() -> None:
    scratch = _scratch()
    root = scratch / "root"
    home = scratch / "home" / ".dlbench"
    shutil.copytree(
        EXAMPLES, root,
        ignore=shutil.ignore_patterns(".dlbench", ".ipynb_checkpoints", "out*.ipynb"),
    )
    env = dict(os.environ, DLBENCH_HOME=str(home), DLBENCH_GPUS="2",
               JUPYTERLAB_GALATA_ROOT_DIR=str(root))
    # a fresh interpreter, so the seed run's process (and its journal flush) ends before
    # the server starts reading the workspace
    subprocess.run([sys.executable, "-c", SEED_RUN, str(scratch / "toy-data"), XSS_NAME],
                   cwd=root, env=env, check=True)
    print(f"dlbench ui-tests: root {root}, workspace {home}", flush=True)
    os.chdir(root)
    os.execvpe(
        sys.executable,
        [sys.executable, "-m", "jupyterlab", "--config", str(HERE / "jupyter_server_test_config.py")],
        env,
    )


if __name__ == "__main__":
    main()
