"""A simulated labeling loop: the gold labels play the human, so strategies can be compared.

The gold set is split once per seed (stratified by label for classification) into a pool and a
held-out test split. Each step a strategy picks a batch from the unlabeled pool, the oracle
reveals the gold labels, the model is retrained, and the metric on the test split is one point
of the learning curve. Every strategy and `random` run on the same split, features and seed, so
the baseline is measured in the same run. Per strategy the report gives the mean curve over the
seeds, the labels needed to reach random's final score (per seed and on the mean curves), the
worst gap to random at any budget, and where the stopping rule (`stopping.py`) would have said
"enough". Everything is seeded: the same gold file, settings and seeds give the same report.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from studio.errors import StudioError
from studio.ops.active import stopping, strategies
from studio.ops.active.diversity import DEFAULT_THRESHOLD
from studio.ops.active.features import FEATURES, TextFeatures
from studio.ops.active.gold import GoldSet
from studio.ops.active.threads import single_thread

if TYPE_CHECKING:
    from studio.ops.active.textclf import Selection

Report = Callable[[str, int, int | None], None]  # (stage, done, total)


class SimSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: str = "margin"
    seed: int = 0
    batch: int = Field(default=20, ge=1)
    steps: int = Field(default=15, ge=1)
    test_size: float = Field(default=0.25, gt=0, lt=1)
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0)
    committee: int = Field(default=5, ge=2)
    features: str = "auto"
    stop_threshold: float = Field(default=stopping.THRESHOLD, gt=0, le=1)


class CurvePoint(BaseModel):
    labels: int
    score: float
    cold_start: bool = False
    agreement: float | None = None  # kappa of this round's predictions with the previous round's


class Curve(BaseModel):
    strategy: str
    points: list[CurvePoint]
    stop_at: int | None = None  # labels at which the stopping rule first said stop

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
    features: str = "tfidf"
    features_reason: str = ""
    problems: list[str] = Field(default_factory=list)


class MeanPoint(BaseModel):
    labels: int
    score: float
    random: float
    gap: float  # score - random (mean over seeds)


class StrategySummary(BaseModel):
    strategy: str
    curve: list[MeanPoint]  # mean over seeds, next to random's mean
    labels_to_match: int | None  # on the mean curves
    share_of_random: float | None
    per_seed_labels: list[int | None]
    per_seed_share: list[float | None]
    worst_gap: float  # min over budgets of mean(strategy) - mean(random)
    worst_gap_labels: int
    final: float
    stop_at: list[int | None]  # per seed: labels when the stopping rule fired (None: not within the run)
    stop_score: list[float | None]  # per seed: the strategy's score at that point


class SimReport(BaseModel):
    task: str
    metric: str
    features: str
    features_reason: str
    seeds: list[int]
    pool: int
    test: int
    batch: int
    steps: int
    random_final: float  # mean over seeds
    random_final_labels: int
    random_stop_at: list[int | None]
    stop_threshold: float = stopping.THRESHOLD
    strategies: list[StrategySummary]
    runs: list[SimResult]  # one per (strategy, seed), curves included
    problems: list[str] = Field(default_factory=list)

    def best(self) -> StrategySummary | None:
        """The strategy that matched random with the fewest labels (mean curves)."""
        done = [s for s in self.strategies if s.labels_to_match is not None and s.strategy != "random"]
        return min(done, key=lambda s: (s.labels_to_match, -s.worst_gap)) if done else None


class Learner(Protocol):
    """One task's model in the loop: choose a batch, score on the test split, predict a stop set."""

    def select(
        self, labeled: Mapping[int, object], candidates: Sequence[int], strategy: str, seed: int
    ) -> Selection: ...

    def evaluate(self, labeled: Mapping[int, object]) -> float: ...

    def stop_predictions(self, labeled: Mapping[int, object]) -> list[str] | None: ...


