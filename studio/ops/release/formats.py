"""The text formats of a release: JSONL (the Hugging Face layout), spaCy DocBin and CoNLL IOB2.

JSONL keeps the approved character spans exactly. DocBin and CoNLL are token based, so each span
is snapped to `spacy.blank(lang)` tokens; a span whose edges are not token edges is reported
(adjusted or dropped), never changed silently. Entities cannot overlap, so overlapping spans
are resolved longest-first for `doc.ents` and CoNLL (the others are reported); in a document
with overlaps every aligned span is also kept in `doc.spans["sc"]`, which allows them.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

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


def make_doc(nlp: Any, d: ReleaseDoc, mode: str, report: TokenReport, doc: Any = None) -> Any:
    """A spaCy Doc of `d` with aligned spans as ents and in doc.spans; misfits go to `report`.
    `doc`: `d.text` already tokenized by `nlp` (it gets the ents)."""
    from spacy.tokens import Span as SpacySpan
    from spacy.util import filter_spans

    doc = nlp.make_doc(d.text) if doc is None else doc
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


# ENT_IOB values in spaCy's token arrays.
_IOB_I, _IOB_O, _IOB_B = 1, 2, 3


class Encoded(NamedTuple):
    """One document ready for a split's DocBin and CoNLL file: arrays, or a Doc still to align."""

    raw: Any = None  # (n, 6) uint64: `TokenEncoder.columns` of each token (IDX ... ORTH, NORM)
    ents: tuple[tuple[int, int, str], ...] = ()  # (first token, end token, label), in order
    conll: bytes = b""
    fallback: tuple[ReleaseDoc, Any] | None = None  # (document, tokenized Doc) for `make_doc`


class TokenEncoder:
    """Tokenizes a document once and encodes it for DocBin and CoNLL.

    Most documents take the array path: when every span sits exactly on token edges that are
    not whitespace and no two spans share a token, the entities are the spans as they are, so
    the IOB columns are written straight from the tokenizer's arrays, with no `char_span`,
    `filter_spans`, `doc.ents` or per-token Python objects (which cost ~0.5 ms per document).
    Any other document is aligned by `make_doc` when it is written. Both paths give the same
    bytes (`tests/test_release_token_formats.py`)."""

    def __init__(self, nlp: Any, arrays: bool = True) -> None:
        from spacy.attrs import IDX, IS_SPACE, LENGTH, NORM, ORTH, SPACY

        self.nlp, self.arrays = nlp, arrays
        self.columns = [IDX, LENGTH, IS_SPACE, SPACY, ORTH, NORM]

    def encode(self, d: ReleaseDoc) -> Encoded:
        return self.encode_row(d.id, d.text, [(s.start, s.end, s.label) for s in d.spans], lambda: d)

    def encode_row(
        self, doc_id: int, text: str, spans: Sequence[Sequence[Any]], full: Callable[[], ReleaseDoc]
    ) -> Encoded:
        """`spans`: (start, end, label, ...) sorted by start; `full()` gives the document as a
        ReleaseDoc, asked for only when it must be aligned by `make_doc`."""
        doc = self.nlp.make_doc(text)
        enc = self._arrays(doc_id, text, spans, doc) if self.arrays and len(doc) else None
        return enc or Encoded(fallback=(full(), doc))

    def _arrays(self, doc_id: int, text: str, spans: Sequence[Sequence[Any]], doc: Any) -> Encoded | None:
        arr = doc.to_array(self.columns)
        starts, lengths, space, trailing = arr[:, :4].T.tolist()
        ends = [a + b for a, b in zip(starts, lengths, strict=True)]
        n = len(starts)
        if ends[-1] + trailing[-1] != len(text):  # (`text`, not doc.text: that makes a Token per token)
            return None
        ents: list[tuple[int, int, str]] = []
        for s in spans:  # sorted by start: ents must follow one another without sharing a token
            i, j = bisect.bisect_left(starts, s[0]), bisect.bisect_left(ends, s[1])
            if i >= n or j >= n or starts[i] != s[0] or ends[j] != s[1] or j < i or space[i] or space[j]:
                return None
            if ents and i < ents[-1][1]:
                return None
            ents.append((i, j + 1, s[2]))
        tags = ["\tO"] * n
        for i, j, label in ents:
            tags[i] = f"\tB-{label}"
            tags[i + 1 : j] = [f"\tI-{label}"] * (j - i - 1)
        lines = [text[a:b] + tag for a, b, tag in zip(starts, ends, tags, strict=True)]
        if any(space):  # whitespace tokens have no line
            lines = [line for line, sp in zip(lines, space, strict=True) if not sp]
        return Encoded(raw=arr, ents=tuple(ents), conll=conll_block(doc_id, lines))


