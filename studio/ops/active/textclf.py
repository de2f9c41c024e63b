"""Text classification for active learning: logistic regression over fixed features, retrained per query.

The features (`features.py`: TF-IDF, MiniLM vectors, or both) are built once on the whole pool (labeled and unlabeled texts: it learns no labels,
only vocabulary and document frequencies), so retraining as labels arrive is a cheap logistic
regression fit. `select` turns a pool and the labels so far into the next batch, with the cold
start rule: until every known class has at least one label, rank by seeded random order (never
worse than random by construction) and keep near-duplicates out of the batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sklearn.linear_model import LogisticRegression

from studio.ops.active import hybrid, strategies
from studio.ops.active.diversity import DEFAULT_THRESHOLD, Similarity, cosine_similarity, diverse_batch
from studio.ops.active.features import TextFeatures


class TextClfParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ngram_max: int = Field(default=2, ge=1, le=3)
    min_df: int = Field(default=2, ge=1, description="drop n-grams seen in fewer pool texts (speed, noise)")
    C: float | None = Field(
        default=None, gt=0, description="inverse regularization; None: 10 on TF-IDF alone, 1 with MiniLM vectors"
    )
    class_weight: str | None = "balanced"
    max_iter: int = 1000
    committee: int = Field(default=5, ge=2, description="bagged models for vote_entropy / kl")


class Selection(BaseModel):
    """One batch chosen from the pool (indices into the pool) and how it was chosen."""

    model_config = ConfigDict(extra="forbid")

    indices: list[int]
    scores: list[float]
    strategy: str  # the strategy asked for
    used: str  # the strategy actually used (`random` on a cold start)
    cold_start: bool
    reason: str = ""
    skipped_near_duplicates: int = 0
    model_version: str = ""


def model_version(
    params: BaseModel | Mapping[str, Any], labels: Mapping[Any, str], extra: Mapping[str, Any] | None = None
) -> str:
    """A short hash of the training data (item -> label) and the parameters: same inputs, same id."""
    body = {
        "params": params.model_dump() if isinstance(params, BaseModel) else dict(params),
        "labels": sorted([str(k), v] for k, v in labels.items()),
        **(extra or {}),
    }
    blob = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class TextClassifier:
    """TF-IDF features over a fixed pool plus a logistic regression over the labeled rows."""

    def __init__(
        self, texts: Sequence[str], params: TextClfParams | None = None, features: TextFeatures | None = None
    ) -> None:
        self.params = params or TextClfParams()
        self.features = features or TextFeatures(
            texts, kind="tfidf", ngram_max=self.params.ngram_max, min_df=self.params.min_df
        )
        self.choice = self.features.choice(0)
        self.X = self.features.matrix(self.choice)
        self.classes: list[str] = []
        self._fitted: tuple[object, ...] | None = None
        self._cluster_rows: np.ndarray | None = None

    def _fit_one(self, rows: Sequence[int], y: Sequence[str]) -> LogisticRegression:
        clf = LogisticRegression(
            C=self.params.C if self.params.C is not None else (10.0 if self.choice == "tfidf" else 1.0),
            class_weight=self.params.class_weight,
            max_iter=self.params.max_iter,
        )
        clf.fit(self.X[list(rows)], list(y))
        return clf

    def _proba(self, clf: LogisticRegression, rows: Sequence[int] | None, X: Any = None) -> np.ndarray:
        """Probabilities with one column per class in `self.classes`, for pool rows or a feature matrix."""
        feats = self.X[list(rows)] if rows is not None else X
        out = np.zeros((feats.shape[0], len(self.classes)))
        if feats.shape[0] == 0:
            return out
        got = clf.predict_proba(feats)
        for j, cls in enumerate(clf.classes_):
            out[:, self.classes.index(cls)] = got[:, j]
        return out

    def fit(self, rows: Sequence[int], y: Sequence[str], classes: Sequence[str] | None = None) -> None:
        """Fit on pool rows; a refit on the same rows, labels and classes is skipped (deterministic anyway)."""
        classes = sorted(set(classes or []) | set(y))
        key = (tuple(rows), tuple(y), tuple(classes))
        if key == self._fitted:
            return
        self.classes = classes
        self.choice = self.features.choice(len(rows))
        self.X = self.features.matrix(self.choice)
        self.model = self._fit_one(rows, y)
        self._fitted = key

    def cluster_rows(self, seed: int = 0) -> np.ndarray:
        """Dense rows of the whole pool for the hybrid strategy's k-means (computed once)."""
        if self._cluster_rows is None:
            self._cluster_rows = hybrid.dense_rows(self.features.diversity_rows()[0], seed)
        return self._cluster_rows

    def predict_proba(self, rows: Sequence[int]) -> np.ndarray:
        return self._proba(self.model, rows)

    def predict_texts(self, texts: Sequence[str]) -> list[str]:
        """Predicted class of texts outside the pool (e.g. a held-out test split)."""
        if not texts:
            return []
        p = self._proba(self.model, None, self.features.transform(list(texts), self.choice))
        return [self.classes[i] for i in p.argmax(axis=1)]

    def committee_proba(self, rows: Sequence[int], y: Sequence[str], targets: Sequence[int], seed: int) -> np.ndarray:
        """(members, targets, classes) from models fit on bootstrap samples of the labeled rows.

        Resampling is within each class, so every member sees every class (a member that never saw a
        class would vote against it for no reason but bad luck).
        """
        rng = np.random.default_rng(seed)
        rows_arr, y_arr = np.asarray(rows), np.asarray(y)
        members = []
        for _ in range(self.params.committee):
            pick: list[int] = []
            for cls in sorted(set(y)):
                idx = np.flatnonzero(y_arr == cls)
                pick.extend(rng.choice(idx, size=len(idx), replace=True).tolist())
            pick.sort()
            members.append(self._proba(self._fit_one(rows_arr[pick], y_arr[pick]), targets))
        return np.stack(members)


