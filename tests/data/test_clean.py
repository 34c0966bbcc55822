"""Cleansing writes a new folder without exactly the defects ``check`` reported, and records
what it removed; the source is never touched."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from jupyter_dlbench.data.checks import check
from jupyter_dlbench.data.clean import clean
from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.store.objects import hash_file


def png_bytes(color: tuple[int, int, int], size: int = 16) -> bytes:
    im = Image.new("RGB", (size, size), color)
    for i in range(size):
        im.putpixel((i, i), (255 - color[0], 0, 0))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 10, 200)).save(buf, "JPEG")
    return buf.getvalue()


# rows (1-based): 2 has a non-number price, 4 a null city, 6 repeats 1, 7 repeats 3
TABLE = """id,price,city,label
1,1.5,paris,cat
2,oops,rome,dog
3,3.5,oslo,cat
4,4.5,,dog
5,5.5,lima,cat
1,1.5,paris,cat
3,3.5,oslo,cat
8,8.5,kyiv,dog
9,9.5,bern,cat
10,10.5,nice,dog
11,11.5,riga,cat
"""


def snapshot_of(root: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(root).as_posix(): (hash_file(p).oid, p.stat().st_mode)
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text().splitlines()))


@pytest.fixture
def messy(make_tree) -> Path:  # type: ignore[no-untyped-def]
    red = png_bytes((200, 10, 10))
    return make_tree("messy", {
        "train.csv": TABLE,
        "images/red.png": red,
        "images/z_red_copy.png": red,
        "images/blue.png": png_bytes((10, 10, 200)),
        "images/truncated.png": png_bytes((1, 2, 3), 64)[:-40],
        "images/photo.png": jpeg_bytes(),
        "images/empty.png": b"",
        "README.txt": "digits\n",
    })


def test_clean_removes_exactly_what_check_reported(messy: Path, tmp_path: Path) -> None:
    report = check(messy)
    before = snapshot_of(messy)
    result = clean(messy, tmp_path / "out")

    # files: the reported zero-byte, corrupt and duplicate files are gone, nothing else
    assert result.removed_files == [
        {"path": "images/empty.png", "reason": "zero_byte_file"},
        {"path": "images/truncated.png", "reason": "corrupt_image"},
        {"path": "images/z_red_copy.png", "reason": "duplicate_content"},
    ]
    assert report.issues_of("zero_byte_file")[0].examples == ("images/empty.png",)
    assert [i.file for i in report.issues_of("corrupt_image")] == ["images/truncated.png"]
    assert [(i.file, i.examples) for i in report.issues_of("duplicate_content")] == [
        ("images/red.png", ("images/z_red_copy.png",))], "the first path is kept, copies listed"
    out = tmp_path / "out"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "README.txt", "images/blue.png", "images/photo.png", "images/red.png", "train.csv"]
    assert (out / "images/photo.png").read_bytes() == jpeg_bytes(), \
        "a mis-named but decodable image is reported, not dropped"

    # rows: each reason's count equals the count check reported for it
    reported = {i.kind: i.count for i in report.issues if i.file == "train.csv"}
    assert reported["type_mismatch"] == result.rows_removed("train.csv", "type_mismatch") == 1
    assert reported["null_rows"] == result.rows_removed("train.csv", "null_rows") == 1
    assert reported["duplicate_rows"] == result.rows_removed("train.csv", "duplicate_rows") == 2
    assert [(r.reason, r.rows) for r in result.removed_rows] == [
        ("type_mismatch", (2,)), ("null_rows", (4,)), ("duplicate_rows", (6, 7))]
    assert read_csv(out / "train.csv") == [
        ["id", "price", "city", "label"], ["1", "1.5", "paris", "cat"], ["3", "3.5", "oslo", "cat"],
        ["5", "5.5", "lima", "cat"], ["8", "8.5", "kyiv", "dog"], ["9", "9.5", "bern", "cat"],
        ["10", "10.5", "nice", "dog"], ["11", "11.5", "riga", "cat"]]
    assert result.rows_before == {"train.csv": 11} and result.rows_after == {"train.csv": 7}

    assert snapshot_of(messy) == before, "the source folder is untouched"
    after = check(out)
    assert after.ok and {i.kind for i in after.issues} == {"extension_mismatch"}


def test_the_record_says_what_was_removed_and_why(messy: Path, tmp_path: Path) -> None:
    result = clean(messy, tmp_path / "out", parent="v3")
    assert result.message == (
        "clean: removed 3 files (1 zero_byte_file, 1 corrupt_image, 1 duplicate_content) and "
        "4 rows (train.csv: 1 type_mismatch, 1 null_rows, 2 duplicate_rows)")
    meta = json.loads(json.dumps(result.to_dict()))
    assert meta["parent"] == "v3" and meta["operation"] == "clean"
    assert meta["files_before"] == 8 and meta["files_after"] == 5
    assert meta["removed_rows"][2] == {"file": "train.csv", "reason": "duplicate_rows",
                                       "count": 2, "rows": [6, 7], "rows_listed": 2}


def test_only_the_chosen_kinds_are_dropped(messy: Path, tmp_path: Path) -> None:
    result = clean(messy, tmp_path / "out", drop=["duplicates"])
    assert result.removed_files == [{"path": "images/z_red_copy.png",
                                     "reason": "duplicate_content"}]
    assert [(r.reason, r.count) for r in result.removed_rows] == [("duplicate_rows", 2)]
    out = tmp_path / "out"
    assert (out / "images/empty.png").exists() and (out / "images/truncated.png").exists()
    assert len(read_csv(out / "train.csv")) == 1 + 9


def test_an_unchanged_table_keeps_its_exact_bytes(make_tree, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = "a;b\n1;x\n2;y\n"
    root = make_tree("fine", {"t.csv": text})
    result = clean(root, tmp_path / "out")
    assert not result.changed and result.message == "clean: nothing to remove"
    assert (tmp_path / "out" / "t.csv").read_text() == text


def test_parquet_and_json_lines_are_cleaned_in_their_own_format(make_tree, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("fmt", {})
    pq.write_table(pa.table({"x": [1, 2, 2, None, 5], "y": [0.5, 1.5, 1.5, 2.5, 3.5]}),
                   root / "p.parquet")
    rows = [{"n": 1, "s": "a"}, {"n": "bad", "s": "b"}] + [{"n": i, "s": "c"} for i in range(2, 11)]
    (root / "e.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = clean(root, tmp_path / "out")
    out = tmp_path / "out"
    cleaned = pq.read_table(out / "p.parquet")
    assert cleaned.to_pydict() == {"x": [1, 2, 5], "y": [0.5, 1.5, 3.5]}
    assert cleaned.schema.field("x").type == pa.int64()
    lines = [json.loads(x) for x in (out / "e.jsonl").read_text().splitlines()]
    assert [r["n"] for r in lines] == [1, *range(2, 11)]
    assert result.rows_removed("e.jsonl", "type_mismatch") == 1
    assert result.rows_removed("p.parquet") == 2


def test_ragged_csv_lines_go_with_corrupt_and_are_never_dropped_silently(make_tree, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = "a,b\n1,2\n3\n1,2\n5,6\n"
    root = make_tree("rag", {"r.csv": text})
    result = clean(root, tmp_path / "out", drop=["corrupt"])
    assert [(r.reason, r.count, r.rows) for r in result.removed_rows] == [("malformed_rows", 1, (3,))]
    assert read_csv(tmp_path / "out" / "r.csv") == [["a", "b"], ["1", "2"], ["1", "2"], ["5", "6"]]

    kept = clean(root, tmp_path / "kept", drop=["null_rows"])
    assert not kept.changed and (tmp_path / "kept" / "r.csv").read_text() == text, \
        "nothing to rewrite: the unparsable line stays"
    deduped = clean(root, tmp_path / "dedup", drop=["duplicates"])
    assert sorted((r.reason, r.count) for r in deduped.removed_rows) == [
        ("duplicate_rows", 1), ("malformed_rows", 1)], "a rewrite loses the bad line: recorded"
    assert deduped.rows_before == {"r.csv": 4} and deduped.rows_after == {"r.csv": 2}


def test_a_user_column_named_rowid_keeps_its_values_and_the_file_order(make_tree, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("rid", {"t.csv": "rowid,v\n30,a\n10,b\n30,a\n20,c\n"})
    assert check(root).issues_of("duplicate_rows")[0].examples == ("row 3 repeats row 1",)
    clean(root, tmp_path / "out")
    assert read_csv(tmp_path / "out" / "t.csv") == [["rowid", "v"], ["30", "a"], ["10", "b"],
                                                    ["20", "c"]]


def test_an_unreadable_table_is_dropped_as_corrupt(make_tree, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("bad", {"data.parquet": b"not parquet", "ok.csv": "a\n1\n"})
    result = clean(root, tmp_path / "out")
    assert result.removed_files == [{"path": "data.parquet", "reason": "unreadable_table"}]
    assert not (tmp_path / "out" / "data.parquet").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"drop": ["dupes"]}, r"cannot drop \['dupes'\]: choose from \['duplicates', 'corrupt', 'null_rows'\]"),
    ({"out_dir": "inside"}, "must be outside the dataset folder"),
    ({"out_dir": "full"}, "already exists and is not an empty folder"),
])
def test_bad_clean_arguments_are_refused_before_writing(make_tree, tmp_path: Path, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("src", {"a.csv": "x\n1\n1\n"})
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    targets = {"inside": root / "cleaned", "full": tmp_path / "full"}
    args = {"out_dir": tmp_path / "out", **kwargs}
    args["out_dir"] = targets.get(args["out_dir"], args["out_dir"])
    with pytest.raises(InvalidInput, match=message):
        clean(root, **args)
    assert not (tmp_path / "out").exists() and not (root / "cleaned").exists()
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["keep.txt"]


def test_cleaning_a_version_commits_a_child_version_with_the_record(workspace, messy: Path) -> None:  # type: ignore[no-untyped-def]
    from jupyter_dlbench import data
    from jupyter_dlbench.data.clean import clean_version

    v1 = data.add(workspace, "messy", messy, message="raw", progress=False).version
    data.add(workspace, "messy", messy / "images", message="later", progress=False)
    ds = data.open_dataset(workspace, "messy", "v1")
    version, result = clean_version(workspace, ds)

    assert version.version == "v3" and version.parent == v1.version
    assert version.message == result.message
    assert version.metadata["removed_files"] == result.to_dict()["removed_files"]
    cleaned = data.open_dataset(workspace, "messy", "v3")
    assert sorted(cleaned.files) == ["README.txt", "images/blue.png", "images/photo.png",
                                     "images/red.png", "train.csv"]
    assert cleaned.manifest.entries["images/red.png"].oid == ds.manifest.entries["images/red.png"].oid
    assert sorted(data.open_dataset(workspace, "messy", "v1").files) == sorted(ds.files), \
        "the old version keeps every file"


def quality_cli(argv: list[str]) -> int:
    """``dlbench ...`` as the console script runs it (errors: one line, exit 2)."""
    from jupyter_dlbench.cli import main

    return main(argv)


def test_cli_check_and_clean_a_version(workspace, messy: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from jupyter_dlbench import data

    data.add(workspace, "messy", messy, progress=False)
    assert quality_cli(["data", "check", "messy@v1", "--json"]) == 1, "errors found: exit 1"
    doc = json.loads(capsys.readouterr().out)
    assert {i["kind"] for i in doc["issues"]} >= {"corrupt_image", "zero_byte_file", "type_mismatch"}

    assert quality_cli(["data", "clean", "messy@v1", "--drop", "corrupt,duplicates"]) == 0
    out = capsys.readouterr().out
    assert "messy@v2 (parent messy@v1): clean: removed 3 files" in out
    assert "images/truncated.png" in out and "corrupt_image" in out

    assert quality_cli(["data", "check", "messy@v2", "--label", "label"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok:") and "'cat': 5" in out
    assert quality_cli(["data", "check", str(messy)]) == 1, "a folder on disk can be checked too"
    capsys.readouterr()

    assert quality_cli(["data", "clean", "messy@v2", "--drop", "corrupt"]) == 0
    assert "nothing to remove; no new version" in capsys.readouterr().out
    assert quality_cli(["data", "clean", "messy", "--drop", "bogus"]) == 2
    assert "cannot drop ['bogus']" in capsys.readouterr().err


def test_a_dataset_checks_and_cleans_itself_into_a_child_version(workspace_dir: Path, tmp_path: Path) -> None:
    import jupyter_dlbench as dlb
    from jupyter_dlbench import data
    from jupyter_dlbench.store import Workspace

    src = tmp_path / "rows"
    src.mkdir()
    (src / "t.csv").write_text("a,b\n1,x\n1,x\n2,y\n")
    data.add(Workspace.find(), "rows", src, message="raw", progress=False)
    ds = dlb.dataset("rows", "v1")
    report = ds.check()
    assert report.issues_of("duplicate_rows"), report.to_dict()
    version, _ = ds.clean(drop=["duplicates"])
    cleaned = dlb.dataset("rows", version.version)
    assert (cleaned.name, cleaned.version, cleaned.info.parent) == ("rows", "v2", "v1")
    assert (cleaned.path / "t.csv").read_text().count("\n") == 3  # header + two distinct rows
    assert not cleaned.check().issues_of("duplicate_rows")
    assert (ds.path / "t.csv").read_text().count("\n") == 4, "the old version is untouched"
