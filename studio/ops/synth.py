"""Synthetic examples for thin labels: the LLM writes sentences, a human still reviews every span.

For each label: show the model a few real documents (for style) and the guideline, ask for N new
sentences with their entity annotations (structured output). Each sentence is checked like a
proposal: mentions are aligned with `align_mentions` (those not in the sentence are dropped and
counted), a sentence with no mention of the label asked for is dropped, and a sentence that copies
a corpus text or is too similar to one (or to a sentence kept earlier in the run) is dropped.
What is left becomes a Document (`source="synthetic"`) with pending span proposals.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from studio.errors import InvalidState, StudioError
from studio.ops.embed import THRESHOLDS, Backend, cosine, similarity_backend
from studio.ops.ner.align import align_mentions
from studio.ops.ner.label import _pinned, chunk_text
from studio.ops.ner.parse import Mention
from studio.ops.registry import Args, OpContext, Result, operation
from studio.schema import Document, Proposal
from studio.store import Store

if TYPE_CHECKING:
    from studio.llm import LLM

Progress = Callable[[str, float | None], None]


class SynthEntity(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str = Field(min_length=1)
    label: str = Field(min_length=1)


class SynthSentence(BaseModel):
    """One sentence. The target label's mentions come first, so a small model picks the names and
    then writes around them; `entities` holds every other mention (any label)."""

    model_config = ConfigDict(extra="ignore")
    mentions: list[str] = Field(default_factory=list, max_length=5)
    text: str
    entities: list[SynthEntity] = Field(default_factory=list)


class SynthAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    sentences: list[SynthSentence]


class SynthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The synth prompt version (default: the pinned one, or the one a replayed recording names).
    prompt_version: int = Field(default_factory=lambda: _pinned("synth"))
    n: int = Field(default=5, ge=1, le=50)  # sentences asked per label
    examples: int = Field(default=3, ge=0, le=10)  # real documents shown for style
    example_chars: int = 400
    min_spans: int = 20  # a label with fewer approved spans is thin
    threshold: float | None = Field(default=None, gt=0.0, le=1.0)  # cosine at or above: a near-copy
    seed: int = 0
    temperature: float = 0.8
    max_tokens: int = 1500


class SynthReport(BaseModel):
    batch: str
    labels: list[str]
    backend: str
    threshold: float
    generated: int = 0
    kept: int = 0
    documents: list[int] = Field(default_factory=list)
    proposals: int = 0
    dropped: dict[str, int] = Field(
        default_factory=lambda: dict.fromkeys(("empty", "no_target_label", "copy", "near_duplicate"), 0)
    )
    entities_not_in_text: int = 0
    entities_unknown_label: int = 0
    llm_calls: int = 0


def answer_schema(labels: list[str], n: int) -> dict[str, Any]:
    """The JSON schema the server enforces: stricter than `SynthAnswer`, which also reads answers
    from servers that ignore schemas. Every sentence must name its target mentions first (at
    least one), and entity labels must be the guideline's."""
    schema = SynthAnswer.model_json_schema()
    defs = schema["$defs"]
    sent = defs["SynthSentence"]
    sent["required"] = ["mentions", "text", "entities"]
    sent["properties"]["mentions"] = {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "minItems": 1,
        "maxItems": 3,
    }
    defs["SynthEntity"]["properties"]["label"] = {"type": "string", "enum": labels}
    schema["properties"]["sentences"].update({"minItems": 1, "maxItems": n})
    return schema


def approved_counts(store: Store) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in store.conn.execute("SELECT label, COUNT(*) FROM labels GROUP BY label")}


def thin_labels(store: Store, labels: list[str], min_spans: int) -> list[str]:
    counts = approved_counts(store)
    return [lab for lab in labels if counts.get(lab, 0) < min_spans]


