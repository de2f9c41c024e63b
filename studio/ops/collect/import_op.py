"""The import operation (registry entry): arguments, result, and the run.

`ImportSettings` (how files become documents) is declared here, with the CLI's help text, so
the defaults are written once; `ImportArgs` adds the files and the annotation options. Plain
files go through `studio.ops.collect.importer.import_paths`, files with annotations
(`with_labels`, `as_proposals`, `map`) through `studio.ops.collect.labels.import_labeled`. Both
are imported when the operation runs, so declaring it keeps `studio --help` light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from studio.errors import StudioError
from studio.ops.registry import Args, OpContext, Result, operation

DEFAULT_MAX_CHARS = 1_000_000


def shown(name: str) -> str:
    """A file name as it is safe to print: control characters (newlines, escape codes) escaped."""
    if name.isprintable():
        return name
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in name)


class ImportSettings(BaseModel):
    """How files become documents (the fields the `import.run` decision records)."""

    field: str = Field(default="text", description="The text field of .jsonl rows.")
    column: str = Field(default="text", description="The text column of .csv files.")
    lang: str | None = Field(
        default=None,
        description="Language of documents in Latin script (default: the approved guideline's, else en). Korean, "
        "Japanese and Chinese text is known by its script; a .jsonl 'lang' or an HTML page's lang wins.",
        json_schema_extra={"metavar": "CODE"},
    )
    per_line: bool = Field(default=False, description="In .txt files, one document per non-empty line (default: per file).")  # fmt: skip
    near_dups: bool = Field(default=True, description="Report new documents that nearly copy another document.")
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=1,
                           description="Longest document, in characters; a longer one is skipped and reported.")  # fmt: skip
    split_long: bool = Field(default=False, description="Import a document over --max-chars in parts split at paragraphs.")  # fmt: skip


class ImportIssue(BaseModel):
    path: str
    line: int | None = None
    message: str

    def __str__(self) -> str:
        name = shown(self.path)
        return f"{name}:{self.line}: {self.message}" if self.line else f"{name}: {self.message}"


class ImportResult(BaseModel):
    files: int = 0
    imported: int = 0
    duplicates: int = 0
    by_format: dict[str, int] = Field(default_factory=dict)
    languages: dict[str, int] = Field(default_factory=dict)  # new documents by language (`schema.text_language`)
    errors: list[ImportIssue] = Field(default_factory=list)
    skipped_files: list[str] = Field(default_factory=list)  # in folders, of a type we do not read
    # new documents that nearly copy another document (stored before or imported now): kept, reported
    near_duplicates: list[dict[str, Any]] = Field(default_factory=list)
    similarity: str | None = None  # the backend that judged them


class LabelImportResult(BaseModel):
    path: str
    format: str
    scheme: str | None = None
    documents: int = 0
    new_documents: int = 0
    spans: int = 0
    completed: int = 0
    partial: int = 0  # documents the file marks "complete": false
    proposals: int = 0
    as_proposals: str | None = None
    snapped: list[str] = Field(default_factory=list)
    skipped_spans: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        what = (
            f"{self.proposals} proposals of source {self.as_proposals}"
            if self.as_proposals
            else f"{self.spans} approved spans, {self.completed} documents complete, {self.partial} partial"
        )
        return (
            f"Imported {self.documents} documents ({self.new_documents} new) from {self.path} "
            f"[{self.format}{', ' + self.scheme if self.scheme else ''}]: {what}; "
            f"{len(self.snapped)} spans snapped to token edges, {len(self.skipped_spans)} left out, "
            f"{len(self.errors)} malformed entries skipped."
        )


class ImportArgs(Args, ImportSettings):
    paths: list[str] = Field(
        min_length=1, description="Files or folders: .txt .jsonl .csv .html .conll (or annotations, with --with-labels).",
        json_schema_extra={"cli": "argument", "path": True, "metavar": "PATH..."},
    )  # fmt: skip
    with_labels: bool = Field(
        default=False,
        description="The files hold annotations: JSONL spans (spaCy/Prodigy), CoNLL (IOB1/IOB2/BIOES), a spaCy "
        "DocBin (.spacy) or a Label Studio JSON export. Spans become approved labels by you and documents "
        'complete, unless a line says "complete": false.',
    )
    as_proposals: str | None = Field(
        default=None, description="With annotations: make them pending proposals of a weak source NAME instead of labels.",
        json_schema_extra={"metavar": "NAME"},
    )  # fmt: skip
    map: list[str] = Field(
        default_factory=list, description="With annotations: rename a label (repeatable); TO=O drops it.",
        json_schema_extra={"metavar": "FROM=TO"},
    )  # fmt: skip

    @property
    def labeled(self) -> bool:
        return bool(self.with_labels or self.as_proposals or self.map)


class ImportOpResult(ImportResult, Result):
    """A plain import's counts, or (`labeled`) one result per file of annotations."""

    labeled: list[LabelImportResult] = Field(default_factory=list)
    hints: list[str] = Field(default_factory=list)  # .txt files that look like one item per line

    def summary(self) -> str:
        if self.labeled:
            return "\n".join(r.summary() for r in self.labeled)
        langs = ", ".join(f"{lang} {n}" for lang, n in sorted(self.languages.items(), key=lambda kv: (-kv[1], kv[0])))
        return (
            f"Imported {self.imported} documents from {self.files} files "
            f"({self.duplicates} duplicates skipped, {len(self.errors)} errors)."
            + (f" Languages: {langs}." if langs else "")
        )


