"""The labelling widget driven through its real ipywidgets models (no browser): clicks, the
shortcut box, progress, back/skip, and the labels table that commit hands over."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.widgets.labelling import (
    LABEL_COLUMNS,
    LabellingWidget,
    items_from_folder,
    items_from_rows,
    label,
)

XSS = "<img src=x onerror=alert(1)>"
T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


def png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8), value).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def digits(make_tree) -> Path:  # type: ignore[no-untyped-def]
    return make_tree("digits", {f"img/{n}.png": png(n * 20) for n in range(4)} | {
        "notes.txt": "one line of text\n", "train.csv": "a\n1\n"})


def widget(root: Path, commit=None, existing=None) -> LabellingWidget:  # type: ignore[no-untyped-def]
    return LabellingWidget(items_from_folder(root), ["zero", "one", "two"], commit=commit,
                           labelled_by="ada", existing=existing, clock=lambda: T0)


def test_clicking_a_class_labels_the_item_and_moves_on(digits: Path) -> None:
    ui = widget(digits)
    assert [i.key for i in ui.items] == ["img/0.png", "img/1.png", "img/2.png", "img/3.png",
                                         "notes.txt"]
    assert ui.index == 0 and ui.image.value == png(0) and ui.image.format == "png"
    assert [b.description for b in ui.buttons] == ["1 · zero", "2 · one", "3 · two"]
    assert ui.progress.value == 0 and ui.progress.max == 5
    assert ui.progress_label.value == "0 / 5 labelled"

    ui.buttons[0].click()
    assert ui.labels["img/0.png"] == ("zero", "ada", "2026-11-25T12:00:00+00:00")
    assert ui.index == 1 and ui.image.value == png(20)
    assert ui.progress.value == 1 and ui.progress_label.value == "1 / 5 labelled"
    assert "2 / 5" in ui.title.value and "img/1.png" in ui.title.value


def test_skip_and_back_move_without_labelling_and_show_the_current_label(digits: Path) -> None:
    ui = widget(digits)
    ui.buttons[1].click()                      # img/0 → one
    ui.skip_button.click()                     # img/1 left unlabelled
    assert ui.index == 2 and "img/1.png" not in ui.labels
    ui.back_button.click()
    ui.back_button.click()
    assert ui.index == 0
    assert "labelled <b>one</b>" in ui.title.value
    assert [b.button_style for b in ui.buttons] == ["", "success", ""]
    ui.back_button.click()
    assert ui.index == 0, "back on the first item stays there"
    assert ui.progress.value == 1


def test_digit_keys_in_the_shortcut_box_label_skip_and_go_back(digits: Path) -> None:
    ui = widget(digits)
    ui.shortcut.value = "3"
    assert ui.labels["img/0.png"][0] == "two" and ui.index == 1
    assert ui.shortcut.value == "", "the box clears itself for the next key"
    ui.shortcut.value = "s"
    assert ui.index == 2
    ui.shortcut.value = "b"
    assert ui.index == 1
    ui.shortcut.value = "7"
    assert ui.index == 1 and "only 3 classes" in ui.status.value
    ui.shortcut.value = "x"
    assert "does nothing" in ui.status.value and ui.index == 1


def test_text_items_are_shown_escaped(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("t", {f"{XSS}.txt": f"hello {XSS}"})
    ui = LabellingWidget(items_from_folder(root), ["a", "b"], labelled_by="x")
    assert ui.image.layout.display == "none"
    assert XSS not in ui.text.value and XSS not in ui.title.value
    assert "hello &lt;img src=x onerror=alert(1)&gt;" in ui.text.value


def test_rows_of_a_table_can_be_labelled_as_text(tmp_path: Path) -> None:
    rows = [{"id": "r1", "review": "great"}, {"id": "r2", "review": "awful"}]
    ui = LabellingWidget(items_from_rows(rows, key="id"), ["pos", "neg"], labelled_by="x",
                         clock=lambda: T0)
    assert "review: great" in ui.text.value
    ui.label("pos")
    ui.label("neg")
    assert ui.current is None and "all 2 items shown" in ui.title.value
    assert list(ui.labels_frame()["label"]) == ["pos", "neg"]
    with pytest.raises(InvalidInput, match="no column 'key'"):
        items_from_rows(rows, key="key")


def test_commit_hands_over_the_labels_table_and_shows_the_version(digits: Path) -> None:
    seen = []

    def commit(frame: pd.DataFrame) -> str:
        seen.append(frame)
        return "digits@v7"

    ui = widget(digits, commit=commit)
    ui.buttons[2].click()
    ui.skip_button.click()
    ui.buttons[0].click()
    ui.commit_button.click()
    assert len(seen) == 1
    frame = seen[0]
    assert list(frame.columns) == list(LABEL_COLUMNS)
    assert frame.to_dict("records") == [
        {"path": "img/0.png", "label": "two", "labelled_by": "ada",
         "labelled_at": "2026-11-25T12:00:00+00:00"},
        {"path": "img/2.png", "label": "zero", "labelled_by": "ada",
         "labelled_at": "2026-11-25T12:00:00+00:00"}]
    assert "digits@v7" in ui.status.value and ui.committed == "digits@v7"


def test_commit_with_nothing_labelled_says_so_in_the_widget(digits: Path) -> None:
    calls = []
    ui = widget(digits, commit=calls.append)
    ui.commit_button.click()
    assert calls == [] and "nothing is labelled yet" in ui.status.value
    with pytest.raises(InvalidInput, match="no commit function"):
        widget(digits).commit()


def test_existing_labels_are_kept_and_the_widget_starts_at_the_first_unlabelled(digits: Path) -> None:
    old = pd.DataFrame([("img/0.png", "zero", "bob", "2026-01-01T00:00:00+00:00"),
                        ("img/1.png", "one", "bob", "2026-01-01T00:00:00+00:00"),
                        ("gone.png", "two", "bob", "2026-01-01T00:00:00+00:00")],
                       columns=list(LABEL_COLUMNS))
    ui = widget(digits, existing=old)
    assert ui.index == 2 and ui.progress.value == 2
    ui.goto(1)
    ui.label("two")  # relabel
    frame = ui.labels_frame()
    assert list(frame["path"]) == ["img/0.png", "img/1.png", "gone.png"]
    assert list(frame["label"]) == ["zero", "two", "two"]
    assert list(frame["labelled_by"]) == ["bob", "ada", "bob"]


@pytest.mark.parametrize(("classes", "message"), [
    ([], "non-empty list"), ("cat", "non-empty list"), (["a", "a"], "unique"), (["a", " "], "non-empty"),
])
def test_bad_class_lists_are_refused(digits: Path, classes, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=message):
        LabellingWidget(items_from_folder(digits), classes)


def test_labelling_a_plain_folder_writes_labels_csv_there(digits: Path) -> None:
    ui = label(digits, ["zero", "one", "two"], labelled_by="ada")
    ui.label("one")
    path = ui.commit()
    assert path == digits / "labels.csv"
    written = pd.read_csv(path)
    assert written[["path", "label", "labelled_by"]].values.tolist() == [["img/0.png", "one", "ada"]]
    again = label(digits, ["zero", "one", "two"])
    assert again.index == 1 and again.labels["img/0.png"][0] == "one"
    assert "labels.csv" not in [i.key for i in again.items]


def test_committing_labels_of_a_version_makes_a_child_version(workspace, digits: Path) -> None:  # type: ignore[no-untyped-def]
    import jupyter_dlbench as dlb
    from jupyter_dlbench import data

    data.add(workspace, "digits", digits, message="raw", progress=False)
    ds = data.open_dataset(workspace, "digits", "v1")
    ui = label(ds, ["zero", "one", "two"], labelled_by="ada", workspace=workspace)
    ui.label("zero")
    ui.label("one")
    version = ui.commit()
    assert version.version == "v2" and version.parent == "v1"
    assert version.metadata == {"operation": "label", "labelled": 2,
                                "classes": {"one": 1, "zero": 1}}
    assert "digits@v2" in ui.status.value

    v2 = data.open_dataset(workspace, "digits", "v2")
    table = pd.read_csv(v2.path / "labels.csv")
    assert table[["path", "label"]].values.tolist() == [["img/0.png", "zero"], ["img/1.png", "one"]]
    assert sorted(set(v2.files) - set(ds.files)) == ["labels.csv"]
    assert v2.manifest.entries["img/0.png"] == ds.manifest.entries["img/0.png"]
    assert "labels.csv" not in data.open_dataset(workspace, "digits", "v1").files

    relabel = dlb.label(v2, ["zero", "one", "two"], labelled_by="bob")
    assert relabel.index == 2, "labels of the version are loaded"