class TextClfLearner:
    def __init__(
        self,
        features: TextFeatures,
        test: Sequence[str],
        test_y: Sequence[str],
        classes: Sequence[str],
        settings: SimSettings,
        stop_rows: Sequence[int],
    ) -> None:
        from studio.ops.active.textclf import TextClassifier, TextClfParams

        self.clf = TextClassifier([], TextClfParams(committee=settings.committee), features=features)
        self.test, self.test_y = list(test), list(test_y)
        self.features = features
        self._test_X: dict[str, Any] = {}
        self.classes, self.settings = list(classes), settings
        self.stop_rows = list(stop_rows)

    def select(self, labeled: Mapping[int, object], candidates: Sequence[int], strategy: str, seed: int) -> Selection:
        from studio.ops.active.textclf import select

        lab = {i: str(v) for i, v in labeled.items()}
        s = self.settings
        return select(self.clf, lab, candidates, strategy, s.batch, seed, self.classes, s.threshold)

    def _fit(self, labeled: Mapping[int, object]) -> bool:
        y = [str(v) for v in labeled.values()]
        if len(set(y)) < 2:
            return False
        self.clf.fit(list(labeled.keys()), y, classes=self.classes)
        return True

    def evaluate(self, labeled: Mapping[int, object]) -> float:
        from sklearn.metrics import f1_score

        if self._fit(labeled):
            choice = self.clf.choice
            if choice not in self._test_X:
                self._test_X[choice] = self.features.transform(self.test, choice)
            p = self.clf._proba(self.clf.model, None, self._test_X[choice])
            pred = [self.clf.classes[i] for i in p.argmax(axis=1)]
        else:
            y = [str(v) for v in labeled.values()]
            pred = [y[0] if y else ""] * len(self.test)
        return float(f1_score(self.test_y, pred, labels=self.classes, average="macro", zero_division=0))

    def stop_predictions(self, labeled: Mapping[int, object]) -> list[str] | None:
        if not self._fit(labeled):
            return None
        p = self.clf.predict_proba(self.stop_rows)
        return [self.clf.classes[i] for i in p.argmax(axis=1)]


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
    seed: int,
    tick: Callable[[], None] | None = None,
) -> Curve:
    labeled: dict[int, object] = {}
    points: list[CurvePoint] = []
    state = stopping.StopState(threshold=settings.stop_threshold)
    previous: list[str] | None = None
    stop_at: int | None = None
    for step in range(settings.steps):
        candidates = [i for i in range(len(oracle)) if i not in labeled]
        if not candidates:
            break
        sel = learner.select(labeled, candidates, strategy, seed * 1000 + step)
        for i in sel.indices:
            labeled[i] = oracle[i]
        score = round(learner.evaluate(labeled), 6)
        current = learner.stop_predictions(labeled)
        agreement = None
        if current is not None:
            state = stopping.add_round(state, previous, current)
            agreement = state.agreements[-1] if previous is not None else None
            previous = current
            if stop_at is None and state.stop:
                stop_at = len(labeled)
        points.append(CurvePoint(labels=len(labeled), score=score, cold_start=sel.cold_start, agreement=agreement))
        if tick:
            tick()
    return Curve(strategy=strategy, points=points, stop_at=stop_at)


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


def simulate(gold: GoldSet, settings: SimSettings, progress: Any = None, store: Any = None) -> SimResult:
    """One strategy, one seed, next to random (see `simulate_many` for several)."""
    report = simulate_many(
        gold, [settings.strategy], [settings.seed], settings, store, _adapt(progress) if progress else None
    )
    return report.runs[0]


def _adapt(progress: Callable[[int, int], None]) -> Report:
    def report(stage: str, done: int, total: int | None) -> None:
        if stage == "simulating" and total:
            progress(done, total)

    return report


def _check(gold: GoldSet, names: Sequence[str], settings: SimSettings) -> None:
    bad = [n for n in names if n not in strategies.STRATEGIES]
    if bad:
        raise StudioError(f"unknown strategy {bad[0]!r}: use one of {', '.join(strategies.STRATEGIES)}")
    if settings.features not in FEATURES:
        raise StudioError(f"unknown features {settings.features!r}: use one of {', '.join(FEATURES)}")
    if gold.task == "classification" and len(gold.labels()) < 2:
        raise StudioError("the gold file has fewer than two classes: there is nothing to classify")


def simulate_many(
    gold: GoldSet,
    names: Sequence[str],
    seeds: Sequence[int],
    settings: SimSettings,
    store: Any = None,
    report: Report | None = None,
) -> SimReport:
    """Each strategy in `names` and random, on each seed; `store` caches sentence embeddings."""
    _check(gold, names, settings)
    names = [n for n in dict.fromkeys(names) if n != "random"] or ["random"]
    with single_thread():
        return _simulate_many(gold, names, list(seeds), settings, store, report)


