"""NER uncertainty: a token classifier trained on approved spans, and weak-source disagreement.

Model part. Texts are tokenized by `spacy.blank(lang)`; approved spans become BIO tags; a
logistic regression over token features (the word, its shape, affixes, and the words
around it) predicts a tag distribution per token. A document's model score is the strategy's
score of its most uncertain token (max over tokens: one confusing mention is enough to be worth
a look, and the max does not grow with the length of the text the way a sum does). With a
committee strategy the committee is a set of models fit on bootstrap samples of the labeled
documents.

Weak part. Pending span proposals carry `payload["sources"] = {source: probability}`. For
least-confidence, margin and entropy a span's score is the strategy applied to its combined
confidence [c, 1 - c]; for vote entropy and KL the sources are the committee (each a binary
distribution [p, 1 - p]); a span with one source falls back to the entropy of its confidence. A
document's weak score is the max over its pending spans.

Combining. The two parts are on different scales, so each is turned into a percentile rank over
the pool and a document's score is the mean of the ranks it has (a document without proposals
has only the model rank; before the model can be trained, only the weak rank). Documents with
neither come last, in seeded random order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from studio.ops.active import strategies
from studio.ops.active.diversity import DEFAULT_THRESHOLD, diverse_batch, tfidf_features
from studio.ops.active.textclf import Selection
from studio.schema import Span

OUT = "O"


@lru_cache(maxsize=8)
def blank(lang: str) -> Any:
    import spacy

    try:
        return spacy.blank(lang)
    except Exception:  # a language whose blank pipeline needs extra packages: English rules still split words
        return spacy.blank("en")


def tokenize(text: str, lang: str = "en") -> list[tuple[int, int, str, str]]:
    """(start, end, text, shape) per non-space token."""
    doc = blank(lang).make_doc(text)
    return [(t.idx, t.idx + len(t.text), t.text, t.shape_) for t in doc if not t.is_space]


def bio_tags(tokens: Sequence[tuple[int, int, str, str]], spans: Sequence[Span]) -> list[str]:
    """BIO tag per token; a token belongs to a span when it lies inside the span's characters."""
    tags = [OUT] * len(tokens)
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        first = True
        for i, (start, end, _, _) in enumerate(tokens):
            if start >= span.start and end <= span.end and tags[i] == OUT:
                tags[i] = ("B-" if first else "I-") + span.label
                first = False
    return tags


def token_features(tokens: Sequence[tuple[int, int, str, str]]) -> list[dict[str, float]]:
    feats = []
    for i, (_, _, word, shape) in enumerate(tokens):
        lw = word.lower()
        f = {
            "bias": 1.0,
            f"w={lw}": 1.0,
            f"shape={shape}": 1.0,
            f"pre3={lw[:3]}": 1.0,
            f"suf3={lw[-3:]}": 1.0,
            "title": float(word.istitle()),
            "upper": float(word.isupper()),
            "digit": float(word.isdigit()),
        }
        if i > 0:
            f[f"-1w={tokens[i - 1][2].lower()}"] = 1.0
            f[f"-1shape={tokens[i - 1][3]}"] = 1.0
        else:
            f["BOS"] = 1.0
        if i + 1 < len(tokens):
            f[f"+1w={tokens[i + 1][2].lower()}"] = 1.0
            f[f"+1shape={tokens[i + 1][3]}"] = 1.0
        else:
            f["EOS"] = 1.0
        feats.append(f)
    return feats


