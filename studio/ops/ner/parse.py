"""Parse a model's NER answer: `{"entities": [{"text", "label", "context"}]}` (ner.v1-v3), or the compact
answer of ner.v4 and later, `{"names": [["Jane Doe", "PER"], ["Acme", "ORG"]]}` (`parse_pairs`).

Repairs are made only where they cannot invent data:
- Markdown fences and prose around ONE JSON object are stripped.
- A truncated answer (the model ran out of tokens) keeps every complete entity object
  before the cut; the partial one is dropped and noted.
- A bare list of entity objects is accepted as the entity list.
Entities with labels outside the guideline are dropped with a note (label names match
case-insensitively); malformed entity items are dropped with a note. Anything else raises
`ParseFailure`, so the caller marks the document failed with the reason.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studio.errors import StudioError


class Mention(BaseModel):
    """One entity the model names: its surface text, label, and a few words around it."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1, description="The entity exactly as written in the text.")
    label: str = Field(min_length=1, description="One of the guideline's label names.")
    context: str = Field(default="", description="A few words around the mention, copied from the text.")


class NerAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    entities: list[Mention] = Field(default_factory=list)


class ParseResult(BaseModel):
    mentions: list[Mention]
    repaired: bool = False
    errors: list[str] = Field(default_factory=list)


class ParseFailure(StudioError):
    """The answer cannot be read as entities; `reason` says why (stored with the failed document)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"could not parse the model's answer: {reason}")
        self.reason = reason


def answer_json_schema(labels: list[str], *, strict: bool = False) -> dict[str, Any]:
    """JSON schema for structured output, with `label` restricted to the guideline's labels.

    Written out by hand (not generated) so it holds only keywords every structured-output
    backend accepts. `strict=True` makes `context` required too, as OpenAI's strict mode
    wants every property required.
    """
    mention = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": Mention.model_fields["text"].description},
            "label": {"type": "string", "enum": list(labels), "description": "The entity's label."},
            "context": {"type": "string", "description": Mention.model_fields["context"].description},
        },
        "required": ["text", "label", "context"] if strict else ["text", "label"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"entities": {"type": "array", "items": mention}},
        "required": ["entities"],
        "additionalProperties": False,
    }


AnswerFormat = Literal["entities", "pairs"]
PAIRS_VERSIONS = frozenset({4})  # the ner prompt versions that ask for [name, label] pairs


def answer_format(version: int) -> AnswerFormat:
    """How the ner prompt `version` asks the model to answer: pairs (v4) or entity objects (v1-v3, v5)."""
    return "pairs" if version in PAIRS_VERSIONS else "entities"


def pairs_json_schema(labels: list[str]) -> dict[str, Any]:
    """JSON schema of the compact answer `{"names": [[name, label], ...]}`, the label one of the guideline's.

    A name's label follows it, as in the entity form: asked for the names of each label in turn
    (`{"PER": [...], "ORG": [...]}`), the 1.5B model put most names under the first label (docs/ner.md)."""
    pair = {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "string", "enum": list(labels)}],
        "minItems": 2,
        "maxItems": 2,
    }
    return {
        "type": "object",
        "properties": {"names": {"type": "array", "items": pair}},
        "required": ["names"],
        "additionalProperties": False,
    }


def compact_answer(answer: str) -> str:
    """A few-shot example's answer (the entity-list JSON its class builds) in the compact form, a name listed
    once per label (the aligner proposes it wherever it occurs)."""
    pairs: list[list[str]] = []
    for e in json.loads(answer).get("entities", []):
        pair = [str(e.get("text", "")), str(e.get("label", ""))]
        if all(pair) and pair not in pairs:
            pairs.append(pair)
    return json.dumps({"names": pairs}, ensure_ascii=False)


_FENCE_RE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)
_TRUNC_HEAD_RE = re.compile(r'\{\s*"entities"\s*:\s*\[')
_PAIRS_HEAD_RE = re.compile(r'\{\s*"names"\s*:\s*\[')


def _unfenced(raw: str | None) -> tuple[str, bool, list[str]]:
    """The answer without a markdown code fence around its JSON: (text, repaired, notes). Raises ParseFailure."""
    if raw is None or not raw.strip():
        raise ParseFailure("empty answer")
    text = raw.strip()
    fence = _FENCE_RE.search(text)
    if not fence:
        return text, False, []
    return fence.group(1).strip(), True, ["removed a markdown code fence around the JSON"]


def _list_under(obj: Any, key: str) -> list[Any]:
    """The answer object's list under `key`. Raises ParseFailure saying what the JSON held instead."""
    if not isinstance(obj, dict) or key not in obj:
        keys = ", ".join(sorted(obj)) if isinstance(obj, dict) else type(obj).__name__
        raise ParseFailure(f'the JSON has no "{key}" list (got {keys})')
    items = obj[key]
    if not isinstance(items, list):
        raise ParseFailure(f'"{key}" must be a list, got {type(items).__name__}')
    return items


