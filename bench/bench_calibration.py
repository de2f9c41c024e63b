"""Calibration and F1 of the combined proposals with learned weights, before (a baseline checkout) and after (this
tree), in one run on the same reviewed projects, students and LLM answers (prints numbers; not a test).

The reviewed projects are made as `bench_learning_curve.py` makes them (`reviewed_project`, `studio train`) and
kept under `--work` so that both code trees judge the same students; the LLM's answers come from a file written
by `bench_learning_curve.py --llm-votes` (never asked here). For each language and budget, each tree prints:
each source alone, the combination without the LLM on the whole test split and with it on the LLM's sample (the
LLM's record from the other sample folds, `sample_weights`), strict F1 and the ECE of the combined confidences
(10 equal-width bins over every test candidate).

    git archive BASE | tar -x -C /tmp/base      # the baseline tree (e.g. main)
    nice -n 10 python bench/bench_calibration.py --baseline /tmp/base --llm-votes VOTES.json \
        [--lang en ko] [--budgets 0 20 100] [--work DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", nargs="+", default=["en", "ko"])
    ap.add_argument("--budgets", nargs="+", type=int, default=[0, 20, 100])
    ap.add_argument("--llm-sample", type=int, nargs=2, default=[40, 24], metavar=("EN", "KO"))
    ap.add_argument("--llm-votes", type=Path, default=None, help="LLM answers from bench_learning_curve --llm-votes")
    ap.add_argument("--baseline", type=Path, default=None, help="a checkout of the code to compare against")
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_calibration"), help="reviewed projects kept here")
    ap.add_argument("--code", type=Path, default=None, help=argparse.SUPPRESS)  # child: the tree to import
    return ap.parse_args(argv)


def _curve(code: Path) -> ModuleType:
    """`code`'s bench_learning_curve (which imports `studio` from `code`)."""
    spec = importlib.util.spec_from_file_location("bench_learning_curve", code / "bench" / "bench_learning_curve.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    import studio

    assert Path(studio.__file__).resolve().is_relative_to(code.resolve()), studio.__file__
    return mod


def project(curve: ModuleType, work: Path, lang: str, b: int, pretrained_pool: Any) -> tuple[Any, Any]:
    """The reviewed project of `b` documents (made once under `work`) and its student (None at 0)."""
    from studio.ops import registry
    from studio.ops.ner.sources import newest_student
    from studio.store import Store

    root = work / f"{lang}_{b}"
    if (root / "done").exists():
        store = Store.open(root / "p")
    else:
        if root.exists():
            import shutil

            shutil.rmtree(root)
        root.mkdir(parents=True)
        g = curve.guideline(lang)
        store = curve.reviewed_project(root / "p", g, curve.read(f"news_{lang}_train")[:b], pretrained_pool)
        if b >= 20:
            registry.run("train", {"name": "student"}, registry.OpContext(store=store, actor="tool"))
        (root / "done").write_text("ok")
    return store, newest_student(store.root) if b >= 20 else None


def sample_weights(store: Any, student: Any, sample: list, weak: dict, llm: list, folds: int = 5) -> list[Any]:
    """As bench_learning_curve.sample_weights, with the `weights_from` of the tree under test."""
    from studio.ops.ner.weights import DocTrials, complete_trials, weights_from

    proj = complete_trials(store, student=student)
    trials = []
    for i, d in enumerate(sample):
        votes: dict[tuple[int, int, str], dict[str, float]] = {}
        for name, preds in [*weak.items(), ("llm", llm)]:
            for s, p in preds[i]:
                votes.setdefault((s.start, s.end, s.label), {})[name] = p
        trials.append(DocTrials(votes=votes, ran={*weak, "llm"}, gold={(s.start, s.end, s.label) for s in d.spans}))
    fitted = [weights_from(proj + [t for j, t in enumerate(trials) if j % folds != f]) for f in range(folds)]
    return [fitted[i % folds] for i in range(len(sample))]


def child(args: argparse.Namespace) -> None:
    code = args.code.resolve()
    curve = _curve(code)
    from studio.ops.ner.label import labeling_weights
    from studio.ops.ner.sources import Gazetteer, SpacyModelSource, pretrained_available

    votes = json.loads(args.llm_votes.read_text(encoding="utf-8")) if args.llm_votes else {}
    for lang in args.lang:
        g = curve.guideline(lang)
        pool, test = curve.read(f"news_{lang}_train"), curve.read(f"news_{lang}_test")
        texts = [d.text for d in test]
        n = args.llm_sample[0] if lang == "en" else args.llm_sample[1]
        sample = test[:n]
        pretrained = pretrained_pool = None
        if lang == "en" and pretrained_available():
            src = SpacyModelSource(curve.PRETRAINED_MAP)
            pretrained = src.predict_many(texts)
            pretrained_pool = src.predict_many([d.text for d in pool[: max(args.budgets)]])
        for b in args.budgets:
            store, student = project(curve, args.work, lang, b, pretrained_pool[:b] if pretrained_pool else None)
            row: dict[str, Any] = {"lang": lang, "reviewed": b}
            weak = {"gazetteer": [Gazetteer.build(g, store).predict(t) for t in texts]}
            if pretrained is not None:
                weak[curve.pretrained_name()] = pretrained
            if student is not None:
                weak[student.name] = student.predict_many(texts)
            weights = labeling_weights(store, student)
            threshold = weights.threshold if weights is not None else 0.5
            comb = curve.combine_all(texts, weak, None, weights)
            row.update(threshold=threshold, combined_no_llm=curve.f1(test, curve.yes(comb, threshold)),
                       ece_no_llm=curve.ece(test, comb))  # fmt: skip
            for k, v in weak.items():
                row[k.split(":")[0]] = curve.f1(test, curve.yes(v) if k != getattr(student, "name", "") else
                                                [[s for s, _ in d] for d in v])  # fmt: skip
            key = f"{lang}:{b}:{n}"
            if key in votes:
                llm = [[(curve.Span(**s), c) for s, c in doc] for doc in votes[key]["preds"]]
                sweak = {k: v[:n] for k, v in weak.items()}
                per_doc = sample_weights(store, student, sample, sweak, llm) if b else [weights] * n
                both = []
                for i in range(n):
                    one = {k: [v[i]] for k, v in sweak.items()}
                    t = per_doc[i].threshold if per_doc[i] is not None else 0.5
                    both.append(
                        [(s, p, t) for s, p in curve.combine_all(texts[i : i + 1], one, [llm[i]], per_doc[i])[0]]
                    )
                row.update(llm_sample=curve.f1(sample, curve.yes(llm)),
                           combined_sample=curve.f1(sample, curve.at_threshold(both)),
                           ece_sample=curve.ece(sample, [[(s, p) for s, p, _ in d] for d in both]))  # fmt: skip
                for k, v in sweak.items():
                    alone = [[s for s, _ in d] for d in v] if student and k == student.name else curve.yes(v)
                    row[f"{k.split(':')[0]}_sample"] = curve.f1(sample, alone)
            store.close()
            print(json.dumps(row), flush=True)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


COLUMNS = ("combined_no_llm", "ece_no_llm", "threshold", "combined_sample", "ece_sample")


def main() -> None:
    args = _args()
    if args.code is not None:
        child(args)
        return
    print("uptime:", uptime(), flush=True)
    trees = ([("before", args.baseline)] if args.baseline else []) + [("after", ROOT)]
    rows: dict[str, list[dict]] = {}
    for name, code in trees:
        argv = [sys.executable, str(HERE), "--code", str(code), "--work", str(args.work), "--lang", *args.lang,
                "--budgets", *map(str, args.budgets), "--llm-sample", *map(str, args.llm_sample)]  # fmt: skip
        if args.llm_votes:
            argv += ["--llm-votes", str(args.llm_votes)]
        env = os.environ | {"PYTHONPATH": str(code)}
        out = subprocess.run(argv, env=env, capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"{name} ({code}) failed:\n{out.stderr[-4000:]}")
        rows[name] = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
        print(f"{name} ({code}): done; uptime {uptime()}", flush=True)
    for name, rs in rows.items():
        for r in rs:
            print(name, json.dumps(r))
    print("\nlang reviewed | sources alone (test; sample) | " + " | ".join(f"{c} {'/'.join(rows)}" for c in COLUMNS))
    for i, r in enumerate(rows["after"]):
        alone = {k: v for k, v in r.items() if k not in COLUMNS and k not in ("lang", "reviewed")}
        cells = ["/".join(str(rows[n][i].get(c, "-")) for n in rows) for c in COLUMNS]
        print(f"{r['lang']} {r['reviewed']} | {json.dumps(alone)} | " + " | ".join(cells))
    print("uptime:", uptime(), flush=True)


if __name__ == "__main__":
    main()
