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
from studio.schema import SCRIPT_WORDS, Guideline, LabelDef, QualityCriteria, SourcesPlan, TaskType
from studio.store import Store

LANGUAGE_NAMES = {"en": "English", "ko": "Korean", "ja": "Japanese", "zh": "Chinese"}


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
    """A goal's language: the first of Korean, Japanese, Chinese whose script appears in it, else English (a goal
    is short; a document's language is counted in words: `schema.text_language`)."""
    return next((lang for lang, rx in SCRIPT_WORDS if rx.search(text)), "en")


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


# -- checks of a guideline (a drafted one before it is shown, a hand-written one before it is saved) --
TARGET_SIZE_RANGE = (10, 1_000_000)
_DETERMINERS = {"the", "a", "an", "this", "that", "our", "their", "its", "his", "her"}
# Words that describe a role or a kind of thing rather than name one ("The President", "a company").
_GENERIC = {
    "president", "ceo", "chairman", "chairwoman", "chair", "minister", "prime", "director", "founder", "spokesperson",
    "spokesman", "manager", "king", "queen", "pope", "governor", "mayor", "senator", "company", "firm", "startup",
    "organization", "organisation", "agency", "government", "city", "country", "state", "region", "town", "product",
    "device", "phone", "app", "software", "model", "service", "person", "people", "team", "group", "board",
}  # fmt: skip
_PLACEHOLDER_HOSTS = ("example.com", "example.org", "example.net", "localhost", "test.com", "domain.com")


def check_guideline(g: Guideline, drafted: bool = False) -> list[str]:
    """Problems a person should fix before approving `g`, each a sentence saying what and where.

    Sizes within sane bounds; each label defined and exemplified; each positive example consistent
    with its label's exclusions and negative examples, not claimed by two labels, and (for names)
    a name rather than a role or a kind ("The President"); seed URLs of a drafted guideline are the
    model's suggestions, never checked facts.
    """
    problems: list[str] = []
    lo, hi = TARGET_SIZE_RANGE
    if not lo <= g.target_size <= hi:
        problems.append(f"target_size {g.target_size} is outside {lo}..{hi:,}: set the number of documents you "
                        "really mean to label (hundreds to a few thousand for a first dataset)")  # fmt: skip
    if len(g.labels) > 12:
        problems.append(f"{len(g.labels)} labels: more than 12 is hard to keep apart; merge some")
    owners: dict[str, list[str]] = {}
    for lab in g.labels:
        if not lab.definition.strip():
            problems.append(f"{lab.name}: no definition; say in a sentence what counts as {lab.name}")
        if not lab.positive_examples:
            problems.append(f"{lab.name}: no examples; give two or three real ones")
        excluded = [x.strip().casefold() for x in lab.exclude + lab.negative_examples if x.strip()]
        for ex in lab.positive_examples:
            key = ex.strip().casefold()
            owners.setdefault(key, []).append(lab.name)
            clash = next((x for x in excluded if x == key or (len(x) > 3 and x in key.split())), None)
            if clash:
                problems.append(
                    f"{lab.name}: example {ex!r} contradicts its own exclusion or negative example {clash!r}"
                )
            if g.task_type == "ner" and _is_generic(ex):
                problems.append(f"{lab.name}: example {ex!r} describes a role or a kind of thing, not a name; "
                                "use a real name (or move it to negative_examples)")  # fmt: skip
    for key, names in owners.items():
        if len(set(names)) > 1:
            problems.append(f"example {key!r} is given for {' and '.join(sorted(set(names)))}; one label per example")
    for url in g.sources.seed_urls:
        host = re.sub(r"^[a-z]+://", "", url.strip().lower()).split("/")[0]
        if not re.match(r"^https?://[^\s/]+\.[^\s/]+", url.strip()):
            problems.append(f"seed URL {url!r} is not a web address")
        elif host.endswith(_PLACEHOLDER_HOSTS):
            problems.append(f"seed URL {url!r} is a placeholder, not a source")
        elif drafted:
            problems.append(f"seed URL {url!r} was suggested by the model and has not been checked: open it and make "
                            "sure it exists and may be crawled before you keep it")  # fmt: skip
    return problems


def _is_generic(example: str) -> bool:
    words = re.findall(r"[^\W\d_]+", example)
    if not words or len(words) > 4 or not all(w.isascii() for w in words):
        return False  # a sentence, or a script without capitals: nothing to judge here
    content = [w for w in words if w.casefold() not in _DETERMINERS]
    if not content:
        return True
    return all(w.casefold() in _GENERIC for w in content) or (
        words[0].casefold() in _DETERMINERS and all(w.islower() for w in content)
    )


TEMPLATE = """\
# A labeling guideline. Fill it in, save and close the editor; it is checked and stored as a draft
# version (approve it with `studio guideline approve`). Lines starting with # are comments.
goal: >-
  What the dataset is for, in a sentence or two (e.g. company and product names in tech news).
task_type: ner          # ner | classification | detection
language: en            # the documents' language (en, ko, ...)
target_size: 500        # documents you mean to label
labels:
  - name: ORG           # one word; use _ between words
    definition: Companies, agencies and other organizations, by name.
    include: [subsidiaries, public bodies]
    exclude: [products named after the company]
    positive_examples: [Samsung Electronics, OpenAI]
    negative_examples: [iPhone]
  - name: PERSON
    definition: Real people, by name.
    positive_examples: [Lisa Su, Tim Cook]
    negative_examples: [the president]
edge_cases:
  - A company name used as a place ("at Google") is still ORG.
sources:
  seed_urls: []         # sites you have checked and may crawl
  files: []
  notes: ''
"""
