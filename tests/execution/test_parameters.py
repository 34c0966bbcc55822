"""A notebook's parameters cell is read without running it, and bad values fail before a job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.execution.notebooks import (
    Parameter,
    coerce_parameters,
    parse_cli_params,
    read_parameters,
)

CELL = """\
lr = 1e-3  # learning rate
epochs = 64
dropout: float = 0.1  # annotated
name = "run#1"  # a '#' in a string is not the comment
use_amp = False
layers = [64, 32]
opt = {"momentum": 0.9}
seed = None
data_dir = os.environ["DATA"]
"""


@pytest.fixture
def declared(make_notebook) -> list[Parameter]:
    found = read_parameters(make_notebook("train.ipynb", CELL, "print(lr)"))
    assert found is not None
    return found


def test_defaults_are_typed_and_keep_their_source(declared: list[Parameter]) -> None:
    by_name = {p.name: p for p in declared}
    assert [p.name for p in declared] == [
        "lr",
        "epochs",
        "dropout",
        "name",
        "use_amp",
        "layers",
        "opt",
        "seed",
        "data_dir",
    ]
    assert by_name["lr"] == Parameter("lr", "float", 1e-3, "1e-3", "learning rate")
    assert by_name["epochs"] == Parameter("epochs", "int", 64, "64", None)
    assert by_name["use_amp"].type_name == "bool"
    assert by_name["layers"].default == [64, 32] and by_name["layers"].type_name == "list"
    assert by_name["opt"].type_name == "dict"
    assert by_name["seed"].type_name == "none"


def test_annotated_assignment_is_a_parameter(declared: list[Parameter]) -> None:
    assert Parameter("dropout", "float", 0.1, "0.1", "annotated") in declared


def test_trailing_comment_is_captured_but_not_a_hash_inside_a_string(
    declared: list[Parameter],
) -> None:
    name = next(p for p in declared if p.name == "name")
    assert name.default == "run#1"
    assert name.comment == "a '#' in a string is not the comment"


def test_default_that_is_not_a_literal_keeps_its_source(declared: list[Parameter]) -> None:
    assert Parameter("data_dir", "other", None, 'os.environ["DATA"]', None) in declared


def test_ipython_magics_in_the_cell_are_ignored(make_notebook) -> None:
    nb = make_notebook("magic.ipynb", "%matplotlib inline\nbatch = 8\n")
    assert read_parameters(nb) == [Parameter("batch", "int", 8, "8", None)]


def test_notebook_without_parameters_cell_reads_as_none(make_notebook) -> None:
    assert read_parameters(make_notebook("bare.ipynb", None, "x = 1")) is None


def test_only_the_first_tagged_code_cell_counts(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    md = nbformat.v4.new_markdown_cell("lr = 5")
    md.metadata["tags"] = ["parameters"]
    first, second = nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_code_cell("b = 2")
    first.metadata["tags"] = second.metadata["tags"] = ["parameters"]
    nb.cells = [md, first, second]
    nbformat.write(nb, tmp_path / "two.ipynb")
    assert [p.name for p in read_parameters(tmp_path / "two.ipynb") or []] == ["a"]


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("missing.ipynb", None, "does not exist"),
        ("script.py", "x = 1", "is not a notebook (expected a .ipynb file)"),
        ("broken.ipynb", "{not json", "is not a notebook: invalid JSON"),
        ("list.ipynb", "[1, 2]", "is valid JSON but not a notebook (no list of cells)"),
        ("old.ipynb", json.dumps({"worksheets": [], "nbformat": 3}), "old nbformat 3 notebook"),
    ],
)
def test_unreadable_notebooks_say_why(
    tmp_path: Path, name: str, content: str | None, fragment: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InvalidInput) as info:
        read_parameters(path)
    assert fragment in info.value.message


def test_syntax_error_in_parameters_cell_names_the_line(make_notebook) -> None:
    nb = make_notebook("syntax.ipynb", "lr = 0.1\nepochs = = 3\n")
    with pytest.raises(InvalidInput) as info:
        read_parameters(nb)
    assert (
        "parameters cell" in info.value.message and "syntax error on line 2" in info.value.message
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"lr": "1e-3"}, {"lr": 0.001}),
        ({"lr": "3"}, {"lr": 3.0}),
        ({"lr": 3}, {"lr": 3.0}),
        ({"epochs": "3"}, {"epochs": 3}),
        ({"epochs": 3.0}, {"epochs": 3}),
        ({"use_amp": "TRUE"}, {"use_amp": True}),
        ({"use_amp": "no"}, {"use_amp": False}),
        ({"use_amp": "1"}, {"use_amp": True}),
        ({"use_amp": True}, {"use_amp": True}),
        ({"name": "abc"}, {"name": "abc"}),
        ({"name": "3"}, {"name": "3"}),
        ({"name": 3}, {"name": "3"}),
        ({"layers": "[1, 2]"}, {"layers": [1, 2]}),
        ({"layers": "(1, 2)"}, {"layers": [1, 2]}),
        ({"layers": "1, 2"}, {"layers": [1, 2]}),
        ({"layers": [8]}, {"layers": [8]}),
        ({"opt": '{"nesterov": true, "wd": null}'}, {"opt": {"nesterov": True, "wd": None}}),
        ({"opt": "{'wd': 0.1}"}, {"opt": {"wd": 0.1}}),
        ({"seed": "7"}, {"seed": 7}),
        ({"seed": "abc"}, {"seed": "abc"}),
        ({"data_dir": "/tmp/x"}, {"data_dir": "/tmp/x"}),
    ],
)
def test_values_are_coerced_to_the_default_type(
    declared: list[Parameter], given: dict[str, Any], expected: dict[str, Any]
) -> None:
    out = coerce_parameters(given, declared)
    assert out == expected
    assert [type(v) for v in out.values()] == [type(v) for v in expected.values()]


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ({"epochs": "3.5"}, "epochs=3.5: expected an int like the default 64"),
        ({"epochs": 3.5}, "epochs=3.5: expected an int like the default 64"),
        ({"epochs": True}, "epochs=True: expected an int like the default 64"),
        ({"epochs": ""}, "epochs: empty value; expected an int like the default 64"),
        ({"lr": ""}, "lr: empty value; expected a float like the default 1e-3"),
        ({"lr": "fast"}, "lr=fast: expected a float like the default 1e-3"),
        ({"use_amp": "maybe"}, "use_amp=maybe: expected true or false"),
        ({"use_amp": 2}, "use_amp=2: expected true or false"),
        ({"name": None}, "name=None: expected a string"),
        (
            {"layers": "64 32"},
            "layers=64 32: expected a list (JSON or a Python literal) like the default [64, 32]",
        ),
        ({"layers": "{}"}, "layers={}: expected a list"),
        ({"opt": "[1]"}, "opt=[1]: expected a dict"),
        ({"opt": "nope"}, "opt=nope: expected a dict (JSON or a Python literal)"),
        ({"lrr": "0.1"}, "unknown parameter 'lrr' (did you mean 'lr'?)"),
        ({"zzz": "1"}, "defines: lr, epochs, dropout, name, use_amp, layers, opt, seed, data_dir"),
    ],
)
def test_bad_values_and_names_fail_with_what_was_expected(
    declared: list[Parameter], given: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        coerce_parameters(given, declared, notebook="train.ipynb")
    assert fragment in info.value.message


def test_without_parameters_cell_the_error_says_how_to_add_one() -> None:
    with pytest.raises(InvalidInput) as info:
        coerce_parameters({"lr": "0.1"}, None, notebook="bare.ipynb")
    message = info.value.message
    assert "bare.ipynb has no parameters cell" in message
    assert "Common Tools → Cell Tags" in message and "--no-parameters-cell" in message


def test_without_parameters_cell_values_can_be_passed_anyway() -> None:
    out = coerce_parameters(
        {"lr": "0.1", "tag": "abc", "layers": "[1]", "n": 5}, None, allow_no_cell=True
    )
    assert out == {"lr": 0.1, "tag": "abc", "layers": [1], "n": 5}


def test_empty_parameters_cell_accepts_no_names(make_notebook) -> None:
    declared = read_parameters(make_notebook("empty.ipynb", "# nothing here\n"))
    assert declared == []
    with pytest.raises(InvalidInput, match="defines no parameters"):
        coerce_parameters({"lr": "1"}, declared)


def test_cli_pairs_become_a_dict_of_strings() -> None:
    assert parse_cli_params([("lr", "1e-3"), ["epochs", "3"]]) == {"lr": "1e-3", "epochs": "3"}
    assert parse_cli_params(None) == {}


@pytest.mark.parametrize(
    ("pairs", "fragment"),
    [
        ([("lr", "1"), ("lr", "2")], "parameter 'lr' is given twice (-p lr '1' and -p lr '2')"),
        ([("learning-rate", "1")], "-p 'learning-rate': parameter names are Python identifiers"),
    ],
)
def test_bad_cli_pairs_are_refused(pairs: list[tuple[str, str]], fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_cli_params(pairs)
    assert fragment in info.value.message
