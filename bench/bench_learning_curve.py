"""Proposal quality as a person reviews: each weak source alone and combined, after 0/20/100/300 reviewed
sentences, on the shipped news corpora (prints numbers; not a test).

Corpora: fixtures/ner/news_en_{train,test}.jsonl (600/200 documents, PER ORG LOC MISC) and
news_ko_{train,test}.jsonl (180/80, PER LOC ORG DAT TIM QTY). "Reviewed" = the first B training
documents, finished by a scripted person in a real project, as `studio label` and the review would leave them:

- each reviewed document is proposed by the sources a project has before any student: the gazetteer of the
  documents finished before it (the guideline's examples, approved spans, rejected proposals against their
  label) and, for English, the pretrained pipeline; the person accepts the right proposals, rejects the wrong
  ones, adds the missing spans and marks the document complete (the document review);
- `studio train` (the registry operation) trains the student on the complete documents: the pretrained English
  pipeline fine-tuned for English, blank with CJK character tokens for Korean; its card keeps its held-out
  votes (cross-validated over every document below 200 documents);
- the weights are the product's: `label.labeling_weights` (what `studio label` uses), learned from the
  votes stored on the complete documents and the student's held-out votes, with the back-off strength and
  the decision threshold chosen by cross-validation (weights.py); at 0 reviewed the fixed priors.

Then, on the test split:
- gazetteer / pretrained (PERSON->PER, ORG->ORG, GPE/LOC->LOC, NORP/EVENT->MISC) / student: each source alone
  (the student: every span it predicts; the others: probability >= 0.5);
- llm: the embedded model through `label_documents` (the real prompt; few-shot examples chosen from the
  reviewed documents), on a SMALL SAMPLE of the test split (`--llm-sample`, default 40 English / 24 Korean)
  and only at `--llm-budgets`; `--llm-votes FILE` keeps its answers (and measured time) so that a later run
  re-combines the same answers without the model. In a project the LLM proposed on the reviewed documents and
  is weighed by its record there; the bench asks it only on the sample, so from 20 reviewed on its record
  comes from the other sample documents (5-fold over the sample, `sample_weights`); at 0 reviewed the priors;
- combined: `combine_spans` with those weights, spans with confidence >= the weights' decision threshold;
  "combined (no llm)" on the whole test split, "combined" with the LLM on the sample;
- cascade (on the sample, once a student exists): documents where asking the LLM is expected to gain less than
  the bound (`label.cascade_skips` with the student's beam doubt, as `studio label --cascade`; `--cascade-bound`,
  default `label.CASCADE_BOUND`, fixed before any run; the gain scaled by the LLM's record on the other sample
  folds, `label.cascade_scale`, as its weights are) skip it. Time = the student's time (greedy + beam) + the
  LLM's measured time per sentence for the sentences it was asked about. `cascade_skipped_at` shows how many
  would skip at other bounds (a diagnostic on the test sample: not how the bound is chosen);
- cascade with the bound chosen from evidence (`auto_*`, what `studio label` does without `--cascade-bound`):
  `label.choose_cascade_bound` on the sample documents of the other folds (finished documents with the LLM's
  votes, as the project's would be), per fold; the last table sets no cascade, the fixed bound and the chosen
  one side by side, with a PROJECTION of sentences per minute if the LLM were 2 and 3 times as fast (its
  measured time divided, the student's and its beam's unchanged).

Strict micro F1 (studio.ops.ner.evaluate.score); ECE of the combined confidences on the test candidates.

`--corpus wild` uses the hand-written corpora instead (fixtures/ner/wild_{en,ko}_{train,test}.jsonl, 210/120 English and
70/60 Korean documents, real names, no templates; the same guidelines); a budget above the pool is the whole pool.

    nice -n 19 python bench/bench_learning_curve.py [--lang en ko] [--corpus news|wild] [--budgets 0 20 100 300] [--no-llm]
                                                    [--llm-votes FILE [--cached-llm-only]] [--cascade-bound X]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from studio.ops import registry  # noqa: E402
from studio.ops.ner.combine import combine_spans, reliability  # noqa: E402
from studio.ops.ner.evaluate import score  # noqa: E402
from studio.ops.ner.label import (  # noqa: E402
    CASCADE_BOUND,
    cascade_gain,
    cascade_scale,
    cascade_skips,
    choose_cascade_bound,
    labeling_weights,
    student_behind_pipeline,
)
from studio.ops.ner.patterns import Patterns  # noqa: E402
from studio.ops.ner.sources import Gazetteer, SpacyModelSource, newest_student, pretrained_available  # noqa: E402
from studio.ops.ner.train import LabeledDoc  # noqa: E402
from studio.ops.ner.weights import DocTrials, complete_trials, weights_from  # noqa: E402
from studio.ops.review.document import complete  # noqa: E402
from studio.schema import Document, Guideline, Proposal, Span  # noqa: E402
from studio.store import Store  # noqa: E402

NER = ROOT / "fixtures" / "ner"
PRETRAINED_MAP = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "NORP": "MISC", "EVENT": "MISC"}
HUMAN = "human:bench"
LLM = "llm"
Preds = list[list[tuple[Span, float]]]


def read(name: str) -> list[LabeledDoc]:
    rows = [json.loads(x) for x in (NER / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    return [LabeledDoc(text=r["text"], spans=[Span(**s) for s in r["spans"]]) for r in rows]


def guideline(lang: str) -> Guideline:
    path = NER / ("news_guideline.yaml" if lang == "en" else "news_ko_guideline.yaml")
    return Guideline.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def f1(gold: list[LabeledDoc], pred: list[list[Span]]) -> float:
    return round(score([d.spans for d in gold], pred).overall("strict").f1, 4)


def yes(preds: Preds, t: float = 0.5) -> list[list[Span]]:
    return [[s for s, p in doc if p >= t] for doc in preds]


def timed(fn: Any, *a: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn(*a)
    return out, time.perf_counter() - t


def per_min(n: int, seconds: float) -> float:
    return round(n / seconds * 60, 1) if seconds > 0 else float("inf")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# -- the LLM through the real pipeline -----------------------------------------------------------
def llm_votes(
    g: Guideline, reviewed: list[LabeledDoc], sample: list[LabeledDoc], llm_spec: str | None
) -> tuple[Preds, float]:
    """The embedded model's spans (its own vote) on `sample`, few-shot from `reviewed`; seconds taken."""
    from studio.errors import StudioError
    from studio.llm import open_llm
    from studio.ops.ner.label import LabelSettings, label_documents

    with tempfile.TemporaryDirectory() as tmp, Store.init(Path(tmp) / "p") as store:
        store.decide_guideline(store.add_guideline(g, "agent"), HUMAN, "approve")
        for d in reviewed:
            doc_id, _ = store.add_document(Document(text=d.text, lang=g.language, source="import"))
            props = [Proposal(kind="span", document_id=doc_id, payload={"span": s.model_dump()}, source="human")
                     for s in d.spans]  # fmt: skip
            for pid in store.add_proposals(props, actor=HUMAN):
                store.accept_span(pid, HUMAN)
        ids = [store.add_document(Document(text=d.text, lang=g.language, source="import"))[0] for d in sample]
        settings = LabelSettings(student=False, learned_weights=False)
        llm = open_llm(store, llm_spec)
        for attempt in range(3):  # on a crowded machine the embedded server can miss its start deadline
            try:
                t = time.perf_counter()
                label_documents(store, llm, ids, settings=settings)
                break
            except StudioError as exc:
                if "did not start" not in str(exc) or attempt == 2:
                    raise
                print(f"  (the model server did not start in time; trying again: {exc})", flush=True)
        seconds = time.perf_counter() - t
        out: Preds = []
        for doc_id in ids:
            spans = []
            for p in store.proposals(kind="span", document_id=doc_id):
                if p.payload["sources"].get("llm", 0) >= 0.5:
                    spans.append((Span(**p.payload["span"]), float(p.payload["sources"]["llm"])))
            out.append(spans)
    return out, seconds


def cached_llm_votes(
    votes_file: Path | None,
    key: str,
    g: Guideline,
    reviewed: list[LabeledDoc],
    sample: list[LabeledDoc],
    llm_spec: str | None,
) -> tuple[Preds, float]:
    """`llm_votes`, kept in `votes_file` (when given) so that a later run re-combines the same measured answers
    without asking the model again; the seconds are the ones measured when the answers were made."""
    saved: dict[str, Any] = (
        json.loads(votes_file.read_text(encoding="utf-8")) if votes_file and votes_file.exists() else {}
    )
    if key in saved:
        print(f"  (LLM answers for {key} from {votes_file}, measured {saved[key]['measured']})", flush=True)
        preds = [[(Span(**s), c) for s, c in doc] for doc in saved[key]["preds"]]
        return reverified(g, sample, preds), float(saved[key]["seconds"])
    load = uptime()
    preds, seconds = llm_votes(g, reviewed, sample, llm_spec)
    if votes_file is not None:
        saved[key] = {"measured": load, "seconds": seconds,
                      "preds": [[(s.model_dump(), c) for s, c in doc] for doc in preds]}  # fmt: skip
        votes_file.write_text(json.dumps(saved), encoding="utf-8")
    return preds, seconds


def reverified(g: Guideline, sample: list[LabeledDoc], preds: Preds) -> Preds:
    """Kept answers through today's verify pass (passes.py), as `studio label` with the guideline's pinned prompt
    checks them now (answers kept before a rule was added, or made with ner.v2 for Korean); spans checked before
    are unchanged."""
    from studio.llm.prompts import load_prompt, prompt_version
    from studio.ops.ner.passes import LANGUAGE_RULES_VERSIONS, VERSIONS_WITH_VERIFY, guideline_shapes, verify_spans

    version = load_prompt("ner", prompt_version("ner", g.language)).version
    if version not in VERSIONS_WITH_VERIFY:
        return preds
    shapes = guideline_shapes(g, version in LANGUAGE_RULES_VERSIONS)
    out: Preds = []
    for d, doc in zip(sample, preds, strict=True):
        out.append([(v, c) for s, c in doc for v in verify_spans(d.text, [s], shapes).spans])
    return out


def cached_keys(votes_file: Path | None) -> set[str]:
    return set(json.loads(votes_file.read_text(encoding="utf-8"))) if votes_file and votes_file.exists() else set()


# -- the reviewed project --------------------------------------------------------------------------
def reviewed_project(
    root: Path,
    g: Guideline,
    reviewed: list[LabeledDoc],
    pretrained: Preds | None,
    others: dict[str, Preds] | None = None,
) -> Store:
    """A project whose first documents were proposed by the gazetteer (and the pretrained pipeline, and the `others`:
    the Korean patterns) and then finished by a careful person: right proposals accepted, wrong ones rejected,
    missing spans added, complete."""
    store = Store.init(root)
    store.decide_guideline(store.add_guideline(g, "agent"), HUMAN, "approve")
    gaz = Gazetteer.build(g, lang=g.language)
    fixed = {**({pretrained_name(): pretrained} if pretrained is not None else {}), **(others or {})}
    names = ["gazetteer", *fixed]
    for i, d in enumerate(reviewed):
        doc_id, _ = store.add_document(Document(text=d.text, lang=g.language, source="import"))
        votes: dict[tuple[int, int, str], dict[str, float]] = {}
        for name, preds in [("gazetteer", gaz.predict(d.text)), *((k, v[i]) for k, v in fixed.items())]:
            for s, p in preds:
                votes.setdefault((s.start, s.end, s.label), {})[name] = p
        props = [Proposal(kind="span", document_id=doc_id, source=max(v, key=v.__getitem__),
                          payload={"span": Span(start=a, end=b, label=lab, text=d.text[a:b]).model_dump(),
                                   "sources": v, "ran": names})
                 for (a, b, lab), v in sorted(votes.items())]  # fmt: skip
        want = {(s.start, s.end, s.label) for s in d.spans}
        for pid, p in zip(store.add_proposals(props, actor="agent") if props else [], props, strict=True):
            sp = p.payload["span"]
            if (sp["start"], sp["end"], sp["label"]) in want:
                store.accept_span(pid, HUMAN)
            else:
                store.decide(pid, HUMAN, "reject")
                gaz.add(sp["text"], sp["label"], negative=True)
        missing = [s for s in d.spans if (s.start, s.end, s.label) not in votes]
        if missing:
            added = [Proposal(kind="span", document_id=doc_id, payload={"span": s.model_dump()}, source="human")
                     for s in missing]  # fmt: skip
            for pid in store.add_proposals(added, actor=HUMAN):
                store.accept_span(pid, HUMAN)
        complete(store, doc_id, HUMAN)
        for s in d.spans:
            gaz.add(s.text, s.label)
    return store


