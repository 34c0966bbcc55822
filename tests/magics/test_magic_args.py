"""``%dlbench`` in a real in-process IPython shell: usage, user mistakes, dispatch.

A user mistake must print one line and return: no ``SystemExit`` into the kernel, no traceback.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.magics import commands
from jupyter_dlbench.magics.current import current_notebook
from jupyter_dlbench.magics.parsing import split_line
from jupyter_dlbench.sweeps import list_sweeps
from tests.magics.conftest import EXAMPLE, write_scored_notebook


def run(shell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    result = shell.run_cell(cell)
    out, err = capsys.readouterr()
    assert result.error_in_exec is None, f"{cell!r} raised {result.error_in_exec!r}"
    assert "Traceback" not in out + err
    return result.result, out, err


def test_help_lists_the_subcommands_and_returns(shell, capsys) -> None:
    result, out, _ = run(shell, "%dlbench --help", capsys)
    assert result is None
    assert out.startswith("usage: %dlbench")
    for command in ("sweep", "run", "runs", "sql", "data", "compare"):
        assert f"\n    {command} " in out
    assert "c.InteractiveShellApp.extensions = ['jupyter_dlbench']" in " ".join(out.split())


def test_an_empty_magic_shows_the_help(shell, capsys) -> None:
    _, out, _ = run(shell, "%dlbench", capsys)
    assert out.startswith("usage: %dlbench")


def test_sweep_help_shows_the_spec_grammar_and_every_option(shell, capsys) -> None:
    _, out, err = run(shell, "%dlbench sweep --help", capsys)
    assert out.startswith("usage: %dlbench sweep") and not err
    for option in ("--notebook", "--method", "--random", "--seed", "--concurrency", "--gpus",
                   "--executor", "--objective", "--early-stop", "--max-runs", "--name",
                   "--dry-run", "--wait"):
        assert option in out
    assert "key=low..high" in out


@pytest.mark.parametrize("command", ["sweep", "run", "runs", "sql", "compare"])
def test_every_subcommand_has_help(shell, capsys, command: str) -> None:
    _, out, err = run(shell, f"%dlbench {command} --help", capsys)
    assert out.startswith(f"usage: %dlbench {command}") and not err


def test_spec_tokens_may_come_before_and_after_options(shell, capsys) -> None:
    frame, _, err = run(shell, f"%dlbench sweep lr=0.1,0.2 --notebook {EXAMPLE} hidden=8 --dry-run", capsys)
    assert not err and frame.to_dict("records") == [{"lr": 0.1, "hidden": 8}, {"lr": 0.2, "hidden": 8}]
    # the cell form: one spec token per line of the cell
    cell, _, err = run(shell, f"%%dlbench sweep --notebook {EXAMPLE} --dry-run\nlr=0.1,0.2\nhidden=8\n", capsys)
    assert not err and cell.equals(frame)


BAD_LINES = [
    ("%dlbench bogus",
     "%dlbench: error: argument COMMAND: invalid choice: 'bogus' (choose from 'sweep', 'run', "
     "'runs', 'sql', 'data', 'compare') (see `%dlbench --help`)"),
    (f"%dlbench sweep lr=0.1,0.2 --notebook {EXAMPLE} --concurrency two",
     "%dlbench sweep: error: argument --concurrency: expected a whole number, got 'two' "
     "(see `%dlbench sweep --help`)"),
    (f"%dlbench sweep lr=0.1,0.2 --notebook {EXAMPLE} --concurrency 0",
     "%dlbench sweep: error: argument --concurrency: expected a number of at least 1, got 0 "
     "(see `%dlbench sweep --help`)"),
    (f"%dlbench sweep lr=0.1 --notebook {EXAMPLE} --gpus -1",
     "%dlbench sweep: error: argument --gpus: GPUs per run cannot be negative, got -1 "
     "(see `%dlbench sweep --help`)"),
    (f"%dlbench sweep lr=0.1 --notebook {EXAMPLE} --executor slurm",
     "%dlbench sweep: error: argument --executor: invalid choice: 'slurm' (choose from 'local', "
     "'ray') (see `%dlbench sweep --help`)"),
    (f"%dlbench sweep lr=0.1 --notebook {EXAMPLE} --frobnicate",
     "%dlbench sweep: error: unrecognized arguments: --frobnicate (see `%dlbench sweep --help`)"),
    ("%dlbench sweep lr=0.1 --notebook missing.ipynb --dry-run",
     "%dlbench sweep: error: notebook 'missing.ipynb' does not exist (relative paths start at {cwd})"),
    ("%dlbench sweep lr=0.1,0.2 --dry-run",
     "%dlbench sweep: error: cannot tell which notebook this kernel runs (no Jupyter session: "
     "JPY_SESSION_NAME is unset); name it: --notebook PATH"),
    ("%dlbench run",
     "%dlbench run: error: cannot tell which notebook this kernel runs (no Jupyter session: "
     "JPY_SESSION_NAME is unset); name it: %dlbench run PATH"),
    ("%dlbench sql",
     "%dlbench sql: error: no statement given: `%dlbench sql SELECT * FROM runs`, or a "
     "`%%dlbench sql` cell with the SELECT in its body"),
    ("%dlbench sql delete from runs", None),  # the catalog's own read-only message
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES, ids=[line for line, _ in BAD_LINES])
def test_a_mistake_prints_one_line_and_the_cell_goes_on(shell, capsys, tmp_path: Path,
                                                         line: str, message: str | None) -> None:
    result, out, err = run(shell, line + "\nafter = 'still running'", capsys)
    assert shell.user_ns["after"] == "still running"
    assert result is None and not out
    assert err.count("\n") == 1, err
    if message is None:
        assert err.startswith("%dlbench sql: error: ")
    else:
        assert err.strip() == message.format(cwd=tmp_path)


def test_a_bad_sweep_spec_names_the_offending_token(shell, capsys) -> None:
    _, out, err = run(shell, f"%dlbench sweep lr=0.1,0.2 hiden=16,32 --notebook {EXAMPLE} --dry-run",
                      capsys)
    assert err.startswith("%dlbench sweep: error: sweep spec 'hiden=16,32': ")
    assert "hidden" in err, "the close match is suggested"
    assert err.count("\n") == 1 and not out


def test_dry_run_returns_the_expanded_grid_and_queues_nothing(shell, capsys, workspace_dir) -> None:
    frame, _, err = run(shell, f"%dlbench sweep lr=0.01,0.05 hidden=16,32 --notebook {EXAMPLE} --dry-run",
                        capsys)
    assert not err
    assert list(frame.columns) == ["lr", "hidden"]
    assert frame.to_dict("records") == [{"lr": 0.01, "hidden": 16}, {"lr": 0.01, "hidden": 32},
                                        {"lr": 0.05, "hidden": 16}, {"lr": 0.05, "hidden": 32}]
    jobs = workspace_dir / "jobs"
    assert not jobs.exists() or not any(jobs.iterdir())


def test_a_seeded_random_dry_run_is_reproducible(shell, capsys) -> None:
    line = f"%dlbench sweep lr=1e-3..1e-1:log hidden=16,32,64 --random 5 --seed 1 --notebook {EXAMPLE} --dry-run"
    first, _, err = run(shell, line, capsys)
    second, _, _ = run(shell, line, capsys)
    assert not err and len(first) == 5
    assert first.equals(second)
    assert all(1e-3 <= lr <= 1e-1 for lr in first["lr"]) and set(first["hidden"]) <= {16, 32, 64}
    # values take the type of the notebook's defaults: epochs is an int, lr a float
    typed, _, _ = run(shell, f"%dlbench sweep lr=1,2 epochs=1..4 --random 3 --seed 0 --notebook {EXAMPLE} --dry-run",
                      capsys)
    assert all(isinstance(v, float) for v in typed["lr"]) and typed["epochs"].dtype.kind == "i"
    other, _, _ = run(shell, line.replace("--seed 1", "--seed 2"), capsys)
    assert not first.equals(other)


def test_a_sweep_without_wait_returns_at_once_and_finishes_in_the_background(
        shell, capsys, tmp_path, workspace) -> None:
    nb = write_scored_notebook(tmp_path / "scored.ipynb")
    t0 = time.monotonic()
    result, out, err = run(shell, f"%dlbench sweep x=1,3 --notebook {nb} --objective score:max --name bg",
                           capsys)
    assert time.monotonic() - t0 < 10 and result is None and not err
    assert "VBox(" in out, "the progress widget is displayed"
    (sweep,) = list_sweeps(workspace)
    sweep.wait(timeout=120, progress=False)
    assert sweep.status == "finished" and sweep.name == "bg"
    assert sweep.best["params"] == {"x": 3.0}


def test_the_current_notebook_comes_from_the_jupyter_session(shell, capsys, tmp_path, monkeypatch) -> None:
    nb = tmp_path / "sub" / "train.ipynb"
    nb.parent.mkdir()
    nb.write_bytes(EXAMPLE.read_bytes())
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    frame, _, err = run(shell, "%dlbench sweep lr=0.5,0.6 --dry-run", capsys)
    assert not err and list(frame["lr"]) == [0.5, 0.6]
    # a server-relative path resolves against the kernel's folder (the notebook's folder)
    assert current_notebook({}, {"JPY_SESSION_NAME": "sub/train.ipynb"}, cwd=nb.parent) == nb
    assert current_notebook({"__session__": "train.ipynb"}, {}, cwd=nb.parent) == nb


def test_inside_a_dlbench_job_a_sweep_does_not_start_another(shell, capsys, monkeypatch, workspace_dir) -> None:
    monkeypatch.setenv("DLBENCH_JOB_ID", "job-parent")
    result, out, err = run(shell, f"%dlbench sweep lr=0.01,0.05 --notebook {EXAMPLE}", capsys)
    assert result is None and not err
    assert "skipped inside dlbench job job-parent" in out
    assert not (workspace_dir / "jobs").exists() or not any((workspace_dir / "jobs").iterdir())


def test_sql_line_and_cell_forms_return_dataframes(shell, capsys) -> None:
    frame, _, err = run(shell, "%dlbench sql select 41 + 1 as answer, 'a b' as s", capsys)
    assert not err and frame.to_dict("records") == [{"answer": 42, "s": "a b"}]
    frame, _, err = run(shell, "%%dlbench sql\nselect count(*) as n\nfrom runs;\n", capsys)
    assert not err and frame.to_dict("records") == [{"n": 0}]


def test_runs_returns_the_runs_frame(shell, capsys, two_runs) -> None:
    frame, _, err = run(shell, '%dlbench runs --project p1 --where "params.lr > 0.2"', capsys)
    assert not err
    assert list(frame["project"]) == ["p1"] and list(frame["params.lr"]) == [0.5]
    frame, _, _ = run(shell, "%dlbench runs", capsys)
    assert sorted(frame["project"]) == ["p1", "p2"]


def test_cli_subcommands_run_in_a_fresh_interpreter_and_missing_ones_say_so(
        shell, capsys, workspace_dir, two_runs) -> None:
    commands.cmd_cli("runs", ["ls", "--json"], str(workspace_dir))
    out, _ = capsys.readouterr()
    assert sorted(r["project"] for r in json.loads(out)) == ["p1", "p2"]
    commands.cmd_cli("no_such_command", ["ls"], None)
    out, _ = capsys.readouterr()
    assert out == "%dlbench no_such_command: not available yet in this version of jupyter-dlbench\n"


def test_compare_shows_the_comparison_widget_for_the_runs_named(shell, capsys, two_runs) -> None:
    frame, _, _ = run(shell, "%dlbench runs", capsys)
    ids = dict(zip(frame["project"], frame["run_id"], strict=True))
    widget, _, err = run(shell, f"%dlbench compare {ids['p1']} {ids['p2']}", capsys)
    assert not err and sorted(widget.frame["run_id"]) == sorted(ids.values())
    widget, _, err = run(shell, "%dlbench compare --project p2 --objective x:min", capsys)
    assert not err and list(widget.frame["run_id"]) == [ids["p2"]] and widget.objective == ("x", "min")
    _, _, err = run(shell, "%dlbench compare no-such-run", capsys)
    assert err.startswith("%dlbench compare: error: no run matches 'no-such-run'") and err.count("\n") == 1


def test_data_commands_go_through_the_dlbench_cli(shell, capsys, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    _, out, err = run(shell, f'%dlbench data add toys {folder} -m "first cut" -q', capsys)
    assert not err, err
    _, out, err = run(shell, "%dlbench data ls --json", capsys)
    assert not err and [d["name"] for d in json.loads(out)] == ["toys"]
    _, out, err = run(shell, "%dlbench data versions nope", capsys)
    assert not out and err.startswith("%dlbench data: error: ") and err.count("\n") == 1


def test_run_wait_runs_the_notebook_as_a_job_and_returns_its_run(shell, capsys, make_notebook) -> None:
    nb = make_notebook("tiny.ipynb", "x = 1", "import jupyter_dlbench as dlb\nrun = dlb.init()\n"
                       "run.log({'double': 2.0 * x})\nrun.finish()")
    run_id, out, err = run(shell, f"%dlbench run {nb} -p x 21 --name tiny --wait", capsys)
    assert not err and out.startswith("job job-") and f"finished (run {run_id})" in out
    info = dlb.run_info(run_id)
    assert info["status"] == "finished" and info["params"]["x"] == 21
    assert info["metrics"]["double"]["last"] == 42.0


def test_run_without_wait_returns_at_once_and_the_job_runs_in_the_background(
        shell, capsys, make_notebook, workspace) -> None:
    nb = make_notebook("tiny.ipynb", "x = 1", "import jupyter_dlbench as dlb\nrun = dlb.init()\nrun.finish()")
    t0 = time.monotonic()
    result, out, err = run(shell, f"%dlbench run {nb} -p x 3", capsys)
    assert time.monotonic() - t0 < 5, "queued, not run, by the magic itself"
    assert result is None and not err and out.startswith("job job-") and "queued" in out
    store = JobStore(workspace)
    (state,) = store.all()
    deadline = time.monotonic() + 120
    while not state.terminal and time.monotonic() < deadline:
        time.sleep(0.3)
        state = store.load(state.job_id)
    assert state.status == "finished" and state.spec.params["x"] == 3


def test_quotes_stay_in_spec_tokens_and_never_fail_to_split() -> None:
    assert split_line('opt="adam w",sgd  lr=1e-3,1e-4 ') == ['opt="adam w",sgd', "lr=1e-3,1e-4"]
    assert split_line("name='a") == ["name='a"], "an unbalanced quote is left for the spec parser"
    assert split_line("") == []


def test_unload_removes_the_magic(shell) -> None:
    shell.run_line_magic("unload_ext", "jupyter_dlbench")
    assert "dlbench" not in shell.magics_manager.magics["line"]
    shell.run_line_magic("load_ext", "jupyter_dlbench")
    assert "dlbench" in shell.magics_manager.magics["cell"]
