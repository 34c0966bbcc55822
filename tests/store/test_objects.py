from __future__ import annotations

from pathlib import Path

import blake3
import pytest

from jupyter_dlbench.errors import InvalidInput, ObjectCorrupt, ObjectNotFound
from jupyter_dlbench.store import ObjectStore


def test_put_file_names_object_by_blake3_and_reads_back(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    src = tmp_path / "model.pt"
    src.write_bytes(b"weights" * 1000)
    obj = store.put_file(src)
    assert obj.oid == blake3.blake3(src.read_bytes()).hexdigest()
    assert obj.size == 7000
    assert store.path(obj.oid) == tmp_path / "objects" / obj.oid[:2] / obj.oid[2:]
    assert store.read_bytes(obj.oid) == src.read_bytes()
    assert not list((tmp_path / "objects").glob(".tmp-*")), "temporary files must not be left behind"


def test_same_content_is_stored_once(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    a = store.put_bytes(b"same")
    b = store.put_bytes(b"same")
    assert a == b
    assert list(store.iter_oids()) == [a.oid]


def test_flipped_byte_is_detected_on_verified_read(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    obj = store.put_bytes(b"precious data")
    path = store.path(obj.oid)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    assert not store.verify(obj.oid)
    with pytest.raises(ObjectCorrupt, match="corrupted"):
        store.read_bytes(obj.oid)


def test_missing_object_and_bad_ids_are_clear_errors(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    with pytest.raises(ObjectNotFound, match="missing"):
        store.open("0" * 64)
    with pytest.raises(InvalidInput, match="64 lowercase hex"):
        store.path("../../etc/passwd")
    with pytest.raises(InvalidInput, match="not a file"):
        store.put_file(tmp_path / "nope")
