"""Pydantic models shared by every layer: the vocabulary of Studio.

Nothing here touches the disk or the network; the store persists these models as JSON.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TaskType = Literal["ner", "detection", "classification"]

# Actors are `agent`, `tool`, or `human:<name>`; the name is free text without spaces.
ACTOR_RE = re.compile(r"^(agent|tool|human:[^\s]+)$")


def utcnow() -> str:
    """ISO-8601 UTC timestamp with millisecond precision (sortable as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def content_hash(text: str) -> str:
    """Hash of a document's text used for exact dedup.

    Text is NFC-normalized and line endings unified first, so the same page fetched twice
    (or saved on Windows) is one document.
    """
    norm = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def language_code(language: str | None) -> str | None:
    """The two-letter code a language setting starts with ("en" for "en", "en-GB", "English"), or None."""
    code = (language or "").strip().lower()
    return code[:2] if len(code) >= 2 and code[:2].isalpha() else None


# Scripts that name their language (the order `agent.guideline.guess_language` tries them in)
SCRIPT_WORDS = (
    ("ko", re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]+")),  # Hangul syllables and jamo
    ("ja", re.compile(r"[\u3040-\u30ff]+")),  # kana
    ("zh", re.compile(r"[\u4e00-\u9fff]+")),  # CJK ideographs (kana beside them say Japanese)
)
_LATIN_WORDS = re.compile(r"[A-Za-z\u00c0-\u024f]+")


def text_language(text: str, default: str = "en") -> str:
    """The language a document's script says, else `default`.

    Words (runs of one script) are counted, not characters: "한국과학기술원(KAIST)과" is Korean, an
    English article quoting "이정후" once is not. Hangul, kana and CJK ideographs each name their
    language; Latin script (or no letters at all: "3-1") cannot tell English from German, so it
    takes `default` (the setting or the guideline's language), unless `default` is itself a
    language of another script, when it is "en". A tie goes to `default`'s script."""
    counts = {lang: len(rx.findall(text)) for lang, rx in SCRIPT_WORDS}
    if counts["ja"]:
        counts["ja"] += counts.pop("zh")  # kanji in Japanese text
    latin = len(_LATIN_WORDS.findall(text))
    lang, most = max(counts.items(), key=lambda kv: kv[1])
    if most > latin or (most and most == latin and language_code(default) == lang):
        return lang  # a tie goes to the setting's script
    if not latin or language_code(default) not in {lang for lang, _ in SCRIPT_WORDS}:
        return default
    return "en"


def check_actor(actor: str) -> str:
    if not ACTOR_RE.match(actor):
        raise ValueError(f"actor must be 'agent', 'tool' or 'human:<name>', got {actor!r}")
    return actor


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Document(Model):
    id: int | None = None
    text: str
    source: str = "import"  # import | crawl | synthetic | fixture
    lang: str = "en"
    provenance: dict[str, Any] = Field(default_factory=dict)
    content_hash: str = ""
    created_at: str = ""

    @model_validator(mode="after")
    def _fill_hash(self) -> Document:
        if not self.content_hash:
            self.content_hash = content_hash(self.text)
        return self


class Span(Model):
    """A labeled character range [start, end) of a document's text."""

    start: int = Field(ge=0)
    end: int = Field(gt=0)
    label: str = Field(min_length=1)
    text: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end <= self.start:
            raise ValueError(f"span end ({self.end}) must be greater than start ({self.start})")
        return self

    def check_against(self, text: str) -> None:
        """Raise ValueError if the span does not fit `text` or its text disagrees."""
        if self.end > len(text):
            raise ValueError(f"span [{self.start}:{self.end}] is past the end of the text ({len(text)})")
        if self.text and text[self.start : self.end] != self.text:
            raise ValueError(
                f"span text {self.text!r} does not match the document at "
                f"[{self.start}:{self.end}] ({text[self.start : self.end]!r})"
            )


class Box(Model):
    """A YOLO-style box: class id and normalized centre x, centre y, width, height."""

    class_id: int
    cx: float
    cy: float
    w: float
    h: float

    def is_finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.cx, self.cy, self.w, self.h))


class LabelDef(Model):
    name: str = Field(min_length=1)
    definition: str = ""
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    positive_examples: list[str] = Field(default_factory=list)
    negative_examples: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_token(cls, v: str) -> str:
        v = v.strip()
        if not v or any(c.isspace() for c in v):
            raise ValueError(f"label name must be one word (use _ between words), got {v!r}")
        return v


class SourcesPlan(Model):
    seed_urls: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    notes: str = ""


class QualityCriteria(Model):
    accuracy: str = ""
    consistency: str = ""
    reproducibility: str = ""


class Guideline(Model):
    goal: str
    task_type: TaskType = "ner"
    language: str = "en"
    labels: list[LabelDef] = Field(min_length=1)
    edge_cases: list[str] = Field(default_factory=list)
    sources: SourcesPlan = Field(default_factory=SourcesPlan)
    quality: QualityCriteria = Field(default_factory=QualityCriteria)
    target_size: int = Field(default=500, ge=1)

    @model_validator(mode="after")
    def _unique_labels(self) -> Guideline:
        names = [lab.name for lab in self.labels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"label names must be unique, repeated: {', '.join(dupes)}")
        return self

    def label_names(self) -> list[str]:
        return [lab.name for lab in self.labels]


ProposalKind = Literal["span", "box_fix", "box_augment", "action", "document"]
ProposalStatus = Literal["pending", "accepted", "rejected", "edited", "withdrawn"]


class Proposal(Model):
    """Something an agent or tool suggests; it changes no data until a human decides."""

    id: int | None = None
    kind: ProposalKind
    document_id: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    source: str = ""  # e.g. "llm:ner.v1", "gazetteer", "boxes:near_duplicate"
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    status: ProposalStatus = "pending"
    created_at: str = ""
    batch: str = ""  # groups proposals made by one run (a weak-label run, a cleanse run)


class Decision(Model):
    """One row of the append-only decision log."""

    id: int | None = None
    ts: str = ""
    session_id: str | None = None
    actor: str
    action: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$")
    subject_ids: list[str] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    rationale: str = ""

    @field_validator("actor")
    @classmethod
    def _actor(cls, v: str) -> str:
        return check_actor(v)
