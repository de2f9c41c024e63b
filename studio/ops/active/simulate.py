"""A simulated labeling loop: the gold labels play the human, so strategies can be compared.

The gold set is split once (seeded, stratified by label for classification) into a pool and a
held-out test split. Each step the strategy picks a batch from the unlabeled pool, the oracle
reveals the gold labels, the model is retrained, and the metric on the test split is one point
of the learning curve. The chosen strategy and `random` run on the same split and seed, and the
result says what share of random's labels the strategy needed to reach random's final score.
Everything is seeded: the same gold file, settings and seed give the same curves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import f1_score

from studio.errors import StudioError
from studio.ops.active import strategies
from studio.ops.active.diversity import DEFAULT_THRESHOLD
from studio.ops.active.gold import GoldSet
from studio.ops.active.textclf import Selection, TextClassifier, TextClfParams, select
from studio.ops.active.threads import single_thread

Progress = Callable[[int, int], None]  # (done, total)


class SimSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: str = "margin"
    seed: int = 0
    batch: int = Field(default=20, ge=1)
    steps: int = Field(default=15, ge=1)
    test_size: float = Field(default=0.25, gt=0, lt=1)
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0)
    committee: int = Field(default=5, ge=2)


class CurvePoint(BaseModel):
    labels: int
    score: float
    cold_start: bool = False


class Curve(BaseModel):
    strategy: str
    points: list[CurvePoint]

    @property
    def final(self) -> float:
        return self.points[-1].score if self.points else 0.0


class SimResult(BaseModel):
    task: str
    metric: str
    seed: int
    pool: int
    test: int
    batch: int
    steps: int
    curve: Curve
    random: Curve
    random_final: float
    labels_to_match: int | None  # labels the strategy needed to reach random's final score
    share_of_random: float | None  # labels_to_match / random's final label count
    problems: list[str] = Field(default_factory=list)


class Learner(Protocol):
    """One task's model in the loop: choose a batch, and score on the test split."""

    def select(
        self, labeled: Mapping[int, object], candidates: Sequence[int], strategy: str, seed: int
    ) -> Selection: ...

    def evaluate(self, labeled: Mapping[int, object]) -> float: ...


class TextClfLearner:
    def __init__(
        self,
        pool: Sequence[str],
        pool_y: Sequence[str],
        test: Sequence[str],
        test_y: Sequence[str],
        classes: Sequence[str],
        settings: SimSettings,
    ) -> None:
        self.clf = TextClassifier(pool, TextClfParams(committee=settings.committee))
        self.pool_y, self.test, self.test_y = list(pool_y), list(test), list(test_y)
        self.classes, self.settings = list(classes), settings

    def select(self, labeled: Mapping[int, object], candidates: Sequence[int], strategy: str, seed: int) -> Selection:
        lab = {i: str(v) for i, v in labeled.items()}
        s = self.settings
        return select(self.clf, lab, candidates, strategy, s.batch, seed, self.classes, s.threshold)

    def evaluate(self, labeled: Mapping[int, object]) -> float:
        y = [str(v) for v in labeled.values()]
        if len(set(y)) < 2:
            pred = [y[0]] * len(self.test) if y else [""] * len(self.test)
        else:
            self.clf.fit(list(labeled.keys()), y, classes=self.classes)
            pred = self.clf.predict_texts(self.test)
        return float(f1_score(self.test_y, pred, labels=self.classes, average="macro", zero_division=0))


def split(keys: Sequence[str], test_size: float, seed: int) -> tuple[list[int], list[int]]:
    """(pool, test) indices, stratified by key: each key puts round(test_size * n) in test, keeping
    at least one in the pool."""
    rng = np.random.default_rng(seed)
    pool: list[int] = []
    test: list[int] = []
    by_key: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        by_key.setdefault(k, []).append(i)
    for k in sorted(by_key):
        idx = by_key[k]
        order = [idx[j] for j in rng.permutation(len(idx))]
        n_test = min(round(test_size * len(idx)), len(idx) - 1)
        test += order[:n_test]
        pool += order[n_test:]
    return sorted(pool), sorted(test)


def run_curve(
    learner: Learner,
    oracle: Sequence[object],
    strategy: str,
    settings: SimSettings,
    progress: Progress | None = None,
    done: int = 0,
    total: int = 0,
) -> Curve:
    labeled: dict[int, object] = {}
    points: list[CurvePoint] = []
    for step in range(settings.steps):
        candidates = [i for i in range(len(oracle)) if i not in labeled]
        if not candidates:
            break
        sel = learner.select(labeled, candidates, strategy, settings.seed * 1000 + step)
        for i in sel.indices:
            labeled[i] = oracle[i]
        points.append(
            CurvePoint(labels=len(labeled), score=round(learner.evaluate(labeled), 6), cold_start=sel.cold_start)
        )
        if progress:
            progress(done + step + 1, total)
    return Curve(strategy=strategy, points=points)


def compare(curve: Curve, baseline: Curve) -> tuple[int | None, float | None]:
    """Labels the curve needs to reach the baseline's final score, and that as a share of the
    baseline's final label count (None when it never gets there)."""
    if not baseline.points:
        return None, None
    target = baseline.final
    for p in curve.points:
        if p.score >= target - 1e-9:
            return p.labels, round(p.labels / baseline.points[-1].labels, 4)
    return None, None


def simulate(gold: GoldSet, settings: SimSettings, progress: Progress | None = None) -> SimResult:
    with single_thread():
        return _simulate(gold, settings, progress)


def _simulate(gold: GoldSet, settings: SimSettings, progress: Progress | None = None) -> SimResult:
    if settings.strategy not in strategies.STRATEGIES:
        raise StudioError(f"unknown strategy {settings.strategy!r}: use one of {', '.join(strategies.STRATEGIES)}")
    if gold.task == "classification":
        keys = [i.label for i in gold.items]
        pool, test = split(keys, settings.test_size, settings.seed)
        classes = gold.labels()
        if len(classes) < 2:
            raise StudioError("the gold file has fewer than two classes: there is nothing to classify")
        texts = [gold.items[i].text for i in pool]
        oracle: list[object] = [gold.items[i].label for i in pool]

        def make() -> Learner:
            return TextClfLearner(
                texts,
                [str(o) for o in oracle],
                [gold.items[i].text for i in test],
                [gold.items[i].label for i in test],
                classes,
                settings,
            )

        metric = "macro_f1"
    else:
        from studio.ops.active.ner import NerLearner, rarest_label

        keys = [rarest_label(i.spans, gold.items) for i in gold.items]
        pool, test = split(keys, settings.test_size, settings.seed)
        oracle = [gold.items[i].spans for i in pool]

        def make() -> Learner:
            return NerLearner(
                [gold.items[i].text for i in pool],
                [gold.items[i] for i in test],
                gold.labels(),
                settings.batch,
                settings.threshold,
            )

        metric = "entity_f1"
    total = settings.steps * (1 if settings.strategy == "random" else 2)
    curve = run_curve(make(), oracle, settings.strategy, settings, progress, 0, total)
    base = (
        curve
        if settings.strategy == "random"
        else run_curve(make(), oracle, "random", settings, progress, settings.steps, total)
    )
    labels_needed, share = compare(curve, base)
    return SimResult(
        task=gold.task,
        metric=metric,
        seed=settings.seed,
        pool=len(pool),
        test=len(test),
        batch=settings.batch,
        steps=settings.steps,
        curve=curve,
        random=base,
        random_final=base.final,
        labels_to_match=labels_needed,
        share_of_random=share,
        problems=gold.problems,
    )
