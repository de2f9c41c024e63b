"""Entity-level scores of predicted spans against gold spans, and of a project against a gold file.

Strict: a prediction is right when start, end and label equal a gold span's.
Partial: a prediction is right when it overlaps a gold span with the same label; matching is
one-to-one (each gold and each predicted span counts once), pairs chosen greedily by exact
match first, then by the largest overlap, then by position. Duplicate spans count once.
Precision = tp / (tp + fp), recall = tp / (tp + fn), F1 their harmonic mean (0 when undefined);
"overall" sums counts over labels (micro average); "macro_f1" is the mean of per-label F1.

Matching gold documents to project documents: by exact text, then by text with whitespace
collapsed and NFC/NFD differences removed, then by text with all whitespace removed (so a
CoNLL sentence "Apple , Inc ." finds "Apple, Inc."). Gold offsets are mapped onto the
project's text through the characters both texts share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from studio.errors import StudioError
from studio.ops.ner.formats import GoldDoc, map_spans
from studio.ops.ner.textnorm import normalize
from studio.ops.registry import Args, OpContext, Result, operation
from studio.schema import Span

if TYPE_CHECKING:
    from studio.store import Store


class Counts(BaseModel):
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def row(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


class Scores(BaseModel):
    strict: dict[str, Counts] = Field(default_factory=dict)  # label -> counts
    partial: dict[str, Counts] = Field(default_factory=dict)

    def overall(self, mode: Literal["strict", "partial"] = "strict") -> Counts:
        per = self.strict if mode == "strict" else self.partial
        return Counts(
            tp=sum(c.tp for c in per.values()), fp=sum(c.fp for c in per.values()), fn=sum(c.fn for c in per.values())
        )

    def macro_f1(self, mode: Literal["strict", "partial"] = "strict") -> float:
        per = self.strict if mode == "strict" else self.partial
        return sum(c.f1 for c in per.values()) / len(per) if per else 0.0

    def table(self) -> list[dict[str, object]]:
        """One row per label and mode, then the overall rows."""
        rows: list[dict[str, object]] = []
        for mode in ("strict", "partial"):
            per = self.strict if mode == "strict" else self.partial
            for label in sorted(per):
                rows.append({"mode": mode, "label": label, **per[label].row()})
            rows.append({"mode": mode, "label": "(overall)", **self.overall(mode).row()})  # type: ignore[arg-type]
        return rows

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for mode in ("strict", "partial"):
            per = self.strict if mode == "strict" else self.partial
            out[mode] = {
                "overall": self.overall(mode).row(),  # type: ignore[arg-type]
                "macro_f1": round(self.macro_f1(mode), 4),  # type: ignore[arg-type]
                "per_label": {lab: per[lab].row() for lab in sorted(per)},
            }
        return out


def score(gold: Sequence[Sequence[Span]], pred: Sequence[Sequence[Span]]) -> Scores:
    """Score predicted spans against gold spans, document by document (parallel lists)."""
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} documents but predictions have {len(pred)}")
    out = Scores()
    for g_doc, p_doc in zip(gold, pred, strict=True):
        g = sorted({(s.start, s.end, s.label) for s in g_doc})
        p = sorted({(s.start, s.end, s.label) for s in p_doc})
        for label in {x[2] for x in g} | {x[2] for x in p}:
            out.strict.setdefault(label, Counts())
            out.partial.setdefault(label, Counts())
        gs, ps = set(g), set(p)
        for x in gs & ps:
            out.strict[x[2]].tp += 1
        for x in ps - gs:
            out.strict[x[2]].fp += 1
        for x in gs - ps:
            out.strict[x[2]].fn += 1
        matched = _partial_pairs(g, p)
        for x in p:
            if x not in matched:
                out.partial[x[2]].fp += 1
        used_gold = set(matched.values())
        for x in g:
            if x in used_gold:
                out.partial[x[2]].tp += 1
            else:
                out.partial[x[2]].fn += 1
    return out


Tri = tuple[int, int, str]


def _partial_pairs(gold: list[Tri], pred: list[Tri]) -> dict[Tri, Tri]:
    """Greedy one-to-one matching of predicted to gold spans with the same label that overlap."""
    pairs = []
    for p in pred:
        for g in gold:
            ov = min(p[1], g[1]) - max(p[0], g[0])
            if p[2] == g[2] and ov > 0:
                pairs.append((p != g, -ov, p[0], g[0], p, g))
    pairs.sort()
    out: dict[Tri, Tri] = {}
    used: set[Tri] = set()
    for *_, p, g in pairs:
        if p not in out and g not in used:
            out[p] = g
            used.add(g)
    return out


# -- against a project ---------------------------------------------------------------------------


class EvalReport(BaseModel):
    what: Literal["proposals", "approved"]
    threshold: float | None = None
    gold_docs: int
    matched_docs: int
    unmatched: list[str] = Field(default_factory=list)  # where each unmatched gold document is
    scores: Scores

    def to_dict(self) -> dict[str, object]:
        return {
            "what": self.what,
            "threshold": self.threshold,
            "gold_docs": self.gold_docs,
            "matched_docs": self.matched_docs,
            "unmatched": self.unmatched,
            **self.scores.to_dict(),
        }


def _ws_key(text: str) -> str:
    return normalize(text, casefold=False, space="collapse").text


def _nows_key(text: str) -> str:
    return normalize(text, casefold=False, space="drop").text


def map_offsets(gold_text: str, doc_text: str, spans: list[Span]) -> list[Span] | None:
    """Move spans from `gold_text` onto `doc_text`, equal up to whitespace and Unicode form."""
    if gold_text == doc_text:
        return list(spans)
    g, d = normalize(gold_text, casefold=False, space="drop"), normalize(doc_text, casefold=False, space="drop")
    if g.text != d.text:
        return None
    # first normalized index of each gold character (chars that vanish map to the next one)
    first: dict[int, int] = {}
    for i, o in enumerate(g.origin):
        first.setdefault(o, i)
    out = []
    for s in spans:
        a = next((first[o] for o in range(s.start, s.end) if o in first), None)
        b = next((first[o] for o in range(s.end, len(gold_text)) if o in first), len(g.text))
        if a is None or b <= a:
            continue
        start, end = d.to_original(a, b, doc_text)
        out.append(Span(start=start, end=end, label=s.label, text=doc_text[start:end]))
    return out


def match_documents(store: Store, gold: list[GoldDoc]) -> list[tuple[GoldDoc, int | None]]:
    """Pair each gold document with a project document id (None when not found)."""
    exact: dict[str, int] = {}
    ws: dict[str, int] = {}
    nows: dict[str, int] = {}
    for doc in store.documents():
        assert doc.id is not None
        exact.setdefault(doc.text, doc.id)
        ws.setdefault(_ws_key(doc.text), doc.id)
        nows.setdefault(_nows_key(doc.text), doc.id)
    out: list[tuple[GoldDoc, int | None]] = []
    for gd in gold:
        did = exact.get(gd.text)
        if did is None:
            did = ws.get(_ws_key(gd.text))
        if did is None:
            did = nows.get(_nows_key(gd.text))
        out.append((gd, did))
    return out


def evaluate_store(
    store: Store,
    gold: list[GoldDoc],
    *,
    what: Literal["proposals", "approved"] = "proposals",
    threshold: float = 0.5,
    label_map: dict[str, str] | None = None,
    batch: str | None = None,
    reviewed_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Score the project's span proposals (pending and decided, confidence >= threshold; a
    proposal without confidence counts) or its approved labels against `gold`.
    `progress(done, total)` is called after each gold document."""
    label_map = label_map or {}
    reviewed = set(store.labeled_document_ids()) if reviewed_only else None
    g_all: list[list[Span]] = []
    p_all: list[list[Span]] = []
    unmatched: list[str] = []
    pairs = match_documents(store, gold)
    for n, (gd, did) in enumerate(pairs, 1):
        if progress:
            progress(n, len(pairs))
        if did is None or (reviewed is not None and did not in reviewed):
            unmatched.append(gd.where or gd.text[:60])
            continue
        text = store.document(did).text
        mapped = map_offsets(gd.text, text, gd.spans)
        if mapped is None:
            unmatched.append(gd.where or gd.text[:60])
            continue
        g_all.append(map_spans(mapped, label_map))
        p_all.append(map_spans(_predictions(store, did, what, threshold, batch), label_map))
    return EvalReport(
        what=what,
        threshold=threshold if what == "proposals" else None,
        gold_docs=len(gold),
        matched_docs=len(g_all),
        unmatched=unmatched,
        scores=score(g_all, p_all),
    )


