"""Gold-standard readers: CoNLL (IOB1, IOB2, BIOES) and JSONL, plus `--map` parsing.

CoNLL: one token per line, the token in the first column and the tag in the last (columns
split on whitespace); a blank line ends a sentence, and each sentence is one document whose
text is its tokens joined by single spaces. `-DOCSTART-` lines and comments (a line starting with `#` whose
last field is not a tag: `# text = ...`, KLUE NER's `## id<TAB>sentence`) end a sentence. A file of one
character per line (KLUE NER, the Chinese NER sets: every token one character, some of them a space given as
`" <TAB>O"`, or most of them CJK or Hangul) is read as characters: the text is them joined without spaces,
and a span does not begin or end with a space. The scheme is
detected unless given: BIOES if any S-/E- tag, IOB1 if some I- tag starts an entity (after O,
at the start, or after another label), else IOB2. Decoding is the same for IOB1 and IOB2 (B-
always starts an entity, I- continues one of the same label or starts one); under an explicit
`--scheme iob2` an I- that starts an entity is also reported, as conlleval does.

JSONL: one object per line, `{"text": "...", "spans": [{"start", "end", "label"}]}` with
character offsets into `text` (`[start, end)`); a span may carry `text`, which must match.

A malformed line is reported with the file and line and skipped; in CoNLL its whole sentence
is skipped (a sentence with a missing token would have the wrong text).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from studio.errors import StudioError
from studio.schema import SCRIPT_WORDS, Span

Scheme = Literal["auto", "iob1", "iob2", "bioes"]
# File names read as CoNLL: by `import --with-labels`, and as text (each sentence a document, the tags left out)
# by a plain `import`, which leaves out CoNLL-U (its last column is not a tag).
CONLL_SUFFIXES = frozenset({".conll", ".conllu", ".iob", ".iob1", ".iob2", ".bio", ".bioes", ".tsv"})
CONLL_TEXT_SUFFIXES = CONLL_SUFFIXES - {".conllu"}
_TAG_RE = re.compile(r"^(?:O|([BIES])-(\S+))$")


class GoldDoc(BaseModel):
    text: str
    spans: list[Span] = Field(default_factory=list)
    where: str = ""  # file:line of the document's first line
    tokens: list[str] | None = None  # CoNLL only


class GoldFile(BaseModel):
    path: str
    format: Literal["conll", "jsonl"]
    scheme: str | None = None  # CoNLL: the scheme used (detected or given)
    docs: list[GoldDoc] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    skipped: list[tuple[int, str]] = Field(default_factory=list)  # CoNLL: (line, why) of each sentence left out


def parse_label_map(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`["PERSON=PER", "MISC=O"]` -> {"PERSON": "PER", "MISC": "O"}. Mapping to O (or "")
    drops the label."""
    out: dict[str, str] = {}
    for item in items:
        src, sep, dst = item.partition("=")
        if not sep or not src.strip():
            raise StudioError(f"bad label map {item!r}: write FROM=TO, e.g. --map PERSON=PER")
        out[src.strip()] = dst.strip()
    return out


def map_spans(spans: list[Span], mapping: dict[str, str]) -> list[Span]:
    out = []
    for s in spans:
        label = mapping.get(s.label, s.label)
        if label and label != "O":
            out.append(s if label == s.label else s.model_copy(update={"label": label}))
    return out


def read_gold(path: str | Path, scheme: Scheme = "auto") -> GoldFile:
    """Read a gold file; JSONL if the name ends in .jsonl/.json or the first character is `{`."""
    p = Path(path)
    if not p.is_file():
        raise StudioError(f"gold file {p} does not exist")
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StudioError(f"{p} is not UTF-8 text ({exc}); convert it to UTF-8 first") from exc
    if p.suffix.lower() in (".jsonl", ".json") or raw.lstrip().startswith("{"):
        return read_jsonl_text(raw, str(p))
    return read_conll_text(raw, str(p), scheme)


def read_jsonl_text(raw: str, name: str = "<jsonl>") -> GoldFile:
    out = GoldFile(path=name, format="jsonl")
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            out.errors.append(f"{where}: not JSON ({exc.msg}); skipped")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            out.errors.append(f'{where}: expected an object with a "text" string; skipped')
            continue
        text = obj["text"]
        try:
            spans = []
            for sp in obj.get("spans") or []:
                span = Span.model_validate({k: sp[k] for k in ("start", "end", "label", "text") if k in sp})
                span.check_against(text)
                spans.append(span.model_copy(update={"text": text[span.start : span.end]}))
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            out.errors.append(f"{where}: bad span ({msg}); skipped")
            continue
        out.docs.append(GoldDoc(text=text, spans=spans, where=where))
    return out


def _conll_fields(line: str) -> tuple[str, str] | None:
    """A line's token and tag (its first and last fields), or None for a line of one field. A tab-separated line
    keeps a token that is a space (" \tO": a character-per-line file's space, as KLUE NER writes it)."""
    if "\t" in line:
        parts = line.split("\t")
        token = parts[0] if parts[0].isspace() else parts[0].strip()
        fields = [token, *(x.strip() for x in parts[1:] if x.strip())]
    else:
        fields = line.split()
    return (fields[0], fields[-1]) if len(fields) >= 2 and fields[0] else None


