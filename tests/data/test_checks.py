"""Quality checks on real files with known defects: the report names exactly those defects."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from jupyter_dlbench.data.checks import QualityReport, check
from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.store.objects import hash_file

XSS = "<img src=x onerror=alert(1)>"


def png_bytes(color: tuple[int, int, int] = (200, 10, 10), size: int = 16) -> bytes:
    im = Image.new("RGB", (size, size), color)
    for i in range(size):
        im.putpixel((i, i), (0, 255, 0))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 10, 200)).save(buf, "JPEG")
    return buf.getvalue()


def defect_csv() -> str:
    """20 data rows: price has 2 non-numbers, city 3 nulls, source is constant, rows 19-20
    repeat rows 1-2, labels are 12 cat / 8 dog."""
    rows = ["id,price,city,source,label"]
    for i in range(1, 19):
        price = {5: "oops", 9: "twelve"}.get(i, f"{i}.5")
        city = "" if i in (3, 7, 11) else f"city{i % 4}"
        label = "cat" if i % 3 else "dog"
        rows.append(f"{i},{price},{city},web,{label}")
    rows += [rows[1], rows[2]]
    return "\n".join(rows) + "\n"


def findings(report: QualityReport) -> set[tuple]:
    return {(i.severity, i.kind, i.file, i.column, i.count) for i in report.issues}


def image_folder(make_tree) -> Path:  # type: ignore[no-untyped-def]
    good = png_bytes()
    return make_tree("images", {
        "good.png": good,
        "copies/good_again.png": good,
        "truncated.png": png_bytes((1, 2, 3), 64)[:-40],
        "photo.png": jpeg_bytes(),
        "empty.png": b"",
        "notes.txt": "a plain note\n",
    })


def test_a_csv_with_known_defects_reports_exactly_those(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("tab", {"train.csv": defect_csv()})
    report = check(root, label_column="label")

    assert findings(report) == {
        ("error", "type_mismatch", "train.csv", "price", 2),
        ("warning", "null_values", "train.csv", "city", 3),
        ("warning", "constant_column", "train.csv", "source", 20),
        ("warning", "duplicate_rows", "train.csv", None, 2),
        ("info", "null_rows", "train.csv", None, 3),
    }
    assert not report.ok, "values failing their column's type are errors"
    mismatch = report.issues_of("type_mismatch")[0]
    assert mismatch.examples == ("oops", "twelve")
    assert report.issues_of("duplicate_rows")[0].examples == ("row 19 repeats row 1",
                                                             "row 20 repeats row 2")
    assert report.issues_of("null_values")[0].examples == ("row 3", "row 7", "row 11")

    table = report.table("train.csv")
    assert table.rows == 20 and table.duplicate_rows == 2
    assert {c.name: c.inferred_type for c in table.columns} == {
        "id": "BIGINT", "price": "DOUBLE", "city": "VARCHAR", "source": "VARCHAR", "label": "VARCHAR"}
    assert {c.name: c.null_rate for c in table.columns}["city"] == pytest.approx(3 / 20)
    assert table.label_column == "label"
    assert table.label_counts == {"cat": 14, "dog": 6}


def test_parquet_and_json_lines_are_profiled_with_their_own_types(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("mixed", {})
    pq.write_table(pa.table({"x": [1, 2, 2, None], "y": [0.5, 1.5, 1.5, 2.5], "k": ["a"] * 4}),
                   root / "part.parquet")
    lines = [json.dumps({"n": i, "tag": "t" if i % 2 else "u"}) for i in range(10)]
    lines.append(json.dumps({"n": "eleven", "tag": "t"}))
    (root / "events.jsonl").write_text("\n".join(lines) + "\n")

    report = check(root)
    assert findings(report) == {
        ("warning", "null_values", "part.parquet", "x", 1),
        ("warning", "constant_column", "part.parquet", "k", 4),
        ("warning", "duplicate_rows", "part.parquet", None, 1),
        ("info", "null_rows", "part.parquet", None, 1),
        ("error", "type_mismatch", "events.jsonl", "n", 1),
    }
    assert report.issues_of("type_mismatch")[0].examples == ("eleven",)
    part = report.table("part.parquet")
    assert [(c.name, c.type) for c in part.columns] == [("x", "BIGINT"), ("y", "DOUBLE"),
                                                        ("k", "VARCHAR")]
    assert report.table("events.jsonl").rows == 11


def test_a_clean_table_is_ok_and_has_no_findings(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("clean", {"a.csv": "x,y\n1,a\n2,b\n3,c\n"})
    report = check(root)
    assert report.ok and report.issues == ()
    assert report.table("a.csv").rows == 3


def test_a_file_duckdb_cannot_read_is_an_error_not_a_crash(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("bad", {"data.parquet": b"PAR1 this is not parquet at all PAR1"})
    report = check(root)
    assert [(i.kind, i.file) for i in report.issues] == [("unreadable_table", "data.parquet")]
    assert not report.ok


def test_ragged_csv_lines_are_reported_and_the_rest_still_profiled(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("rag", {"r.csv": "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n"})
    report = check(root)
    assert findings(report) == {("error", "malformed_rows", "r.csv", None, 2)}
    assert report.issues[0].examples == ("line 3: Expected Number of Columns: 3 Found: 2",
                                         "line 4: Expected Number of Columns: 3 Found: 4")
    table = report.table("r.csv")
    assert table.rows == 2 and [c.inferred_type for c in table.columns] == ["BIGINT"] * 3


def test_image_folder_defects_are_each_found(make_tree) -> None:  # type: ignore[no-untyped-def]
    report = check(image_folder(make_tree))
    assert findings(report) == {
        ("error", "zero_byte_file", None, None, 1),
        ("error", "corrupt_image", "truncated.png", None, 1),
        ("warning", "extension_mismatch", "photo.png", None, 1),
        ("warning", "duplicate_content", "copies/good_again.png", None, 1),
    }
    assert report.issues_of("zero_byte_file")[0].examples == ("empty.png",)
    assert report.issues_of("extension_mismatch")[0].examples == ("jpeg",)
    assert report.issues_of("duplicate_content")[0].examples == ("good.png",)
    assert report.files == 6 and not report.ok


def test_a_manifest_limits_the_check_to_the_version_s_files(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = image_folder(make_tree)
    manifest = {p: {"oid": hash_file(root / p).oid, "size": (root / p).stat().st_size}
                for p in ("good.png", "copies/good_again.png", "notes.txt")}
    report = check(root, manifest=manifest)
    assert findings(report) == {("warning", "duplicate_content", "copies/good_again.png", None, 1)}
    assert report.files == 3


def test_a_manifest_naming_a_missing_file_is_refused(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("m", {"a.txt": "x"})
    with pytest.raises(InvalidInput, match="missing"):
        check(root, manifest={"b.txt": {"oid": "0" * 64, "size": 1}})


def test_bad_arguments_get_clear_errors(make_tree, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="neither a folder nor a file"):
        check(tmp_path / "nope")
    root = make_tree("t", {"a.csv": "x,y\n1,2\n"})
    with pytest.raises(InvalidInput, match=r"no table .* has a column 'label'.*\['x', 'y'\]"):
        check(root, label_column="label")


def test_report_serialises_to_json_and_renders_for_terminal(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("tab", {"train.csv": defect_csv()})
    report = check(root, label_column="label")
    doc = json.loads(report.to_json())
    assert doc["ok"] is False
    assert {(i["kind"], i["column"]) for i in doc["issues"]} >= {("type_mismatch", "price")}
    assert doc["tables"][0]["label_counts"] == {"cat": 14, "dog": 6}
    text = str(report)
    assert "type_mismatch" in text and "oops" in text and "NOT ok" in text


def test_html_report_escapes_user_column_and_file_names(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("xss", {f"{XSS}.csv": f'"{XSS}",v\nsame,1\nsame,2\n',
                             f"{XSS}.png": b""})
    report = check(root)
    assert {(i.kind, i.column) for i in report.issues} >= {("constant_column", XSS),
                                                           ("zero_byte_file", None)}
    page = report._repr_html_()
    assert XSS not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img" not in page


@pytest.mark.slow
def test_a_million_row_csv_is_checked_in_seconds(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "big.csv"
    duckdb.connect().execute(
        "COPY (SELECT i AS id, i % 97 AS a, random() AS b, 'name_' || (i % 5000) AS c, "
        "CASE WHEN i % 100000 = 0 THEN 'bad' ELSE (i % 7)::VARCHAR END AS d "
        f"FROM range(1000000) r(i)) TO '{path}'")
    t0 = time.monotonic()
    report = check(path)
    elapsed = time.monotonic() - t0
    assert findings(report) == {("error", "type_mismatch", "big.csv", "d", 10)}
    assert elapsed < 20, f"checking a 1M-row CSV took {elapsed:.1f} s"


def test_a_long_report_renders_the_first_findings_and_keeps_all_in_json(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("many", {f"f{n:03d}.pdf": f"not a pdf {n}" for n in range(230)})
    report = check(root)
    assert len(report.issues) == 230
    assert {(i.kind, i.examples) for i in report.issues} == {
        ("extension_mismatch", ("unrecognised content",))}
    page = report._repr_html_()
    assert page.count("<tr><td>warning</td>") == 200
    assert "and 30 more findings" in page and "and 30 more findings" in str(report)
    assert len(json.loads(report.to_json())["issues"]) == 230


def test_the_labels_table_is_checked_against_the_files_it_labels(make_tree) -> None:  # type: ignore[no-untyped-def]
    root = make_tree("labelled", {
        "a.png": png_bytes((1, 1, 1)), "b.png": png_bytes((2, 2, 2)),
        "labels.csv": "path,label,labelled_by,labelled_at\n"
                      "a.png,cat,ada,2026-11-25T12:00:00+00:00\n"
                      "b.png,dog,ada,2026-11-25T12:00:00+00:00\n"
                      "b.png,cat,bob,2026-11-25T12:01:00+00:00\n"
                      "gone.png,dog,ada,2026-11-25T12:00:00+00:00\n"})
    report = check(root)
    assert findings(report) == {
        ("warning", "unknown_label_path", "labels.csv", "path", 1),
        ("warning", "conflicting_labels", "labels.csv", "label", 1),
    }
    assert report.issues_of("unknown_label_path")[0].examples == ("gone.png",)
    assert report.issues_of("conflicting_labels")[0].examples == ("b.png",)
    assert report.table("labels.csv").label_counts == {"cat": 2, "dog": 2}
