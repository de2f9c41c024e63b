"""File import: .txt, .jsonl, .csv and .html files (and folders of them) into documents; a CoNLL file's
sentences as text (its tags are imported by `import --with-labels`, `studio.ops.collect.labels`).

A bad row or file never stops an import: it is reported with its file and line and the rest
goes in. Text files are decoded as UTF-8 when they are UTF-8; a file with no valid UTF-8 text
at all is detected as a whole (charset-normalizer); a UTF-8 file with a few broken lines keeps
its good lines and reports the broken ones.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from studio.errors import StudioError
from studio.ops.collect.decode import bom_codec, decode_page, detect
from studio.ops.collect.extract import extract_page
from studio.ops.collect.import_op import ImportIssue, ImportResult, ImportSettings, shown
from studio.ops.ner.formats import CONLL_TEXT_SUFFIXES, read_conll_text
from studio.schema import Document, language_code, text_language
from studio.store import Store

Format = Literal["txt", "jsonl", "csv", "html", "conll"]
FORMATS: dict[str, Format] = {
    ".txt": "txt",
    ".text": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
} | dict.fromkeys(CONLL_TEXT_SUFFIXES, "conll")
_LABELED_ONLY = (".spacy", ".json", ".conllu")  # files `import --with-labels` reads and a plain import not
BATCH = 500  # documents per transaction (and per documents.add decision)


class ImportProgress(BaseModel):
    files_done: int
    files_total: int
    imported: int
    duplicates: int
    errors: int
    current: str = ""


class _Undecodable(Exception):
    pass


class _Skip(Exception):
    """A file not read at all; the message says why and what to do."""


def _read(path: Path, fmt: Format, s: ImportSettings) -> bytes:
    """The file's bytes: regular files only (a FIFO would block forever), opened without blocking;
    a whole-file text document surely over the size limit is refused before it is read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _Skip(_NOT_REGULAR)
        if fmt == "txt" and not s.per_line and not s.split_long and st.st_size > 4 * s.max_chars:
            raise _Skip(
                f"file of {st.st_size:,} bytes is one document over the limit of {s.max_chars:,} characters; skipped: "
                "pass --max-chars N to raise the limit, --split-long to import it in parts, or --per-line"
            )
        return f.read()


