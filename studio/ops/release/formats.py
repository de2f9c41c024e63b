"""The text formats of a release: JSONL (the Hugging Face layout), spaCy DocBin and CoNLL IOB2.

JSONL keeps the approved character spans exactly. DocBin and CoNLL are token based, so each span
is snapped to `spacy.blank(lang)` tokens; a span whose edges are not token edges is reported
(adjusted or dropped), never changed silently. Entities cannot overlap, so overlapping spans
are resolved longest-first for `doc.ents` and CoNLL (the others are reported); in a document
with overlaps every aligned span is also kept in `doc.spans["sc"]`, which allows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from studio.ops.release.models import Progress, ReleaseDoc
from studio.schema import Span

SPAN_KEY = "sc"


class TokenReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    misaligned: list[dict[str, Any]] = Field(default_factory=list)  # adjusted or dropped
    overlaps: list[dict[str, Any]] = Field(default_factory=list)  # left out of ents/CoNLL
    files: list[str] = Field(default_factory=list)
    entities: int = 0


def dumps(obj: Any) -> str:
    """Stable JSON: sorted keys, no ASCII escaping, compact."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def jsonl_record(doc: ReleaseDoc, split: str, mark_complete: bool = False) -> dict[str, Any]:
    rec = {
        "id": doc.id,
        "split": split,
        "text": doc.text,
        "spans": [{"start": s.start, "end": s.end, "label": s.label, "text": s.text} for s in doc.spans],
    }
    if mark_complete:  # only in releases with partial documents, so complete-only files stay as they were
        rec["complete"] = doc.complete
    return rec


def write_jsonl(folder: Path, by_split: dict[str, list[ReleaseDoc]], mark_complete: bool = False) -> list[str]:
    files = []
    for split, docs in by_split.items():
        rel = f"data/{split}.jsonl"
        with (folder / rel).open("wb") as fh:
            for d in docs:
                fh.write((dumps(jsonl_record(d, split, mark_complete)) + "\n").encode("utf-8"))
        files.append(rel)
    return files


def make_doc(nlp: Any, d: ReleaseDoc, mode: str, report: TokenReport) -> Any:
    """A spaCy Doc of `d` with aligned spans as ents and in doc.spans; misfits go to `report`."""
    from spacy.tokens import Span as SpacySpan
    from spacy.util import filter_spans

    doc = nlp.make_doc(d.text)
    aligned = []
    for s in d.spans:
        span = doc.char_span(s.start, s.end, label=s.label) or doc.char_span(
            s.start, s.end, label=s.label, alignment_mode=mode
        )
        lo, hi = (span.start, span.end) if span is not None else (0, 0)
        # Entities never start or end on a whitespace token: CoNLL has no line for one.
        while lo < hi and doc[lo].is_space:
            lo += 1
        while hi > lo and doc[hi - 1].is_space:
            hi -= 1
        span = SpacySpan(doc, lo, hi, label=s.label) if hi > lo else None
        if span is None or (span.start_char, span.end_char) != (s.start, s.end):
            entry: dict[str, Any] = {"doc": d.id, "start": s.start, "end": s.end, "label": s.label}
            if span is None:
                entry["status"] = "dropped"
            else:
                entry.update(status="adjusted", aligned_start=span.start_char, aligned_end=span.end_char)
            report.misaligned.append(entry)
        if span is not None:
            aligned.append(span)
    ents = filter_spans(aligned)
    kept = {(e.start, e.end, e.label_) for e in ents}
    for span in aligned:
        if (span.start, span.end, span.label_) not in kept:
            report.overlaps.append({"doc": d.id, "start": span.start_char, "end": span.end_char, "label": span.label_})
    doc.ents = ents
    if len(ents) != len(aligned):
        # Only where ents cannot hold every span: serializing a span group costs ~1 ms per doc in
        # spaCy 3.8 (srsly scans entry points per call), 100 s on 100k documents.
        doc.spans[SPAN_KEY] = aligned
    report.entities += len(ents)
    return doc


def iob2_lines(doc: Any) -> list[str]:
    """`token<TAB>tag` per non-space token; whitespace tokens have no line."""
    lines = []
    for tok in doc:
        if tok.is_space:
            continue
        tag = "O" if tok.ent_iob_ in ("O", "") else f"{tok.ent_iob_}-{tok.ent_type_}"
        lines.append(f"{tok.text}\t{tag}")
    return lines


