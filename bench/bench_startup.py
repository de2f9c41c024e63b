"""Benchmark: what `studio --help` costs at start-up, against a baseline checkout in the same run.

Runs `python -m studio --help` from this checkout and from a baseline one (another worktree or
clone, e.g. main), alternating, and prints the median wall and CPU seconds of each, their ratio,
and the heavy libraries each start-up imported (numpy, httpx, PIL, rapidfuzz, rich, spacy). CPU
seconds (user + sys of the child) move less with the machine's load than wall seconds.

  python bench/bench_startup.py --baseline /work/main [--runs 7] [--args "--help"]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("numpy", "httpx", "PIL", "rapidfuzz", "rich", "spacy", "charset_normalizer", "yaml")
HERE = Path(__file__).resolve().parent.parent


def once(tree: Path, args: list[str]) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "studio", *args], cwd=tree, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def heavy_imports(tree: Path, args: list[str]) -> list[str]:
    code = (
        "import sys, runpy\nsys.argv = ['studio', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('studio', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', ' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env=env, capture_output=True, text=True)
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY")), "HEAVY ?")
    return line.split()[1:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, required=True, help="a checkout to compare with (e.g. /work/main)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--args", default="--help", help="the studio arguments to time (default: --help)")
    opts = ap.parse_args()
    args = opts.args.split()
    trees = {"baseline": opts.baseline.resolve(), "this": HERE}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
    for tree in trees.values():
        once(tree, args)  # warm the file cache and the .pyc files
    for _ in range(opts.runs):
        for name, tree in trees.items():
            times[name].append(once(tree, args))
    print(f"studio {' '.join(args)}: median of {opts.runs} runs each, alternating; load {os.getloadavg()[0]:.2f}")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    for name, tree in trees.items():
        wall, cpu = med[name]
        print(
            f"  {name:8s} wall {wall:.2f} s, cpu {cpu:.2f} s  imports: {' '.join(heavy_imports(tree, args)) or '-'}  ({tree})"
        )
    print(
        f"  ratio this/baseline: wall {med['this'][0] / med['baseline'][0]:.2f}, "
        f"cpu {med['this'][1] / med['baseline'][1]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