HELP = """Import documents from .txt, .jsonl, .csv, .html and CoNLL files, or folders of them.

Folders are read recursively (hidden files skipped). Encodings are detected. A bad row or
file is reported with its file and line and the rest is imported; documents already in
the project (same text) are skipped. A .txt file is one document unless --per-line (the
import says when its lines look like separate sentences). A CoNLL file (.conll, .iob, .bio,
.tsv; also one character per line, as KLUE NER's) gives one document per sentence, without
its tags.

With --with-labels the files carry annotations (see docs/collect.md): labels the approved
guideline does not have are refused with the list (map them with --map), spans off token
edges are snapped and reported, malformed lines are reported as file:line and skipped.

\b
Examples:
  studio import corpus/                        # everything under corpus/
  studio import notes.txt --per-line           # one sentence per line -> one document each
  studio import tweets.jsonl --field content
  studio import reviews.csv --column body --lang de
  studio import test.conll                     # its sentences, to label (then: studio eval test.conll)
  studio import gold.conll --with-labels --map PER=PERSON --map MISC=O
  studio import export.json --with-labels --as-proposals labelstudio
"""


@operation("import", args=ImportArgs, result=ImportOpResult, help=HELP)
def import_files(ctx: OpContext, args: ImportArgs) -> ImportOpResult:
    paths = [ctx.path(p) for p in args.paths]
    if args.labeled:
        return ImportOpResult(labeled=_import_labeled(ctx, args, paths))
    from studio.ops.collect.hints import per_line_hints
    from studio.ops.collect.importer import ImportProgress, import_paths

    def on_progress(p: ImportProgress) -> None:
        ctx.report("import", p.files_done, p.files_total)

    settings = ImportSettings(**args.model_dump(include=set(ImportSettings.model_fields)))
    result = import_paths(ctx.store, list(paths), settings, on_progress if ctx.progress else None)
    hints = [] if args.per_line else per_line_hints(paths)
    if result.by_format.get("conll"):
        hints.append(
            f"{result.by_format['conll']} sentences of CoNLL files were read as text, without their tags (to label "
            "them; `studio eval FILE` scores the proposals against the tags). To import the tags: --with-labels "
            "(your approved labels) or --with-labels --as-proposals NAME (proposals to review)."
        )
    return ImportOpResult(**result.model_dump(), hints=hints)


def _import_labeled(ctx: OpContext, args: ImportArgs, paths: list[Path]) -> list[LabelImportResult]:
    from studio.ops.collect.labels import import_labeled
    from studio.ops.ner.formats import parse_label_map

    mapping = parse_label_map(list(args.map))
    for p in paths:
        if not p.is_file():
            raise StudioError(f"{p}: --with-labels reads files (a .jsonl, .conll, .spacy or Label Studio .json)")
    return [
        import_labeled(ctx.store, p, ctx.actor, as_proposals=args.as_proposals, mapping=mapping, lang=args.lang,
                       progress=ctx.progress)
        for p in paths
    ]  # fmt: skip