def _simulate_many(
    gold: GoldSet,
    names: list[str],
    seeds: list[int],
    settings: SimSettings,
    store: Any,
    report: Report | None,
) -> SimReport:
    runs_per_seed = 1 + sum(1 for n in names if n != "random")
    total = len(seeds) * runs_per_seed * settings.steps
    done = 0
    features_name, features_reason = "tfidf", ""
    per_seed: dict[str, list[Curve]] = {n: [] for n in names}
    randoms: list[Curve] = []
    pool_n = test_n = 0
    metric = "macro_f1" if gold.task == "classification" else "entity_f1"

    def tick() -> None:
        nonlocal done
        done += 1
        if report:
            report("simulating", done, total)

    for seed in seeds:
        make, oracle, pool_n, test_n, features_name, features_reason = _setup(gold, settings, seed, store, report)
        rnd = run_curve(make(), oracle, "random", settings, seed, tick)
        randoms.append(rnd)
        for n in names:
            per_seed[n].append(rnd if n == "random" else run_curve(make(), oracle, n, settings, seed, tick))

    runs: list[SimResult] = []
    summaries: list[StrategySummary] = []
    for n in names:
        for seed, curve, rnd in zip(seeds, per_seed[n], randoms, strict=True):
            labels, share = compare(curve, rnd)
            runs.append(
                SimResult(
                    task=gold.task,
                    metric=metric,
                    seed=seed,
                    pool=pool_n,
                    test=test_n,
                    batch=settings.batch,
                    steps=settings.steps,
                    curve=curve,
                    random=rnd,
                    random_final=rnd.final,
                    labels_to_match=labels,
                    share_of_random=share,
                    features=features_name,
                    features_reason=features_reason,
                    problems=gold.problems,
                )
            )
        summaries.append(summarize(n, per_seed[n], randoms))
    mean_random = _mean_curve("random", randoms)
    return SimReport(
        task=gold.task,
        metric=metric,
        features=features_name,
        features_reason=features_reason,
        seeds=seeds,
        pool=pool_n,
        test=test_n,
        batch=settings.batch,
        steps=settings.steps,
        random_final=mean_random.final,
        random_final_labels=mean_random.points[-1].labels if mean_random.points else 0,
        random_stop_at=[r.stop_at for r in randoms],
        stop_threshold=settings.stop_threshold,
        strategies=summaries,
        runs=runs,
        problems=gold.problems,
    )


def _mean_curve(name: str, curves: Sequence[Curve]) -> Curve:
    n = min(len(c.points) for c in curves) if curves else 0
    pts = [
        CurvePoint(
            labels=curves[0].points[k].labels,
            score=round(statistics.fmean(c.points[k].score for c in curves), 6),
        )
        for k in range(n)
    ]
    return Curve(strategy=name, points=pts)


def summarize(name: str, curves: Sequence[Curve], randoms: Sequence[Curve]) -> StrategySummary:
    mean, mean_rnd = _mean_curve(name, curves), _mean_curve("random", randoms)
    labels, share = compare(mean, mean_rnd)
    per = [compare(c, r) for c, r in zip(curves, randoms, strict=True)]
    points = [
        MeanPoint(labels=p.labels, score=p.score, random=r.score, gap=round(p.score - r.score, 6))
        for p, r in zip(mean.points, mean_rnd.points, strict=True)
    ]
    worst = min(points, key=lambda p: (p.gap, p.labels)) if points else MeanPoint(labels=0, score=0, random=0, gap=0)
    stop_score = [
        next((p.score for p in c.points if p.labels == c.stop_at), None) if c.stop_at else None for c in curves
    ]
    return StrategySummary(
        strategy=name,
        curve=points,
        labels_to_match=labels,
        share_of_random=share,
        per_seed_labels=[p[0] for p in per],
        per_seed_share=[p[1] for p in per],
        worst_gap=worst.gap,
        worst_gap_labels=worst.labels,
        final=mean.final,
        stop_at=[c.stop_at for c in curves],
        stop_score=stop_score,
    )


def _setup(
    gold: GoldSet, settings: SimSettings, seed: int, store: Any, report: Report | None
) -> tuple[Callable[[], Learner], list[object], int, int, str, str]:
    """(learner factory, oracle, pool size, test size, features, why) for one seed's split."""
    if gold.task == "classification":
        keys = [i.label for i in gold.items]
        pool, test = split(keys, settings.test_size, seed)
        classes = gold.labels()
        texts = [gold.items[i].text for i in pool]
        test_texts = [gold.items[i].text for i in test]
        oracle: list[object] = [gold.items[i].label for i in pool]

        def embed_progress(message: str, frac: float | None) -> None:
            if report and frac is not None:
                report("embedding", round(frac * 1000), 1000)

        features = TextFeatures(texts, settings.features, store, extra_texts=test_texts, progress=embed_progress)
        stop_rows = stopping.stop_set(len(pool), seed)

        def make() -> Learner:
            return TextClfLearner(
                features, test_texts, [gold.items[i].label for i in test], classes, settings, stop_rows
            )

        return make, oracle, len(pool), len(test), features.name, features.reason

    from studio.ops.active.ner import NerLearner, rarest_label

    keys = [rarest_label(i.spans, gold.items) for i in gold.items]
    pool, test = split(keys, settings.test_size, seed)
    oracle = [gold.items[i].spans for i in pool]

    def make_ner() -> Learner:
        return NerLearner(
            [gold.items[i].text for i in pool],
            [gold.items[i] for i in test],
            gold.labels(),
            settings.batch,
            settings.threshold,
        )

    return make_ner, oracle, len(pool), len(test), "token-logreg", "NER: token logistic regression"