def pretrained_name() -> str:
    return SpacyModelSource(PRETRAINED_MAP).name


# -- combination ----------------------------------------------------------------------------------
def combine_all(texts: list[str], weak: dict[str, Preds], llm: list[list[tuple[Span, float]] | None] | None,
                weights: Any) -> Preds:  # fmt: skip
    out: Preds = []
    for i, text in enumerate(texts):
        samples = [[s for s, _ in llm[i]]] if llm is not None and llm[i] is not None else []
        res = combine_spans(text, samples, {k: v[i] for k, v in weak.items()}, llm_name=LLM, weights=weights)
        out.append([(z.span, z.confidence) for z in res.spans])
    return out


def at_threshold(preds: list[list[tuple[Span, float, float]]]) -> list[list[Span]]:
    return [[s for s, p, t in doc if p >= t] for doc in preds]


def sample_trials(sample: list[LabeledDoc], weak: dict[str, Preds], llm: Preds) -> list[DocTrials]:
    """The sample documents as finished documents: every source's votes (the LLM's too) and the truth."""
    trials = []
    for i, d in enumerate(sample):
        votes: dict[tuple[int, int, str], dict[str, float]] = {}
        for name, preds in [*weak.items(), (LLM, llm)]:
            for s, p in preds[i]:
                votes.setdefault((s.start, s.end, s.label), {})[name] = p
        gold = {(s.start, s.end, s.label) for s in d.spans}
        trials.append(DocTrials(votes=votes, ran={*weak, LLM}, gold=gold))
    return trials


def sample_weights(
    project: list[DocTrials], sample: list[LabeledDoc], weak: dict[str, Preds], llm: Preds, folds: int = 5
) -> list[Any]:
    """Weights for each sample document: the project's (`complete_trials`, as `studio label` learns them) plus
    the LLM's record on the OTHER sample folds. In a project the LLM proposed on the reviewed documents and is
    weighed by its record there; the bench asked it only on the sample, so its record comes from the sample
    documents it is not combining (k-fold), made with the same reviewed documents as few-shot examples. `project`:
    `complete_trials(store, student=student)`."""
    trials = sample_trials(sample, weak, llm)
    fitted = [weights_from(project + [t for j, t in enumerate(trials) if j % folds != f]) for f in range(folds)]
    return [fitted[i % folds] for i in range(len(sample))]


def ece(gold: list[LabeledDoc], preds: Preds) -> float:
    conf, ok = [], []
    for d, doc in zip(gold, preds, strict=True):
        truth = {(s.start, s.end, s.label) for s in d.spans}
        for s, p in doc:
            conf.append(p)
            ok.append((s.start, s.end, s.label) in truth)
    return round(reliability(conf, ok).ece, 4) if conf else float("nan")


