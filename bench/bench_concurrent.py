"""Benchmark: several annotators writing one project at once, against one process writing alone.

Each writer is a separate process with its own `Store.open` (as when several people run
`studio --user NAME review` on one project folder over SSH). Every decision is a real
`Store.record` call, one transaction each, as the review loop makes them: `label.add` of a
distinct span on a shared document, by `human:<writer>`. The writers wait on one barrier so they
contend from the first decision.

Afterwards the script checks that every decision is present (per writer, by its sequence number),
that the materialized labels match, and `PRAGMA integrity_check`. The baseline, measured in the
same run on a fresh project: one process writing workers x per-worker decisions alone.

    python bench/bench_concurrent.py [--workers 4] [--per-worker 500] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TEXT = (
    "SEOUL, March 3 (Newswire) - NAVER and Kakao shares rose as Samsung Electronics reported results; "
    "analyst Ji-woo Park of Mirae Asset said the KOSPI gained 1.2% by noon. "
) * 8
DOCS = 40


def setup(project: Path) -> None:
    from studio.schema import Document
    from studio.store import Store

    with Store.init(project) as store:
        store.add_documents([Document(text=f"{i}. {TEXT}") for i in range(DOCS)])


def write(project: str, name: str, n: int, barrier: Any = None, out: Any = None) -> float:
    """Record `n` label.add decisions as human:`name`, one transaction each; returns the seconds it took."""
    from studio.store import Store

    with Store.open(project) as store:
        store.start_session(f"bench:{name}")
        doc_ids = store.document_ids()
        if barrier is not None:
            barrier.wait()
        t0 = time.perf_counter()
        for i in range(n):
            doc = doc_ids[i % len(doc_ids)]
            start = (i // len(doc_ids)) % 400
            span = {"start": start, "end": start + 1, "label": f"W_{name.upper()}", "text": ""}
            store.record(f"human:{name}", "label.add", [f"doc:{doc}"], {"document_id": doc, "span": span, "seq": i})
        seconds = time.perf_counter() - t0
    if out is not None:
        out.put((name, seconds))
    return seconds


def check(project: Path, writers: dict[str, int]) -> dict[str, Any]:
    """Every writer's decisions 0..n-1 present exactly once, labels materialized, integrity ok."""
    conn = sqlite3.connect(project / "studio.db")
    missing = {}
    for name, n in writers.items():
        seqs = [
            r[0]
            for r in conn.execute(
                "SELECT json_extract(payload, '$.seq') FROM decisions WHERE actor = ? AND action = 'label.add'",
                (f"human:{name}",),
            )
        ]
        lost = n - len(set(seqs))
        if lost or len(seqs) != n:
            missing[name] = {"expected": n, "found": len(seqs), "distinct": len(set(seqs))}
    labels = {
        r[0]: r[1] for r in conn.execute("SELECT label, COUNT(*) FROM labels WHERE label LIKE 'W\\_%' ESCAPE '\\'")
    }
    n_labels = sum(labels.values())
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    return {
        "missing": missing,
        "labels": n_labels,
        "expected_labels": sum(min(n, DOCS * 400) for n in writers.values()),
        "integrity": integrity,
    }


def run(workers: int, per_worker: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-concurrent-") as tmp:
        alone = Path(tmp) / "alone"
        setup(alone)
        t0 = time.perf_counter()
        write(str(alone), "solo", workers * per_worker)
        alone_s = time.perf_counter() - t0
        alone_check = check(alone, {"solo": workers * per_worker})

        shared = Path(tmp) / "shared"
        setup(shared)
        names = [f"ann{k}" for k in range(workers)]
        barrier = ctx.Barrier(workers + 1)
        out = ctx.Queue()
        procs = [ctx.Process(target=write, args=(str(shared), name, per_worker, barrier, out)) for name in names]
        for p in procs:
            p.start()
        barrier.wait(timeout=120)
        t0 = time.perf_counter()
        results = [out.get(timeout=600) for _ in procs]
        together_s = time.perf_counter() - t0
        for p in procs:
            p.join(timeout=60)
        failed = [p.exitcode for p in procs if p.exitcode]
        together_check = check(shared, dict.fromkeys(names, per_worker))
    ok = (
        not failed
        and not together_check["missing"]
        and together_check["integrity"] == "ok"
        and together_check["labels"] == together_check["expected_labels"]
    )
    return {
        "workers": workers,
        "per_worker": per_worker,
        "decisions": workers * per_worker,
        "alone_s": round(alone_s, 3),
        "together_s": round(together_s, 3),
        "ratio": round(together_s / alone_s, 2) if alone_s else None,
        "per_writer_s": {name: round(s, 3) for name, s in sorted(results)},
        "alone_check": alone_check,
        "together_check": together_check,
        "ok": ok,
        "load": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--per-worker", type=int, default=500)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    out = run(args.workers, args.per_worker)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        n = out["decisions"]
        print(f"{args.workers} processes x {args.per_worker} decisions at once: {out['together_s']:.2f} s")
        print(f"1 process x {n} decisions alone (baseline):   {out['alone_s']:.2f} s")
        print(
            f"ratio together/alone: {out['ratio']}  ({n / out['together_s']:.0f} vs {n / out['alone_s']:.0f} decisions/s)"
        )
        c = out["together_check"]
        print(
            f"check: missing {c['missing'] or 'none'}, labels {c['labels']}/{c['expected_labels']}, "
            f"integrity {c['integrity']}; load average {out['load'][0]:.2f}"
        )
    sys.exit(0 if out["ok"] else 1)


if __name__ == "__main__":
    main()