def _split(text: str) -> list[str]:
    # Only \n ends a line: str.splitlines() would also split on U+2028, which JSON allows in strings.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _decode_lines(data: bytes) -> tuple[list[str], set[int], str]:
    """(lines, numbers of undecodable lines, how). Lines keep no line ending; numbers start at 1."""
    codec = bom_codec(data)
    if codec:
        return _split(data.decode(codec, errors="replace")), set(), f"bom:{codec}"
    try:
        return _split(data.decode("utf-8")), set(), "utf-8"
    except UnicodeDecodeError:
        pass
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    good_utf8 = 0
    for line in raw:
        if not line.isascii():
            try:
                line.decode("utf-8")
                good_utf8 += 1
            except UnicodeDecodeError:
                pass
    if good_utf8 == 0:
        # No line is UTF-8 beyond ASCII: the whole file is in one legacy encoding.
        codec = detect(data)
        if codec is None:
            raise _Undecodable("undecodable bytes: not UTF-8 and no text encoding fits")
        return _split(data.decode(codec, errors="replace")), set(), f"detected:{codec}"
    # UTF-8 with some broken lines: keep the good ones, report the rest.
    lines: list[str] = []
    broken: set[int] = set()
    for n, line in enumerate(raw, 1):
        try:
            lines.append(line.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError:
            lines.append("")
            broken.add(n)
    return lines, broken, "utf-8"


def _iter_files(paths: list[Path], result: ImportResult) -> list[tuple[Path, Format | None]]:
    out: list[tuple[Path, Format | None]] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if f.is_symlink():
                    problem = _link_problem(f, p)
                    if problem:
                        result.errors.append(ImportIssue(path=str(f), message=problem))
                        continue
                if not f.is_file():
                    if not f.is_dir() and f.exists():
                        result.errors.append(ImportIssue(path=str(f), message=_NOT_REGULAR))
                    continue
                fmt = FORMATS.get(f.suffix.lower())
                if fmt is None:
                    result.skipped_files.append(str(f))
                else:
                    out.append((f, fmt))
        else:
            out.append((p, FORMATS.get(p.suffix.lower())))
    return out


_NOT_REGULAR = "not a regular file (a pipe, socket or device); skipped"


def _link_problem(link: Path, root: Path) -> str:
    """Why a symlink inside an imported folder is not followed, or "" when it stays inside."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return "broken symbolic link (its target does not exist); skipped"
    if not target.is_relative_to(root):
        return f"symbolic link to {shown(str(target))}, outside the imported folder; not followed"
    return ""


def _too_long(path: Path, line: int | None, n: int, s: ImportSettings) -> ImportIssue:
    return ImportIssue(
        path=str(path),
        line=line,
        message=f"document of {n:,} characters is over the limit of {s.max_chars:,}; skipped: pass --max-chars N "
        "to raise the limit, or --split-long to import it in parts split at paragraphs",
    )


def _parts(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph breaks (else line breaks, spaces)."""
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        # the last paragraph break in the second half of the window, else a line break, a space
        cut = next((c for c in (window.rfind(sep) for sep in ("\n\n", "\n", " ")) if c > limit // 2), limit)
        parts.append(text[:cut].strip())
        text = text[cut:].lstrip()
    parts.append(text.strip())
    return [p for p in parts if p]


def _sized(doc: Document, path: Path, line: int | None, s: ImportSettings) -> Iterator[Document | ImportIssue]:
    """The document, its parts when it is too long and --split-long is on, or an issue."""
    if len(doc.text) <= s.max_chars:
        yield doc
    elif not s.split_long:
        yield _too_long(path, line, len(doc.text), s)
    else:
        for k, part in enumerate(_parts(doc.text, s.max_chars), 1):
            yield Document(text=part, lang=doc.lang, source=doc.source, provenance=doc.provenance | {"part": k})


def project_language(store: Store) -> str:
    """The language of a project's documents when nothing else says: its approved guideline's, else "en"."""
    approved = store.approved_guideline()
    return (language_code(approved[0].language) if approved else None) or "en"


def _lang(text: str, s: ImportSettings) -> str:
    """A document's language: its script's, else the setting (resolved by `import_paths`)."""
    return text_language(text, s.lang or "en")


def _docs_txt(path: Path, data: bytes, s: ImportSettings) -> Iterator[Document | ImportIssue]:
    lines, broken, how = _decode_lines(data)
    if not s.per_line:
        if broken:
            yield ImportIssue(path=str(path), line=min(broken), message="undecodable bytes (not UTF-8); file skipped")
            return
        text = "\n".join(lines).strip()
        if not text:
            yield ImportIssue(path=str(path), message="empty file")
            return
        yield Document(text=text, lang=_lang(text, s), source="import", provenance=_prov(path, "txt", None, how))
        return
    found = False
    for n, line in enumerate(lines, 1):
        if n in broken:
            yield ImportIssue(path=str(path), line=n, message="undecodable bytes (not UTF-8); line skipped")
        elif line.strip():
            found = True
            text = line.strip()
            yield Document(text=text, lang=_lang(text, s), source="import", provenance=_prov(path, "txt", n, how))
    if not found and not broken:
        yield ImportIssue(path=str(path), message="empty file")


def _docs_jsonl(path: Path, data: bytes, s: ImportSettings) -> Iterator[Document | ImportIssue]:
    lines, broken, how = _decode_lines(data)
    if not any(line.strip() for line in lines) and not broken:
        yield ImportIssue(path=str(path), message="empty file")
        return
    for n, line in enumerate(lines, 1):
        if n in broken:
            yield ImportIssue(path=str(path), line=n, message="undecodable bytes (not UTF-8); line skipped")
            continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield ImportIssue(path=str(path), line=n, message=f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(row, dict):
            yield ImportIssue(path=str(path), line=n, message=f"expected a JSON object, got {type(row).__name__}")
            continue
        text = row.get(s.field)
        if not isinstance(text, str):
            why = "is missing" if s.field not in row else f"is a {type(text).__name__}, not text"
            fields = ", ".join(sorted(row)[:10])
            yield ImportIssue(
                path=str(path), line=n, message=f"field {s.field!r} {why} (fields: {fields}); pick one with --field"
            )
            continue
        if not text.strip():
            yield ImportIssue(path=str(path), line=n, message=f"field {s.field!r} is empty")
            continue
        lang = row.get("lang") if isinstance(row.get("lang"), str) and row.get("lang") else _lang(text, s)
        yield Document(text=text, lang=lang, source="import", provenance=_prov(path, "jsonl", n, how))


def _docs_csv(path: Path, data: bytes, s: ImportSettings) -> Iterator[Document | ImportIssue]:
    lines, broken, how = _decode_lines(data)
    if not any(line.strip() for line in lines):
        yield ImportIssue(path=str(path), message="empty file")
        return
    reader = csv.DictReader(io.StringIO("\n".join(lines) + "\n", newline=""))
    try:
        fields = reader.fieldnames or []
    except csv.Error as exc:
        yield ImportIssue(path=str(path), line=1, message=f"unreadable CSV header ({exc})")
        return
    if s.column not in fields:
        cols = ", ".join(f for f in fields if f)[:200]
        yield ImportIssue(
            path=str(path), line=1, message=f"no column {s.column!r} (columns: {cols}); pick one with --column"
        )
        return
    start, row_no = reader.line_num + 1, 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield ImportIssue(path=str(path), line=reader.line_num, message=f"bad CSV ({exc}); rest of file skipped")
            return
        row_no += 1
        span = range(start, reader.line_num + 1)
        line, start = span.start, reader.line_num + 1
        text = row.get(s.column)
        merged = _merged_rows(lines[span.start - 1 : span.stop - 1], len(fields), span.stop - 1 == len(lines))
        if merged:
            yield ImportIssue(
                path=str(path),
                line=line,
                message=f'a quote (") opened on this line is {merged} lines {line}-{span.stop - 1} would become one '
                "document; row skipped: fix the quoting",
            )
        elif broken.intersection(span):
            yield ImportIssue(path=str(path), line=line, message="undecodable bytes (not UTF-8); row skipped")
        elif text is None:
            yield ImportIssue(path=str(path), line=line, message=f"row has no value in column {s.column!r}")
        elif not text.strip():
            yield ImportIssue(path=str(path), line=line, message=f"column {s.column!r} is empty")
        else:
            prov = _prov(path, "csv", line, how) | {"row": row_no}
            yield Document(text=text, lang=_lang(text, s), source="import", provenance=prov)


def _merged_rows(raw: list[str], columns: int, at_end: bool) -> str:
    """How a record that spans several lines went wrong, or "" when it looks like one real row.

    A quoted field may hold line breaks, but an unterminated quote swallows the rows after it:
    the quotes of the record do not balance at the end of the file, or inner lines look like
    whole rows of their own."""
    if len(raw) < 2:
        return ""
    if at_end and "\n".join(raw).count('"') % 2:
        return "never closed:"
    if columns > 1 and sum(1 for r in raw[1:] if r.count(",") >= columns - 1) >= 2:
        return "closed only later:"
    return ""


def _docs_html(path: Path, data: bytes, s: ImportSettings) -> Iterator[Document | ImportIssue]:
    if not data.strip():
        yield ImportIssue(path=str(path), message="empty file")
        return
    html, how = decode_page(data, None, html=True)
    meta, text, method = extract_page(html)
    if not text.strip():
        yield ImportIssue(path=str(path), message="no text found in the page")
        return
    lang = meta.lang.split("-")[0].lower() if meta.lang else _lang(text, s)
    prov = _prov(path, "html", None, how) | {
        "title": meta.title,
        "license_hints": meta.license_hints,
        "extraction": method,
    }
    yield Document(text=text, lang=lang, source="import", provenance=prov)


def _docs_conll(path: Path, data: bytes, s: ImportSettings) -> Iterator[Document | ImportIssue]:
    """Each sentence of a CoNLL file as a document: its tokens joined by single spaces, as `studio eval FILE`
    reads the same file (so its scores find these documents); the tags are not imported (`--with-labels` does).
    A malformed sentence is reported and skipped, as the gold reader skips it."""
    lines, broken, how = _decode_lines(data)
    if broken:
        yield ImportIssue(path=str(path), line=min(broken), message="undecodable bytes (not UTF-8); file skipped")
        return
    gold = read_conll_text("\n".join(lines), str(path))
    if path.suffix.lower() == ".tsv" and not gold.docs and gold.skipped:
        yield ImportIssue(path=str(path), message="not CoNLL (a token and its tag per line, as KLUE NER's files); "
                          "a table of texts: save it as .csv, or as .jsonl with a text field")  # fmt: skip
        return
    for line, why in gold.skipped:
        yield ImportIssue(path=str(path), line=line, message=why)
    if not gold.docs and not gold.skipped:
        yield ImportIssue(path=str(path), message="no sentences (one token per line, a blank line after a sentence)")
    for d in gold.docs:
        line = int(d.where.rpartition(":")[2])
        yield Document(text=d.text, lang=_lang(d.text, s), source="import", provenance=_prov(path, "conll", line, how))


_READERS: dict[Format, Callable[[Path, bytes, ImportSettings], Iterator[Document | ImportIssue]]] = {
    "txt": _docs_txt,
    "jsonl": _docs_jsonl,
    "csv": _docs_csv,
    "html": _docs_html,
    "conll": _docs_conll,
}


def _prov(path: Path, fmt: str, line: int | None, how: str) -> dict[str, Any]:
    out: dict[str, Any] = {"path": str(path), "format": fmt, "charset": how}
    if line is not None:
        out["line"] = line
    return out


def import_paths(
    store: Store,
    paths: list[str | Path],
    settings: ImportSettings | None = None,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> ImportResult:
    """Import files and folders (recursively). Logged as one `import.run` decision by `tool`."""
    s = settings or ImportSettings()
    if s.lang is None:  # recorded as resolved: the decision says which language Latin text got
        s = s.model_copy(update={"lang": project_language(store)})
    roots = [Path(p).expanduser() for p in paths]
    if not roots:
        raise StudioError("give at least one file or folder to import")
    missing = [str(p) for p in roots if not p.exists()]
    if missing:
        raise StudioError(f"no such file or folder: {', '.join(map(shown, missing))} (nothing was imported)")
    result = ImportResult()
    files = _iter_files([p.resolve() for p in roots], result)
    batch: list[Document] = []

    new_ids: list[int] = []

    def flush() -> None:
        if batch:
            for (doc_id, is_new), doc in zip(
                store.add_documents(batch, actor="tool", rationale="import"), batch, strict=True
            ):
                if is_new:
                    new_ids.append(doc_id)
                    result.imported += 1
                    result.languages[doc.lang] = result.languages.get(doc.lang, 0) + 1
                else:
                    result.duplicates += 1
            batch.clear()

    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long documents are fine in a text column
    for i, (path, fmt) in enumerate(files, 1):
        result.files += 1
        if fmt is None:
            result.errors.append(
                ImportIssue(
                    path=str(path),
                    message=f"unsupported file type {path.suffix or '(none)'!r}; use .txt, .jsonl, .csv, .html or .conll"
                    + (" (annotations: --with-labels)" if path.suffix.lower() in _LABELED_ONLY else ""),
                )
            )
            continue
        try:
            data = _read(path, fmt, s)
            if b"\x00" in data[:8192] and bom_codec(data) is None:
                raise _Undecodable("looks like a binary file (NUL bytes)")
            for found in _READERS[fmt](path, data, s):
                items = _sized(found, path, found.provenance.get("line"), s) if isinstance(found, Document) else [found]
                for item in items:
                    if isinstance(item, ImportIssue):
                        result.errors.append(item)
                        continue
                    batch.append(item)
                    result.by_format[fmt] = result.by_format.get(fmt, 0) + 1
                    if len(batch) >= BATCH:
                        flush()
        except _Undecodable as exc:
            result.errors.append(ImportIssue(path=str(path), message=f"{exc}; file skipped"))
        except _Skip as exc:
            result.errors.append(ImportIssue(path=str(path), message=str(exc)))
        except OSError as exc:
            result.errors.append(ImportIssue(path=str(path), message=f"cannot read: {exc.strerror or exc}"))
        if on_progress is not None:
            on_progress(
                ImportProgress(
                    files_done=i,
                    files_total=len(files),
                    imported=result.imported + len(batch),
                    duplicates=result.duplicates,
                    errors=len(result.errors),
                    current=str(path),
                )
            )
    flush()
    if s.near_dups and new_ids:
        _near_duplicates(store, new_ids, result)
    store.record(
        "tool",
        "import.run",
        [],
        {
            "args": {"paths": [str(p) for p in roots], **s.model_dump()},
            "counts": {
                "files": result.files,
                "imported": result.imported,
                "duplicates": result.duplicates,
                "errors": len(result.errors),
                "skipped_files": len(result.skipped_files),
            },
            "by_format": result.by_format,
            "errors": [str(e) for e in result.errors[:100]],
            "near_duplicates": result.near_duplicates[:1000],
            "similarity": result.similarity,
        },
    )
    return result


def _near_duplicates(store: Store, new_ids: list[int], result: ImportResult) -> None:
    """Pair each new document with the most similar other document it nearly copies, if any.

    Exact copies never get here (same content hash: skipped as duplicates); this catches the same
    article with a different footer, a re-export with fixed typos, a crawled page imported again.
    """
    from studio.ops.dedup import minhash_near_duplicates

    # The MinHash estimate alone, no vectors: an import of 100k lines must not wait for 100k
    # sentence embeddings. `studio dups` compares candidates with the best backend.
    report = minhash_near_duplicates(store, only=new_ids)
    result.similarity = report.backend
    fresh = set(new_ids)
    best: dict[int, tuple[int, float]] = {}
    for p in report.pairs:
        # ids grow, so p.b (the newer) is the near-copy; p.a may be new too (two copies in one import)
        if p.b in fresh and (p.b not in best or p.similarity > best[p.b][1]):
            best[p.b] = (p.a, p.similarity)
    result.near_duplicates = [
        {"document_id": d, "of": of, "similarity": round(sim, 4)} for d, (of, sim) in sorted(best.items())
    ]