_KNOWN_SPACES: dict[str, bool] = {"has_unknown_spaces": False}
_NO_CATS: dict[str, float] = {}


def new_docbin() -> Any:
    from spacy.tokens import DocBin

    return DocBin(attrs=["ORTH", "ENT_IOB", "ENT_TYPE"], store_user_data=False)


def conll_block(doc_id: int, lines: list[str]) -> bytes:
    return f"# id = {doc_id}\n".encode() + ("\n".join(lines) + "\n\n").encode("utf-8")


class SplitWriter:
    """One split's DocBin and CoNLL file, written in document order.

    Documents aligned by `make_doc` go into the DocBin with `DocBin.add`; the others' arrays are
    kept as the encoder made them and the DocBin's token columns of the whole split are filled in
    a few numpy operations at the end (`docbin_bytes`), which then writes what `DocBin.to_bytes`
    would (the same message, msgpack and zlib)."""

    def __init__(self, nlp: Any, conll: Any, mode: str, report: TokenReport) -> None:
        from spacy.attrs import ENT_IOB, ENT_TYPE, ORTH

        self.nlp, self.conll, self.mode, self.report = nlp, conll, mode, report
        self.bin = new_docbin()
        self.order = [self.bin.attrs.index(a) for a in (ORTH, ENT_IOB, ENT_TYPE)]  # their columns in the bin
        self.raws: list[Any] = []  # array-path documents' arrays
        self.lengths: list[int] = []  # tokens per document
        self.in_bin: list[bool] = []  # per document: its arrays are in self.bin (added by DocBin.add)
        self.ents: list[tuple[int, int, str]] = []  # (first, end) token in the split, label
        self.n = 0
        self.empty_groups = b""

    def write(self, enc: Encoded) -> None:
        if enc.fallback is not None:
            d, doc = enc.fallback
            doc = make_doc(self.nlp, d, self.mode, self.report, doc)
            self.bin.add(doc)
            self.conll.write(conll_block(d.id, iob2_lines(doc)))
            self.lengths.append(len(doc))
            self.in_bin.append(True)
            self.n += len(doc)
            return
        n = len(enc.raw)
        self.raws.append(enc.raw)
        self.lengths.append(n)
        self.in_bin.append(False)
        self.ents += [(self.n + i, self.n + j, label) for i, j, label in enc.ents]
        self.n += n
        self.bin.flags.append(_KNOWN_SPACES)  # shared: msgpack writes each the same
        self.bin.cats.append(_NO_CATS)
        if not self.empty_groups:
            self.empty_groups = self.nlp.make_doc("").spans.to_bytes()
        self.bin.span_groups.append(self.empty_groups)
        self.report.entities += len(enc.ents)
        self.conll.write(enc.conll)

    def docbin_bytes(self) -> bytes:
        """The split's DocBin (once, when every document is written)."""
        if not self.raws:
            return self.bin.to_bytes()  # every document added by DocBin.add
        import zlib

        import numpy as np
        import srsly

        orth, iob, etype = self.order
        raw = np.concatenate([r[:, 3:6] for r in self.raws])  # SPACY, ORTH, NORM
        self.raws = []
        mine = np.repeat(~np.array(self.in_bin), self.lengths)  # the rows of array-path documents
        tokens = np.zeros((self.n, 3), dtype=np.uint64)
        spaces = np.zeros((self.n, 1), dtype=bool)
        tokens[mine, orth] = raw[:, 1]
        tokens[mine, iob] = _IOB_O
        spaces[mine, 0] = raw[:, 0] != 0
        if self.ents:
            first = np.array([e[0] for e in self.ents], dtype=np.int64)
            size = np.array([e[1] - e[0] for e in self.ents], dtype=np.int64)
            hashes = np.array([self.nlp.vocab.strings.add(e[2]) for e in self.ents], dtype=np.uint64)
            rows = np.repeat(first - (np.cumsum(size) - size), size) + np.arange(size.sum())
            tokens[rows, iob] = _IOB_I
            tokens[first, iob] = _IOB_B
            tokens[rows, etype] = np.repeat(hashes, size)
            self.bin.strings.update({e[2] for e in self.ents})
        if self.bin.tokens:  # documents added by DocBin.add, in their places
            tokens[~mine] = np.vstack(self.bin.tokens)
            spaces[~mine] = np.vstack(self.bin.spaces)
        strings = self.nlp.vocab.strings
        self.bin.strings.update(strings[h] for h in np.unique(raw[:, 1:]).tolist())
        self.bin.strings.add("")  # the tag, lemma, morph, dep, kb and ent ids (and ent type outside ents)
        msg = {  # DocBin.to_bytes's message
            "version": self.bin.version,
            "attrs": self.bin.attrs,
            "tokens": tokens.tobytes("C"),
            "spaces": spaces.tobytes("C"),
            "lengths": np.asarray(self.lengths, dtype="int32").tobytes("C"),
            "strings": sorted(self.bin.strings),
            "cats": self.bin.cats,
            "flags": self.bin.flags,
            "span_groups": self.bin.span_groups,
        }
        return zlib.compress(srsly.msgpack_dumps(msg))