class TokenTagger:
    """Logistic regression over token features, one BIO tag distribution per token.

    The feature vocabulary is fit once on every text of the pool (features, not labels), so the
    weight matrix stays as small as the pool's vocabulary and refits are quick.
    """

    def __init__(self, texts: Sequence[str], lang: str = "en", C: float = 1.0) -> None:
        self.texts = list(texts)
        self.tokens = [tokenize(t, lang) for t in self.texts]
        feats = [token_features(toks) for toks in self.tokens]
        self.vectorizer = DictVectorizer()
        self.vectorizer.fit(f for doc in feats for f in doc)
        self._X = [self.vectorizer.transform(f) if f else None for f in feats]
        self.lang, self.C = lang, C
        self.tags: list[str] = []

    def _stack(self, docs: Sequence[int]) -> Any:
        from scipy.sparse import vstack

        parts = [self._X[d] for d in docs if self._X[d] is not None]
        return vstack(parts).tocsr() if parts else None

    def _fit_one(self, docs: Sequence[int], spans: Mapping[int, Sequence[Span]]) -> LogisticRegression | None:
        X = self._stack(docs)
        y = [tag for d in docs for tag in bio_tags(self.tokens[d], spans[d])]
        if X is None or len(set(y)) < 2:
            return None
        return LogisticRegression(C=self.C, max_iter=500).fit(X, y)

    def fit(self, spans: Mapping[int, Sequence[Span]], labels: Sequence[str]) -> bool:
        """Fit on labeled docs (index -> approved spans). False when there is nothing to learn yet."""
        self.tags = [OUT] + [f"{p}-{lab}" for lab in sorted(labels) for p in ("B", "I")]
        self.model = self._fit_one(sorted(spans), spans)
        return self.model is not None

    def _proba(self, model: LogisticRegression, doc: int) -> np.ndarray:
        X = self._X[doc]
        out = np.zeros((0 if X is None else X.shape[0], len(self.tags)))
        if X is None:
            return out
        got = model.predict_proba(X)
        for j, tag in enumerate(model.classes_):
            if tag in self.tags:
                out[:, self.tags.index(tag)] = got[:, j]
        return out

    def token_proba(self, doc: int) -> np.ndarray:
        return self._proba(self.model, doc)

    def committee(self, spans: Mapping[int, Sequence[Span]], members: int, seed: int) -> list[LogisticRegression]:
        rng = np.random.default_rng(seed)
        docs = sorted(spans)
        out = []
        for _ in range(members * 3):  # a bootstrap sample may hold only O tags; try a few more
            model = self._fit_one(sorted(rng.choice(docs, size=len(docs), replace=True).tolist()), spans)
            if model is not None:
                out.append(model)
            if len(out) == members:
                break
        return out

    def predict_spans(self, doc: int) -> list[Span]:
        """Decode the argmax tags: B-X opens a span, I-X continues it (an I-X after O also opens one)."""
        p = self.token_proba(doc)
        spans: list[Span] = []
        cur: list[Any] | None = None
        for (start, end, _, _), row in zip(self.tokens[doc], p, strict=True):
            tag = self.tags[int(row.argmax())]
            if tag == OUT:
                cur = None
                continue
            prefix, label = tag.split("-", 1)
            if prefix == "I" and cur is not None and cur[2] == label:
                cur[1] = end
                spans[-1] = Span(start=cur[0], end=end, label=label)
                continue
            cur = [start, end, label]
            spans.append(Span(start=start, end=end, label=label))
        return spans


def doc_model_scores(
    tagger: TokenTagger, docs: Sequence[int], strategy: str, committee: list[Any] | None = None
) -> np.ndarray:
    """Per document: the strategy's score of its most uncertain token (0 for a text without tokens)."""
    out = np.zeros(len(docs))
    for k, d in enumerate(docs):
        if strategy in strategies.COMMITTEE_STRATEGIES and committee:
            table = np.stack([tagger._proba(m, d) for m in committee])
            if table.shape[1] == 0:
                continue
            s, _ = strategies.score(strategy, committee=table)
        else:
            probs = tagger.token_proba(d)
            if probs.shape[0] == 0:
                continue
            s, _ = strategies.score("entropy" if strategy in strategies.COMMITTEE_STRATEGIES else strategy, probs=probs)
        out[k] = float(s.max())
    return out


def span_weak_score(confidence: float | None, sources: Mapping[str, float], strategy: str) -> float:
    """Uncertainty of one proposed span from its weak sources (see the module docstring)."""
    c = float(confidence if confidence is not None else np.mean(list(sources.values()) or [0.5]))
    probs = [min(max(float(p), 0.0), 1.0) for p in sources.values()]
    if strategy in strategies.COMMITTEE_STRATEGIES and len(probs) >= 2:
        committee = np.array([[[p, 1 - p]] for p in probs])
        s, _ = strategies.score(strategy, committee=committee)
        return float(s[0])
    name = "entropy" if strategy in strategies.COMMITTEE_STRATEGIES or strategy == "random" else strategy
    s, _ = strategies.score(name, probs=np.array([[c, 1 - c]]))
    return float(s[0])


def percentile_ranks(values: np.ndarray) -> np.ndarray:
    """Average-rank percentiles in [0, 1] (ties share a rank); a single value gets 1."""
    n = len(values)
    if n <= 1:
        return np.ones(n)
    from scipy.stats import rankdata

    return (rankdata(values, method="average") - 1) / (n - 1)


