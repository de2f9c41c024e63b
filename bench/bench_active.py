"""Benchmark: active learning strategies against random on the shipped text sets.

Runs `studio.ops.active.simulate.simulate_many` on each set (random is measured in the same run,
on the same splits, features and seeds) and prints per strategy: the mean learning curve next to
random's, the labels needed to reach random's final score (on the mean curves and per seed) and
the saving that means, the worst gap to random at any budget, and where the stopping rule would
have stopped. Sentence embeddings are cached (~/.cache/studio/embeddings, or STUDIO_CACHE_DIR),
so only the first run embeds the texts.

    nice -n 10 python bench/bench_active.py [--sets topics,sentiment,tickets] [--seeds 3]
        [--strategies hybrid,margin,entropy] [--features auto] [--json FILE]

Sets (fixtures/textclf/README.md): `topics` = WordNet glosses, 4 classes, pool 5,600, test 2,000,
50 steps of 20 (random's final score at 1,000 labels); `sentiment` = movie-review snippets,
2 classes, pool 2,250, test 750, 25 steps (500 labels); `tickets` = the synthetic tickets, 15 steps.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

from studio.ops.active.features import cache_store
from studio.ops.active.gold import read_gold
from studio.ops.active.simulate import SimReport, SimSettings, simulate_many

HERE = Path(__file__).resolve().parent.parent / "fixtures" / "textclf"
SETS = {
    "topics": (HERE / "wordnet_topics.jsonl", 2000 / 7600, 50),
    "sentiment": (HERE / "movie_sentiment.jsonl", 0.25, 25),
    "tickets": (HERE / "tickets.jsonl", 0.25, 15),
}
SHOWN = (20, 40, 60, 100, 200, 300, 400, 500, 600, 800, 1000)


def show(name: str, r: SimReport, seconds: float) -> None:
    print(
        f"\n== {name}: {r.test} held-out, pool {r.pool}, batch {r.batch} x {r.steps} steps, seeds {r.seeds}; "
        f"features {r.features}; {seconds:.0f} s"
    )
    names = [s.strategy for s in r.strategies]
    print(f"{'labels':>6}  {'random':>7}  " + "  ".join(f"{n:>17}" for n in names))
    for k, p in enumerate(r.strategies[0].curve):
        if p.labels in SHOWN or k == len(r.strategies[0].curve) - 1:
            cols = [f"{s.curve[k].score:.3f} ({s.curve[k].gap:+.3f})" for s in r.strategies]
            print(f"{p.labels:>6}  {p.random:>7.3f}  " + "  ".join(f"{c:>17}" for c in cols))
    print(f"random's final {r.metric}: {r.random_final:.3f} at {r.random_final_labels} labels")
    for s in r.strategies:
        per = ", ".join("never" if x is None else str(x) for x in s.per_seed_labels)
        if s.labels_to_match is None:
            reach = "did not reach it"
        else:
            reach = f"reached it with {s.labels_to_match} labels (saving {1 - (s.share_of_random or 0):.0%})"
        stops = ", ".join(
            "-" if a is None else f"{a} ({sc:.3f})" for a, sc in zip(s.stop_at, s.stop_score, strict=True)
        )
        print(
            f"  {s.strategy:>16}: {reach}; per seed {per}; worst gap to random {s.worst_gap:+.3f} "
            f"at {s.worst_gap_labels}; stopping rule at {stops}"
        )
    rnd_stops = ", ".join("-" if a is None else str(a) for a in r.random_stop_at)
    print(f"  {'random':>16}: stopping rule at {rnd_stops}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="topics,sentiment")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--strategies", default="hybrid,margin,entropy")
    ap.add_argument("--features", default="auto")
    ap.add_argument("--steps", type=int, default=0, help="override each set's steps")
    ap.add_argument("--json", type=Path, default=None, help="also write the full reports here")
    args = ap.parse_args()

    load = os.getloadavg()
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    store = cache_store()
    out = {}
    for name in args.sets.split(","):
        path, test_size, steps = SETS[name]
        gold = read_gold(path)
        settings = SimSettings(batch=args.batch, steps=args.steps or steps, test_size=test_size, features=args.features)
        t0 = time.perf_counter()
        r = simulate_many(gold, args.strategies.split(","), list(range(args.seeds)), settings, store)
        show(name, r, time.perf_counter() - t0)
        out[name] = r.model_dump(mode="json")
    print(f"\nload average at start {load[0]:.1f}; uptime now: "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