def write_token_formats(
    folder: Path,
    by_split: dict[str, list[ReleaseDoc]],
    lang: str,
    mode: str,
    progress: Progress | None = None,
) -> TokenReport:
    """`spacy/<split>.spacy` and `conll/<split>.conll`, tokenizing each document once."""
    from spacy.tokens import DocBin

    from studio.ops.ner.tokens import get_nlp

    # The same tokenization as alignment: spacy.blank(lang), or for languages whose blank
    # pipeline needs extra packages (Korean: mecab) the neutral one, CJK split per character.
    nlp = get_nlp(lang)
    report = TokenReport()
    total = sum(len(v) for v in by_split.values())
    done = 0
    (folder / "spacy").mkdir(exist_ok=True)
    (folder / "conll").mkdir(exist_ok=True)
    for split, docs in by_split.items():
        bin_ = DocBin(attrs=["ORTH", "ENT_IOB", "ENT_TYPE"], store_user_data=False)
        conll_rel = f"conll/{split}.conll"
        with (folder / conll_rel).open("wb") as fh:
            for d in docs:
                doc = make_doc(nlp, d, mode, report)
                bin_.add(doc)
                fh.write(f"# id = {d.id}\n".encode())
                fh.write(("\n".join(iob2_lines(doc)) + "\n\n").encode("utf-8"))
                done += 1
                if progress and done % 1000 == 0:
                    progress("spaCy and CoNLL", done, total)
        spacy_rel = f"spacy/{split}.spacy"
        (folder / spacy_rel).write_bytes(bin_.to_bytes())
        report.files += [spacy_rel, conll_rel]
    if progress:
        progress("spaCy and CoNLL", total, total)
    return report


# -- reading back (used by tests and by anyone checking a release) -----------------------------
def read_conll(path: Path) -> list[tuple[int, list[str], list[str]]]:
    """(document id, tokens, tags) per document of a CoNLL file written above."""
    out: list[tuple[int, list[str], list[str]]] = []
    doc_id: int | None = None
    tokens: list[str] = []
    tags: list[str] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.startswith("# id = "):
            doc_id = int(line[7:])
            tokens, tags = [], []
        elif line == "":
            if doc_id is not None:
                out.append((doc_id, tokens, tags))
                doc_id = None
        else:
            token, sep, tag = line.rpartition("\t")
            if not sep or doc_id is None:
                raise ValueError(f"{path}:{lineno}: expected 'token<TAB>tag' inside a document")
            tokens.append(token)
            tags.append(tag)
    return out


def iob2_to_spans(text: str, tokens: Sequence[str], tags: Sequence[str]) -> list[Span]:
    """Character spans of IOB2 tags, by finding each token in `text` in order."""
    spans: list[Span] = []
    pos = 0
    cur: list[Any] | None = None  # [start, end, label]
    for token, tag in zip(tokens, tags, strict=True):
        start = text.index(token, pos)
        end = pos = start + len(token)
        if tag.startswith("B-") or (tag.startswith("I-") and (cur is None or cur[2] != tag[2:])):
            if cur:
                spans.append(Span(start=cur[0], end=cur[1], label=cur[2], text=text[cur[0] : cur[1]]))
            cur = [start, end, tag[2:]]
        elif tag.startswith("I-") and cur is not None:
            cur[1] = end
        else:
            if cur:
                spans.append(Span(start=cur[0], end=cur[1], label=cur[2], text=text[cur[0] : cur[1]]))
            cur = None
    if cur:
        spans.append(Span(start=cur[0], end=cur[1], label=cur[2], text=text[cur[0] : cur[1]]))
    return spans


def split_lists(
    docs: Iterable[ReleaseDoc], assignment: dict[int, str], order: Sequence[str]
) -> dict[str, list[ReleaseDoc]]:
    """Documents per split, in id order, leaving out empty splits."""
    by: dict[str, list[ReleaseDoc]] = {s: [] for s in order}
    for d in sorted(docs, key=lambda d: d.id):
        by[assignment[d.id]].append(d)
    return {s: v for s, v in by.items() if v}
