"""Benchmark: active learning strategies against random on the shipped text set.

Runs `studio.ops.active.simulate` for each strategy over several seeds (same split and seed for the
strategy and its random baseline), then prints the mean learning curves side by side and, per
seed, the labels each strategy needed to reach random's final macro-F1 as a share of random's.
The baseline is measured in the same run.

    python bench/bench_active.py [--seeds 5] [--batch 20] [--steps 15] [--strategies margin,entropy]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from studio.ops.active.gold import read_gold
from studio.ops.active.simulate import SimResult, SimSettings, simulate

GOLD = Path(__file__).resolve().parent.parent / "fixtures" / "textclf" / "tickets.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--strategies", default="margin,entropy,least_confidence,vote_entropy")
    ap.add_argument("--gold", type=Path, default=GOLD)
    args = ap.parse_args()

    gold = read_gold(args.gold)
    names = args.strategies.split(",")
    print(
        f"gold: {args.gold.name} ({len(gold.items)} texts, {len(gold.labels())} classes); "
        f"batch {args.batch}, steps {args.steps}, seeds 0..{args.seeds - 1}"
    )
    results: dict[str, list[SimResult]] = {}
    for name in names:
        t0 = time.perf_counter()
        results[name] = [
            simulate(gold, SimSettings(strategy=name, seed=seed, batch=args.batch, steps=args.steps))
            for seed in range(args.seeds)
        ]
        print(f"  {name}: {time.perf_counter() - t0:.1f} s for {args.seeds} seeds (strategy + random)")

    first = results[names[0]]
    labels = [p.labels for p in first[0].curve.points]
    print("\nmean macro-F1 on the held-out split")
    print(f"{'labels':>6}  {'random':>7}  " + "  ".join(f"{n:>16}" for n in names))
    for k, n_labels in enumerate(labels):
        rnd = statistics.mean(r.random.points[k].score for r in first)
        cols = [statistics.mean(r.curve.points[k].score for r in results[n]) for n in names]
        print(f"{n_labels:>6}  {rnd:>7.3f}  " + "  ".join(f"{c:>16.3f}" for c in cols))

    print("\nlabels to reach random's final score, as a share of random's labels (lower is better)")
    for n in names:
        shares = [r.share_of_random for r in results[n]]
        shown = ["never" if s is None else f"{s:.2f}" for s in shares]
        reached = [s for s in shares if s is not None]
        mean = f"{statistics.mean(reached):.2f}" if reached else "n/a"
        cold = [
            p.score - r.random.points[k].score for r in results[n] for k, p in enumerate(r.curve.points) if p.cold_start
        ]
        worst_cold = f"{min(cold):+.3f}" if cold else "n/a"
        print(f"  {n:>16}: per seed {', '.join(shown)}; mean {mean}; worst cold-start gap vs random {worst_cold}")
    finals = {n: statistics.mean(r.curve.final for r in results[n]) for n in names}
    rnd_final = statistics.mean(r.random.final for r in first)
    print(
        f"\nfinal macro-F1 at {labels[-1]} labels: random {rnd_final:.3f}; "
        + ", ".join(f"{n} {v:.3f}" for n, v in finals.items())
    )


if __name__ == "__main__":
    main()
