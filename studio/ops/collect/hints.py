"""Hints about how a file was imported: a .txt file whose lines look like separate sentences or records.

A .txt file is one document by default. When its lines each end a sentence (or all carry the
same separators, like records), the person most likely wanted one document per line; the import
says so and suggests `--per-line`. Only a hint: nothing is changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SENTENCE_ENDS = tuple(".!?。！？\"'”’)")
MIN_LINES = 3


def looks_line_per_record(text: str) -> str | None:
    """Why the lines look like separate items ("sentences" / "records"), or None."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    items = [line for line in lines if line]
    if len(items) < MIN_LINES:
        return None
    if "" in lines[: len(lines) - 1] and lines.count("") > 1:
        return None  # blank lines separate paragraphs: a document with paragraphs
    ends = sum(line.endswith(SENTENCE_ENDS) for line in items)
    if ends / len(items) >= 0.7:
        return "sentences"
    for sep in ("\t", ";", ","):
        counts = {line.count(sep) for line in items}
        if len(counts) == 1 and counts != {0}:
            return "records"
    return None


def per_line_hints(paths: Iterable[Path], max_bytes: int = 5_000_000) -> list[str]:
    """One message per .txt file (in `paths`, folders searched) whose lines look like separate items."""
    out = []
    for p in paths:
        files = sorted(p.rglob("*.txt")) if p.is_dir() else [p]
        for f in files:
            if f.suffix.lower() not in (".txt", ".text") or not f.is_file() or f.stat().st_size > max_bytes:
                continue
            try:
                text = f.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            kind = looks_line_per_record(text)
            if kind:
                n = sum(1 for line in text.splitlines() if line.strip())
                out.append(
                    f"{f}: its {n} lines look like separate {kind} but became one document; "
                    "to import one document per line, run the import again with --per-line"
                )
    return out
