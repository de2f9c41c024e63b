"""MANIFEST.json: the sha256 and size of every file of a release, so anyone can check it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "MANIFEST.json"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: Path) -> str:
    """Write MANIFEST.json over every other file (sorted paths); return the manifest's own sha256."""
    files = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MANIFEST:
            files[rel] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    data = json.dumps({"algorithm": "sha256", "files": files}, indent=2, sort_keys=True) + "\n"
    (folder / MANIFEST).write_bytes(data.encode("utf-8"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def verify(folder: Path) -> list[str]:
    """Problems found checking `folder` against its manifest (empty when it matches)."""
    path = folder / MANIFEST
    if not path.is_file():
        return [f"{path} is missing"]
    listed = json.loads(path.read_text(encoding="utf-8"))["files"]
    problems = []
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    for rel in sorted(present - set(listed)):
        problems.append(f"{rel}: not in the manifest")
    for rel, entry in sorted(listed.items()):
        f = folder / rel
        if not f.is_file():
            problems.append(f"{rel}: missing")
        elif file_sha256(f) != entry["sha256"]:
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems
