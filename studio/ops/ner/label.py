"""Weak-label documents with the LLM and the other weak sources: span proposals, never labels.

For each document: split it into chunks (sentences packed up to `chunk_chars`, offsets kept);
for each chunk ask the model `samples` times (the first greedy, the rest sampled), with the
guideline as a stable system prompt and the approved documents most similar to the chunk as
few-shot examples; parse, align every mention to token-snapped offsets (dropping and counting
hallucinations), add the gazetteer (and optionally a pretrained spaCy pipeline), combine the
votes into one confidence per span, and write pending proposals. A document whose answer cannot
be read is recorded as failed with the reason; the others go on.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from studio.errors import InvalidState, StudioError
from studio.ops.ner import passes
from studio.ops.ner.align import align_mentions
from studio.ops.ner.combine import accuracies_from_store, combine_spans
from studio.ops.ner.parse import ParseFailure, answer_json_schema, parse_answer
from studio.ops.ner.patterns import Patterns
from studio.ops.ner.sources import Gazetteer, SpacyModelSource, StudentSource, newest_student
from studio.ops.ner.teams import TeamRule, team_rule
from studio.ops.ner.weights import (
    DocTrials,
    Weights,
    candidate_votes,
    complete_trials,
    estimate_weights,
    refit,
    weights_from,
)
from studio.ops.registry import Args, OpContext, Result, operation
from studio.schema import Document, Guideline, Proposal, Span, language_code
from studio.store import Store

if TYPE_CHECKING:
    from studio.llm import LLM, LLMResult
    from studio.llm.prompts import Prompt
    from studio.ops.embed import Backend

Progress = Callable[[str, float | None], None]
# The cascade: a document skips the LLM when asking it is expected to gain less than a bound (`cascade_gain`, in
# proposals: a right one counts 1 - t, a wrong one -t at the decision threshold t). The bound is chosen from the
# project's finished documents the LLM labelled (`choose_cascade_bound`): the largest of CASCADE_BOUNDS whose
# estimated F1 loss there (against asking the LLM everywhere) plus one jackknife standard error is at most
# CASCADE_TOLERANCE; with fewer than CASCADE_MIN_DOCS such documents, CASCADE_BOUND (one proposal in 50 documents,
# fixed before any measurement). `--cascade-bound` sets it.
CASCADE_BOUND = 0.02
CASCADE_BOUNDS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
CASCADE_TOLERANCE = 0.005
CASCADE_MIN_DOCS = 10
CASCADE_FOLDS = 5
_SENT_END = re.compile(r"(?<=[.!?。！？])\s+|\n\s*\n|\n")


def _pinned(name: str, language: str | None = None) -> int:
    """The pinned prompt version (the model layer is imported on first use, not on import)."""
    from studio.llm.prompts import prompt_version

    return prompt_version(name, language)


@dataclass
class LabelSettings:
    # The ner prompt version (None: the one pinned for the guideline's language, or the one a replayed
    # recording names; resolved when labeling starts, so the run's logged settings name the version used).
    prompt_version: int | None = None
    samples: int = 1  # self-consistency: k answers per chunk (the first greedy)
    temperature: float = 0.7  # for samples after the first
    repeat: Literal["context", "all"] = "context"
    fuzzy_threshold: float = 90.0
    few_shot: int = 3
    few_shot_mode: Literal["similar", "fixed"] = "similar"
    chunk_chars: int = 1200
    max_tokens: int = 512
    docs_per_batch: int = 8
    preselect: float | None = None  # mark proposals at or above this confidence for quick review
    spacy_model: bool = False
    spacy_map: dict[str, str] = field(default_factory=dict)
    spacy_auto: bool = False  # map the pretrained pipeline's labels from the guideline's names (automap.py)
    student: bool = True  # the newest student model (models/<student_name>/) votes when it exists
    student_name: str = "student"
    retrain_every: int | None = None  # retrain the student first when this many new complete documents exist
    retrain_args: dict[str, Any] = field(default_factory=dict)  # TrainArgs for that retraining (e.g. base, max_epochs)
    # the passes around the LLM's answer (passes.py): "on", "off", or "auto" (setting, else the prompt version)
    recall_pass: Literal["auto", "on", "off"] = "auto"
    verify_spans: Literal["auto", "on", "off"] = "auto"
    cascade: bool = True  # once a student exists, documents where the LLM would gain (almost) nothing skip it
    # the expected gain (`cascade_gain`) under which a document skips the LLM; None: chosen from the finished
    # documents (`choose_cascade_bound`)
    cascade_bound: float | None = None
    cascade_threshold: float = 0.9  # without learned weights: the student's held-out recall and precision needed
    learned_weights: bool = True  # source weights from complete documents (weights.py) instead of fixed priors
    request_extra: dict[str, Any] = field(default_factory=dict)  # passed to the model API (e.g. extra_body)


MORPHOLOGY_OFF = (
    "off: {why}, so Korean common nouns labeled as names are not dropped "
    "(pip install 'studio[korean]', or the local extra, turns it on)"
)


@dataclass
class LabelReport:
    batch: str
    documents: int = 0
    labeled: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    proposals: int = 0
    hallucinated: int = 0
    already_proposed: int = 0  # spans found again on a relabeled document and not proposed twice
    repaired: int = 0
    llm_calls: int = 0
    cache_hits: int = 0
    few_shot_similarity: str | None = None  # the backend that chose the examples (None: no approved ones)
    student: str | None = None  # the student model that voted (its data version), if any
    retrained: bool = False  # the student was retrained before this run
    retrain_error: str | None = None  # retraining failed (labeling went on with the old student, if any)
    llm_skipped: int = 0  # documents the cascade left to the student (no LLM call)
    cascade_scale: float | None = None  # the share of the cascade's expected gain the LLM kept (`cascade_scale`)
    pretrained: dict[str, str] | None = None  # the pretrained pipeline's label map, when chosen automatically
    cascade_bound: float | None = None  # the bound the cascade used
    cascade_bound_evidence: dict[str, Any] | None = None  # how it was chosen (`BoundChoice.logged`)
    student_left_out: str | None = None  # why the student did not vote (`student_behind_pipeline`)
    morphology: str | None = None  # (Korean, with the verify pass) the analyzer that checked names, or why none did

    def as_dict(self) -> dict[str, Any]:
        out = {
            "batch": self.batch, "documents": self.documents, "labeled": self.labeled, "failed": len(self.failed),
            "failures": {str(k): v for k, v in list(self.failed.items())[:20]}, "proposals": self.proposals,
            "hallucinated": self.hallucinated, "repaired_answers": self.repaired, "llm_calls": self.llm_calls,
            "cache_hits": self.cache_hits, "few_shot_similarity": self.few_shot_similarity,
        }  # fmt: skip
        # what the student, relabeling and the cascade add appears only when it happened, so the
        # run decisions of projects without them (and their recordings) stay as they were
        extra = {"already_proposed": self.already_proposed, "student": self.student, "retrained": self.retrained,
                 "retrain_error": self.retrain_error, "llm_skipped": self.llm_skipped,
                 "cascade_scale": self.cascade_scale, "pretrained": self.pretrained,
                 "cascade_bound": self.cascade_bound, "cascade_bound_evidence": self.cascade_bound_evidence,
                 "student_left_out": self.student_left_out, "morphology": self.morphology}  # fmt: skip
        keep_none = ("cascade_scale", "cascade_bound")  # 0 is a value
        return out | {k: v for k, v in extra.items() if v or (k in keep_none and v is not None)}


def chunk_text(text: str, max_chars: int) -> list[tuple[int, str]]:
    """Sentence-packed chunks of at most ~max_chars, as (offset, chunk) with exact offsets."""
    bounds = [0] + [m.end() for m in _SENT_END.finditer(text)] + [len(text)]
    sentences = [(a, b) for a, b in itertools.pairwise(bounds) if text[a:b].strip()]
    chunks: list[tuple[int, int]] = []
    for a, b in sentences:
        if chunks and b - chunks[-1][0] <= max_chars:
            chunks[-1] = (chunks[-1][0], b)
        else:
            chunks.append((a, b))
    out = []
    for a, b in chunks:
        while b - a > max_chars * 2:  # one huge "sentence": cut at a space
            cut = text.rfind(" ", a + max_chars // 2, a + max_chars) + 1 or a + max_chars
            out.append((a, text[a:cut]))
            a = cut
        out.append((a, text[a:b]))
    return [(a, t) for a, t in out if t.strip()]


def unlabeled_documents(store: Store, limit: int | None = None) -> list[int]:
    """Documents with no span proposals and no approved labels yet, oldest first."""
    sql = (
        "SELECT id FROM documents d WHERE NOT EXISTS (SELECT 1 FROM proposals p WHERE p.document_id = d.id AND p.kind = 'span')"
        " AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.document_id = d.id)"
        " AND NOT EXISTS (SELECT 1 FROM decisions x WHERE x.action = 'label.propose'"
        " AND json_extract(x.payload, '$.document_id') = d.id) ORDER BY id"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [int(r[0]) for r in store.conn.execute(sql)]


def guideline_example(guideline: Guideline) -> dict[str, str] | None:
    """A worked example made from the guideline's own positive examples.

    Until a human has approved spans, this is the only example the model sees. It matters: a
    1.5B model shown no example lists one or two names per sentence; shown one sentence with
    several names of each label, it lists them all (recall 0.38 -> 0.81 on the tech-news
    fixture; see docs/ner.md).
    """
    ents = [
        (ex.strip(), lab.name)
        for lab in guideline.labels
        for ex in lab.positive_examples[:2]
        if 0 < len(ex.split()) <= 4
    ]
    if len(ents) < 2:
        return None
    names = [e for e, _ in ents]
    if language_code(guideline.language) == "en":  # "en", "en-GB"
        text = ", ".join(names[:-1]) + f" and {names[-1]} were in the news today."
    else:
        text = ", ".join(names) + "."
    answer = {"entities": [{"text": e, "label": lab} for e, lab in ents]}
    return {"text": text, "answer": json.dumps(answer, ensure_ascii=False)}


class FewShot:
    """Approved documents as examples, the most similar to a chunk first.

    Similarity comes from `studio.ops.embed`: sentence embeddings with the `embed` extra, hashed
    character n-grams without it (the backend is chosen once per run and named in its decision).
    `mode="fixed"` always shows the first approved documents (for comparisons). With fewer
    approved documents than `k`, a worked example made from the guideline comes first.
    """

    def __init__(
        self,
        store: Store,
        labels: list[str],
        k: int,
        mode: str,
        max_chars: int = 500,
        guideline: Guideline | None = None,
        similarity: Backend | None = None,
    ) -> None:
        self.k = k
        self.mode = mode
        self.base = guideline_example(guideline) if guideline is not None and k else None
        self.examples: list[dict[str, str]] = []
        ids = [int(r[0]) for r in store.conn.execute("SELECT DISTINCT document_id FROM labels ORDER BY document_id")]
        for doc_id in ids[:500]:
            doc = store.document(doc_id)
            spans = [s for s in store.approved_spans(doc_id) if s.label in labels]
            for off, chunk in chunk_text(doc.text, max_chars):
                inside = [s for s in spans if s.start >= off and s.end <= off + len(chunk)]
                if inside:
                    answer = {"entities": [{"text": s.text, "label": s.label} for s in inside]}
                    self.examples.append({"text": chunk, "answer": json.dumps(answer, ensure_ascii=False)})
                    break
        self.similarity: Backend | None = None
        self._mat: Any = None
        if self.examples and mode == "similar" and k:
            if similarity is None:
                from studio.ops.embed import similarity_backend

                similarity = similarity_backend(store)
            self.similarity = similarity
            self._mat = similarity.encode([e["text"] for e in self.examples])

    def pick(self, text: str) -> list[dict[str, str]]:
        base = [self.base] if self.base and len(self.examples) < self.k else []
        if not self.k or not self.examples:
            return base
        if self.similarity is None:
            return base + self.examples[: self.k - len(base)]
        from studio.ops.embed import cosine

        sims = cosine(self._mat, self.similarity.encode([text])).ravel()
        order = sorted(range(len(sims)), key=lambda i: (-sims[i], i))
        # the least similar first, the most similar last (closest to the text to label)
        return base + [self.examples[i] for i in order[: self.k - len(base)]][::-1]


def label_documents(
    store: Store,
    llm: LLM,
    doc_ids: list[int] | None = None,
    *,
    limit: int | None = None,
    settings: LabelSettings | None = None,
    on_progress: Progress | None = None,
) -> LabelReport:
    s = settings or LabelSettings()
    approved = store.approved_guideline()
    if approved is None:
        raise InvalidState("approve a guideline before weak labeling (studio guideline approve)")
    guideline, version = approved
    if guideline.task_type != "ner":
        raise InvalidState(f"the approved guideline is for {guideline.task_type}, not NER")
    ids = doc_ids if doc_ids is not None else unlabeled_documents(store, limit)
    report = LabelReport(batch=store.run_id("ner"), documents=len(ids))
    from studio.llm.prompts import load_prompt  # the model layer loads when labeling starts, not on import

    if s.prompt_version is None:
        s = replace(s, prompt_version=_pinned("ner", guideline.language))
    prompt = load_prompt("ner", s.prompt_version)
    labels = guideline.label_names()
    few = FewShot(store, labels, s.few_shot, s.few_shot_mode, guideline=guideline)
    report.few_shot_similarity = few.similarity.name if few.similarity else None
    # the passes around the model's answer and the guideline's shape rules, read once for the run
    use = passes.pass_settings(store, prompt, s.recall_pass, s.verify_spans)
    verify = use.verify
    language_rules = prompt.version in passes.LANGUAGE_RULES_VERSIONS  # Korean: ner.v5
    shapes = passes.guideline_shapes(guideline, language_rules) if verify else {}
    teams = _team_rule(store, guideline) if verify else None  # clubs named by their town in results lines (teams.py)
    gazetteer = Gazetteer.build(guideline, store)
    weak_sources: list[Any] = [gazetteer] if len(gazetteer) else []
    spacy_map = s.spacy_map if s.spacy_model else {}
    if s.spacy_auto and not spacy_map:
        from studio.ops.ner.automap import auto_label_map
        from studio.ops.ner.sources import pretrained_available

        spacy_map = auto_label_map(guideline) if pretrained_available() else {}
        report.pretrained = spacy_map or None
    if spacy_map:
        # the pipeline's names are tidied (SpacyModelSource._tidy) as part of the verify pass, so a run without
        # it (a recording made before: ner.v2) proposes what it proposed then
        keep_the = any(ex.lower().startswith("the ") for lab in guideline.labels for ex in lab.positive_examples)
        weak_sources.append(SpacyModelSource(spacy_map, latin_only=s.spacy_auto, tidy=verify, keep_the=keep_the,
                                             shapes=shapes or None))  # fmt: skip
    if verify and language_rules and language_code(guideline.language) == "ko":
        from studio.ops.ner import morph

        report.morphology = (
            f"kiwipiepy {morph.version()}" if morph.available() else MORPHOLOGY_OFF.format(why=morph.why_not())
        )
    if verify and language_rules:
        patterns = Patterns.for_guideline(guideline)  # Korean dates, times, amounts and datelines, by pattern
        if patterns is not None:
            weak_sources.append(patterns)
    student = _student(store, s, report)
    pipeline = next((w for w in weak_sources if isinstance(w, SpacyModelSource)), None)
    if student is not None and pipeline is not None and (why := student_behind_pipeline(store, student, pipeline)):
        report.student, report.student_left_out, student = None, why, None
    if student is not None:
        weak_sources.append(student)
    weights: Weights | None = None
    batch_settings = s
    if s.cascade and student is not None:
        bound = CASCADE_BOUND if s.cascade_bound is None else s.cascade_bound
        if s.learned_weights:  # the finished documents once: the weights, the LLM's record, the bound's evidence
            done, errors = cascade_evidence(store, student)
            weights = weights_from(done)
            finished = [(d, e) for d, e in zip(done, errors, strict=True) if e is not None]
            report.cascade_scale = round(cascade_scale(weights, finished, labels), 6)  # how much of its promise it kept
            if s.cascade_bound is None:
                choice = choose_cascade_bound(done, errors, labels, weights)
                bound, report.cascade_bound_evidence = choice.bound, choice.logged()
        report.cascade_bound = bound
        batch_settings = replace(s, cascade_bound=bound)
    elif s.learned_weights:
        weights = labeling_weights(store, student)
    accuracies = {name: st.accuracy for name, st in accuracies_from_store(store).items() if st.estimated}
    for start in range(0, len(ids), s.docs_per_batch):
        batch_ids = ids[start : start + s.docs_per_batch]
        docs = [store.document(i) for i in batch_ids]
        _label_batch(
            store, llm, docs, guideline, version, prompt, labels, few, weak_sources, accuracies, weights,
            batch_settings, report, use, shapes, teams,
        )  # fmt: skip
        if on_progress:
            on_progress(
                f"labeled {min(start + s.docs_per_batch, len(ids))}/{len(ids)} documents",
                (start + len(batch_ids)) / max(1, len(ids)),
            )
    store.record("tool", "weak_label.run", [], {**report.as_dict(), "prompt": prompt.id, "model": llm.spec.describe(), "guideline_version": version,
                 "settings": _settings_logged(s, cascade_ran=s.cascade and student is not None)})  # fmt: skip
    return report


def _label_batch(
    store: Store, llm: LLM, docs: list[Document], guideline: Guideline, version: int, prompt: Prompt,
    labels: list[str], few: FewShot, weak_sources: list[Any], accuracies: dict[str, float], weights: Weights | None,
    s: LabelSettings, report: LabelReport, use: passes.PassSettings, shapes: dict[str, passes.LabelShape],
    teams: TeamRule | None = None,
) -> None:  # fmt: skip
    from studio.llm import Request
    from studio.ops.ner.parse import answer_format, compact_answer, pairs_json_schema, parse_pairs

    pairs = answer_format(prompt.version) == "pairs"  # ner.v4: [name, label] pairs (parse.py)
    schema = pairs_json_schema(labels) if pairs else answer_json_schema(labels)
    parse = parse_pairs if pairs else parse_answer
    reqs: list[Request] = []
    where: list[tuple[int, int, str, int]] = []  # (doc index, chunk offset, chunk text, sample index)
    shown: list[list[dict[str, str]]] = []  # the few-shot examples of each request
    weak_preds = _predict_weak(weak_sources, [d.text for d in docs])
    student = next((w for w in weak_sources if isinstance(w, StudentSource)), None)
    skip: set[int] = set()
    if s.cascade and student is not None:
        errors = None
        if weights is not None:  # the student's own doubt (its beam), as expected errors
            doubts = student.doubts([d.text for d in docs], [p.get(student.name, []) for p in weak_preds])
            errors = [student.expected_errors(x) for x in doubts]
        scale = 1.0 if report.cascade_scale is None else report.cascade_scale
        skip = cascade_skips(weights, student, weak_preds, labels, s.cascade_threshold, errors=errors,
                             bound=s.cascade_bound, scale=scale)  # fmt: skip
        report.llm_skipped += len(skip)
    for di, doc in enumerate(docs):
        if di in skip:
            continue
        for off, chunk in chunk_text(doc.text, s.chunk_chars):
            examples = few.pick(chunk)
            if pairs:  # the examples answer as the model is asked to
                examples = [{**ex, "answer": compact_answer(ex["answer"])} for ex in examples]
            messages = prompt.render(guideline=guideline, examples=examples, text=chunk)
            for k in range(s.samples):
                reqs.append(
                    Request(
                        messages, operation=f"weak_label:{prompt.id}", schema=schema, schema_name="NerAnswer",
                        temperature=0.0 if k == 0 else s.temperature, max_tokens=s.max_tokens, seed=None if k == 0 else k,
                        extra=dict(s.request_extra),
                    )
                )  # fmt: skip
                where.append((di, off, chunk, k))
                shown.append(examples)
    results = llm.batch(reqs) if reqs else []
    per_doc: dict[int, dict[int, list[Span]]] = {i: {} for i in range(len(docs))}
    calls: dict[int, list[int]] = {i: [] for i in range(len(docs))}
    contexts: dict[int, dict[tuple[int, int, str], str]] = {i: {} for i in range(len(docs))}
    methods: dict[int, dict[tuple[int, int, str], str]] = {i: {} for i in range(len(docs))}
    # the pass that found or changed a span, when not the first answer alone (passes.py)
    found_by: dict[int, dict[tuple[int, int, str], str]] = {i: {} for i in range(len(docs))}
    failed: dict[int, str] = {}  # batch position -> reason (a position, not a document id)
    answers: dict[int, list[Any]] = {}  # request position -> its aligned spans (chunk offsets)
    for i, ((di, _off, chunk, _k), res) in enumerate(zip(where, results, strict=True)):
        if di in failed:
            continue
        if isinstance(res, Exception):
            failed[di] = str(res)
            continue
        _count(report, res)
        calls[di].append(res.call_id or 0)
        try:
            parsed = parse(res.text, labels)
        except ParseFailure as exc:
            failed[di] = exc.reason
            continue
        report.repaired += int(parsed.repaired)
        aligned = align_mentions(
            chunk, parsed.mentions, guideline.language, repeat=s.repeat, fuzzy_threshold=s.fuzzy_threshold
        )
        report.hallucinated += len(aligned.hallucinated)
        answers[i] = aligned.spans
    recalled: set[tuple[int, int, int, str]] = set()  # (request position, start, end, label) found by the recall pass
    if use.recall:
        from studio.llm.prompts import load_prompt

        recall_prompt = load_prompt(*passes.RECALL_PROMPT)
        not_names = passes.excluded_words(guideline)
        again: list[tuple[int, Request]] = []
        for i, spans in answers.items():
            di, off, chunk, k = where[i]
            words = passes.recall_needed(chunk, [a.span for a in spans], guideline.language, not_names)
            if di in failed or words is None:
                continue
            found = [{"text": a.span.text, "label": a.span.label} for a in spans]
            messages = passes.recall_messages(prompt, recall_prompt, guideline, shown[i], chunk, words, found)
            first = reqs[i]
            again.append((i, Request(messages, operation=f"weak_label:{prompt.id}+{recall_prompt.id}", schema=schema,
                                     schema_name="NerAnswer", temperature=first.temperature, max_tokens=s.max_tokens,
                                     seed=first.seed, extra=dict(s.request_extra))))  # fmt: skip
        for (i, _), res in zip(again, llm.batch([r for _, r in again]) if again else [], strict=True):
            if isinstance(res, Exception):  # the first answer stands
                continue
            _count(report, res)
            di, off, chunk, k = where[i]
            calls[di].append(res.call_id or 0)
            try:
                parsed = parse(res.text, labels)
            except ParseFailure:
                continue
            more = align_mentions(
                chunk, parsed.mentions, guideline.language, repeat=s.repeat, fuzzy_threshold=s.fuzzy_threshold
            )
            report.hallucinated += len(more.hallucinated)
            kept = passes.merge_recall(chunk, [a.span for a in answers[i]], [a.span for a in more.spans])
            new = {(sp.start, sp.end, sp.label) for sp in kept[len(answers[i]) :]}
            first_word = {a.span.start: a for a in more.spans}  # a joined span keeps its first word's alignment
            answers[i] = answers[i] + [
                first_word[sp.start].model_copy(update={"span": sp}) for sp in kept[len(answers[i]) :]
            ]
            recalled |= {(i, *key) for key in new}
    # verify also drops a model span the pretrained pipeline calls a person or a place where no label is for them
    pipeline = next((w for w in weak_sources if isinstance(w, SpacyModelSource)), None)
    unlabelled = pipeline.unlabelled_names([d.text for d in docs]) if use.verify and pipeline else None
    for i, spans in answers.items():
        di, off, chunk, k = where[i]
        if di in failed:
            continue
        sample = per_doc[di].setdefault(k, [])
        for a in spans:
            how = "recall" if (i, a.span.start, a.span.end, a.span.label) in recalled else None
            checked = passes.verify_spans(chunk, [a.span], shapes).spans if shapes else [a.span]
            if not checked or (unlabelled and (checked[0].start + off, checked[0].end + off) in unlabelled[di]):
                continue
            if checked[0] is not a.span:
                how = f"{how}+trimmed" if how else "trimmed"
            span = checked[0].model_copy(update={"start": checked[0].start + off, "end": checked[0].end + off})
            if teams is not None:  # a club named by its town in a results line (teams.py)
                span = teams.relabel_span(docs[di].text, span)
            sample.append(span)
            key = (span.start, span.end, span.label)
            contexts[di].setdefault(key, a.mention.context)
            methods[di].setdefault(key, a.method)
            if how:
                found_by[di].setdefault(key, how)
    for di, doc in enumerate(docs):
        if di in failed:
            report.failed[doc.id or 0] = failed[di]
            store.record("tool", "weak_label.fail", [f"doc:{doc.id}"], {"document_id": doc.id, "reason": failed[di]})
            continue
        samples = [] if di in skip else [per_doc[di].get(k, []) for k in range(s.samples)]
        weak = weak_preds[di] if teams is None else teams.relabel_votes(doc.text, weak_preds[di])
        combined = combine_spans(doc.text, samples, weak, llm_name="llm", accuracies=accuracies, weights=weights)
        # who ran (silent sources included) is kept once a student votes; before, the sources named
        # in the votes stand for it (weights.py) and proposals look as they always did
        ran = sorted(weak) + ([] if di in skip else ["llm"]) if student is not None else None
        props = []
        known = proposed_keys(store, doc.id or 0)
        for z in combined.spans:
            key = (z.span.start, z.span.end, z.span.label)
            if key in known:  # `--doc N` again: a span already proposed (or decided) is not proposed twice
                report.already_proposed += 1
                continue
            payload = {
                "span": z.span.model_dump(), "sources": z.sources, "context": contexts[di].get(key, ""),
                "method": methods[di].get(key, "weak"), "llm_call_ids": sorted(set(calls[di])), "prompt": prompt.id,
                "guideline_version": version,
            }  # fmt: skip
            if ran is not None:
                payload["ran"] = ran
            if key in found_by[di]:  # found by the recall pass, or trimmed by the verify pass (passes.py)
                payload["pass"] = found_by[di][key]
            if s.preselect is not None and z.confidence >= s.preselect:
                payload["preselected"] = True
            main = "llm" if z.sources.get("llm", 0) >= 0.5 else max(z.sources, key=lambda n: z.sources[n])
            if weights is not None:  # which source the confidence came from (the largest push up)
                payload["confidence_from"] = weights.confidence(z.span.label, z.sources)[1]
            props.append(Proposal(kind="span", document_id=doc.id, payload=payload, confidence=z.confidence,
                                  source=f"llm:{prompt.id}" if main == "llm" else main, batch=report.batch))  # fmt: skip
        if props:
            store.add_proposals(props, actor="agent", rationale=f"weak labels from {report.batch}")
        elif known:
            pass  # relabeled: everything it found was proposed before
        else:
            # an empty answer is an answer: record it so the document is not labeled again
            store.record(
                "agent", "label.propose", [f"doc:{doc.id}"], {"document_id": doc.id, "count": 0, "batch": report.batch}
            )
        report.proposals += len(props)
        report.labeled += 1


def _team_rule(store: Store, guideline: Guideline) -> TeamRule | None:
    """teams.py's rule for this guideline, as the project's complete documents turn it on or off."""
    from studio.ops.ner.train import complete_documents

    if language_code(guideline.language) != "en":
        return None
    return team_rule(guideline, [(d.text, d.spans) for d in complete_documents(store, guideline.label_names())])


def _predict_weak(sources: list[Any], texts: list[str]) -> list[dict[str, list[tuple[Span, float]]]]:
    """Every weak source on every text, batched where the source can."""
    out: list[dict[str, list[tuple[Span, float]]]] = [{} for _ in texts]
    for src in sources:
        preds = src.predict_many(texts) if hasattr(src, "predict_many") else [src.predict(t) for t in texts]
        for i, p in enumerate(preds):
            out[i][src.name] = p
    return out


def labeling_weights(store: Store, student: StudentSource | None) -> Weights:
    """The weights `studio label` combines with: learned on the complete documents (and the student's held-out
    votes); before any document is complete, the prior weights of the same model, where a silent source abstains.

    (The fixed priors of `combine_spans` count the LLM's silence as a "no" as strong as its "yes", so with nothing
    reviewed a span only the pretrained pipeline found could never be proposed above the threshold: English news
    sample at 0 reviewed, LLM 0.556, pretrained 0.468, combined 0.556 with the fixed priors, 0.591 with these.)"""
    return estimate_weights(store, student=student)


def cascade_skips(
    weights: Weights | None,
    student: StudentSource,
    weak_preds: list[dict[str, list[tuple[Span, float]]]],
    labels: list[str],
    threshold: float = 0.9,
    *,
    errors: list[float] | None = None,
    bound: float = CASCADE_BOUND,
    scale: float = 1.0,
) -> set[int]:
    """The documents (positions) that skip the LLM.

    With learned weights: those where no answer of the LLM could change a proposal (`Weights.llm_can_change`),
    and, given `errors` (the student's expected errors per document, `StudentSource.expected_errors`), those
    where asking it is expected to gain less than `bound` (`cascade_gain` times `scale`, `cascade_scale`).
    Without weights: those the student is sure of (`student_confident`).
    """
    if weights is None:
        return {i for i, preds in enumerate(weak_preds) if student_confident(student, preds, threshold)}
    out = set()
    for i, preds in enumerate(weak_preds):
        if (
            errors is not None and scale * cascade_gain(weights, preds, errors[i], labels) < bound
        ) or not weights.llm_can_change(preds, labels):
            out.add(i)
    return out


def decision_counts(
    weights: Weights, votes: dict[tuple[int, int, str], dict[str, float]], ran: set[str], gold: set[tuple[int, int, str]],
    llm: str = "llm",
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:  # fmt: skip
    """A finished document's strict counts (tp, fp, fn) of the proposals the weights make with the LLM's votes and
    without them (a silent source votes 0; a candidate nobody voted for is not proposed)."""
    silent = {name: 0.0 for name in ran}
    counts = [[0, 0, 0], [0, 0, 0]]
    for key in set(votes) | gold:
        full = silent | votes.get(key, {})
        without = {n: p for n, p in full.items() if n != llm}
        truth = key in gold
        for c, v in zip(counts, (full, without), strict=True):
            yes = weights.proposes(key[2], v)
            c[0] += yes and truth
            c[1] += yes and not truth
            c[2] += truth and not yes
    (tp, fp, fn), (tp0, fp0, fn0) = counts
    return (tp, fp, fn), (tp0, fp0, fn0)


def realized_gain(
    weights: Weights, votes: dict[tuple[int, int, str], dict[str, float]], ran: set[str], gold: set[tuple[int, int, str]],
    llm: str = "llm",
) -> float:  # fmt: skip
    """What the LLM's votes actually gained on a finished document, in the units of `cascade_gain`: for each
    candidate whose decision they changed, truth - t (a right proposal made or a wrong one dropped: 1 - t or t;
    the reverse, minus that), i.e. (tp - tp without) (1 - t) - (fp - fp without) t."""
    t = weights.threshold
    (tp, fp, _), (tp0, fp0, _) = decision_counts(weights, votes, ran, gold, llm)
    return (tp - tp0) * (1 - t) - (fp - fp0) * t


def weak_of(
    votes: dict[tuple[int, int, str], dict[str, float]], ran: set[str], llm: str = "llm"
) -> dict[str, list[tuple[Span, float]]]:
    """A finished document's stored votes as the other sources' predictions (`_predict_weak`'s shape), the LLM's
    left out."""
    out: dict[str, list[tuple[Span, float]]] = {name: [] for name in ran if name != llm}
    for (a, b, label), v in sorted(votes.items()):
        for name, p in v.items():
            if name != llm and p > 0:
                out.setdefault(name, []).append((Span(start=a, end=b, label=label), p))
    return out


def cascade_scale(
    weights: Weights, finished: list[tuple[DocTrials, float]], labels: list[str], llm: str = "llm"
) -> float:
    """How much of `cascade_gain`'s promise the LLM kept on finished documents it voted on: (sum of
    `realized_gain` + 1) / (sum of `cascade_gain` + 1) over them (one pseudo-unit at "all of it"), between 0
    and 1. `finished`: each document's trials and the student's expected errors there (from its held-out
    doubt). The gain assumes independent, calibrated votes; the LLM's misses and the student's are not
    independent (English news, 100 reviewed: 0.12-0.32 with the pseudo-unit), so the promise is scaled by the
    record."""
    promised = kept = 0.0
    for d, errors in finished:
        if llm not in d.ran or not math.isfinite(errors):
            continue
        promised += cascade_gain(weights, weak_of(d.votes, d.ran, llm), errors, labels, llm)
        kept += realized_gain(weights, d.votes, d.ran, d.gold, llm)
    return min(1.0, max(0.0, (kept + 1.0) / (promised + 1.0)))


def cascade_evidence(store: Store, student: StudentSource) -> tuple[list[DocTrials], list[float | None]]:
    """Every complete document's trials (what the weights learn from: `complete_trials` with the student's held-out
    votes) and, per document, the student's expected errors there from the held-out doubt its card keeps (None
    where it has none)."""
    from studio.ops.ner.train import complete_document_ids

    doubts = {int(k): float(v[0]) for k, v in (student.card.get("heldout_doubt") or {}).items()}
    ids = complete_document_ids(store)
    docs = complete_trials(store, ids, student=student)
    return docs, [student.expected_errors(doubts[i]) if i in doubts else None for i in ids]


class BoundChoice(BaseModel):
    """The cascade's bound and the evidence it was chosen from (`choose_cascade_bound`)."""

    bound: float
    # fixed: too few finished documents the LLM labelled, or no bound that skipped any of them lost no F1
    chosen_from: Literal["evidence", "fixed"]
    documents: int = 0  # finished documents the LLM labelled, with the student's held-out doubt
    f1_llm: float | None = None  # their strict F1 with the LLM asked on every one (weights from the other folds)
    # per candidate bound: (bound, documents that would skip, F1, estimated F1 loss + one standard error)
    rows: list[tuple[float, int, float, float]] = Field(default_factory=list)
    tolerance: float = CASCADE_TOLERANCE

    def logged(self) -> dict[str, Any]:
        """What the run decision keeps: enough to see why this bound (the choice is deterministic: a replay of
        the same project chooses it again)."""
        out: dict[str, Any] = {"bound": self.bound, "chosen_from": self.chosen_from, "documents": self.documents}
        if self.rows:
            out |= {"f1_llm": round(self.f1_llm or 0.0, 4), "tolerance": self.tolerance,
                    "rows": [[b, n, round(f, 4), round(u, 4)] for b, n, f, u in self.rows]}  # fmt: skip
        return out


class _Outcome(BaseModel):
    """One finished document judged as a new one: the cascade's scaled gain there, whether any LLM answer could
    change a proposal, and the strict counts (tp, fp, fn) of the proposals with and without the LLM's votes."""

    gain: float
    can_change: bool
    with_llm: tuple[int, int, int]
    without: tuple[int, int, int]


def _f1(c: Sequence[int]) -> float:
    tp, fp, fn = c
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _outcome(weights: Weights, d: DocTrials, errors: float, labels: list[str], scale: float, llm: str) -> _Outcome:
    weak = weak_of(d.votes, d.ran, llm)
    with_llm, without = decision_counts(weights, d.votes, d.ran, d.gold, llm)
    return _Outcome(gain=scale * cascade_gain(weights, weak, errors, labels, llm),
                    can_change=weights.llm_can_change(weak, labels, llm), with_llm=with_llm, without=without)  # fmt: skip


def choose_cascade_bound(
    docs: list[DocTrials],
    errors: list[float | None],
    labels: list[str],
    weights: Weights,
    *,
    bounds: tuple[float, ...] = CASCADE_BOUNDS,
    tolerance: float = CASCADE_TOLERANCE,
    min_docs: int = CASCADE_MIN_DOCS,
    folds: int = CASCADE_FOLDS,
    llm: str = "llm",
) -> BoundChoice:
    """The cascade's bound, from the finished documents the LLM labelled (`docs` with `errors`, the student's
    expected errors there, not None; `cascade_evidence`):

    each such document is judged as a new one would be, by weights (`refit`, with `weights`' back-off and
    threshold) and the LLM's record (`cascade_scale`) fitted on the other documents (k-fold): its scaled gain
    (`cascade_gain`), and the proposals with and without the LLM's votes. Skipping at bound b leaves out the LLM
    where the gain is under b (or no answer of it could change a proposal); the estimated loss is the strict F1
    of asking it everywhere minus the F1 with those documents skipped, its uncertainty the jackknife standard
    error over documents. A bound passes when its loss plus one standard error is at most `tolerance` (a negative
    loss, where the LLM's votes did harm, lets it skip more); it is tested when it skips more documents than the
    candidate below it (a bound beyond every document's gain would pass without evidence). The largest tested
    bound that passes wins; without one, the fixed `CASCADE_BOUND`, or, when that one fails, the largest bound
    below it that passes (0: skip only where no answer of the LLM could change a proposal). Fewer than `min_docs`
    documents: the fixed bound. Deterministic: the same documents give the same bound."""
    usable = [i for i, d in enumerate(docs) if errors[i] is not None and math.isfinite(errors[i] or 0.0)
              and llm in d.ran]  # fmt: skip
    if len(usable) < min_docs:
        return BoundChoice(bound=CASCADE_BOUND, chosen_from="fixed", documents=len(usable), tolerance=tolerance)
    k = min(folds, len(usable))
    outcomes: list[_Outcome] = []
    for f in range(k):
        held = set(usable[f::k])
        w = refit([d for i, d in enumerate(docs) if i not in held], weights)
        scale = cascade_scale(w, [(docs[i], float(errors[i] or 0.0)) for i in usable if i not in held], labels, llm)
        outcomes += [_outcome(w, docs[i], float(errors[i] or 0.0), labels, scale, llm) for i in usable[f::k]]

    n = len(outcomes)
    every = [sum(o.with_llm[x] for o in outcomes) for x in range(3)]
    rows: list[tuple[float, int, float, float]] = []
    tested: list[float] = []  # bounds that passed and skip more documents than the bound below them
    passed: list[float] = []
    for b in sorted(bounds):
        skip = [o.gain < b or not o.can_change for o in outcomes]
        mine = [o.without if x else o.with_llm for o, x in zip(outcomes, skip, strict=True)]
        cascade = [sum(c[x] for c in mine) for x in range(3)]
        est = _f1(every) - _f1(cascade)
        # jackknife: the loss with each document left out in turn
        jack = [
            _f1([every[x] - o.with_llm[x] for x in range(3)]) - _f1([cascade[x] - c[x] for x in range(3)])
            for o, c in zip(outcomes, mine, strict=True)
        ]
        mean = sum(jack) / n
        se = math.sqrt((n - 1) / n * sum((x - mean) ** 2 for x in jack))
        if est + se <= tolerance + 1e-12:
            passed.append(b)
            if sum(skip) > (rows[-1][1] if rows else 0):
                tested.append(b)
        rows.append((b, sum(skip), _f1(cascade), est + se))
    out = BoundChoice(bound=CASCADE_BOUND, chosen_from="fixed", documents=n, f1_llm=_f1(every), rows=rows,
                      tolerance=tolerance)  # fmt: skip
    if tested:
        out.bound, out.chosen_from = tested[-1], "evidence"
    elif CASCADE_BOUND not in passed:  # the fixed bound lost F1 on documents it skipped: the largest below it
        out.bound, out.chosen_from = max([0.0, *(b for b in passed if b < CASCADE_BOUND)]), "evidence"
    return out


def cascade_gain(
    weights: Weights, weak: dict[str, list[tuple[Span, float]]], errors: float, labels: list[str], llm: str = "llm"
) -> float:
    """What asking the LLM about a document is expected to gain, in proposals (a right one is worth 1 - t, a wrong
    one -t, at the weights' decision threshold t), by the learned weights:

    - each candidate another source proposed: the expected value of the LLM's vote (its learned rates give the
      chance it says yes; the confidence with its yes or no decides): sum over its answers of
      P(answer) * max(0, q_answer - t), minus max(0, q - t) with q the confidence without it. Where the sources
      disagree and the LLM could tip the balance this is large; where its answer cannot change the decision, 0;
    - what no other source proposed: the student's expected errors in the document (`errors`, its beam's doubt
      calibrated on its held-out documents) times what the LLM makes of such an entity: its learned recall r
      times (1 - t / c), c the confidence of a span only the LLM proposes (its precision there; 0 when such a
      span stays under the threshold), the best over the labels.
    """
    t = weights.threshold
    silent = {name: 0.0 for name in weak}
    gain = 0.0
    for (_, _, label), v in candidate_votes(weak).items():
        base = silent | v

        def conf(extra: dict[str, float], label: str = label, base: dict[str, float] = base) -> float:
            return weights.confidence(label, weights.votes(label, base | extra))[0]

        q, q_yes, q_no = conf({}), conf({llm: 1.0}), conf({llm: 0.0})
        r, f = weights.rates(llm, label)
        p_yes = q * r + (1 - q) * f
        gain += max(0.0, p_yes * max(0.0, q_yes - t) + (1 - p_yes) * max(0.0, q_no - t) - max(0.0, q - t))
    value = 0.0
    for label in labels:
        c = weights.confidence(label, weights.votes(label, silent | {llm: 1.0}))[0]
        value = max(value, weights.rates(llm, label)[0] * max(0.0, 1 - t / c))
    return gain + errors * value if value > 0 else gain


def student_confident(student: StudentSource, preds: dict[str, list[tuple[Span, float]]], threshold: float) -> bool:
    """The cascade's test: may this document skip the LLM?

    Yes when the student's held-out recall and the held-out precision of every label it predicts
    here are at least `threshold`, and no other source proposes a span (p >= 0.5) the student
    does not (a disagreement is what the LLM is asked to settle).
    """
    card = student.card.get("scores") or {}
    if float(card.get("recall", 0.0)) < threshold:
        return False
    mine = preds.get(student.name, [])
    if any(student.precision.get(sp.label, 0.0) < threshold for sp, _ in mine):
        return False
    keys = {(sp.start, sp.end, sp.label) for sp, _ in mine}
    return all(
        (sp.start, sp.end, sp.label) in keys
        for name, other in preds.items()
        if name != student.name
        for sp, p in other
        if p >= 0.5
    )


def _student(store: Store, s: LabelSettings, report: LabelReport) -> StudentSource | None:
    """The newest student, retrained first when enough new documents are complete."""
    if not s.student:
        return None
    if s.retrain_every and retrain_due(store, s.student_name, s.retrain_every):
        from studio.ops import registry

        ctx = registry.OpContext(store=store, actor="tool")
        try:
            registry.run("train", {**s.retrain_args, "name": s.student_name}, ctx)
            report.retrained = True
        except StudioError as exc:  # e.g. too few documents with labels: label without retraining
            report.retrain_error = str(exc)
    student = newest_student(store.root, s.student_name)
    if student is not None:
        report.student = f"{student.name}@{student.card.get('data_version')}"
    return student


# A student fine-tuned from the pretrained pipeline votes once its held-out F1 is not this far under the pipeline's
# on the same complete documents (`student_behind_pipeline`).
STUDENT_BEHIND = 0.02


def student_behind_pipeline(store: Store, student: StudentSource, pipeline: SpacyModelSource) -> str | None:
    """Why a student fine-tuned from the pretrained pipeline should not vote yet, or None.

    Its errors are mostly the pipeline's own, so it adds a vote worth having only once it does better than the
    pipeline; before that the weights learned from a few documents cannot tell (hand-written news, 20 reviewed:
    student held-out F1 0.649, the pipeline 0.684 on the same documents; proposals without the student 0.716, with
    it 0.686; at 100 reviewed 0.668 against 0.662, and with it 0.745 against 0.717; generated news at 20: 0.590
    against 0.591, and with it 0.673 against 0.610). Compared: the student's held-out strict F1 (its card) and the
    pipeline's strict F1 from its stored votes on the complete documents it labeled."""
    from studio.ops.ner.evaluate import Counts
    from studio.ops.ner.weights import complete_trials

    if student.card.get("base") in (None, "blank"):
        return None
    mine = (student.card.get("heldout_scores") or {}).get("f1")
    c = Counts()
    for d in complete_trials(store, gazetteer=False):
        if pipeline.name in d.ran:
            said = {k for k, v in d.votes.items() if v.get(pipeline.name, 0) >= 0.5}
            c.tp, c.fp, c.fn = c.tp + len(said & d.gold), c.fp + len(said - d.gold), c.fn + len(d.gold - said)
    if mine is None or not c.tp:
        return None
    theirs = c.f1
    if mine < theirs - STUDENT_BEHIND:
        return (f"the student's held-out F1 {mine:.3f} is under the pretrained pipeline's {theirs:.3f} on the same "
                "complete documents; it votes once it does better (finish more documents and retrain)")  # fmt: skip
    return None


def retrain_due(store: Store, name: str = "student", every: int | None = None) -> int:
    """How many complete documents the student `name` has not learned from, when they are at least `every`
    (default: the setting student.retrain_every, else 50) and the project labels spans; else 0."""
    from studio.ops.ner.train import MIN_DOCUMENTS, complete_document_ids, read_card

    approved = store.approved_guideline()
    if approved is None or approved[0].task_type != "ner":
        return 0
    every = every or int(store.get_setting("student.retrain_every", DEFAULT_RETRAIN_EVERY))
    done = complete_document_ids(store)
    card = read_card(store.root / "models" / name) or {}
    new = set(done) - set(card.get("document_ids") or [])
    return len(new) if len(new) >= every and len(done) >= MIN_DOCUMENTS else 0


_NEW_SETTINGS = ("student", "student_name", "retrain_every", "learned_weights", "recall_pass", "verify_spans")
_CASCADE = ("cascade", "cascade_bound", "cascade_threshold")


def _settings_logged(s: LabelSettings, cascade_ran: bool = False) -> dict[str, Any]:
    """The settings a run decision records; settings added with the student only when not at their default,
    the cascade's (`cascade`, `cascade_bound`) when it ran (on, with a student), so runs without it (and their
    recordings) look as they did when it was off by default."""
    default = LabelSettings()
    skip = ("spacy_map", "spacy_auto", "request_extra", "retrain_args")
    out = {
        k: v
        for k, v in s.__dict__.items()
        if k not in skip and k not in _CASCADE and (k not in _NEW_SETTINGS or v != getattr(default, k))
    }
    if cascade_ran:  # the bound used is in the report (`cascade_bound`, and how it was chosen)
        out |= {"cascade": True, "cascade_bound": "auto" if s.cascade_bound is None else s.cascade_bound}
        if s.cascade_threshold != default.cascade_threshold:
            out["cascade_threshold"] = s.cascade_threshold
    return dict(sorted(out.items()))