# -- one language -----------------------------------------------------------------------------------
def run_lang(lang: str, budgets: list[int], llm_budgets: list[int], sample_n: int, llm_spec: str | None,
             use_llm: bool, votes_file: Path | None = None, bound: float = CASCADE_BOUND,
             cached_only: bool = False, detail: bool = False, corpus: str = "news") -> list[dict]:  # fmt: skip
    g = guideline(lang)
    labels = g.label_names()
    pool, test = read(f"{corpus}_{lang}_train"), read(f"{corpus}_{lang}_test")
    texts = [d.text for d in test]
    sample = test[:sample_n]
    rows: list[dict] = []
    pretrained: Preds | None = None
    pretrained_pool: Preds | None = None
    if lang == "en" and pretrained_available():
        # as `studio label` makes it for an English guideline (the verify pass on: tidied names, the guideline's rules)
        from studio.ops.ner.passes import guideline_shapes

        src = SpacyModelSource(PRETRAINED_MAP, shapes=guideline_shapes(g))
        src.predict_many(texts[:2])  # load once, outside the timing
        pretrained, t_pre = timed(src.predict_many, texts)
        pretrained_pool = src.predict_many([d.text for d in pool[: max(budgets)]])
        print(
            f"[{lang}] pretrained: F1 {f1(test, yes(pretrained))}, {per_min(len(texts), t_pre)} sentences/min",
            flush=True,
        )
    # Korean dates, times, amounts and datelines, as `studio label` adds them with ner.v5
    patterns = Patterns.for_guideline(g)
    patterns_pool = [patterns.predict(d.text) for d in pool[: max(budgets)]] if patterns else []
    for b in budgets:
        reviewed = pool[:b]
        row: dict[str, Any] = {"corpus": corpus, "lang": lang, "reviewed": b}
        with tempfile.TemporaryDirectory() as tmp:
            others = {patterns.name: patterns_pool[:b]} if patterns else None
            store = reviewed_project(Path(tmp) / "p", g, reviewed, pretrained_pool[:b] if pretrained_pool else None,
                                     others)  # fmt: skip
            gaz = Gazetteer.build(g, store)  # as `studio label` builds it
            weak: dict[str, Preds] = {"gazetteer": [gaz.predict(t) for t in texts]}
            row["gazetteer"] = f1(test, yes(weak["gazetteer"]))
            if patterns is not None:
                weak[patterns.name] = [patterns.predict(t) for t in texts]
                row["patterns"] = f1(test, yes(weak[patterns.name]))
            if pretrained is not None:
                weak[pretrained_name()] = pretrained
                row["pretrained"] = f1(test, yes(pretrained))
            student = None
            if b >= 20:
                ctx = registry.OpContext(store=store, actor="tool")
                res, t_train = timed(registry.run, "train", {"name": "student"}, ctx)
                student = newest_student(store.root)
                assert student is not None
                student.predict_many(texts[:2])  # load once, outside the timing
                student_preds, t_student = timed(student.predict_many, texts)
                weak[student.name] = student_preds
                row.update(student=f1(test, [[s for s, _ in d] for d in student_preds]), student_base=res.base,
                           train_seconds=round(t_train, 1), student_per_min=per_min(len(texts), t_student),
                           student_heldout_f1=res.scores.get("f1"), heldout_from=student.card.get("heldout_from"))  # fmt: skip
            if student is not None and pretrained is not None:  # as `studio label`: a student behind its base waits
                why = student_behind_pipeline(store, student, SpacyModelSource(PRETRAINED_MAP))
                if why:
                    row["student_left_out"] = why
                    weak.pop(student.name)
                    student = None
            weights = labeling_weights(store, student)  # what `studio label` uses (None: the fixed priors)
            threshold = weights.threshold if weights is not None else 0.5
            if weights is not None:
                row.update(weights_strength=weights.label_strength, threshold=threshold)
            comb = combine_all(texts, weak, None, weights)
            row["combined_no_llm"] = f1(test, yes(comb, threshold))
            row["ece_no_llm"] = ece(test, comb)
            key = f"{lang}:{b}:{len(sample)}" if corpus == "news" else f"{corpus}:{lang}:{b}:{len(sample)}"
            if use_llm and b in llm_budgets and cached_only and key not in cached_keys(votes_file):
                print(f"  (no LLM answers for {key} in {votes_file}; --cached-llm-only: the LLM rows are left out)")
            elif use_llm and b in llm_budgets:
                llm_preds, t_llm = cached_llm_votes(votes_file, key, g, reviewed, sample, llm_spec)
                n = len(sample)
                sweak = {k: v[:n] for k, v in weak.items()}
                row.update(sample=n, llm_sample=f1(sample, yes(llm_preds)), llm_per_min=per_min(n, t_llm),
                           combined_no_llm_sample=f1(sample, yes(comb[:n], threshold)))  # fmt: skip
                for k, v in sweak.items():
                    alone = [[s for s, _ in d] for d in v] if student and k == student.name else yes(v)
                    row[f"{k.split(':')[0]}_sample"] = f1(sample, alone)
                project = complete_trials(store, student=student) if b else []
                per_doc = sample_weights(project, sample, sweak, llm_preds) if b else [weights] * n
                errors: list[float] = []
                if student is not None:  # the student's doubt (its beam) on the sample, as `studio label` reads it
                    doubts, t_beam = timed(student.doubts, texts[:n], sweak[student.name])
                    errors = [student.expected_errors(x) for x in doubts]
                    blocks = student.error_blocks() or []  # the lowest-doubt block: (doubt up to, errors, documents)
                    row.update(student_surest_block=[round(x, 4) for x in blocks[0]] if blocks else None)
                # the LLM's record for the cascade's scale, as for its weights: the sample documents of the other folds
                finished = list(zip(sample_trials(sample, sweak, llm_preds), errors, strict=True)) if errors else []
                scales: dict[int, float] = {}
                # the bound chosen from evidence, as `studio label` chooses it from the finished documents the LLM
                # labelled: here the sample documents of the other folds (the project's documents, without LLM
                # votes, only for fitting the weights)
                chosen: dict[int, Any] = {}
                both, casc, skipped, gains = [], [], 0, []
                auto, auto_skipped = [], 0
                for i in range(n):
                    w, t = per_doc[i], per_doc[i].threshold if per_doc[i] is not None else 0.5
                    one = {k: [v[i]] for k, v in sweak.items()}
                    both.append([(s, p, t) for s, p in combine_all(texts[i : i + 1], one, [llm_preds[i]], w)[0]])
                    doc_preds = {k: v[0] for k, v in one.items()}
                    skip = False
                    if student is not None and w is not None:
                        f = i % 5
                        if f not in scales:
                            scales[f] = cascade_scale(w, [x for j, x in enumerate(finished) if j % 5 != f], labels)
                        skip = bool(cascade_skips(w, student, [doc_preds], labels, errors=errors[i : i + 1],
                                                  bound=bound, scale=scales[f]))  # fmt: skip
                        if f not in chosen:
                            others = [x for j, x in enumerate(finished) if j % 5 != f]
                            chosen[f] = choose_cascade_bound(project + [d for d, _ in others],
                                                             [None] * len(project) + [e for _, e in others], labels, w)  # fmt: skip
                        skip_auto = bool(cascade_skips(w, student, [doc_preds], labels, errors=errors[i : i + 1],
                                                       bound=chosen[f].bound, scale=scales[f]))  # fmt: skip
                        auto_skipped += skip_auto
                        got = combine_all(texts[i : i + 1], one, [None if skip_auto else llm_preds[i]], w)[0]
                        auto.append([(s, p, t) for s, p in got])
                        gains.append(scales[f] * cascade_gain(w, doc_preds, errors[i], labels))
                        if detail:
                            print(f"  doc {i}: doubt {doubts[i]:.4f} errors {errors[i]:.3f} scale {scales[f]:.3f} "
                                  f"gain {gains[-1]:.4f} disagreement {cascade_gain(w, doc_preds, 0.0, labels):.4f}")  # fmt: skip
                    skipped += skip
                    got = combine_all(texts[i : i + 1], one, [None if skip else llm_preds[i]], w)[0]
                    casc.append([(s, p, t) for s, p in got])
                row.update(combined_sample=f1(sample, at_threshold(both)),
                           ece_sample=ece(sample, [[(s, p) for s, p, _ in d] for d in both]))  # fmt: skip
                if student is not None:
                    t_student_n = t_student * n / len(texts)
                    t_casc = t_student_n + t_beam + t_llm * (n - skipped) / n
                    row.update(cascade_bound=bound, cascade_scale=sorted(round(x, 3) for x in scales.values()),
                               cascade_skipped=skipped, cascade_f1=f1(sample, at_threshold(casc)),
                               cascade_per_min=per_min(n, t_casc), no_cascade_per_min=per_min(n, t_llm + t_student_n),
                               student_beam_per_min=per_min(n, t_beam),
                               cascade_skipped_at={x: sum(g < x for g in gains) for x in (0.005, 0.01, 0.02, 0.05, 0.1)})  # fmt: skip
                    # the bound chosen from evidence (per fold) next to the fixed one, and a projection of both and
                    # of no cascade with an LLM 2 and 3 times as fast (the student's and the beam's time unchanged)
                    row.update(auto_bound=[chosen[f].bound for f in sorted(chosen)],
                               auto_bound_from=sorted({chosen[f].chosen_from for f in chosen}),
                               auto_evidence_docs=[chosen[f].documents for f in sorted(chosen)],
                               auto_skipped=auto_skipped, auto_f1=f1(sample, at_threshold(auto)),
                               auto_per_min=per_min(n, t_student_n + t_beam + t_llm * (n - auto_skipped) / n))  # fmt: skip
                    for x in (2, 3):
                        row[f"projected_llm_{x}x_per_min"] = {
                            "no_cascade": per_min(n, t_student_n + t_llm / x),
                            "fixed": per_min(n, t_student_n + t_beam + t_llm / x * (n - skipped) / n),
                            "auto": per_min(n, t_student_n + t_beam + t_llm / x * (n - auto_skipped) / n),
                        }
                    if detail:
                        for f in sorted(chosen):
                            print(f"  fold {f}: {json.dumps(chosen[f].logged())}")
            store.close()
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def cascade_table(rows: list[dict]) -> None:
    """The cascade rows side by side: no cascade, the fixed bound, the bound chosen from evidence (F1 on the LLM
    sample, documents that skipped the LLM, sentences per minute), and the projection with a faster LLM."""
    print("\ncascade (LLM sample; F1 / skipped / sentences per min):")
    print("lang reviewed | LLM   student combined | fixed bound: F1 skip /min | chosen bounds: F1 skip /min |"
          " projected /min, LLM 2x: none fixed chosen; 3x: none fixed chosen")  # fmt: skip
    for r in rows:
        if "auto_f1" not in r:
            continue
        p2, p3 = r["projected_llm_2x_per_min"], r["projected_llm_3x_per_min"]
        print(f"{r['lang']} {r['reviewed']:>4} | {r['llm_sample']:.3f} {r['student_sample']:.3f} "
              f"{r['combined_sample']:.3f} | {r['cascade_bound']:g}: {r['cascade_f1']:.3f} {r['cascade_skipped']:>2}/"
              f"{r['sample']} {r['cascade_per_min']:>6} (none {r['no_cascade_per_min']}) | "
              f"{','.join(f'{x:g}' for x in r['auto_bound'])} ({'/'.join(r['auto_bound_from'])}): {r['auto_f1']:.3f} "
              f"{r['auto_skipped']:>2}/{r['sample']} {r['auto_per_min']:>6} | projected: {p2['no_cascade']} "
              f"{p2['fixed']} {p2['auto']}; {p3['no_cascade']} {p3['fixed']} {p3['auto']}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", nargs="+", default=["en", "ko"])
    ap.add_argument("--corpus", choices=["news", "wild"], default="news",
                    help="news: the generated corpora (news_*); wild: the hand-written ones (wild_*, build_wild.py)")  # fmt: skip
    ap.add_argument("--budgets", nargs="+", type=int, default=[0, 20, 100, 300])
    ap.add_argument("--llm-budgets", nargs="+", type=int, default=[0, 100])
    ap.add_argument("--llm-sample", type=int, nargs=2, default=[40, 24], metavar=("EN", "KO"))
    ap.add_argument(
        "--llm", default=None, help="model spec for the LLM source (default: the project default, embedded)"
    )
    ap.add_argument("--no-llm", action="store_true")
    ap.add_argument(
        "--llm-votes",
        type=Path,
        default=None,
        help="keep the LLM's answers in this JSON file and reuse them on later runs (re-combine without the model)",
    )
    ap.add_argument("--cascade-bound", type=float, default=CASCADE_BOUND,
                    help=f"expected gain under which a document skips the LLM [default: {CASCADE_BOUND}]")  # fmt: skip
    ap.add_argument("--cached-llm-only", action="store_true",
                    help="use the LLM's answers only where --llm-votes has them; never start the model")  # fmt: skip
    ap.add_argument("--cascade-detail", action="store_true",
                    help="print each sample document's doubt, expected errors and expected gain")  # fmt: skip
    args = ap.parse_args()
    print("uptime:", uptime(), flush=True)
    out = []
    for lang in args.lang:
        pool_size = len(read(f"{args.corpus}_{lang}_train"))
        budgets = [b for b in args.budgets if b <= pool_size] or [0]
        if max(args.budgets) > pool_size:
            budgets = sorted({*budgets, pool_size})
        n = args.llm_sample[0] if lang == "en" else args.llm_sample[1]
        out += run_lang(lang, budgets, args.llm_budgets, n, args.llm, not args.no_llm, args.llm_votes,
                        args.cascade_bound, args.cached_llm_only, args.cascade_detail, args.corpus)  # fmt: skip
    print("uptime:", uptime(), flush=True)
    print(json.dumps(out))
    cascade_table(out)


if __name__ == "__main__":
    main()
