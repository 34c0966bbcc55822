"""GET /dlbench/api/notebook-parameters: what the Run-on-GPU dialog pre-fills."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server_escapes import ESCAPES

URL = "/dlbench/api/notebook-parameters"


async def test_the_parameters_cell_with_types_defaults_and_comments(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook(
        "nbs/train.ipynb",
        "%matplotlib inline\nlr = 1e-3  # learning rate\nepochs: int = 5\nname = 'base'\n"
        "layers = [64, 32]\nuse_amp = True\nextra = None\ndata = os.environ['DATA']",
        "print(lr)",
    )
    status, body = await api.get(URL, params={"path": rel})
    assert status == 200 and body["path"] == rel and body["has_parameters_cell"] is True
    assert body["parameters"] == [
        {"name": "lr", "type": "float", "default": 0.001, "source": "1e-3",
         "help": "learning rate"},
        {"name": "epochs", "type": "int", "default": 5, "source": "5"},
        {"name": "name", "type": "str", "default": "base", "source": "'base'"},
        {"name": "layers", "type": "list", "default": [64, 32], "source": "[64, 32]"},
        {"name": "use_amp", "type": "bool", "default": True, "source": "True"},
        {"name": "extra", "type": "none", "default": None, "source": "None"},
        {"name": "data", "type": "other", "default": None, "source": "os.environ['DATA']"},
    ]


async def test_a_notebook_without_parameters_cell_says_so(api: Any, make_notebook: Any) -> None:
    rel = make_notebook("plain.ipynb", None, "x = 1")
    status, body = await api.get(URL, params={"path": rel})
    assert status == 200
    assert body == {"path": rel, "has_parameters_cell": False, "parameters": []}


async def test_a_broken_parameters_cell_is_a_400_with_the_line(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook("broken.ipynb", "lr = 0.1\nepochs = (", "x = 1")
    status, body = await api.get(URL, params={"path": rel})
    assert status == 400 and "syntax error on line 2" in body["message"]


async def test_missing_not_a_notebook_and_no_path(api: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "data.txt").write_text("x")
    status, body = await api.get(URL, params={"path": "missing.ipynb"})
    assert status == 404 and body["code"] == "notebook_not_found"
    status, body = await api.get(URL, params={"path": "data.txt"})
    assert status == 400 and "not a .ipynb file" in body["message"]
    status, body = await api.get(URL)
    assert status == 400 and "empty" in body["message"]


async def test_paths_outside_the_root_are_refused(api: Any, escape_links: Path) -> None:
    for path in ESCAPES:  # one server for all forms: each case is one request
        status, body = await api.get(URL, params={"path": path})
        assert (status, body["code"], body.get("field")) == (
            400, "path_not_allowed", "path"), (path, body)


async def test_an_absolute_path_is_refused_even_inside_the_root(
    api: Any, make_notebook: Any, jp_root_dir: Path
) -> None:
    rel = make_notebook("inside.ipynb", "x = 1")
    status, body = await api.get(URL, params={"path": str(jp_root_dir / rel)})
    assert status == 400 and body["code"] == "path_not_allowed"
