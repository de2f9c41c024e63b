"""Release versions and where they live: strict X.Y.Z, and never a path outside `releases/`."""

from __future__ import annotations

import re
from pathlib import Path

from studio.errors import InvalidState, StudioError
from studio.store import Store

RELEASES_DIR = "releases"
# Strict semantic version without leading zeros; nothing else (no "v", no slashes, no dots beyond two).
# [0-9], not \d: \d also matches other scripts' digits (Arabic-Indic, fullwidth), which int() reads.
_VERSION_RE = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")
_FOLDER_RE = re.compile(r"v((?:0|[1-9][0-9]{0,8})\.(?:0|[1-9][0-9]{0,8})\.(?:0|[1-9][0-9]{0,8}))")


def parse_version(text: str) -> tuple[int, int, int]:
    """`1.2.3` -> (1, 2, 3); anything else is refused with the expected form."""
    m = _VERSION_RE.fullmatch(text)
    if m is None:
        raise StudioError(f"release version {text!r} is not valid: use MAJOR.MINOR.PATCH in ASCII digits, e.g. 0.1.0")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def format_version(v: tuple[int, int, int]) -> str:
    return f"{v[0]}.{v[1]}.{v[2]}"


def releases_root(store: Store, create: bool = False) -> Path:
    """The project's `releases/` folder, resolved, refusing one that points outside the project."""
    project = store.root.resolve()
    path = project / RELEASES_DIR
    if create and not path.exists() and not path.is_symlink():
        path.mkdir()
    resolved = path.resolve()
    if not resolved.is_relative_to(project):
        raise StudioError(
            f"{path} resolves to {resolved}, outside the project {project}: "
            "make releases/ a real folder inside the project"
        )
    if path.exists() and not resolved.is_dir():
        raise StudioError(f"{path} is not a folder: move it away so releases can be written")
    return resolved


def release_dir(store: Store, version: str) -> Path:
    """Where version `version` goes: `<project>/releases/vX.Y.Z`, checked to stay inside."""
    parse_version(version)
    root = releases_root(store)
    target = root / f"v{version}"
    if target.is_symlink():
        raise StudioError(f"{target} is a symlink: remove it; releases are written as real folders")
    if not target.resolve().is_relative_to(root) or target.resolve().parent != root:
        raise StudioError(f"release path {target} would be outside {root}")
    return target


def existing_versions(store: Store) -> list[str]:
    """Versions already released: folders `vX.Y.Z` and `release.create` decisions, sorted."""
    found: set[tuple[int, int, int]] = set()
    root = store.root / RELEASES_DIR
    if root.is_dir():
        for entry in root.iterdir():
            m = _FOLDER_RE.fullmatch(entry.name)
            if m:
                found.add(parse_version(m.group(1)))
    for d in store.decisions(action="release.create"):
        v = str(d.payload.get("version", ""))
        if _VERSION_RE.fullmatch(v):
            found.add(parse_version(v))
    return [format_version(v) for v in sorted(found)]


def next_version(store: Store) -> str:
    """The next patch after the newest release; 0.1.0 for the first."""
    versions = existing_versions(store)
    if not versions:
        return "0.1.0"
    major, minor, patch = parse_version(versions[-1])
    return format_version((major, minor, patch + 1))


def check_new(store: Store, version: str) -> Path:
    """The folder for a new release `version`; refuses a version that exists already."""
    target = release_dir(store, version)
    if version in existing_versions(store) or target.exists():
        raise InvalidState(
            f"release v{version} exists already ({target}): releases are immutable, "
            f"pass --version with a new number (next free: {next_version(store)})"
        )
    return target