def proposed_keys(store: Store, doc_id: int) -> set[tuple[int, int, str]]:
    """(start, end, label) of the document's span proposals that are not withdrawn, and its labels."""
    keys = {
        (int(r[0]), int(r[1]), str(r[2]))
        for r in store.conn.execute(
            "SELECT json_extract(payload, '$.span.start'), json_extract(payload, '$.span.end'),"
            " json_extract(payload, '$.span.label') FROM proposals"
            " WHERE document_id = ? AND kind = 'span' AND status != 'withdrawn'",
            (doc_id,),
        )
        if r[0] is not None
    }
    return keys | {(s.start, s.end, s.label) for s in store.approved_spans(doc_id)}


def _count(report: LabelReport, res: LLMResult) -> None:
    report.llm_calls += 1
    report.cache_hits += int(res.cache_hit)


# -- the operation: `studio label` ----------------------------------------------------------------
DEFAULT_RETRAIN_EVERY = 50  # the project setting student.retrain_every overrides it


class LabelArgs(Args):
    limit: int | None = Field(None, ge=1, description="Label at most N unlabeled documents.",
                              json_schema_extra={"short": "-n"})  # fmt: skip
    doc: list[int] = Field(
        default_factory=list, description="Label this document (repeatable), even if it has proposals."
    )
    samples: int = Field(1, ge=1, le=10, json_schema_extra={"short": "-k"},
                         description="Answers per chunk for self-consistency (the first greedy, the rest sampled).")  # fmt: skip
    few_shot: int = Field(3, ge=0, le=10, description="Approved examples per prompt.")
    few_shot_mode: Literal["similar", "fixed"] = Field(
        "similar", description="Most similar approved documents, or always the first ones."
    )
    repeat: Literal["context", "all"] = Field(
        "context", description="A mention found several times: pick the occurrence its context names, or propose each."
    )
    preselect: float | None = Field(
        None, ge=0, le=1, description="Mark proposals at or above this confidence for quick review."
    )
    spacy: list[str] = Field(
        default_factory=lambda: ["auto"],
        description="The pretrained English spaCy pipeline as a source: auto (English guidelines: its labels mapped "
        "to the guideline's by name, e.g. PERSON to PER; off if none matches or it is not installed), off, or a "
        "map FROM=TO (repeatable, e.g. GPE=LOC).",
    )
    student: bool = Field(True, description="Let the newest student model (studio train) vote.")
    cascade: bool = Field(
        True,
        description="Once a student exists, documents where asking the model is expected to gain almost nothing "
        "(the student is sure of them and no source disagrees) skip it (faster).",
    )
    cascade_bound: float | None = Field(
        None,
        ge=0,
        description="With --cascade: the expected gain in proposals under which a document skips the model "
        "[default: chosen from the complete documents the model labelled: the largest bound that lost no F1 there; "
        f"with fewer than {CASCADE_MIN_DOCS} of them, {CASCADE_BOUND}].",
    )
    retrain_every: int | None = Field(None, ge=1, description="Retrain the student first when this many newly complete "
                                      f"documents exist [default: setting student.retrain_every, else {DEFAULT_RETRAIN_EVERY}].")  # fmt: skip
    learned_weights: bool = Field(
        True, description="Weigh sources by how they did on complete documents (studio sources)."
    )
    recall_pass: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Ask the model again about capitalized words its answer left out (a second request where it "
        "may help: gains on news with results lines and headlines, loses on prose with product names; docs/ner.md). "
        "auto: the setting label.recall_pass, else on with the ner prompt v3 only.",
    )
    verify_spans: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Drop or trim model spans the guideline's examples rule out (digits, lower case, negative "
        "examples, a title before a name; in Korean a title or a verb after it, an amount without a number), and let "
        "the patterns vote (Korean dates, times, amounts, datelines). auto: the setting label.verify_spans, else on with "
        "the ner prompts v3, v4 (English's default) and v5 (Korean's).",
    )
    prompt_version: int | None = Field(
        None,
        ge=1,
        description="The ner prompt version [default: the one pinned for the guideline's language: 4 for English, "
        "5 for Korean, else 2]. 4 answers in compact [name, label] pairs, with the verify pass: 1.2-1.5x faster than 2; "
        "on the English news fixture +0.09 F1 with nothing reviewed, -0.01 on the demo's pages. 5 asks what 2 asks, "
        "with the verify pass and the Korean patterns: hand-written Korean news 0.45 -> 0.73 with nothing reviewed "
        "(docs/ner.md).",
    )