def combine(model: np.ndarray | None, weak: np.ndarray, has_weak: np.ndarray, seed: int) -> np.ndarray:
    """Mean of the percentile ranks each document has; documents with none get -1 + a seeded random
    value in [0, 1), so they come last, in the order `random` would give them."""
    n = len(weak)
    total = np.zeros(n)
    count = np.zeros(n)
    if model is not None:
        total += percentile_ranks(model)
        count += 1
    if has_weak.any():
        ranks = np.zeros(n)
        ranks[has_weak] = percentile_ranks(weak[has_weak])
        total += np.where(has_weak, ranks, 0.0)
        count += has_weak
    rnd = strategies.random_scores(n, seed)
    return np.where(count > 0, total / np.maximum(count, 1), rnd - 1.0)


def rarest_label(spans: Sequence[Span], items: Sequence[Any]) -> str:
    """The document's least frequent label over the gold set ('' for a document without spans): a
    stratification key that keeps rare labels in both splits."""
    if not spans:
        return ""
    counts: dict[str, int] = {}
    for it in items:
        for s in it.spans:
            counts[s.label] = counts.get(s.label, 0) + 1
    return min({s.label for s in spans}, key=lambda lab: (counts.get(lab, 0), lab))


def entity_f1(gold: Sequence[Sequence[Span]], pred: Sequence[Sequence[Span]]) -> float:
    """Micro F1 over exact (document, start, end, label) matches."""
    g = {(i, s.start, s.end, s.label) for i, spans in enumerate(gold) for s in spans}
    p = {(i, s.start, s.end, s.label) for i, spans in enumerate(pred) for s in spans}
    if not g and not p:
        return 1.0
    return 2 * len(g & p) / (len(g) + len(p))


def cold_reason(labeled: Mapping[int, Sequence[Span]], labels: Sequence[str]) -> str:
    seen = {s.label for spans in labeled.values() for s in spans}
    missing = sorted(set(labels) - seen)
    if not seen:
        return "cold start: no approved entity yet"
    if missing:
        return f"cold start: no approved entity yet for {', '.join(missing)}"
    return ""


class NerLearner:
    """The NER model in `studio simulate`: gold spans reveal as documents get picked."""

    def __init__(
        self,
        pool: Sequence[str],
        test: Sequence[Any],
        labels: Sequence[str],
        batch: int,
        threshold: float = DEFAULT_THRESHOLD,
        lang: str = "en",
        committee: int = 5,
    ) -> None:
        self.tagger = TokenTagger(list(pool) + [t.text for t in test], lang)
        self.n_pool = len(pool)
        self.test = list(test)
        self.labels, self.batch, self.threshold, self.committee_size = list(labels), batch, threshold, committee
        self.features = tfidf_features(pool)

    def select(self, labeled: Mapping[int, object], candidates: Sequence[int], strategy: str, seed: int) -> Selection:
        spans = {i: list(v) for i, v in labeled.items()}  # type: ignore[call-overload]
        reason = "" if strategy == "random" else cold_reason(spans, self.labels)
        used = strategy
        if reason or strategy == "random":
            used = "random"
            s = strategies.random_scores(len(candidates), seed)
        else:
            self.tagger.fit(spans, self.labels)
            committee = None
            if strategy in strategies.COMMITTEE_STRATEGIES:
                committee = self.tagger.committee(spans, self.committee_size, seed)
            s = doc_model_scores(self.tagger, candidates, strategy, committee)
        order = [candidates[i] for i in strategies.rank(s)]
        chosen, skipped = diverse_batch(order, self.batch, self.features, self.threshold)
        score_of = dict(zip(candidates, s.tolist(), strict=True))
        return Selection(
            indices=chosen,
            scores=[score_of[c] for c in chosen],
            strategy=strategy,
            used=used,
            cold_start=bool(reason),
            reason=reason,
            skipped_near_duplicates=len(skipped),
        )

    def stop_predictions(self, labeled: Mapping[int, object]) -> list[str] | None:
        return None  # the stopping rule is implemented for classification only (docs/active.md)

    def evaluate(self, labeled: Mapping[int, object]) -> float:
        spans = {i: list(v) for i, v in labeled.items()}  # type: ignore[call-overload]
        if not self.tagger.fit(spans, self.labels):
            return entity_f1([t.spans for t in self.test], [[] for _ in self.test])
        pred = [self.tagger.predict_spans(self.n_pool + k) for k in range(len(self.test))]
        return entity_f1([t.spans for t in self.test], pred)