def _predictions(store: Store, doc_id: int, what: str, threshold: float, batch: str | None) -> list[Span]:
    if what == "approved":
        return store.approved_spans(doc_id)
    out = []
    for p in store.proposals(kind="span", status=None, document_id=doc_id):
        if p.status == "withdrawn" or (batch and p.batch != batch):
            continue
        if p.confidence is not None and p.confidence < threshold:
            continue
        sp = p.payload.get("span")
        if sp:
            out.append(Span.model_validate({k: sp[k] for k in ("start", "end", "label", "text") if k in sp}))
    return out


# -- the operation: `studio eval` -----------------------------------------------------------------
MAX_WARNINGS = 20


class EvalArgs(Args):
    gold: str = Field(..., description="A gold file: CoNLL (IOB1/IOB2/BIOES) or JSONL.",
                      json_schema_extra={"cli": "argument", "path": True})  # fmt: skip
    map: list[str] = Field(default_factory=list, description="Rename a label on both sides before scoring "
                           "(FROM=TO, repeatable), e.g. --map PER=PERSON; LABEL=O leaves LABEL out.")  # fmt: skip
    what: Literal["proposals", "approved"] = Field(
        "proposals", description="Score span proposals (pending and decided) or the approved labels."
    )
    threshold: float | None = Field(
        None, ge=0, le=1, description="With --what proposals: only proposals with at least this confidence "
        "[default: the project's decision threshold, chosen on its complete documents (studio sources), else 0.5]."
    )  # fmt: skip
    scheme: Literal["auto", "iob1", "iob2", "bioes"] = Field(
        "auto", description="Tag scheme of a CoNLL gold file (auto detects it)."
    )
    batch: str | None = Field(None, description="With --what proposals: only proposals of this run (batch).")
    reviewed_only: bool = Field(False, description="Only documents a human has reviewed (useful with --what approved).")


