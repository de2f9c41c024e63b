"""`studio agreement`: how far the annotators' finished versions of the same documents agree.

NER: span-level pairwise F1 (strict: same start, end and label; partial: overlapping, same label,
matched one to one) and token-level Cohen's kappa (each token tagged with the label of the span
it lies in, or O), per pair of annotators and per label. Document classification (a whole-document
span per version) and box fixes (each annotator's accept / reject of a fix proposal): Cohen's
kappa per pair. Krippendorff's alpha (nominal) over all annotators at once, on the same units
(tokens, documents, fix proposals), which also covers documents seen by more than two.
Only finished versions count (see `studio.ops.team.versions.load`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from typing import Any

from pydantic import Field

from studio.ops.registry import Args, OpContext, Result, operation
from studio.ops.team import metrics
from studio.ops.team.versions import Version, finished, load
from studio.store import Store

ALL = "(all)"


class AgreementArgs(Args):
    top: int = Field(10, ge=0, description="How many of the most disagreed documents to list.")


class PairScores(Result):
    pair: str
    documents: int
    strict_f1: float | None = None
    partial_f1: float | None = None
    token_kappa: float | None = None
    class_kappa: float | None = None
    fix_kappa: float | None = None
    per_label: dict[str, dict[str, Any]] = Field(default_factory=dict)


class AgreementResult(Result):
    task: str
    annotators: list[str]
    documents: int  # documents with at least two finished versions
    overall: dict[str, Any]
    per_label: dict[str, dict[str, Any]]
    pairs: list[PairScores]
    classification: dict[str, Any] | None = None
    box_fixes: dict[str, Any] | None = None
    disagreements: list[dict[str, Any]]
    patterns: list[dict[str, Any]]

    def summary(self) -> str:
        if not self.documents:
            return "No document has two finished versions yet: nothing to compare."
        o = self.overall
        parts = [f"{self.documents} documents, {len(self.annotators)} annotators"]
        if o.get("strict_f1") is not None:
            parts.append(f"span F1 strict {_fmt(o['strict_f1'])} partial {_fmt(o['partial_f1'])}")
            parts.append(f"token kappa {_fmt(o['token_kappa'])}")
        if o.get("alpha") is not None:
            parts.append(f"alpha {_fmt(o['alpha'])}")
        return "Agreement: " + ", ".join(parts)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _tokens(store: Store, doc_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    from studio.ops.ner.tokens import get_nlp

    out = {}
    for doc_id in doc_ids:
        doc = store.document(doc_id)
        nlp = get_nlp(doc.lang)
        out[doc_id] = [(t.idx, t.idx + len(t.text)) for t in nlp.make_doc(doc.text) if not t.is_space]
    return out


def _task(store: Store) -> str:
    approved = store.approved_guideline()
    return approved[0].task_type if approved else "ner"


def _doc_class(store: Store, doc_id: int, v: Version, lengths: dict[int, int]) -> str | None:
    if doc_id not in lengths:
        lengths[doc_id] = len(store.document(doc_id).text)
    whole = [s for s in v.spans if s[0] == 0 and s[1] == lengths[doc_id]]
    return whole[-1][2] if whole else None


@operation(
    "agreement",
    args=AgreementArgs,
    result=AgreementResult,
    help="Agreement between annotators on the documents they both finished.\n\n"
    "NER: span F1 per pair of annotators (strict: same start, end and label; partial: overlapping with "
    "the same label) and token-level Cohen's kappa, per label; classification and box fixes: Cohen's "
    "kappa; Krippendorff's alpha over all annotators. Then the documents with the most disagreement and "
    "the most frequent kinds of disagreement (label, boundary, missing).",
    side_effects=False,
    agent=True,
)
def agreement(ctx: OpContext, args: AgreementArgs) -> AgreementResult:
    return compute(ctx.store, top=args.top, progress=ctx.report)


def compute(store: Store, doc_ids: set[int] | None = None, top: int = 10, progress: Any = None) -> AgreementResult:
    """Agreement over every document with two finished versions (or only those in `doc_ids`)."""
    task = _task(store)
    docs = {d: finished(vs) for d, vs in load(store).items() if doc_ids is None or d in doc_ids}
    docs = {d: vs for d, vs in docs.items() if len(vs) >= 2}
    annotators = sorted({n for vs in docs.values() for n in vs})
    report = progress or (lambda *a: None)
    report("agreement", 0, len(docs))
    labels = sorted({s[2] for vs in docs.values() for v in vs.values() for s in v.spans})
    tokens = _tokens(store, sorted(docs)) if task == "ner" else {}

    pair_docs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for d, vs in sorted(docs.items()):
        for a, b in combinations(sorted(vs), 2):
            pair_docs[(a, b)].append(d)

    # Span F1 and token tags, per pair and label; counts are pooled (micro) for the overall numbers.
    counts: dict[tuple[str, str], dict[str, Counter[str]]] = {}
    tags: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    lengths: dict[int, int] = {}
    pairs: list[PairScores] = []
    class_pairs: dict[str, Any] = {}
    fix_pairs: dict[str, Any] = {}
    for (a, b), ds in sorted(pair_docs.items()):
        c: dict[str, Counter[str]] = defaultdict(Counter)
        ta: list[str] = []
        tb: list[str] = []
        ca: list[str] = []
        cb: list[str] = []
        fa: list[str] = []
        fb: list[str] = []
        for d in ds:
            va, vb = docs[d][a], docs[d][b]
            if task == "ner":
                for lab in [ALL, *labels]:
                    sa = [s for s in va.spans if lab in (ALL, s[2])]
                    sb = [s for s in vb.spans if lab in (ALL, s[2])]
                    c[lab]["a"] += len(set(sa))
                    c[lab]["b"] += len(set(sb))
                    c[lab]["strict"] += metrics.span_matches(sa, sb)
                    c[lab]["partial"] += metrics.span_matches(sa, sb, partial=True)
                ta += metrics.token_tags(tokens[d], va.spans)
                tb += metrics.token_tags(tokens[d], vb.spans)
            elif task == "classification":
                ka, kb = _doc_class(store, d, va, lengths), _doc_class(store, d, vb, lengths)
                if ka is not None and kb is not None:
                    ca.append(ka)
                    cb.append(kb)
            for pid in sorted(set(va.verdicts) & set(vb.verdicts)):
                if _is_fix(store, pid):
                    fa.append(_accepted(va.verdicts[pid]))
                    fb.append(_accepted(vb.verdicts[pid]))
        counts[(a, b)] = c
        tags[(a, b)] = (ta, tb)
        ps = PairScores(pair=f"{a}+{b}", documents=len(ds))
        if task == "ner":
            ps.strict_f1 = _r(metrics.f1(c[ALL]["strict"], c[ALL]["a"], c[ALL]["b"]))
            ps.partial_f1 = _r(metrics.f1(c[ALL]["partial"], c[ALL]["a"], c[ALL]["b"]))
            ps.token_kappa = _r(metrics.cohen_kappa(ta, tb))
            for lab in labels:
                ps.per_label[lab] = {
                    "strict_f1": _r(metrics.f1(c[lab]["strict"], c[lab]["a"], c[lab]["b"])),
                    "partial_f1": _r(metrics.f1(c[lab]["partial"], c[lab]["a"], c[lab]["b"])),
                    "token_kappa": _r(metrics.cohen_kappa(_binary(ta, lab), _binary(tb, lab))),
                    a: c[lab]["a"],
                    b: c[lab]["b"],
                }
        if ca:
            ps.class_kappa = _r(metrics.cohen_kappa(ca, cb))
            class_pairs[ps.pair] = {"kappa": ps.class_kappa, "documents": len(ca)}
        if fa:
            ps.fix_kappa = _r(metrics.cohen_kappa(fa, fb))
            fix_pairs[ps.pair] = {"kappa": ps.fix_kappa, "fixes": len(fa)}
        pairs.append(ps)

    per_label: dict[str, dict[str, Any]] = {}
    overall: dict[str, Any] = {}
    if task == "ner" and pairs:
        pooled_a = [t for ta, _ in tags.values() for t in ta]
        pooled_b = [t for _, tb in tags.values() for t in tb]
        for lab in [ALL, *labels]:
            tot = Counter()
            for c in counts.values():
                tot.update(c[lab])
            entry = {
                "strict_f1": _r(metrics.f1(tot["strict"], tot["a"], tot["b"])),
                "partial_f1": _r(metrics.f1(tot["partial"], tot["a"], tot["b"])),
                "token_kappa": _r(
                    metrics.cohen_kappa(pooled_a, pooled_b)
                    if lab == ALL
                    else metrics.cohen_kappa(_binary(pooled_a, lab), _binary(pooled_b, lab))
                ),
                "alpha": _r(_token_alpha(docs, tokens, None if lab == ALL else lab)),
                "spans": tot["a"] + tot["b"],
            }
            if lab == ALL:
                overall = entry
            else:
                per_label[lab] = entry
    classification = None
    if class_pairs:
        units = [
            [c for v in vs.values() if (c := _doc_class(store, d, v, lengths)) is not None] for d, vs in docs.items()
        ]
        classification = {"pairs": class_pairs, "alpha": _r(metrics.krippendorff_alpha(units))}
        overall = {**overall, "class_kappa": _pooled_kappa(class_pairs), "alpha": classification["alpha"]}
    box_fixes = None
    if fix_pairs:
        box_fixes = {"pairs": fix_pairs, "alpha": _r(metrics.krippendorff_alpha(_fix_units(store, docs)))}
    report("agreement", len(docs), len(docs))
    return AgreementResult(
        task=task,
        annotators=annotators,
        documents=len(docs),
        overall=overall,
        per_label=per_label,
        pairs=pairs,
        classification=classification,
        box_fixes=box_fixes,
        disagreements=most_disagreed(store, docs, top) if top else [],
        patterns=patterns(docs),
    )


def _binary(tags: list[str], label: str) -> list[bool]:
    return [t == label for t in tags]


def _accepted(status: str) -> str:
    return "reject" if status == "rejected" else "accept"


def _is_fix(store: Store, pid: int) -> bool:
    row = store.conn.execute("SELECT kind FROM proposals WHERE id = ?", (pid,)).fetchone()
    return row is not None and row[0] == "box_fix"


def _fix_units(store: Store, docs: dict[int, dict[str, Version]]) -> list[list[str]]:
    by_pid: dict[int, list[str]] = defaultdict(list)
    for vs in docs.values():
        for v in vs.values():
            for pid, status in v.verdicts.items():
                by_pid[pid].append(_accepted(status))
    return [vals for pid, vals in sorted(by_pid.items()) if _is_fix(store, pid)]


def _pooled_kappa(pairs: dict[str, Any]) -> float | None:
    n = sum(p["documents"] for p in pairs.values())
    return _r(sum(p["kappa"] * p["documents"] for p in pairs.values() if p["kappa"] is not None) / n) if n else None


def _token_alpha(
    docs: dict[int, dict[str, Version]], tokens: dict[int, list[tuple[int, int]]], label: str | None
) -> float | None:
    units: list[list[Any]] = []
    for d, vs in docs.items():
        per = [metrics.token_tags(tokens[d], v.spans) for v in vs.values()]
        for i in range(len(tokens[d])):
            units.append([t[i] if label is None else t[i] == label for t in per])
    return metrics.krippendorff_alpha(units)


def most_disagreed(store: Store, docs: dict[int, dict[str, Version]], top: int) -> list[dict[str, Any]]:
    """Documents by mean pairwise strict span F1, lowest first, with the spans not everyone has."""
    rows = []
    for d, vs in docs.items():
        scores = []
        for a, b in combinations(sorted(vs), 2):
            score = metrics.f1(metrics.span_matches(vs[a].spans, vs[b].spans), len(vs[a].spans), len(vs[b].spans))
            scores.append(1.0 if score is None else score)
        mean = sum(scores) / len(scores)
        if mean >= 1.0:
            continue
        all_spans = sorted({s for v in vs.values() for s in v.spans})
        differ = [
            {
                "start": s[0],
                "end": s[1],
                "label": s[2],
                "text": next(v.texts[s] for v in vs.values() if s in v.texts),
                "by": sorted(n for n, v in vs.items() if s in v.spans),
            }
            for s in all_spans
            if not all(s in v.spans for v in vs.values())
        ]
        rows.append({"document_id": d, "annotators": sorted(vs), "mean_strict_f1": round(mean, 4), "differ": differ})
    rows.sort(key=lambda r: (r["mean_strict_f1"], r["document_id"]))
    return rows[:top]


def patterns(docs: dict[int, dict[str, Version]], top: int = 10) -> list[dict[str, Any]]:
    """The most frequent kinds of disagreement between two versions, with examples:
    `label` (same words, other label), `boundary` (overlapping, same label), `missing` (one has it)."""
    found: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    cases: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for doc, vs in sorted(docs.items()):
        for a, b in combinations(sorted(vs), 2):
            sa, sb = set(vs[a].spans), set(vs[b].spans)
            texts = {**vs[a].texts, **vs[b].texts}
            for s in sorted(sa ^ sb):
                other = sb if s in sa else sa
                same_range = [o for o in other if o[:2] == s[:2]]
                overlapping = [o for o in other if o[2] == s[2] and min(o[1], s[1]) > max(o[0], s[0])]
                if same_range:
                    key = ("label", " vs ".join(sorted({s[2], same_range[0][2]})))
                    if s not in sa:
                        continue  # counted once, from a's side
                elif overlapping:
                    key = ("boundary", s[2])
                    if s not in sa:
                        continue
                else:
                    key = ("missing", s[2])
                found[key] += 1
                if len(examples[key]) < 3 and texts.get(s) and texts[s] not in examples[key]:
                    examples[key].append(texts[s])
                    cases[key].append({"document_id": doc, "start": s[0], "end": s[1], "label": s[2], "text": texts[s]})
    return [
        {"kind": kind, "label": label, "count": n, "examples": examples[(kind, label)], "cases": cases[(kind, label)]}
        for (kind, label), n in found.most_common(top)
    ]
