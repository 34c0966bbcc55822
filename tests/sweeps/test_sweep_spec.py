"""The sweep spec grammar: typed values, exact one-line errors, expansion, reproducible sampling."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.execution.notebooks import parse_parameters
from jupyter_dlbench.sweeps import parse_spec, spec_from_dict, split_line
from jupyter_dlbench.sweeps.spec import SweepSpec

PARAMS = parse_parameters("lr = 0.01\nbatch = 32\nname = 'base'\nuse_bn = True\nlayers = [64]\nseed = None")

BAD_SPECS = [
    (["lr"], {}, "sweep spec 'lr': expected NAME=VALUES (e.g. lr=1e-3,1e-4) or NAME=LOW..HIGH[:log|:int]"),
    (["lr="], {}, "sweep spec 'lr=': no values after '='"),
    (["lr=1e-3,"], {}, "sweep spec 'lr=1e-3,': empty value after the last comma"),
    (["lr=,1e-3"], {}, "sweep spec 'lr=,1e-3': empty value before the first comma"),
    (["lr=1,,2"], {}, "sweep spec 'lr=1,,2': empty value between two commas"),
    (['name="a b'], {}, "sweep spec 'name=\"a b': unbalanced \" quote"),
    (["name='a,b"], {}, "sweep spec \"name='a,b\": unbalanced ' quote"),
    (['name="a"b'], {}, "sweep spec 'name=\"a\"b': unexpected 'b' after a quoted value; separate values with commas"),
    (["name=it's"], {}, "sweep spec \"name=it's\": a quote inside a value (at \"it'\"); put the whole value in quotes instead"),
    (["lr=1e-3", "lr=1e-4"], {}, "sweep spec 'lr=1e-4': lr is given twice (also in 'lr=1e-3')"),
    (["lr=1e-2..1e-4"], {"random_n": 4}, "sweep spec 'lr=1e-2..1e-4': low must be below high (got 1e-2 >= 1e-4)"),
    (["lr=1..1"], {"random_n": 4}, "sweep spec 'lr=1..1': low must be below high (got 1 >= 1)"),
    (["lr=0..1:log"], {"random_n": 4}, "sweep spec 'lr=0..1:log': a :log range needs positive bounds (got 0)"),
    (["lr=-1..1:log"], {"random_n": 4}, "sweep spec 'lr=-1..1:log': a :log range needs positive bounds (got -1)"),
    (["lr=1..2:sqrt"], {"random_n": 4}, "sweep spec 'lr=1..2:sqrt': unknown range scale 'sqrt'; use :log, :int or :uniform"),
    (["lr=1..x"], {"random_n": 4}, "sweep spec 'lr=1..x': range bounds must be numbers, got 'x'"),
    (["n=1.5..4:int"], {"random_n": 4}, "sweep spec 'n=1.5..4:int': an :int range needs whole-number bounds"),
    (["lr=1..2,3"], {"random_n": 4}, "sweep spec 'lr=1..2,3': a range cannot be part of a list; give either a,b,c or low..high"),
    (["1lr=3"], {}, "sweep spec '1lr=3': '1lr' is not a parameter name (letters, digits and _, not starting with a digit)"),
    (["lr=1e-4..1e-2:log"], {}, "sweep spec 'lr=1e-4..1e-2:log': a range cannot be gridded; use --random N or --method tpe (or list the values: name=a,b,c)"),
    ([], {}, "a sweep needs at least one NAME=VALUES, e.g. lr=1e-3,1e-4"),
    (["a=" + ",".join(map(str, range(40))), "b=" + ",".join(map(str, range(30)))], {},
     "the grid a=0,1,…"),  # checked by prefix below
    (["lr=1,2"], {"method": "bayes"}, "unknown search method 'bayes'; use grid, random or tpe"),
    (["lr=1..2"], {"method": "tpe"}, "--method tpe needs --max-runs N (or --random N): how many trials to run"),
    (["lr=1,2"], {"method": "random"}, "--method random needs --random N: how many trials to run"),
    (["lr=1,2"], {"random_n": 0}, "--random must be a positive whole number of runs, got 0"),
    (["lr=1,2"], {"max_runs": -3}, "--max-runs must be a positive whole number of runs, got -3"),
    (["lr=1,2"], {"method": "grid", "random_n": 3}, "--random N samples at random; it cannot be combined with --method grid"),
]


@pytest.mark.parametrize(("tokens", "options", "message"), BAD_SPECS,
                         ids=[" ".join(t)[:40] or "empty" for t, _, _ in BAD_SPECS])
def test_bad_spec_is_refused_with_a_message_naming_the_token(tokens, options, message) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_spec(tokens, **options)
    if message.startswith("the grid"):
        assert err.value.message.startswith("the grid a=0,1,2")
        assert "has 1,200 runs; more than 1,000 needs --max-runs N (or sample with --random N)" in err.value.message
    else:
        assert err.value.message == message
    assert "\n" not in err.value.message


def test_big_grid_runs_with_max_runs_and_keeps_grid_order() -> None:
    spec = parse_spec(["a=" + ",".join(map(str, range(40))), "b=" + ",".join(map(str, range(30)))],
                      max_runs=5)
    assert spec.n_runs == 5
    assert spec.expand() == [{"a": 0, "b": b} for b in range(5)]


BAD_FOR_NOTEBOOK = [
    ("lrr=0.1", "sweep spec 'lrr=0.1': unknown parameter 'lrr' (did you mean 'lr'?); the parameters "
     "cell of train.ipynb defines: lr, batch, name, use_bn, layers, seed"),
    ("batch=32,6.5", "sweep spec 'batch=32,6.5': batch=6.5: expected an int like the default 32"),
    ("lr=0.1,fast", "sweep spec 'lr=0.1,fast': lr=fast: expected a float like the default 0.01"),
    ("use_bn=true,maybe", "sweep spec 'use_bn=true,maybe': use_bn=maybe: expected true or false (also yes/no, 1/0) like the default True"),
    ("name=1..3", "sweep spec 'name=1..3': name is a str parameter (default 'base'); a range needs a number parameter, list the values instead (name=a,b)"),
    ("batch=16..64.5", "sweep spec 'batch=16..64.5': batch is an int parameter (default 32); a range over it needs whole-number bounds"),
    ("layers=5", "sweep spec 'layers=5': layers=5: expected a list like the default [64]"),
]


@pytest.mark.parametrize(("token", "message"), BAD_FOR_NOTEBOOK)
def test_spec_that_does_not_fit_the_parameters_cell_is_refused(token: str, message: str) -> None:
    spec = parse_spec([token], random_n=2)
    with pytest.raises(InvalidInput) as err:
        spec.validate_against(PARAMS, notebook="train.ipynb")
    assert err.value.message == message


def test_notebook_without_parameters_cell_is_refused() -> None:
    with pytest.raises(InvalidInput, match="has no parameters cell"):
        parse_spec(["lr=1"]).validate_against(None, notebook="bare.ipynb")


def test_values_are_typed_then_coerced_to_the_defaults_types() -> None:
    spec = parse_spec(['lr=1,1e-3', "batch=32,64", 'name=007,"a b","c,d"', "use_bn=true,no",
                       'layers="[64, 32]","[8]"', "seed=1,none"])
    assert [d.choices for d in spec.dims] == [(1, 0.001), (32, 64), (7, "a b", "c,d"), (True, "no"),
                                              ("[64, 32]", "[8]"), (1, "none")]
    typed = spec.validate_against(PARAMS)
    assert [d.choices for d in typed.dims] == [(1.0, 0.001), (32, 64), ("007", "a b", "c,d"),
                                               (True, False), ([64, 32], [8]), (1, "none")]
    assert isinstance(typed.dims[0].choices[0], float)


def test_range_over_an_int_parameter_samples_ints() -> None:
    spec = parse_spec(["batch=16..64", "lr=1e-4..1e-1:log"], random_n=20, seed=0).validate_against(PARAMS)
    trials = spec.expand()
    assert all(isinstance(t["batch"], int) and 16 <= t["batch"] <= 64 for t in trials)
    assert all(1e-4 <= t["lr"] <= 1e-1 for t in trials)
    # a log range puts about as many samples in each decade
    decades = {math.floor(math.log10(t["lr"])) for t in trials}
    assert decades == {-4, -3, -2}


def test_grid_expands_every_combination_in_order() -> None:
    spec = parse_spec(["lr=1e-3,1e-4", "batch=32,64", "opt=adam"])
    assert spec.method == "grid" and spec.n_runs == 4
    assert spec.expand() == [
        {"lr": 1e-3, "batch": 32, "opt": "adam"}, {"lr": 1e-3, "batch": 64, "opt": "adam"},
        {"lr": 1e-4, "batch": 32, "opt": "adam"}, {"lr": 1e-4, "batch": 64, "opt": "adam"},
    ]


def test_seeded_random_search_is_reproducible_and_seed_matters() -> None:
    line = "lr=1e-5..1e-1:log dropout=0..0.5 layers=1..4:int opt=adam,sgd"
    first = parse_spec(line, random_n=5, seed=1).expand()
    again = parse_spec(line, random_n=5, seed=1).expand()
    other = parse_spec(line, random_n=5, seed=2).expand()
    assert first == again and first != other
    assert len(first) == 5 and len({t["lr"] for t in first}) == 5
    assert parse_spec(line, random_n=5, seed=1).method == "random"


def test_random_with_max_runs_runs_the_smaller_number() -> None:
    assert parse_spec(["a=1..2"], random_n=10, max_runs=3).n_runs == 3


def test_tpe_preview_is_the_seeded_startup_trials() -> None:
    spec = parse_spec(["x=0..1", "opt=a,b"], method="tpe", max_runs=12, seed=5)
    preview = spec.expand()
    assert preview == parse_spec(["x=0..1", "opt=a,b"], method="tpe", max_runs=12, seed=5).expand()
    assert len(preview) == 3 and all(0 <= t["x"] <= 1 and t["opt"] in ("a", "b") for t in preview)


def test_tpe_handles_list_valued_choices() -> None:
    spec = parse_spec(['layers="[64, 32]","[8]"', "x=0..1"], method="tpe", max_runs=8, seed=1)
    spec = spec.validate_against(parse_parameters("layers = [16]\nx = 0.5"))
    assert {tuple(t["layers"]) for t in spec.expand()} <= {(64, 32), (8,)}


def test_python_dict_form_takes_lists_range_strings_and_tuples() -> None:
    spec = spec_from_dict({"lr": (1e-4, 1e-2, "log"), "wd": "0..0.1", "batch": [32, 64], "opt": "adam"},
                          random_n=3, seed=0)
    kinds = {d.name: (d.is_range, d.log) for d in spec.dims}
    assert kinds == {"lr": (True, True), "wd": (True, False), "batch": (False, False), "opt": (False, False)}
    assert all(t["opt"] == "adam" for t in spec.expand())
    with pytest.raises(InvalidInput, match="empty list of values"):
        spec_from_dict({"lr": []})
    with pytest.raises(InvalidInput, match="low must be below high"):
        spec_from_dict({"lr": (1.0, 0.5)}, random_n=2)


def test_spec_round_trips_through_json() -> None:
    spec = parse_spec(["lr=1e-4..1e-2:log", "b=1,2"], random_n=4, seed=9).validate_against(
        parse_parameters("lr = 0.1\nb = 1"))
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert SweepSpec.from_dict(spec.to_dict()).expand() == spec.expand()


def test_split_line_keeps_quotes_so_commas_inside_them_survive() -> None:
    assert split_line('name="a b","c,d"  lr=1,2') == ['name="a b","c,d"', "lr=1,2"]
    assert parse_spec('name="a b","c,d" lr=1,2').dims[0].choices == ("a b", "c,d")
    with pytest.raises(InvalidInput, match="unbalanced"):
        split_line('name="a b')


TOKEN_CHARS = "ab_=.,:'\"\\ -+e019lognt"


@settings(max_examples=400, deadline=None)
@given(tokens=st.one_of(st.text(TOKEN_CHARS, max_size=30),
                        st.lists(st.text(TOKEN_CHARS, max_size=20), max_size=4),
                        st.lists(st.text(max_size=12), max_size=3)),
       method=st.sampled_from([None, "grid", "random", "tpe", "x"]),
       random_n=st.one_of(st.none(), st.integers(-2, 30)),
       max_runs=st.one_of(st.none(), st.integers(-2, 30)),
       seed=st.one_of(st.none(), st.integers(0, 2**31)))
def test_fuzzed_specs_only_ever_raise_invalid_input(tokens, method, random_n, max_runs, seed) -> None:
    try:
        spec = parse_spec(tokens, method=method, random_n=random_n, seed=seed, max_runs=max_runs)
    except InvalidInput as e:
        assert e.message and "\n" not in e.message
        return
    assert spec.n_runs >= 1
    if spec.method != "tpe" and spec.n_runs <= 50:
        trials = spec.expand()
        assert len(trials) == spec.n_runs
        assert all(set(t) == set(spec.names) for t in trials)