def _glued(sentences: list[tuple[int, list[tuple[str, str]]]]) -> bool:
    """A character-per-line file (KLUE NER, the Chinese NER sets): every token one character and some token a space,
    or most of them of a script that names its language (Hangul, kana, CJK: `schema.SCRIPT_WORDS`). Its text is the
    characters joined without spaces."""
    chars = [w for _, sent in sentences for w, _ in sent]
    if not chars or any(len(w) != 1 for w in chars):
        return False
    if any(w.isspace() for w in chars):
        return True
    scripted = sum(any(rx.match(w) for _, rx in SCRIPT_WORDS) for w in chars)
    return scripted * 2 > len(chars)


def read_conll_text(raw: str, name: str = "<conll>", scheme: Scheme = "auto") -> GoldFile:
    sentences: list[tuple[int, list[tuple[str, str]]]] = []
    skipped: list[tuple[int, str]] = []  # (line, why): the sentence is left out
    cur: list[tuple[str, str]] = []
    first = 0
    bad = False

    def flush() -> None:
        nonlocal cur, bad
        if cur and not bad:
            sentences.append((first, cur))
        cur, bad = [], False

    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            flush()
            continue
        fields = _conll_fields(line)
        if line.split()[0] == "-DOCSTART-" or (line.startswith("#") and not (fields and _TAG_RE.match(fields[1]))):
            flush()  # a document break, or a comment ("# text = ...", KLUE's "## id<TAB>sentence")
            continue
        if not cur and not bad:
            first = n
        if fields is None:
            skipped.append((n, f"expected 'TOKEN ... TAG', got {line.strip()!r}; sentence skipped"))
            bad = True
            continue
        if not _TAG_RE.match(fields[1]):
            skipped.append((n, f"bad tag {fields[1]!r} (use O, B-X, I-X, E-X or S-X); sentence skipped"))
            bad = True
            continue
        cur.append(fields)
    flush()
    glued = _glued(sentences)
    joiner = "" if glued else " "
    used = detect_scheme([t for _, s in sentences for _, t in s]) if scheme == "auto" else scheme
    errors = [f"{name}:{n}: {why}" for n, why in skipped]
    out = GoldFile(path=name, format="conll", scheme=used, errors=errors, skipped=skipped)
    for first_line, whole in sentences:
        # spaces around the text are not part of it; between words they are characters (glued) or separators
        sent = _trim(whole) if glued else [(w, t) for w, t in whole if not w.isspace()]
        if not sent:
            continue
        tokens = [w for w, _ in sent]
        spans = decode_tags(tokens, [t for _, t in sent], joiner)
        if used == "iob2":
            for i, tag in enumerate(t for _, t in sent):
                if tag.startswith("I-") and (i == 0 or sent[i - 1][1][2:] != tag[2:] or sent[i - 1][1] == "O"):
                    out.errors.append(f"{name}:{first_line + i}: {tag} starts an entity (IOB2 wants B-); read as B-")
        out.docs.append(GoldDoc(text=joiner.join(tokens), spans=spans, tokens=tokens, where=f"{name}:{first_line}"))
    return out


def _trim(sent: list[tuple[str, str]]) -> list[tuple[str, str]]:
    a, b = 0, len(sent)
    while a < b and sent[a][0].isspace():
        a += 1
    while b > a and sent[b - 1][0].isspace():
        b -= 1
    return sent[a:b]


def detect_scheme(tags: list[str]) -> str:
    if any(t[:2] in ("S-", "E-") for t in tags):
        return "bioes"
    prev = "O"
    for t in tags:
        if t.startswith("I-") and (prev == "O" or prev[2:] != t[2:]):
            return "iob1"
        prev = t
    return "iob2"


def decode_tags(tokens: list[str], tags: list[str], joiner: str = " ") -> list[Span]:
    """Tags to character spans over `joiner.join(tokens)` (a character-per-line file: ""); see the module docstring
    for rules. A span does not begin or end with a space (a space tagged inside a name is a character of it)."""
    spans: list[Span] = []
    text = joiner.join(tokens)
    offsets = []
    pos = 0
    for tok in tokens:
        offsets.append((pos, pos + len(tok)))
        pos += len(tok) + len(joiner)
    start: int | None = None
    label = ""

    def close(end_tok: int) -> None:
        nonlocal start
        if start is not None:
            s, e = offsets[start][0], offsets[end_tok][1]
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if e > s:
                spans.append(Span(start=s, end=e, label=label, text=text[s:e]))
        start = None

    for i, tag in enumerate(tags):
        if tag == "O":
            close(i - 1)
            continue
        kind, lab = tag[0], tag[2:]
        if kind in ("B", "S") or start is None or lab != label:
            close(i - 1)
            start, label = i, lab
        if kind in ("S", "E"):
            close(i)
    close(len(tags) - 1)
    return spans
