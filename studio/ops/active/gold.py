"""Gold files for `studio simulate`: the oracle that plays the human.

- Classification: JSONL with one `{"text": ..., "label": ...}` per line, or CSV with a header
  that has `text` and `label` columns.
- NER: JSONL with `{"text": ..., "spans": [{"start", "end", "label"}, ...]}` per line.

A malformed line (bad JSON, missing text, a span outside the text) is reported with its file and
line number and skipped; the rest is read.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studio.errors import StudioError
from studio.schema import Span


class GoldItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    label: str = ""  # classification
    spans: list[Span] = Field(default_factory=list)  # ner


class GoldSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Literal["classification", "ner"]
    items: list[GoldItem]
    problems: list[str] = Field(default_factory=list)

    def labels(self) -> list[str]:
        if self.task == "classification":
            return sorted({i.label for i in self.items})
        return sorted({s.label for i in self.items for s in i.spans})


def read_gold(path: str | Path) -> GoldSet:
    p = Path(path)
    if not p.is_file():
        raise StudioError(f"gold file {p} does not exist: pass a JSONL or CSV file of text and label")
    if p.suffix.lower() == ".csv":
        return _read_csv(p)
    return _read_jsonl(p)


def _read_csv(p: Path) -> GoldSet:
    items: list[GoldItem] = []
    problems: list[str] = []
    with p.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
            raise StudioError(f"{p}: the CSV header must name the columns `text` and `label` (got {reader.fieldnames})")
        for row in reader:
            line = reader.line_num
            text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
            if not text or not label:
                problems.append(f"{p}:{line}: empty text or label, skipped")
                continue
            items.append(GoldItem(text=text, label=label))
    return _finish(p, "classification", items, problems)


def _read_jsonl(p: Path) -> GoldSet:
    items: list[GoldItem] = []
    problems: list[str] = []
    task: str | None = None
    with p.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj: Any = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{p}:{line_no}: not JSON ({exc.msg}), skipped")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
                problems.append(f"{p}:{line_no}: expected an object with a non-empty `text`, skipped")
                continue
            kind = "ner" if "spans" in obj else "classification" if "label" in obj else None
            if kind is None:
                problems.append(f"{p}:{line_no}: needs `label` (classification) or `spans` (NER), skipped")
                continue
            task = task or kind
            if kind != task:
                problems.append(f"{p}:{line_no}: a {kind} row in a {task} file, skipped")
                continue
            try:
                item = _item(obj, kind)
            except (ValidationError, ValueError, TypeError) as exc:
                problems.append(f"{p}:{line_no}: {_first_error(exc)}, skipped")
                continue
            items.append(item)
    return _finish(p, task or "classification", items, problems)


def _item(obj: dict[str, Any], kind: str) -> GoldItem:
    text = obj["text"]
    if kind == "classification":
        label = str(obj["label"]).strip()
        if not label:
            raise ValueError("empty label")
        return GoldItem(text=text, label=label)
    spans = []
    for raw in obj["spans"] or []:
        span = Span(start=raw["start"], end=raw["end"], label=raw["label"], text=raw.get("text", ""))
        span.check_against(text)
        spans.append(span.model_copy(update={"text": text[span.start : span.end]}))
    return GoldItem(text=text, spans=spans)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}"
    return str(exc)


def _finish(p: Path, task: str, items: list[GoldItem], problems: list[str]) -> GoldSet:
    if not items:
        detail = f" ({problems[0]})" if problems else ""
        raise StudioError(f"{p}: no usable rows{detail}; see `studio simulate --help` for the formats")
    return GoldSet(task=task, items=items, problems=problems)  # type: ignore[arg-type]
