"""The registry entries for active learning: `query` (what to review next) and `simulate`.

Arguments and defaults are declared here once; the CLI (`studio/cli/active.py`), the agent and
the app build on these declarations. The work itself is in `query.py` and `simulate.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from studio.errors import StudioError
from studio.ops.active.diversity import DEFAULT_THRESHOLD
from studio.ops.active.query import QueryResult, QuerySettings, read_queue, run_query
from studio.ops.active.simulate import SimReport, SimSettings, simulate_many
from studio.ops.registry import Args, OpContext, Result, operation

Strategy = Literal["random", "least_confidence", "margin", "entropy", "vote_entropy", "kl", "hybrid"]
Features = Literal["auto", "tfidf", "minilm", "minilm+tfidf"]
DEFAULT_STRATEGY = "hybrid"


class QueryArgs(Args):
    strategy: Strategy = Field(
        DEFAULT_STRATEGY,
        description="How to rank: hybrid mixes diversity (few labels) and margin uncertainty (more labels); "
        "random is the baseline.",
    )
    batch: int = Field(20, ge=1, description="How many items to queue.")
    task: Literal["auto", "classification", "ner", "detection"] = Field(
        "auto", description="auto: the guideline's task (detection when --predictions is given)."
    )
    seed: int = Field(0, description="Seed for random order, clustering and bagging.")
    threshold: float = Field(
        DEFAULT_THRESHOLD,
        gt=0,
        le=1,
        description="Keep an item out of the batch when its cosine similarity to a chosen one is above this "
        "(1 keeps near-duplicates).",
    )
    committee: int = Field(5, ge=2, description="Bagged models for vote_entropy and kl.")
    predictions: str | None = Field(
        None,
        description="Detection: predictions as JSON, CSV (image,cls,conf) or a folder of YOLO txt with a conf column.",
        json_schema_extra={"path": True},
    )
    aggregate: Literal["mean", "max", "sum"] = Field("mean", description="Detection: how box scores make an image's.")
    features: Features = Field(
        "auto",
        description="Classification features: auto = MiniLM next to TF-IDF with the embed extra, else TF-IDF.",
    )
    show: bool = Field(False, description="Print the current review queue (newest query) instead of running one.")
    pending: bool = Field(False, description="With --show: only items not reviewed yet.")


class QueryOpResult(QueryResult, Result):
    def summary(self) -> str:
        how = self.used if self.used == self.strategy else f"{self.used} (asked: {self.strategy})"
        return (
            f"query {self.query_id} [{self.task}]: {how} over {self.pool} unlabeled, "
            f"{self.labeled} labeled, model {self.model_version or '-'}"
            + (f" ({self.features})" if self.features else "")
        )


@operation(
    "query",
    args=QueryArgs,
    result=QueryOpResult,
    help="Rank the unlabeled pool and queue what a person should review next.\n\n"
    "Trains a model on the approved labels (logistic regression over MiniLM sentence vectors next to "
    "TF-IDF with the embed extra, TF-IDF alone otherwise; a token classifier for NER, plus weak-source "
    "disagreement from span proposals), scores every unlabeled document and picks a batch. Until every "
    "class has a label the order is seeded random (hybrid: k-means centres of the pool). The query is "
    "logged as a `query.run` decision and its order becomes the review queue (`studio query --show`). "
    "It also says when more labels are unlikely to change the model (stabilizing predictions).",
    side_effects=True,
    # Not yet the agent's tool: the agent keeps its local `query` declaration (studio/agent/tools.py)
    # until its sessions are re-recorded, since the tool list is part of the recorded prompt.
    agent=False,
)
def query(ctx: OpContext, args: QueryArgs) -> QueryOpResult:
    if args.show:
        result = read_queue(ctx.store, include_done=not args.pending)
    else:
        if args.pending:
            raise StudioError("--pending only applies with --show: run `studio query --show --pending`")
        settings = args.pick(QuerySettings, predictions=str(ctx.path(args.predictions)) if args.predictions else None)
        result = run_query(ctx.store, settings)
    return QueryOpResult.model_validate(result.model_dump())


class SimulateArgs(Args):
    gold: str = Field(
        ...,
        description="JSONL or CSV of text and label (classification), or JSONL of text and spans (NER).",
        json_schema_extra={"cli": "argument", "path": True},
    )
    strategy: list[Strategy] = Field(
        default_factory=lambda: ["hybrid", "margin"],
        description="Strategies to compare with random (repeat the option for several).",
    )
    seed: int = Field(0, description="First seed (split, random order, clustering, bagging).")
    seeds: int = Field(1, ge=1, description="How many seeds, from --seed up; curves are averaged over them.")
    batch: int = Field(20, ge=1, description="Labels per step.")
    steps: int = Field(15, ge=1, description="Labeling rounds.")
    test_size: float = Field(0.25, gt=0, lt=1, description="Share of the gold set held out for the metric.")
    threshold: float = Field(
        DEFAULT_THRESHOLD,
        gt=0,
        le=1,
        description="Near-duplicate cosine similarity kept out of one batch (1 keeps all).",
    )
    features: Features = Field("auto", description="Classification features (see `studio query --help`).")
    stop_threshold: float = Field(
        0.99, gt=0, le=1, description="Stopping: mean agreement of the last 3 rounds at which to stop."
    )


class SimulateResult(SimReport, Result):
    def summary(self) -> str:
        lines = []
        for s in self.strategies:
            if s.strategy == "random":
                continue
            if s.labels_to_match is None:
                reach = f"did not reach random's {self.random_final:.3f} within {self.random_final_labels} labels"
            else:
                saving = 1 - (s.share_of_random or 0)
                reach = (
                    f"reached random's {self.random_final:.3f} (at {self.random_final_labels} labels) with "
                    f"{s.labels_to_match} labels: {saving:.0%} fewer"
                )
            lines.append(
                f"{s.strategy}: {reach}; worst gap to random {s.worst_gap:+.3f} at {s.worst_gap_labels} labels"
            )
        return "\n".join(lines)


@operation(
    "simulate",
    args=SimulateArgs,
    result=SimulateResult,
    help="Simulate labeling with GOLD as the oracle: learning curves of each strategy next to random.\n\n"
    "A seeded share of GOLD is held out; each step a strategy picks a batch, the gold labels are revealed, "
    "the model is retrained and scored (macro-F1, or entity F1 for NER). Random runs on the same split and "
    "seed. Reports the mean curves over the seeds, the labels each strategy needed to reach random's final "
    "score, the worst gap to random at any budget, the features used, and where the stopping rule "
    "(stabilizing predictions) would have stopped. The same file, options and seeds give the same result.",
    side_effects=False,
    agent=False,
)
def simulate(ctx: OpContext, args: SimulateArgs) -> SimulateResult:
    from studio.ops.active.gold import read_gold

    gold = read_gold(ctx.path(args.gold))
    settings = args.pick(SimSettings, strategy=args.strategy[0] if args.strategy else "margin")
    seeds = list(range(args.seed, args.seed + args.seeds))

    def report(stage: str, done: int, total: int | None) -> None:
        ctx.check_cancelled()  # between steps: a cancelled simulation stops at the next one
        ctx.report(stage, done, total)

    result = simulate_many(gold, list(args.strategy) or ["margin"], seeds, settings, ctx.store, report)
    return SimulateResult.model_validate(result.model_dump())
