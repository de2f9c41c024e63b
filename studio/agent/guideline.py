"""Goal -> guideline: drafting, revising after a rejection, YAML for people, diffs between versions."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from studio.errors import StudioError
from studio.llm import LLM, Request
from studio.llm.client import strip_fences
from studio.llm.prompts import load_prompt
from studio.schema import Guideline, LabelDef, QualityCriteria, SourcesPlan, TaskType
from studio.store import Store

LANGUAGE_NAMES = {"en": "English", "ko": "Korean", "ja": "Japanese", "zh": "Chinese"}
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


Short = Annotated[str, Field(max_length=200)]


class LabelDraft(BaseModel):
    """A label as the model writes it. The limits bound the answer's length: a small local model
    writing in a language with long tokenizations (Korean) otherwise runs on for thousands of tokens."""

    name: str = Field(max_length=40)
    definition: str = Field(max_length=300)
    include: list[Short] = Field(default_factory=list, max_length=4)
    exclude: list[Short] = Field(default_factory=list, max_length=4)
    positive_examples: list[Short] = Field(default_factory=list, max_length=5)
    negative_examples: list[Short] = Field(default_factory=list, max_length=4)


class GuidelineDraft(BaseModel):
    """What the model writes; the goal itself is filled in by us, never rewritten by the model."""

    task_type: TaskType = "ner"
    language: str = Field(default="en", max_length=8)
    labels: list[LabelDraft] = Field(min_length=1, max_length=6)
    edge_cases: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=6)
    sources: SourcesPlan = Field(default_factory=SourcesPlan)
    quality: QualityCriteria = Field(default_factory=QualityCriteria)
    target_size: int = Field(default=500, ge=1)


def guess_language(text: str) -> str:
    if _HANGUL.search(text):
        return "ko"
    if _KANA.search(text):
        return "ja"
    if _CJK.search(text):
        return "zh"
    return "en"


def to_yaml(g: Guideline) -> str:
    return yaml.safe_dump(g.model_dump(mode="json"), allow_unicode=True, sort_keys=False, width=100)


def from_yaml(text: str) -> Guideline:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StudioError(f"the guideline is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise StudioError("the guideline YAML must be a mapping with goal, labels, ...")
    try:
        return Guideline.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise StudioError(f"the guideline does not fit the schema: {problems}") from exc


def diff(a: Guideline, b: Guideline, a_name: str = "a", b_name: str = "b") -> str:
    return "\n".join(
        difflib.unified_diff(to_yaml(a).splitlines(), to_yaml(b).splitlines(), a_name, b_name, lineterm="")
    )


def _parse_draft(goal: str, language: str) -> Any:
    def parse(text: str) -> Guideline:
        draft = GuidelineDraft.model_validate_json(strip_fences(text))
        data = draft.model_dump()
        data["labels"] = [LabelDef.model_validate(lab) for lab in data["labels"]]
        # The goal's script wins over the model's guess: a small model answers "en" by habit.
        data["language"] = language if language != "en" or not draft.language else draft.language
        return Guideline(goal=goal, **data)

    return parse


def draft_guideline(
    llm: LLM,
    goal: str,
    *,
    task_hint: str = "",
    previous: Guideline | None = None,
    feedback: str = "",
    retries: int = 2,
    max_tokens: int = 1500,
) -> tuple[Guideline, list[int]]:
    """Ask the model for a guideline (or a revision). Returns it and the LLM call ids."""
    goal = goal.strip()
    if not goal:
        raise StudioError('describe the dataset you want, e.g. studio plan "company and product names in tech news"')
    prompt = load_prompt("guideline")
    language = guess_language(goal)
    messages = prompt.render(
        goal=goal, task_hint=task_hint, previous=to_yaml(previous) if previous else "", feedback=feedback,
        language=language, language_name=LANGUAGE_NAMES.get(language, language),
    )  # fmt: skip
    req = Request(
        messages,
        operation=f"guideline.{'revise' if previous else 'draft'}:{prompt.id}",
        schema=GuidelineDraft.model_json_schema(),
        schema_name="Guideline",
        max_tokens=max_tokens,
    )
    guideline, results = llm.structured(req, _parse_draft(goal, language), retries=retries)
    return guideline, [r.call_id for r in results if r.call_id]


def propose_guideline(
    store: Store, llm: LLM, goal: str, task_hint: str = "", max_tokens: int = 1500, retries: int = 2
) -> int:
    """Draft a guideline and store it as a proposed version (a draft until a human approves it)."""
    g, calls = draft_guideline(llm, goal, task_hint=task_hint, max_tokens=max_tokens, retries=retries)
    return store.add_guideline(g, actor="agent", rationale=f"drafted from the goal (llm calls {calls})")


def revise_guideline(store: Store, llm: LLM, version: int, reason: str, actor: str) -> int:
    """The human rejects `version` with `reason` (recorded unless already done); the agent revises it."""
    if not reason.strip():
        raise StudioError("say why you reject the guideline (--reason); the agent uses it to revise")
    g, status, _ = store.guideline(version)
    if status != "rejected":
        store.decide_guideline(version, actor, "reject", reason)
    revised, calls = draft_guideline(llm, g.goal, previous=g, feedback=reason)
    return store.add_guideline(
        revised, actor="agent", parent=version, rationale=f"revised after rejection: {reason} (llm calls {calls})"
    )