def write_token_formats(
    folder: Path,
    by_split: dict[str, list[ReleaseDoc]],
    lang: str,
    mode: str,
    progress: Progress | None = None,
    arrays: bool = True,
) -> TokenReport:
    """`spacy/<split>.spacy` and `conll/<split>.conll`, tokenizing each document once.
    `arrays=False` aligns every document with spaCy's Doc objects (the reference path)."""
    from studio.ops.ner.tokens import get_nlp

    # The same tokenization as alignment: spacy.blank(lang), or for languages whose blank
    # pipeline needs extra packages (Korean: mecab) the neutral one, CJK split per character.
    nlp = get_nlp(lang)
    encoder = TokenEncoder(nlp, arrays)
    encoded = {s: (encoder.encode(d) for d in docs) for s, docs in by_split.items()}
    return write_encoded(folder, encoded, nlp, mode, sum(len(v) for v in by_split.values()), progress)


def write_encoded(
    folder: Path,
    by_split: dict[str, Iterable[Encoded]],
    nlp: Any,
    mode: str,
    total: int,
    progress: Progress | None = None,
) -> TokenReport:
    """The token files of documents encoded by a `TokenEncoder` of `nlp`, in split order (the
    second process of a large release writes with this too)."""
    report = TokenReport()
    done = 0
    (folder / "spacy").mkdir(exist_ok=True)
    (folder / "conll").mkdir(exist_ok=True)
    for split, encoded in by_split.items():
        conll_rel = f"conll/{split}.conll"
        with (folder / conll_rel).open("wb") as fh:
            writer = SplitWriter(nlp, fh, mode, report)
            for enc in encoded:
                writer.write(enc)
                done += 1
                if progress and done % 1000 == 0:
                    progress("spaCy and CoNLL", done, total)
        spacy_rel = f"spacy/{split}.spacy"
        (folder / spacy_rel).write_bytes(writer.docbin_bytes())
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