def _style_examples(store: Store, label: str, s: SynthSettings) -> list[str]:
    """Real (non-synthetic) documents: those with approved spans of `label` first, then a seeded sample."""
    if not s.examples:
        return []
    with_label = [
        int(r[0])
        for r in store.conn.execute(
            "SELECT DISTINCT l.document_id FROM labels l JOIN documents d ON d.id = l.document_id"
            " WHERE l.label = ? AND d.source != 'synthetic' ORDER BY 1",
            (label,),
        )
    ]
    others = [int(r[0]) for r in store.conn.execute("SELECT id FROM documents WHERE source != 'synthetic' ORDER BY id")]
    rng = random.Random(f"{s.seed}:{label}")
    pick = with_label[: s.examples]
    rest = [i for i in others if i not in set(pick)]
    pick += rng.sample(rest, min(len(rest), s.examples - len(pick)))
    return [store.document(i).text[: s.example_chars].strip() for i in sorted(pick)]


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def synthesize(
    store: Store,
    llm: LLM,
    labels: list[str] | None = None,
    settings: SynthSettings | None = None,
    backend: Backend | None = None,
    on_progress: Progress | None = None,
) -> SynthReport:
    """Ask for synthetic sentences for `labels` (default: the thin ones) and propose their spans."""
    from studio.llm import Request  # the model layer loads when a run starts, not on import
    from studio.llm.prompts import load_prompt

    s = settings or SynthSettings()
    approved = store.approved_guideline()
    if approved is None:
        raise InvalidState("approve a guideline before making synthetic examples (studio guideline approve)")
    guideline, version = approved
    if guideline.task_type != "ner":
        raise InvalidState(f"synthetic examples are for NER; the approved guideline is for {guideline.task_type}")
    names = guideline.label_names()
    unknown = [lab for lab in labels or [] if lab not in names]
    if unknown:
        raise StudioError(f"unknown label(s) {', '.join(unknown)}: the guideline has {', '.join(names)}")
    targets = list(labels) if labels else thin_labels(store, names, s.min_spans)
    backend = backend or similarity_backend(store)
    threshold = s.threshold if s.threshold is not None else THRESHOLDS.get(backend.name, 0.9)
    report = SynthReport(batch=store.run_id("synth"), labels=targets, backend=backend.name, threshold=threshold)
    if not targets:
        return report
    prompt = load_prompt("synth", s.prompt_version)

    # Ask for every label first: a malformed answer fails the run before anything is stored.
    answers: list[tuple[str, SynthAnswer, list[int]]] = []
    models: set[str] = set()
    for i, label in enumerate(targets):
        target = next(lab for lab in guideline.labels if lab.name == label)
        messages = prompt.render(
            guideline=guideline, label=label, target=target, n=s.n, examples=_style_examples(store, label, s)
        )
        req = Request(
            messages, operation=f"synth:{prompt.id}", temperature=s.temperature, max_tokens=s.max_tokens, seed=s.seed,
            schema=answer_schema(names, s.n), schema_name="SynthAnswer",
        )  # fmt: skip
        answer, results = llm.structured_model(req, SynthAnswer)
        report.llm_calls += len(results)
        models.update(r.model for r in results if r.model)
        answers.append((label, answer, [r.call_id or 0 for r in results]))
        if on_progress:
            on_progress(f"asked for {label}", (i + 1) / (len(targets) + 1))

    docs = list(store.documents())
    corpus = [chunk for d in docs if d.source != "synthetic" for _, chunk in chunk_text(d.text, 400)]
    folded_corpus = [_fold(d.text) for d in docs]
    corpus_vecs = backend.encode(corpus) if corpus else None
    # every answer sentence in one encode call (row k: the k-th sentence over all answers)
    sentence_vecs = backend.encode([sent.text.strip() for _, answer, _ in answers for sent in answer.sentences])
    kept: list[tuple[str, str, list[Any], list[int]]] = []  # (label, text, aligned spans, call ids)
    kept_vecs: list[Any] = []
    for label, answer, call_ids in answers:
        for sent in answer.sentences:
            row = report.generated
            report.generated += 1
            text = sent.text.strip()
            if not text:
                report.dropped["empty"] += 1
                continue
            # A target mention the model also lists under another label (it chose "Meta" as a
            # PERSON, then annotated it ORG) keeps the entity's label: that is the annotation.
            other = {e.text.strip() for e in sent.entities if e.label != label}
            mentions = [Mention(text=m, label=label) for m in sent.mentions if m.strip() and m.strip() not in other]
            for e in sent.entities:
                if e.label in names:
                    mentions.append(Mention(text=e.text, label=e.label))
                else:
                    report.entities_unknown_label += 1
            aligned = align_mentions(text, mentions, guideline.language, repeat="all")
            report.entities_not_in_text += len(aligned.hallucinated)
            if not any(a.span.label == label for a in aligned.spans):
                report.dropped["no_target_label"] += 1
                continue
            folded = _fold(text)
            if any(folded in doc for doc in folded_corpus) or any(folded == _fold(k[1]) for k in kept):
                report.dropped["copy"] += 1
                continue
            vec = sentence_vecs[row : row + 1]
            sims = [cosine(vec, corpus_vecs).max()] if corpus_vecs is not None else []
            sims += [cosine(vec, v)[0, 0] for v in kept_vecs]
            if sims and max(sims) >= threshold:
                report.dropped["near_duplicate"] += 1
                continue
            kept.append((label, text, aligned.spans, call_ids))
            kept_vecs.append(vec)
    report.kept = len(kept)

    # The model that wrote the text (the recorded one when replaying), then the spec it came through.
    model = ", ".join(sorted(models)) or llm.spec.describe()
    with store.transaction():
        for label, text, spans, call_ids in kept:
            prov = {"synthetic": True, "model": model, "llm": llm.spec.describe(), "prompt": prompt.id, "seed": s.seed, "label": label,
                    "batch": report.batch}  # fmt: skip
            doc_id, is_new = store.add_document(Document(text=text, source="synthetic", provenance=prov))
            if not is_new:  # the same text already stored: it was counted as a copy above
                continue
            report.documents.append(doc_id)
            props = [
                Proposal(
                    kind="span",
                    document_id=doc_id,
                    source=f"synth:{prompt.id}",
                    confidence=None,
                    batch=report.batch,
                    payload={
                        "span": a.span.model_dump(),
                        "sources": {"synth": 1.0},
                        "context": "",
                        "method": a.method,
                        "llm_call_ids": sorted(set(call_ids)),
                        "prompt": prompt.id,
                        "guideline_version": version,
                        "synthetic": True,
                    },
                )
                for a in spans
            ]
            store.add_proposals(props, actor="agent", rationale=f"synthetic example from {report.batch}")
            report.proposals += len(props)
        store.record(
            "tool",
            "synth.run",
            [f"doc:{i}" for i in report.documents],
            {**json.loads(report.model_dump_json()), "model": model, "prompt": prompt.id,
             "guideline_version": version, "settings": s.model_dump(), "backend_reason": backend.reason},
        )  # fmt: skip
    if on_progress:
        on_progress(f"kept {report.kept}/{report.generated} sentences", 1.0)
    return report


