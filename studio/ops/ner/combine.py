"""One confidence per span from several weak sources, and calibration against human decisions.

Votes. For a candidate span (start, end, label):
- the LLM votes with its self-consistency: the share of the k samples that contain the span
  (so it votes 0 on a span only other sources found);
- every other source votes with its own probability where it predicts the span, and
  abstains elsewhere (a gazetteer that does not list a name says nothing about it).

Combination: a weighted vote in log-odds space. A source with accuracy a (the share of its
proposals that humans accepted) voting p adds  logit(a) * (2p - 1):  a sure "yes" adds
logit(a), a sure "no" subtracts it, p = 0.5 adds nothing, and a source no better than chance
(a = 0.5) has no weight.  confidence = sigmoid(logit(prior) + sum of the votes).  With one
source voting "yes" the confidence is that source's accuracy.

Accuracies come from human decisions once a source has at least `min_decided` (20) decided
proposals on which it voted yes (p >= 0.5): (accepted + 1) / (decided + 2), where an edited
proposal counts as not accepted (the span or label was wrong as proposed). Before that, the
priors in `PRIOR_ACCURACY` (guesses, to be replaced by estimates) are used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from studio.errors import StudioError
from studio.ops.ner.align import AlignedSpan
from studio.schema import Proposal, Span

if TYPE_CHECKING:
    from studio.ops.ner.weights import Weights
    from studio.store import Store

# Prior accuracies by source-name prefix; the longest matching prefix wins.
PRIOR_ACCURACY: dict[str, float] = {"llm": 0.8, "gazetteer": 0.7, "spacy": 0.65, "patterns": 0.85}
DEFAULT_PRIOR_ACCURACY = 0.6
BASE_RATE = 0.5  # prior probability that a candidate span is right, before any vote
MIN_DECIDED = 20
_EPS = 1e-4


def logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def prior_accuracy(source: str, priors: dict[str, float] | None = None) -> float:
    """The prior accuracy of the longest prefix of `source` listed in `priors`."""
    priors = PRIOR_ACCURACY if priors is None else priors
    matches = [prefix for prefix in priors if source.startswith(prefix)]
    return priors[max(matches, key=len)] if matches else DEFAULT_PRIOR_ACCURACY


class SourceStats(BaseModel):
    accuracy: float
    decided: int = 0
    accepted: int = 0
    estimated: bool = False  # False: the prior is used (fewer than min_decided decisions)


class ScoredSpan(BaseModel):
    span: Span
    confidence: float = Field(ge=0, le=1)
    sources: dict[str, float]  # source name -> that source's vote; the payload["sources"] convention

    @property
    def main_source(self) -> str:
        """The source with the strongest yes vote (ties: alphabetical)."""
        return min(self.sources, key=lambda s: (-self.sources[s], s))


class CombineResult(BaseModel):
    spans: list[ScoredSpan] = Field(default_factory=list)
    overlapping: list[ScoredSpan] = Field(default_factory=list)


def estimate_accuracies(
    decided: Iterable[Proposal],
    sources: Iterable[str] = (),
    *,
    min_decided: int = MIN_DECIDED,
    priors: dict[str, float] | None = None,
) -> dict[str, SourceStats]:
    """Per-source accuracy from decided span proposals (payload["sources"] = {name: prob})."""
    counts: dict[str, list[int]] = {}
    for p in decided:
        if p.kind != "span" or p.status not in ("accepted", "rejected", "edited"):
            continue
        for name, prob in (p.payload.get("sources") or {}).items():
            if prob >= 0.5:
                c = counts.setdefault(name, [0, 0])
                c[0] += 1
                c[1] += p.status == "accepted"
    out: dict[str, SourceStats] = {}
    for name in sorted(set(counts) | set(sources)):
        n, acc = counts.get(name, [0, 0])
        if n >= min_decided:
            out[name] = SourceStats(accuracy=(acc + 1) / (n + 2), decided=n, accepted=acc, estimated=True)
        else:
            out[name] = SourceStats(accuracy=prior_accuracy(name, priors), decided=n, accepted=acc)
    return out


def accuracies_from_store(store: Store, sources: Iterable[str] = (), **kw: Any) -> dict[str, SourceStats]:
    """`estimate_accuracies` over every decided span proposal in the project."""
    return estimate_accuracies(store.proposals(kind="span", status=None), sources, **kw)


def _span_of(x: Span | AlignedSpan) -> Span:
    return x.span if isinstance(x, AlignedSpan) else x


Key = tuple[int, int, str]


def combine_spans(
    text: str,
    llm_samples: Sequence[Sequence[Span | AlignedSpan]] = (),
    weak: dict[str, Sequence[tuple[Span, float]]] | None = None,
    *,
    llm_name: str = "llm",
    accuracies: dict[str, float] | None = None,
    base_rate: float = BASE_RATE,
    resolve_overlaps: bool = True,
    weights: Weights | None = None,
) -> CombineResult:
    """Score every candidate span found by any source; see the module docstring.

    `accuracies` maps a source name to its accuracy (e.g. from `estimate_accuracies`);
    missing sources use the priors. Overlaps are resolved by confidence, then length, then
    position (keep the higher, the longer, the earlier); losers go to `overlapping`.
    """
    weak = weak or {}
    votes: dict[Key, dict[str, float]] = {}
    k = len(llm_samples)
    if k:
        counts: dict[Key, int] = {}
        for sample in llm_samples:
            for key in {_key(_span_of(x)) for x in sample}:
                counts[key] = counts.get(key, 0) + 1
        for key, n in counts.items():
            votes.setdefault(key, {})[llm_name] = n / k
    for name, preds in weak.items():
        for span, prob in preds:
            key = _key(span)
            cur = votes.setdefault(key, {})
            cur[name] = max(prob, cur.get(name, 0.0))
    acc = dict(accuracies or {})
    scored: list[ScoredSpan] = []
    for key, src in votes.items():
        if k and llm_name not in src:
            src[llm_name] = 0.0  # the LLM always votes: no sample had this span
        s, e, label = key
        if weights is not None:
            # learned weights: every source that ran votes, silence included (see weights.py)
            conf, _ = weights.confidence(label, weights.votes(label, {name: 0.0 for name in weak} | src))
        else:
            x = logit(base_rate)
            for name, p in src.items():
                a = acc.get(name, prior_accuracy(name))
                x += logit(a) * (2 * p - 1)
            conf = sigmoid(x)
        span = Span(start=s, end=e, label=label, text=text[s:e])
        scored.append(ScoredSpan(span=span, confidence=round(conf, 6), sources=dict(sorted(src.items()))))
    if not resolve_overlaps:
        return CombineResult(spans=sorted(scored, key=lambda z: (z.span.start, z.span.end, z.span.label)))
    kept: list[ScoredSpan] = []
    dropped: list[ScoredSpan] = []
    for z in sorted(scored, key=lambda z: (-z.confidence, -(z.span.end - z.span.start), z.span.start, z.span.label)):
        if any(z.span.start < q.span.end and q.span.start < z.span.end for q in kept):
            dropped.append(z)
        else:
            kept.append(z)
    kept.sort(key=lambda z: (z.span.start, z.span.end))
    return CombineResult(spans=kept, overlapping=dropped)


def _key(span: Span) -> Key:
    return (span.start, span.end, span.label)


# -- calibration -------------------------------------------------------------------------------


class ReliabilityBin(BaseModel):
    lo: float
    hi: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


class Reliability(BaseModel):
    bins: list[ReliabilityBin]
    ece: float  # expected calibration error: sum over bins of (count / n) * |accuracy - mean confidence|
    n: int


def reliability(confidences: Sequence[float], outcomes: Sequence[bool], n_bins: int = 10) -> Reliability:
    """Equal-width reliability bins over [0, 1] (the last bin includes 1.0) and the ECE."""
    if len(confidences) != len(outcomes):
        raise ValueError("confidences and outcomes must have the same length")
    conf = np.asarray(confidences, dtype=float)
    out = np.asarray(outcomes, dtype=float)
    idx = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    bins: list[ReliabilityBin] = []
    ece = 0.0
    for b in range(n_bins):
        mask = idx == b
        n = int(mask.sum())
        mc = float(conf[mask].mean()) if n else None
        ac = float(out[mask].mean()) if n else None
        if n:
            ece += n / len(conf) * abs(ac - mc)  # type: ignore[operator]
        bins.append(ReliabilityBin(lo=b / n_bins, hi=(b + 1) / n_bins, count=n, mean_confidence=mc, accuracy=ac))
    return Reliability(bins=bins, ece=round(ece, 6), n=len(conf))


class Calibrator(BaseModel):
    """A fitted map from raw confidence to calibrated probability; plain numbers, so it can be
    stored as a setting and applied without sklearn."""

    method: Literal["platt", "isotonic"]
    a: float = 0.0  # platt: p = sigmoid(a * logit(conf) + b)
    b: float = 0.0
    x: list[float] = Field(default_factory=list)  # isotonic: piecewise-linear through (x, y)
    y: list[float] = Field(default_factory=list)

    def apply(self, conf: float) -> float:
        if self.method == "platt":
            return sigmoid(self.a * logit(conf) + self.b)
        return float(np.interp(conf, self.x, self.y))


def fit_calibrator(
    confidences: Sequence[float], outcomes: Sequence[bool], method: Literal["platt", "isotonic"] = "isotonic"
) -> Calibrator:
    """Fit Platt scaling (logistic regression on logit(confidence)) or isotonic regression."""
    if len(confidences) != len(outcomes):
        raise ValueError("confidences and outcomes must have the same length")
    y = np.asarray(outcomes, dtype=int)
    if len(set(y.tolist())) < 2:
        raise StudioError("calibration needs both accepted and rejected decisions; review more proposals first")
    conf = np.asarray(confidences, dtype=float)
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6)
        lr.fit(np.array([[logit(c)] for c in conf]), y)
        return Calibrator(method="platt", a=float(lr.coef_[0][0]), b=float(lr.intercept_[0]))
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(conf, y)
        return Calibrator(method="isotonic", x=iso.X_thresholds_.tolist(), y=iso.y_thresholds_.tolist())
    raise ValueError(f"method must be 'platt' or 'isotonic', got {method!r}")
