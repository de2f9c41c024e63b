"""Parse a model's NER answer: `{"entities": [{"text", "label", "context"}]}`.

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
from typing import Any

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


_FENCE_RE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)
_TRUNC_HEAD_RE = re.compile(r'\{\s*"entities"\s*:\s*\[')


def parse_answer(raw: str, labels: list[str]) -> ParseResult:
    """Read the model's answer into mentions with guideline labels. Raises ParseFailure."""
    if raw is None or not raw.strip():
        raise ParseFailure("empty answer")
    errors: list[str] = []
    text = raw.strip()
    repaired = False
    fence = _FENCE_RE.search(text)
    if fence:
        text = fence.group(1).strip()
        repaired = True
        errors.append("removed a markdown code fence around the JSON")
    obj, more_repaired = _load(text, errors)
    repaired = repaired or more_repaired
    if isinstance(obj, list):
        obj = {"entities": obj}
        repaired = True
        errors.append("the answer was a bare list; read it as the entity list")
    if not isinstance(obj, dict) or "entities" not in obj:
        keys = ", ".join(sorted(obj)) if isinstance(obj, dict) else type(obj).__name__
        raise ParseFailure(f'the JSON has no "entities" list (got {keys})')
    items = obj["entities"]
    if not isinstance(items, list):
        raise ParseFailure(f'"entities" must be a list, got {type(items).__name__}')
    return ParseResult(mentions=_mentions(items, labels, errors), repaired=repaired, errors=errors)


def _load(text: str, errors: list[str]) -> tuple[Any, bool]:
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
        head = _TRUNC_HEAD_RE.search(text)
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