# -- the operation: `studio synth` ----------------------------------------------------------------
class SynthArgs(Args):
    label: list[str] = Field(
        default_factory=list, description="Label to write examples for (repeatable). Default: thin ones."
    )
    n: int = Field(5, ge=1, le=50, description="Sentences asked per label.")
    min_spans: int = Field(
        20, ge=0, description="Without --label: labels with fewer approved spans than this get examples."
    )
    examples: int = Field(3, ge=0, le=10, description="Real documents shown.")
    threshold: float | None = Field(None, gt=0.0, le=1.0, description="Drop a sentence whose cosine similarity to a "
                                    "corpus text reaches this [default: 0.9 with embeddings, 0.8 without].")  # fmt: skip
    seed: int = Field(0, description="Seed for the model and the examples shown.")


class SynthResult(SynthReport, Result):
    min_spans: int = 20

    def summary(self) -> str:
        if not self.labels:
            return f"No thin labels (all have at least {self.min_spans} approved spans); pass --label to choose one."
        dropped = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.dropped.items() if v) or "none"
        n = self.entities_not_in_text
        return (
            f"Synthetic examples for {', '.join(self.labels)}: kept {self.kept}/{self.generated} sentences "
            f"({len(self.documents)} documents, {self.proposals} span proposals); dropped: {dropped}; "
            f"{n} {'entity' if n == 1 else 'entities'} not in their sentence."
        )


@operation("synth", args=SynthArgs, result=SynthResult, side_effects=True, agent=False,
           help="Write synthetic example sentences for labels with few approved spans.")  # fmt: skip
def synth(ctx: OpContext, args: SynthArgs) -> SynthResult:
    """The model sees the guideline and a few real documents and writes new sentences with their
    entities. Mentions not found in their sentence are dropped; sentences that copy or nearly copy a
    corpus text are dropped. The rest are stored as synthetic documents whose spans are pending
    proposals: review them like any others. Releases keep synthetic documents in train."""
    settings = SynthSettings(n=args.n, min_spans=args.min_spans, examples=args.examples, threshold=args.threshold,
                             seed=args.seed)  # fmt: skip
    report = synthesize(ctx.store, ctx.llm, list(args.label) or None, settings,
                        on_progress=ctx.fraction_progress("synthesizing"))  # fmt: skip
    return SynthResult(**report.model_dump(), min_spans=args.min_spans)
