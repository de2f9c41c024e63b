"""Import existing annotations: documents with their spans, as approved labels or as proposals.

Readers (the format is detected from the name and the content):
- JSONL, the spaCy/Prodigy shape: `{"text", "spans": [{"start", "end", "label"}], "complete"?}`;
  a Prodigy `"answer": "reject"` or `"ignore"` line is skipped and reported.
- CoNLL with IOB1, IOB2 or BIOES tags (detected; see studio/ops/ner/formats.py): one sentence per
  document, its text the tokens joined by single spaces.
- spaCy DocBin (`.spacy`): `doc.ents`, and `doc.spans["sc"]` when present.
- Label Studio JSON export (a list of tasks, `annotations[].result[].value` with `start`, `end`,
  `labels`) and its JSON-MIN variant (`label: [{start, end, labels}]`); the newest annotation that
  was not cancelled is used.

What happens (`import_labeled`): labels are mapped (`--map FROM=TO`; to `O` drops them), then
checked against the approved guideline: any label it does not have refuses the whole import with
the list, before anything is written. Each span is snapped outward to token edges (reported with
its file and line). A span overlapping an earlier one of the same document is reported and left
out. Documents are added (or found, when the same text is already stored). Then either every span
becomes an approved label by the importing person (`label.add`, with `source` = file:line) and the
document is marked complete unless the file says `"complete": false`, or, with `as_proposals`,
every span becomes a pending proposal of the weak source NAME. Malformed lines are reported as
file:line and skipped; nothing else is lost.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from studio.errors import StudioError
from studio.ops.collect.import_op import LabelImportResult
from studio.ops.ner.formats import CONLL_SUFFIXES, GoldDoc, map_spans, read_conll_text, read_jsonl_text
from studio.schema import Document, Proposal, Span, text_language
from studio.store import Store

LabelFormat = Literal["jsonl", "conll", "docbin", "labelstudio"]


class LabeledDoc(BaseModel):
    text: str
    spans: list[Span] = Field(default_factory=list)
    where: str  # file:line (or file:#n for formats without lines)
    complete: bool | None = None  # None: the file does not say


class LabeledFile(BaseModel):
    path: str
    format: LabelFormat
    scheme: str | None = None
    docs: list[LabeledDoc] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


# -- reading ------------------------------------------------------------------------------------
def detect_format(path: Path, head: bytes) -> LabelFormat:
    suffix = path.suffix.lower()
    if suffix == ".spacy":
        return "docbin"
    if suffix in CONLL_SUFFIXES:
        return "conll"
    start = head.lstrip()[:1]
    if suffix == ".json" and start == b"[":
        return "labelstudio"
    if suffix in (".jsonl", ".ndjson", ".json") or start == b"{":
        return "jsonl"
    if start == b"[":
        return "labelstudio"
    return "conll"


def read_labeled(path: str | Path, scheme: str = "auto") -> LabeledFile:
    """Read one annotated file in any supported format (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise StudioError(f"{p} is not a file: give a .jsonl, .conll, .spacy or Label Studio .json export")
    data = p.read_bytes()
    fmt = detect_format(p, data[:200])
    if fmt == "docbin":
        return _read_docbin(p, data)
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StudioError(f"{p} is not UTF-8 text ({exc}); convert it to UTF-8 first") from exc
    if fmt == "labelstudio":
        return _read_labelstudio(p, raw)
    gold = read_jsonl_text(raw, str(p)) if fmt == "jsonl" else read_conll_text(raw, str(p), scheme)  # type: ignore[arg-type]
    out = LabeledFile(path=str(p), format=fmt, scheme=gold.scheme, errors=list(gold.errors))
    out.docs = [_from_gold(d) for d in gold.docs]
    if fmt == "jsonl":
        _jsonl_extras(raw, out)
    return out


def _from_gold(d: GoldDoc) -> LabeledDoc:
    return LabeledDoc(text=d.text, spans=d.spans, where=d.where)


def _jsonl_extras(raw: str, out: LabeledFile) -> None:
    """`complete` flags and Prodigy answers, which the gold reader does not keep."""
    by_where = {d.where: d for d in out.docs}
    keep: list[LabeledDoc] = []
    for n, line in enumerate(raw.splitlines(), 1):
        doc = by_where.get(f"{out.path}:{n}")
        if doc is None:
            continue
        obj = json.loads(line)
        answer = obj.get("answer")
        if answer in ("reject", "ignore"):
            out.errors.append(f'{doc.where}: Prodigy answer "{answer}": not an annotation; skipped')
            continue
        flag = obj.get("complete")
        if flag is not None and not isinstance(flag, bool):
            out.errors.append(f'{doc.where}: "complete" must be true or false, got {flag!r}; read as not said')
            flag = None
        doc.complete = flag
        keep.append(doc)
    out.docs = keep


def _read_docbin(p: Path, data: bytes) -> LabeledFile:
    import spacy
    from spacy.tokens import DocBin

    out = LabeledFile(path=str(p), format="docbin")
    try:
        docs = list(DocBin().from_bytes(data).get_docs(spacy.blank("xx").vocab))
    except Exception as exc:  # spaCy raises several types for a damaged or foreign file
        raise StudioError(f"{p} is not a spaCy DocBin ({type(exc).__name__}: {exc})") from exc
    for n, doc in enumerate(docs, 1):
        spans = {(e.start_char, e.end_char, e.label_) for e in doc.ents}
        for group in doc.spans.values():
            spans |= {(s.start_char, s.end_char, s.label_) for s in group}
        out.docs.append(
            LabeledDoc(
                text=doc.text,
                spans=[Span(start=s, end=e, label=lab, text=doc.text[s:e]) for s, e, lab in sorted(spans) if lab],
                where=f"{p}:#{n}",
            )
        )
    return out


def _read_labelstudio(p: Path, raw: str) -> LabeledFile:
    out = LabeledFile(path=str(p), format="labelstudio")
    try:
        tasks = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise StudioError(f"{p}:{exc.lineno}: not JSON ({exc.msg}); is it a Label Studio JSON export?") from exc
    if not isinstance(tasks, list):
        raise StudioError(f"{p}: a Label Studio export is a JSON list of tasks")
    for n, task in enumerate(tasks, 1):
        where = f"{p}:#{n}"
        try:
            doc = _labelstudio_task(task, where)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            out.errors.append(f"{where}: {msg}; task skipped")
            continue
        if doc is not None:
            out.docs.append(doc)
        else:
            out.errors.append(f"{where}: no annotation (only cancelled ones or none); task skipped")
    return out


def _labelstudio_task(task: Any, where: str) -> LabeledDoc | None:
    if not isinstance(task, dict):
        raise TypeError("a task must be a JSON object")
    if "annotations" not in task and isinstance(task.get("text"), str):  # JSON-MIN
        text = task["text"]
        results = [{"value": v} for v in task.get("label") or []]
    else:
        data = task.get("data") or {}
        text = data.get("text")
        if not isinstance(text, str):
            text = next((v for v in data.values() if isinstance(v, str)), None)
        if not isinstance(text, str):
            raise ValueError("the task has no text in data")
        anns = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        if not anns:
            return None
        results = anns[-1].get("result") or []
    spans = []
    for r in results:
        value = r.get("value") or {}
        labels = value.get("labels") or ([value["label"]] if "label" in value else [])
        if "start" not in value or not labels:
            continue  # other result types (relations, choices) carry no span
        start, end = int(value["start"]), int(value["end"])
        span = Span(start=start, end=end, label=str(labels[0]), text=value.get("text") or "")
        span.check_against(text)
        spans.append(span.model_copy(update={"text": text[start:end]}))
    return LabeledDoc(text=text, spans=spans, where=where)


# -- importing ----------------------------------------------------------------------------------
def check_labels(files: Iterable[LabeledFile], allowed: list[str]) -> None:
    """Refuse (before anything is written) labels the approved guideline does not have."""
    unknown: Counter[str] = Counter()
    for f in files:
        for d in f.docs:
            unknown.update(s.label for s in d.spans if s.label not in allowed)
    if unknown:
        import difflib

        listed = ", ".join(f"{lab} ({n} span{'s' if n > 1 else ''})" for lab, n in sorted(unknown.items()))
        first = sorted(unknown)[0]
        near = [a for a in allowed if a.startswith(first) or first.startswith(a)] or difflib.get_close_matches(
            first, allowed, n=1, cutoff=0.3
        )
        raise StudioError(
            f"labels not in the approved guideline: {listed}. The guideline has {', '.join(allowed)}. "
            f"Map them (e.g. --map {first}={(near or allowed)[0]}, or --map {first}=O to drop them) or add them "
            "to the guideline first; nothing was imported"
        )


def import_labeled(
    store: Store,
    path: str | Path,
    actor: str,
    *,
    as_proposals: str | None = None,
    mapping: dict[str, str] | None = None,
    lang: str | None = None,
    scheme: str = "auto",
    progress: Callable[[str, int, int | None], None] | None = None,
) -> LabelImportResult:
    """Read `path` and store its documents and spans (see the module docstring)."""
    from studio.ops.collect.importer import project_language
    from studio.ops.review.document import guideline_labels, tokenize

    allowed = guideline_labels(store)
    f = read_labeled(path, scheme)
    if mapping:
        for d in f.docs:
            d.spans = map_spans(d.spans, mapping)
    check_labels([f], allowed)
    res = LabelImportResult(path=str(path), format=f.format, scheme=f.scheme, errors=list(f.errors),
                            as_proposals=as_proposals)  # fmt: skip
    default = lang or project_language(store)
    langs = [text_language(d.text, default) for d in f.docs]  # Korean text is Korean whatever the default
    prepared: list[tuple[LabeledDoc, list[Span]]] = []
    for n, (d, doc_lang) in enumerate(zip(f.docs, langs, strict=True), 1):
        prepared.append((d, _snap_all(d, tokenize(d.text, doc_lang), res)))
        if progress and n % 200 == 0:
            progress("tokenize", n, len(f.docs))
    rel = _relative(store, Path(path))
    docs = [
        Document(text=d.text, lang=doc_lang, source="import",
                 provenance={"file": rel, "where": d.where.replace(str(path), rel), "format": f.format,
                             "annotations": True})
        for (d, _), doc_lang in zip(prepared, langs, strict=True)
    ]  # fmt: skip
    with store.transaction():
        ids = store.add_documents(docs, actor="tool", rationale=f"import with labels from {rel}")
        res.documents = len(ids)
        res.new_documents = sum(new for _, new in ids)
        if as_proposals:
            _add_proposals(store, prepared, ids, as_proposals, rel, res)
        else:
            _add_labels(store, prepared, ids, actor, rel, str(path), res)
    if progress:
        progress("import", len(prepared), len(prepared))
    return res


def _snap_all(d: LabeledDoc, tokens: list[Any], res: LabelImportResult) -> list[Span]:
    out: list[Span] = []
    for s in sorted(d.spans, key=lambda s: (s.start, -s.end)):
        inside = [t for t in tokens if t.start < s.end and t.end > s.start]
        if not inside:
            res.skipped_spans.append(f"{d.where}: {s.label} [{s.start}:{s.end}] {s.text!r} holds no word; left out")
            continue
        a, b = inside[0].start, inside[-1].end
        if (a, b) != (s.start, s.end):
            res.snapped.append(f"{d.where}: {s.label} {d.text[s.start : s.end]!r} snapped to {d.text[a:b]!r}")
        span = Span(start=a, end=b, label=s.label, text=d.text[a:b])
        clash = next((o for o in out if o.start < b and a < o.end), None)
        if clash is not None:
            if (clash.start, clash.end, clash.label) != (a, b, s.label):
                res.skipped_spans.append(
                    f"{d.where}: {s.label} {span.text!r} overlaps {clash.label} {clash.text!r}; left out"
                )
            continue
        out.append(span)
    return out


def _add_labels(store: Store, prepared: list[tuple[LabeledDoc, list[Span]]], ids: list[tuple[int, bool]],
                actor: str, rel: str, path: str, res: LabelImportResult) -> None:  # fmt: skip
    from studio.ops.review.document import document_status

    for (d, spans), (doc_id, _) in zip(prepared, ids, strict=True):
        where = d.where.replace(path, rel)
        status = document_status(store, doc_id)
        if status in ("complete", "withdrawn"):
            res.skipped_spans.append(f"{where}: document {doc_id} is already {status} in the project; left as it is")
            continue
        have = store.approved_spans(doc_id)
        for s in spans:
            if any(h.start < s.end and s.start < h.end for h in have):
                if not any((h.start, h.end, h.label) == (s.start, s.end, s.label) for h in have):
                    res.skipped_spans.append(
                        f"{where}: {s.label} {s.text!r} overlaps a label the project has; left out"
                    )
                continue
            store.record(actor, "label.add", [f"doc:{doc_id}"],
                         {"document_id": doc_id, "span": s.model_dump(), "source": where}, f"imported from {where}")  # fmt: skip
            res.spans += 1
        pending = store.proposals(kind="span", status="pending", document_id=doc_id, limit=1)
        if d.complete is False or pending:
            res.partial += 1
            continue
        store.record(actor, "document.complete", [f"doc:{doc_id}"],
                     {"document_id": doc_id, "before": None, "spans": len(store.approved_spans(doc_id)),
                      "source": where}, f"imported from {where}")  # fmt: skip
        res.completed += 1


def _add_proposals(store: Store, prepared: list[tuple[LabeledDoc, list[Span]]], ids: list[tuple[int, bool]],
                   name: str, rel: str, res: LabelImportResult) -> None:  # fmt: skip
    batch = store.run_id(f"import:{name}")
    props = [
        Proposal(kind="span", document_id=doc_id, source=name, batch=batch,
                 payload={"span": s.model_dump(), "sources": {name: 1.0}, "where": d.where})
        for (d, spans), (doc_id, _) in zip(prepared, ids, strict=True)
        for s in spans
    ]  # fmt: skip
    store.add_proposals(props, actor="tool", rationale=f"annotations imported from {rel} as source {name}")
    res.proposals = len(props)


def _relative(store: Store, p: Path) -> str:
    try:
        return p.resolve().relative_to(store.root).as_posix()
    except ValueError:
        return p.name