class LabelResult(Result):
    batch: str
    documents: int
    labeled: int
    failed: int
    failures: dict[str, str]
    proposals: int
    already_proposed: int = 0
    hallucinated: int
    repaired_answers: int
    llm_calls: int
    cache_hits: int
    few_shot_similarity: str | None
    student: str | None = None
    student_left_out: str | None = None  # why the student did not vote
    retrained: bool = False
    retrain_error: str | None = None
    llm_skipped: int = 0
    cascade_scale: float | None = None
    pretrained: dict[str, str] | None = None  # the pretrained pipeline's label map, when chosen automatically
    cascade_bound: float | None = None
    cascade_bound_evidence: dict[str, Any] | None = None
    morphology: str | None = None  # (Korean) the analyzer that checked names, or why none did

    def summary(self) -> str:
        line = (
            f"Labeled {self.labeled}/{self.documents} documents: {self.proposals} span proposals "
            f"({self.hallucinated} hallucinated mentions dropped, {self.repaired_answers} answers repaired, "
            f"{self.cache_hits}/{self.llm_calls} calls from cache)."
        )
        if self.already_proposed:
            line += f" {self.already_proposed} spans were proposed before and not again."
        if self.student_left_out:
            line += f" The student did not vote: {self.student_left_out}."
        if self.student:
            line += f" Student {self.student}" + (" (retrained first)" if self.retrained else "") + " voted"
            line += f"; {self.llm_skipped} documents skipped the model" if self.llm_skipped else ""
            if self.cascade_bound is not None:
                how = (self.cascade_bound_evidence or {}).get("chosen_from", "given")
                line += f" (cascade bound {self.cascade_bound:g}, {how})"
            line += "."
        if self.pretrained:
            pairs = ", ".join(f"{k}->{v}" for k, v in self.pretrained.items())
            line += f" The pretrained pipeline voted ({pairs}; --spacy off leaves it out)."
        if self.morphology and self.morphology.startswith("off"):
            line += f" Korean morphology is {self.morphology}."
        return line


@operation("label", args=LabelArgs, result=LabelResult, side_effects=True, agent=False,
           help="Weak-label documents: the model and the other sources propose spans for review.")  # fmt: skip
def label(ctx: OpContext, args: LabelArgs) -> LabelResult:
    """Proposals wait for a human decision (in the app, or `studio review`); nothing becomes a
    label without one. Long documents are split into chunks; each span gets a confidence from the
    agreement of its sources."""
    from studio.ops.ner.formats import parse_label_map

    store = ctx.store
    choice = [x.strip().lower() for x in args.spacy if x.strip()]
    auto, off = choice == ["auto"], choice in ([], ["off"], ["none"])
    spacy_map = {} if auto or off else parse_label_map(args.spacy)
    every = args.retrain_every or int(store.get_setting("student.retrain_every", DEFAULT_RETRAIN_EVERY))
    settings = LabelSettings(
        samples=args.samples, few_shot=args.few_shot, few_shot_mode=args.few_shot_mode, repeat=args.repeat,
        preselect=args.preselect, spacy_model=bool(spacy_map), spacy_map=spacy_map, spacy_auto=auto,
        student=args.student, cascade=args.cascade, cascade_bound=args.cascade_bound, retrain_every=every,
        learned_weights=args.learned_weights, recall_pass=args.recall_pass, verify_spans=args.verify_spans,
        **({"prompt_version": args.prompt_version} if args.prompt_version else {}),
    )  # fmt: skip
    report = label_documents(store, ctx.llm, list(args.doc) or None, limit=args.limit, settings=settings,
                             on_progress=ctx.fraction_progress("labeling"))  # fmt: skip
    return LabelResult.model_validate(report.as_dict())