class EvalResult(Result):
    gold: str
    format: str
    scheme: str | None
    warnings: list[str] = Field(default_factory=list)
    what: str
    threshold: float | None
    gold_docs: int
    matched_docs: int
    unmatched: list[str]
    strict: dict[str, Any]
    partial: dict[str, Any]

    def summary(self) -> str:
        o = self.strict["overall"]
        return f"strict F1 {o['f1']:.4f} (P {o['precision']:.4f}, R {o['recall']:.4f}) on {self.matched_docs} documents"


def decision_threshold(store: Store) -> float:
    """The confidence from which a proposal counts as proposed: the learned weights' (weights.py `choose`), as
    `studio label` would combine now; the prior weights' 0.5 before any document is complete."""
    from studio.ops.ner.label import labeling_weights
    from studio.ops.ner.sources import newest_student

    return labeling_weights(store, newest_student(store.root)).threshold


@operation("eval", args=EvalArgs, result=EvalResult, side_effects=False, agent=False,
           help="Score the project's NER spans against a GOLD file (CoNLL IOB1/IOB2 or JSONL).")  # fmt: skip
def evaluate(ctx: OpContext, args: EvalArgs) -> EvalResult:
    """Entity-level precision, recall and F1 per label and overall (micro), strict (same boundaries and
    label) and partial (overlap with the same label, each span counted once). Gold documents are matched to
    project documents by text (exact, then ignoring whitespace and Unicode form); CoNLL sentences are read as
    tokens joined by single spaces. JSONL lines look like {"text": "...", "spans": [{"start": 0, "end": 5,
    "label": "ORG"}]}."""
    from studio.ops.ner.formats import parse_label_map, read_gold

    label_map = parse_label_map(args.map)
    path = ctx.path(args.gold)
    gf = read_gold(path, scheme=args.scheme)
    warnings = gf.errors[:MAX_WARNINGS]
    if len(gf.errors) > MAX_WARNINGS:
        warnings.append(f"... and {len(gf.errors) - MAX_WARNINGS} more problems in {args.gold}")
    if not gf.docs:
        listed = "\n".join(f"warning: {w}" for w in warnings)
        raise StudioError(f"{args.gold} holds no readable documents; fix the problems listed:\n{listed}")
    store = ctx.store
    threshold = args.threshold if args.threshold is not None else decision_threshold(store)
    report = evaluate_store(store, gf.docs, what=args.what, threshold=threshold, label_map=label_map,
                            batch=args.batch, reviewed_only=args.reviewed_only,
                            progress=lambda done, total: ctx.report("scoring", done, total))  # fmt: skip
    if report.matched_docs == 0:
        raise StudioError(
            f"none of the {report.gold_docs} gold documents is in this project ({store.root}); "
            "import the same texts first, or pass the right --project"
        )
    store.record("tool", "eval.run", [], {
        "gold": args.gold, "what": args.what, "threshold": report.threshold, "map": label_map, "batch": args.batch,
        "reviewed_only": args.reviewed_only, "matched_docs": report.matched_docs, "gold_docs": report.gold_docs,
        "strict": report.scores.overall("strict").row(), "partial": report.scores.overall("partial").row(),
    })  # fmt: skip
    return EvalResult.model_validate(
        {"gold": args.gold, "format": gf.format, "scheme": gf.scheme, "warnings": warnings, **report.to_dict()}
    )