def select(
    clf: TextClassifier,
    labeled: Mapping[int, str],
    candidates: Sequence[int],
    strategy: str,
    batch: int,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    similarity: Similarity = cosine_similarity,
    features: Any = None,
) -> Selection:
    """Pick the next batch among `candidates` (row indices of the classifier's pool).

    `labeled` maps row index -> label. `classes` are the classes the task knows (from the
    guideline); with none given, the classes seen so far, and at least two are needed.
    """
    if strategy not in strategies.STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: use one of {', '.join(strategies.STRATEGIES)}")
    seen = set(labeled.values())
    known = set(classes or []) | seen
    missing = sorted(known - seen)
    version = model_version(clf.params, labeled, {"classes": sorted(known), "features": clf.features.name})
    cold = strategy != "random" and (len(seen) < 2 or bool(missing))
    reason = ""
    if cold:
        reason = (
            f"cold start: no label yet for {', '.join(missing)}"
            if missing
            else "cold start: fewer than two classes labeled"
        ) + "; ranking in seeded random order until every class has a label"
    cand = list(candidates)
    if not cand:
        return Selection(indices=[], scores=[], strategy=strategy, used=strategy, cold_start=cold, reason=reason)
    if strategy == "hybrid":
        return _hybrid(clf, labeled, cand, batch, seed, known, cold, reason, version)
    used = "random" if cold else strategy
    if used == "random":
        s, tie = strategies.score("random", n=len(cand), seed=seed)
    else:
        rows, y = list(labeled.keys()), list(labeled.values())
        clf.fit(rows, y, classes=sorted(known))
        if used in strategies.COMMITTEE_STRATEGIES:
            committee = clf.committee_proba(rows, y, cand, seed)
            s, tie = strategies.score(used, committee=committee)
        else:
            s, tie = strategies.score(used, probs=clf.predict_proba(cand))
    order = strategies.rank(s, tie)
    ordered_rows = [cand[i] for i in order]
    score_of = {cand[i]: float(s[i]) for i in range(len(cand))}
    # features: rows for the diversity step (default: the embeddings when there are, else TF-IDF rows)
    if features is None:
        features = clf.features.diversity_rows()[0]
    chosen, skipped = diverse_batch(ordered_rows, batch, features, threshold, similarity)
    return Selection(
        indices=chosen,
        scores=[score_of[r] for r in chosen],
        strategy=strategy,
        used=used,
        cold_start=cold,
        reason=reason,
        skipped_near_duplicates=len(skipped),
        model_version=version,
    )


def _hybrid(
    clf: TextClassifier,
    labeled: Mapping[int, str],
    cand: list[int],
    batch: int,
    seed: int,
    known: set[str],
    cold: bool,
    reason: str,
    version: str,
) -> Selection:
    """hybrid.py's pick: k-means centres of the pool on a cold start, uncertainty-weighted later."""
    rows = clf.cluster_rows(seed)[cand]
    if cold:
        picked = hybrid.pick(rows, batch, len(labeled), seed)
        scores = [0.0] * len(picked)
        used = "diversity"
        reason = reason.replace("seeded random order", "k-means centres of the pool (diversity)")
    else:
        clf.fit(list(labeled.keys()), list(labeled.values()), classes=sorted(known))
        u, _ = strategies.score("margin", probs=clf.predict_proba(cand))
        picked = hybrid.pick(rows, batch, len(labeled), seed, u)
        scores = [float(u[i]) for i in picked]
        used = "hybrid"
    return Selection(
        indices=[cand[i] for i in picked],
        scores=scores,
        strategy="hybrid",
        used=used,
        cold_start=cold,
        reason=reason,
        model_version=version,
    )