def parse_answer(raw: str, labels: list[str]) -> ParseResult:
    """Read the model's answer into mentions with guideline labels. Raises ParseFailure."""
    text, repaired, errors = _unfenced(raw)
    obj, more_repaired = _load(text, errors)
    repaired = repaired or more_repaired
    if isinstance(obj, list):
        obj = {"entities": obj}
        repaired = True
        errors.append("the answer was a bare list; read it as the entity list")
    items = _list_under(obj, "entities")
    return ParseResult(mentions=_mentions(items, labels, errors), repaired=repaired, errors=errors)


def _load(text: str, errors: list[str], head_re: re.Pattern[str] = _TRUNC_HEAD_RE) -> tuple[Any, bool]:
    """The one JSON value in `text`: as is, with prose around it, or truncated."""
    try:
        return json.loads(text), False
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    starts = sorted(i for i in (text.find("{"), text.find("[")) if i >= 0)
    if not starts:
        raise ParseFailure("no JSON object in the answer")
    for begin in starts:
        try:
            obj, end = decoder.raw_decode(text, begin)
            break
        except json.JSONDecodeError:
            continue
    else:
        head = head_re.search(text)
        if head is None:
            raise ParseFailure("the JSON is malformed or cut off before the entity list")
        return _truncated(text, head, errors), True
    rest = text[end:]
    nxt = rest.find("{")
    if nxt >= 0:
        try:
            decoder.raw_decode(rest, nxt)
        except json.JSONDecodeError:
            pass
        else:
            raise ParseFailure("the answer holds more than one JSON object; expected exactly one")
    errors.append("removed text around the JSON object")
    return obj, True


def _truncated(text: str, head: re.Match[str], errors: list[str]) -> list[Any]:
    """Recover complete entity objects from a cut-off `{"entities": [ ... ` answer."""
    decoder = json.JSONDecoder()
    items: list[Any] = []
    pos = head.end()
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            errors.append(f"the answer was cut off; kept the {len(items)} complete entities")
            return items
        if text[pos] == "]":
            # The list closed; only the end of the outer object is missing or malformed.
            errors.append("the JSON after the entity list was malformed or cut off; kept the list")
            return items
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            errors.append(
                f"the answer was cut off inside an entity; dropped it and kept the {len(items)} complete ones"
            )
            return items
        items.append(item)


def _mentions(items: list[Any], labels: list[str], errors: list[str]) -> list[Mention]:
    by_fold = {lab.casefold(): lab for lab in labels}
    out: list[Mention] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(f"entity {n}: expected an object, got {type(item).__name__}; dropped")
            continue
        try:
            m = Mention.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            errors.append(f"entity {n}: {where}: {first['msg']}; dropped")
            continue
        if not m.text.strip():
            errors.append(f"entity {n}: empty text; dropped")
            continue
        label = by_fold.get(m.label.strip().casefold())
        if label is None:
            errors.append(f"entity {n} ({m.text!r}): label {m.label!r} is not in the guideline; dropped")
            continue
        out.append(m.model_copy(update={"label": label}))
    return out


def parse_pairs(raw: str, labels: list[str]) -> ParseResult:
    """Read a compact answer `{"names": [["Jane Doe", "PER"], ...]}` into mentions. Raises ParseFailure.

    Mentions carry no context: the aligner proposes a name at every place it occurs in the chunk, so a
    name listed once or n times is the same. Repairs as `parse_answer` (a fence, prose around one object,
    a cut-off answer keeps its complete pairs); an answer in the entity form is read as such. A pair that is
    not two strings is dropped with a note; labels as in `parse_answer` (case-insensitive, others dropped)."""
    text, repaired, errors = _unfenced(raw)
    if _TRUNC_HEAD_RE.search(text) and not _PAIRS_HEAD_RE.search(text):  # the entity form
        res = parse_answer(text, labels)
        notes = [*errors, "read an answer in the entity form", *res.errors]
        return res.model_copy(update={"repaired": True, "errors": notes})
    before = len(errors)
    obj, more = _load(text, errors, _PAIRS_HEAD_RE)
    cut = any("cut off" in e for e in errors[before:])  # the pairs before the cut, as a list
    if isinstance(obj, list) and not (obj and isinstance(obj[0], str)):
        obj = {"names": obj}
        repaired = True
        if not cut:
            errors.append("the answer was a bare list; read it as the list of names")
    items = _list_under(obj, "names")
    mentions: list[Mention] = []
    for n, item in enumerate(items):
        if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            item = {"text": item[0], "label": item[1]}
        elif not isinstance(item, dict):  # an object {"text", "label"} is read as in the entity form
            errors.append(f"name {n}: expected [name, label], got {json.dumps(item, ensure_ascii=False)[:60]}; dropped")
            continue
        notes: list[str] = []
        mentions += _mentions([item], labels, notes)
        errors += [note.replace("entity 0", f"name {n}", 1) for note in notes]
    return ParseResult(mentions=mentions, repaired=repaired or more, errors=errors)
