"""Source weights learned per source and label from the person's complete documents.

On a complete document the approved spans are the truth. Every candidate span there (each span any
source proposed, and each approved span) is a trial for every source that ran on the document: the
source voted yes (its probability >= 0.5 in the proposal's `sources`) or no. Per source and label:

    tp = true candidates it voted yes on     fn = true candidates it missed
    fp = false candidates it voted yes on    tn = false candidates it did not vote for

A naive-Bayes label model (Dawid-Skene with the truth known, one coin per source and label) turns
those into two rates, smoothed toward the priors by `PRIOR_STRENGTH` pseudo-trials:

    P(yes | true)  = (tp + k * r0) / (tp + fn + k)            r0 = PRIOR_RECALL
    P(yes | false) = (fp + k * f0) / (fp + tn + k)            f0 = r0 (1 - a) / a, a = the prior accuracy

and a candidate's confidence is

    sigmoid( logit(base rate of its label) + sum over sources of  p * log LR_yes + (1 - p) * log LR_no )

with LR_yes = P(yes|true) / P(yes|false), LR_no = P(no|true) / P(no|false), p the source's vote. With
no data it reduces to the fixed priors (a sure yes from a source of prior accuracy a at base rate 0.5
gives a); with data a source that is precise for PER but not for MISC counts for PER only, and a source
whose silence means something (high recall) pulls a span it missed down.

The votes are those stored when the proposals were made, before the person decided, so a student
trained on a document later is not judged on its own training data.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from studio.ops.ner.combine import BASE_RATE, logit, prior_accuracy, reliability
from studio.ops.registry import Args, OpContext, Result, operation

if TYPE_CHECKING:
    from studio.store import Store

PRIOR_STRENGTH = 4.0
PRIOR_RECALL = 0.7
MIN_TRUE = 5  # a source that did not vote abstains until this many true spans of the label were seen
HUMAN_PREFIXES = ("human", "synth")  # spans a person (or synth's target list) wrote: not a weak source's vote

Key = tuple[int, int, str]


class SourceLabelStats(BaseModel):
    source: str
    label: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    documents: int = 0  # complete documents the source ran on
    covered: int = 0  # of those, documents where it voted yes for this label at least once
    overlap: int = 0  # yes votes another source also voted yes on (same span and label)
    conflict: int = 0  # yes votes where another source voted yes on an overlapping, different span or label

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def rates(self) -> tuple[float, float]:
        """(P(yes | true), P(yes | false)), smoothed toward the priors."""
        a = prior_accuracy(self.source)
        r0 = PRIOR_RECALL
        f0 = r0 * (1 - a) / a
        k = PRIOR_STRENGTH
        return (self.tp + k * r0) / (self.tp + self.fn + k), (self.fp + k * f0) / (self.fp + self.tn + k)

    def log_lr(self) -> tuple[float, float]:
        """(log LR of a yes vote, log LR of a no vote)."""
        t, f = self.rates()
        t, f = min(max(t, 1e-4), 1 - 1e-4), min(max(f, 1e-4), 1 - 1e-4)
        return math.log(t / f), math.log((1 - t) / (1 - f))

    def row(self) -> dict[str, object]:
        yes, no = self.log_lr()
        votes = self.tp + self.fp
        return {
            "source": self.source, "label": self.label, "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "precision": round(self.precision, 4), "recall": round(self.recall, 4),
            "coverage": round(self.covered / self.documents, 4) if self.documents else 0.0,
            "overlap": round(self.overlap / votes, 4) if votes else 0.0,
            "conflict": round(self.conflict / votes, 4) if votes else 0.0,
            "weight_yes": round(yes, 4), "weight_no": round(no, 4),
        }  # fmt: skip


class Weights(BaseModel):
    """Learned (or prior) weights: what `combine_spans(weights=...)` uses."""

    stats: dict[str, SourceLabelStats] = Field(default_factory=dict)  # "source|label" -> counts
    base_rates: dict[str, float] = Field(default_factory=dict)  # label -> share of candidates that are true
    documents: int = 0
    candidates: int = 0
    ece: float | None = None  # of the stored proposal confidences on the complete documents
    ece_learned: float | None = None  # of the confidences these weights give the same candidates (in-sample)

    def _stats(self, source: str, label: str) -> SourceLabelStats:
        return self.stats.get(f"{source}|{label}") or SourceLabelStats(source=source, label=label)

    def knows(self, source: str, label: str) -> bool:
        """Enough true candidates seen to trust what the source's silence means (else it abstains)."""
        st = self.stats.get(f"{source}|{label}")
        return st is not None and st.tp + st.fn >= MIN_TRUE

    def base_logit(self, label: str) -> float:
        return logit(self.base_rates.get(label, BASE_RATE))

    def contribution(self, source: str, label: str, p: float) -> float:
        yes, no = self._stats(source, label).log_lr()
        return p * yes + (1 - p) * no

    def confidence(self, label: str, votes: dict[str, float]) -> tuple[float, str]:
        """The combined confidence and the source that raised it most."""
        x = self.base_logit(label)
        best, best_c = "", -math.inf
        for name, p in votes.items():
            c = self.contribution(name, label, p)
            x += c
            if c > best_c:
                best, best_c = name, c
        return 1.0 / (1.0 + math.exp(-x)), best

    def rows(self) -> list[dict[str, object]]:
        return [s.row() for _, s in sorted(self.stats.items())]


