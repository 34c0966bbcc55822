"""The file side of quality checks: listing a version's files, magic-byte sniffing, image
decoding and duplicate content. Shared by ``checks`` (which reports) and ``clean`` (which needs
every affected path, not just a few examples)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}

# First bytes that name a format; checked in order (longest, most specific first).
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"),
    (b"PAR1", "parquet"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x93NUMPY", "npy"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"BM", "bmp"),
)
EXPECTED_TYPE = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".gif": "gif", ".pdf": "pdf",
    ".parquet": "parquet", ".pq": "parquet", ".zip": "zip", ".npz": "zip", ".gz": "gzip",
    ".tgz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd", ".7z": "7z", ".npy": "npy",
    ".tif": "tiff", ".tiff": "tiff", ".bmp": "bmp", ".webp": "webp",
}
# Text formats: any binary signature inside them is a mismatch.
TEXT_EXTS = {".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".md", ".yaml", ".yml"}


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative, with forward slashes
    size: int
    oid: str | None = None


def list_files(root: Path, manifest: Mapping[str, Mapping[str, Any]] | None = None) -> list[FileEntry]:
    """The files to check: the manifest's when given (sizes and oids from it), else a walk of
    ``root`` that does not descend into symlinked folders."""
    if manifest is not None:
        if hasattr(manifest, "to_json"):  # a data.manifest.Manifest
            manifest = manifest.to_json()
        return [FileEntry(p, int(m.get("size", 0)), m.get("oid"))
                for p, m in sorted(manifest.items()) if "symlink" not in m]
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            full = Path(dirpath) / name
            if full.is_file():
                rel = full.relative_to(root).as_posix()
                entries.append(FileEntry(rel, full.stat().st_size))
    return sorted(entries, key=lambda f: f.path)


def sniff(head: bytes) -> str | None:
    """The format named by a file's first bytes, or None when we do not recognise it."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    return None


def extension(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def image_error(full: Path) -> str | None:
    """Why Pillow cannot decode the image, or None when it can.

    ``verify()`` checks structure and CRCs without decoding (fast, catches truncated PNGs);
    JPEG's ``verify`` checks nothing, so JPEGs are decoded in draft mode at 1/8 scale, which
    still reads the whole entropy-coded stream and so catches truncation."""
    from PIL import Image

    try:
        with Image.open(full) as im:
            fmt = im.format
            im.verify()
        if fmt == "JPEG":
            with Image.open(full) as im:
                im.draft("RGB", (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
                im.load()
    except Exception as e:  # Pillow raises many types (OSError, SyntaxError, ValueError...)
        return f"{type(e).__name__}: {e}"
    return None


def scan_files(root: Path, files: list[FileEntry]) -> dict[str, Any]:
    """Zero-byte files, duplicate content, undecodable images and extension mismatches, each as
    full lists (``clean`` needs every path, the report keeps a few)."""
    zero = [f.path for f in files if f.size == 0]

    def inspect(f: FileEntry) -> tuple[str, str | None, str | None]:
        full = root / f.path
        ext = extension(f.path)
        with open(full, "rb") as fh:
            head = fh.read(16)
        detected = sniff(head)
        expected = EXPECTED_TYPE.get(ext)
        mismatch = None
        if expected is not None and detected != expected:
            mismatch = detected or "unrecognised content"
        elif expected is None and ext in TEXT_EXTS and detected is not None:
            mismatch = detected
        broken = image_error(full) if ext in IMAGE_EXTS or detected in (
            "png", "jpeg", "gif", "bmp", "webp", "tiff") else None
        return f.path, mismatch, broken

    nonempty = [f for f in files if f.size > 0]
    workers = min(8, (os.cpu_count() or 1) + 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # Pillow and reads release the GIL
        inspected = list(pool.map(inspect, nonempty))
    mismatched = [(p, m) for p, m, _ in inspected if m is not None]
    corrupt = [(p, b) for p, _, b in inspected if b is not None]
    return {"zero": zero, "mismatched": mismatched, "corrupt": corrupt,
            "duplicates": duplicate_groups(root, nonempty)}


def duplicate_groups(root: Path, files: list[FileEntry]) -> list[list[str]]:
    """Groups of paths with identical content, each sorted; the first one is the keeper.

    Without a manifest only files whose size collides with another's are hashed."""
    from ..store.objects import hash_file

    by_size: dict[int, list[FileEntry]] = {}
    for f in files:
        by_size.setdefault(f.size, []).append(f)
    candidates = [f for group in by_size.values() if len(group) > 1 for f in group]
    need_hash = [f for f in candidates if f.oid is None]
    with ThreadPoolExecutor(max_workers=4) as pool:
        hashed = dict(zip((f.path for f in need_hash),
                          pool.map(lambda f: hash_file(root / f.path).oid, need_hash), strict=True))
    by_oid: dict[str, list[str]] = {}
    for f in candidates:
        by_oid.setdefault(f.oid or hashed[f.path], []).append(f.path)
    return sorted(sorted(g) for g in by_oid.values() if len(g) > 1)


def resolve(path: str | os.PathLike[str],
            manifest: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[Path, list[FileEntry]]:
    """The folder and its files; a single file is checked as a one-file folder."""
    p = Path(path).expanduser().absolute()
    if p.is_file():
        if manifest is not None:
            raise InvalidInput("a manifest can only be given with a folder, not a single file")
        return p.parent, [FileEntry(p.name, p.stat().st_size)]
    if not p.is_dir():
        raise InvalidInput(f"{str(p)!r} is neither a folder nor a file; give the dataset folder")
    files = list_files(p, manifest)
    missing = [f.path for f in files if not (p / f.path).is_file()]
    if missing:
        raise InvalidInput(f"the manifest names files missing from {str(p)!r}: {missing[:5]}")
    return p, files
