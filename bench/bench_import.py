"""Benchmark: `studio import` of many lines with the near-duplicate check on, against --no-near-dups.

Writes a corpus of N news-like lines (default 100,000; 2% of them near copies of earlier lines:
a byline added, a word changed, the line in capitals; some Korean), then imports it with
`--per-line` into fresh projects, each run in its own process so peak memory is its own:
first with `--no-near-dups` (the baseline), then with the check on. Prints seconds, peak RSS,
the ratio to the baseline, and how many planted near copies the check reported.

    nice -n 10 python bench/bench_import.py [--lines 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMPANIES = ["Hyundai Mobis", "LG Energy Solution", "Samsung Heavy Industries", "SK hynix", "Naver", "Kakao Bank",
             "POSCO Holdings", "Coupang", "Celltrion", "HD Hyundai", "Doosan Enerbility", "KB Financial"]  # fmt: skip
CITIES = ["SEOUL", "BUSAN", "INCHEON", "ULSAN", "DAEJEON", "GWANGJU", "TOKYO", "SINGAPORE"]
VERBS = ["reported", "announced", "forecast", "posted", "cut", "raised", "signed", "won", "lost", "delayed"]
THINGS = ["quarterly operating profit", "a battery supply deal", "an LNG carrier order", "memory chip prices",
          "its dividend", "a bond sale", "plant investment", "export volumes", "a labor agreement"]  # fmt: skip
KOREAN = ["삼성전자가", "현대차가", "카카오가", "네이버가", "LG화학이"]
KO_TAIL = ["3분기 영업이익을 발표했다", "신규 공장 투자를 밝혔다", "배터리 공급 계약을 체결했다"]


def corpus(n: int, seed: int) -> tuple[list[str], int]:
    rng = random.Random(seed)
    syllables = ["ka", "mi", "so", "ren", "tal", "do", "hyu", "ng", "bar", "lee", "sun", "po", "gi", "won", "ex",
                 "port", "mar", "ket", "chip", "deal", "ra", "te", "in", "dex"]  # fmt: skip
    vocab = sorted({"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(8000)})
    lines: list[str] = []
    planted = 0
    while len(lines) < n:
        if lines and rng.random() < 0.02:
            base = rng.choice(lines)
            kind = rng.randrange(3)
            if kind == 0:
                line = base + f" (Reporting by {rng.choice(['Kim Min-jun', 'Lee Seo-yeon', 'Park Ji-hoon'])})"
            elif kind == 1:
                words = base.split()
                words[rng.randrange(len(words))] = rng.choice(["sharply", "again", "early"])
                line = " ".join(words)
            else:
                line = base.upper()
            if line != base:
                lines.append(line)
                planted += 1
            continue
        body = " ".join(rng.choices(vocab, k=rng.randint(10, 25)))
        if rng.random() < 0.1:
            line = f"{rng.choice(KOREAN)} {body} {rng.choice(KO_TAIL)}"
        else:
            line = (
                f"{rng.choice(CITIES)}, {rng.choice(['March', 'June', 'Oct.'])} {rng.randint(1, 28)} -- "
                f"{rng.choice(COMPANIES)} {rng.choice(VERBS)} {rng.choice(THINGS)}: {body}."
            )
        lines.append(line)
    return lines, planted


def worker(path: str, project: str, near: bool) -> None:
    from studio.ops.collect.importer import ImportSettings, import_paths
    from studio.store import Store

    store = Store.init(project)
    t0 = time.perf_counter()
    res = import_paths(store, [path], ImportSettings(per_line=True, near_dups=near))
    secs = time.perf_counter() - t0
    store.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"seconds": secs, "rss_mb": rss_mb, "imported": res.imported, "near": len(res.near_duplicates)}
    print(json.dumps(out))


def run(path: Path, project: Path, near: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(path), str(project), "1" if near else "0"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4] == "1")
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    lines, planted = corpus(args.lines, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "news.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        size = path.stat().st_size / 1e6
        print(f"corpus: {len(lines)} lines ({size:.1f} MB), {planted} planted near copies")
        base = run(path, Path(tmp) / "baseline", near=False)
        check = run(path, Path(tmp) / "check", near=True)
    print(f"{'run':<22}{'seconds':>9}{'peak RSS MB':>13}{'imported':>10}{'near copies':>13}")
    for name, r in (("--no-near-dups (base)", base), ("near-dup check on", check)):
        print(f"{name:<22}{r['seconds']:>9.1f}{r['rss_mb']:>13.0f}{r['imported']:>10}{r['near']:>13}")
    print(f"ratio (check / baseline): {check['seconds'] / base['seconds']:.2f}x time, "
          f"{check['rss_mb'] / base['rss_mb']:.2f}x peak memory")  # fmt: skip


if __name__ == "__main__":
    main()