def _doc_votes(store: Store, doc_id: int) -> tuple[dict[Key, dict[str, float]], set[str], list[tuple[Key, float]]]:
    """Stored votes per candidate span, the sources that ran, and (key, stored confidence) pairs."""
    votes: dict[Key, dict[str, float]] = defaultdict(dict)
    ran: set[str] = set()
    stored: list[tuple[Key, float]] = []
    for p in store.proposals(kind="span", status=None, document_id=doc_id):
        if p.status == "withdrawn" or p.source.startswith(HUMAN_PREFIXES):
            continue
        span = p.payload.get("span") or {}
        if span.get("start") is None:
            continue
        key = (int(span["start"]), int(span["end"]), str(span["label"]))
        ran.update(p.payload.get("ran") or ())  # every source that ran, also those silent on this span
        for name, prob in (p.payload.get("sources") or {}).items():
            ran.add(name)
            votes[key][name] = max(float(prob), votes[key].get(name, 0.0))
        if p.confidence is not None:
            stored.append((key, float(p.confidence)))
    return votes, ran, stored


def estimate_weights(store: Store, doc_ids: Iterable[int] | None = None) -> Weights:
    """Weights from the complete documents (or `doc_ids`); priors where there is no data."""
    from studio.ops.ner.train import complete_document_ids

    ids = list(doc_ids) if doc_ids is not None else complete_document_ids(store)
    docs = []
    for doc_id in ids:
        votes, ran, stored = _doc_votes(store, doc_id)
        gold = {(s.start, s.end, s.label) for s in store.approved_spans(doc_id)}
        docs.append(DocTrials(votes=votes, ran=ran, gold=gold, stored=stored))
    return weights_from(docs)


class DocTrials(BaseModel):
    """One finished document: each candidate's votes, the sources that ran, the truth, stored confidences."""

    votes: dict[Key, dict[str, float]]
    ran: set[str]
    gold: set[Key]
    stored: list[tuple[Key, float]] = Field(default_factory=list)


def weights_from(docs: Iterable[DocTrials]) -> Weights:
    stats: dict[str, SourceLabelStats] = {}
    true_per_label: dict[str, int] = defaultdict(int)
    cand_per_label: dict[str, int] = defaultdict(int)
    trials: list[tuple[str, dict[str, float], bool]] = []
    stored_conf: list[float] = []
    stored_out: list[bool] = []
    used = 0
    for d in docs:
        votes, ran, gold = d.votes, d.ran, d.gold
        if not ran:
            continue  # never weak-labeled: says nothing about the sources
        used += 1
        for key, conf in d.stored:
            stored_conf.append(conf)
            stored_out.append(key in gold)
        yes_by_source: dict[str, set[Key]] = defaultdict(set)
        for key, v in votes.items():
            for name, p in v.items():
                if p >= 0.5:
                    yes_by_source[name].add(key)
        for key in set(votes) | gold:
            label, truth = key[2], key in gold
            true_per_label[label] += truth
            cand_per_label[label] += 1
            v = {name: votes.get(key, {}).get(name, 0.0) for name in ran}
            trials.append((label, v, truth))
            for name in ran:
                st = stats.setdefault(f"{name}|{label}", SourceLabelStats(source=name, label=label))
                yes = v[name] >= 0.5
                if truth:
                    st.tp += yes
                    st.fn += not yes
                else:
                    st.fp += yes
                    st.tn += not yes
                if yes:
                    others = [k for o, ks in yes_by_source.items() if o != name for k in ks]
                    st.overlap += key in others
                    st.conflict += any(k != key and k[0] < key[1] and key[0] < k[1] for k in others)
        for name in ran:
            for label in {k[2] for k in set(votes) | gold}:
                st = stats.setdefault(f"{name}|{label}", SourceLabelStats(source=name, label=label))
                st.documents += 1
                st.covered += any(k[2] == label for k in yes_by_source.get(name, ()))
    base = {lab: (true_per_label[lab] + 1) / (cand_per_label[lab] + 2) for lab in cand_per_label}
    w = Weights(stats=stats, base_rates=base, documents=used, candidates=len(trials))
    if stored_conf:
        w.ece = reliability(stored_conf, stored_out).ece
    if trials:
        w.ece_learned = reliability([w.confidence(lab, v)[0] for lab, v, _ in trials], [t for *_, t in trials]).ece
    return w


# -- the operation: `studio sources` --------------------------------------------------------------
class SourcesArgs(Args):
    label: str | None = Field(None, description="Only this label.")


class SourcesResult(Result):
    documents: int
    candidates: int
    ece: float | None = Field(None, description="Calibration error of the stored proposal confidences")
    ece_learned: float | None = Field(None, description="Calibration error with the learned weights (in-sample)")
    sources: list[dict[str, Any]]

    def summary(self) -> str:
        if not self.documents:
            return "No complete, weak-labeled documents yet: the sources use their prior weights. Review some first."
        head = f"{self.documents} complete documents, {self.candidates} candidate spans"
        if self.ece is not None:
            head += f"; confidence calibration error (ECE) {self.ece:.3f} as proposed"
        if self.ece_learned is not None:
            head += f", {self.ece_learned:.3f} with the learned weights"
        return head


@operation("sources", args=SourcesArgs, result=SourcesResult, side_effects=False, agent=False,
           help="How each weak source does per label on the complete documents: coverage, overlap, conflict, "
           "precision, recall and the weight it gets.")  # fmt: skip
def sources(ctx: OpContext, args: SourcesArgs) -> SourcesResult:
    w = estimate_weights(ctx.store)
    rows = [r for r in w.rows() if args.label is None or r["label"] == args.label]
    return SourcesResult(
        documents=w.documents, candidates=w.candidates, ece=w.ece, ece_learned=w.ece_learned, sources=rows
    )
