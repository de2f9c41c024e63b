"""The review loop through the CLI, as a new user (or the issue's judge) runs it (prints figures; not a test).

For each budget N, in a fresh project: `studio init`, the corpus's guideline (written through $EDITOR, as a
person does) and `studio guideline approve`; `studio import` of N training sentences; `studio label`; a
scripted person finishes those N documents through `studio review`'s line protocol (bench_review.py's
annotator: accept, fix, add what is missing, done); `studio train` when N >= 20; then `studio import` of
the test sentences, `studio label` on them and `studio eval --gold` (strict F1 of the proposals at the
project's threshold). Every step is a `studio` subprocess, so this is the product's path, not the library's.

The model: `--llm stub` (default) is a loopback server that finds nothing, so the figures are those of the
other sources (the pretrained pipeline with its automatic label map, the gazetteer, the student);
`--llm embedded` is the embedded model (slow: ~5 sentences/min; use a small --test).

    python bench/bench_loop.py --lang en --budgets 0 20 100 --test 200
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_review import document_mode  # noqa: E402

NER = ROOT / "fixtures" / "ner"
CORPORA = {
    "en": ("news_en_train", "news_en_test", "news_guideline.yaml"),
    "ko": ("news_ko_train", "news_ko_test", "news_ko_guideline.yaml"),
    "social": ("social_en_train", "social_en_test", "social_guideline.yaml"),
    # the hand-written corpora (fixtures/ner/build_wild.py): real names, no templates
    "wild-en": ("wild_en_train", "wild_en_test", "news_guideline.yaml"),
    "wild-ko": ("wild_ko_train", "wild_ko_test", "news_ko_guideline.yaml"),
    "wild-social": ("wild_social_train", "wild_social_test", "social_guideline.yaml"),
}


def studio(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    cmd = [sys.executable, "-m", "studio", "--project", str(root), "--user", "bench", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}): {res.stderr[-1500:]}")
    return res.stdout


def rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (NER / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def write_texts(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps({"text": d["text"]}, ensure_ascii=False) + "\n" for d in docs), "utf-8")
    return path


def gold_by_doc(root: Path, docs: list[dict[str, Any]]) -> dict[int, set[tuple[int, int, str]]]:
    from studio.store import Store

    by_text = {d["text"]: {(s["start"], s["end"], s["label"]) for s in d["spans"]} for d in docs}
    store = Store.open(root)
    try:
        return {i: by_text[store.document(i).text] for i in store.document_ids() if store.document(i).text in by_text}
    finally:
        store.close()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_budget(lang: str, n: int, n_test: int, llm: str, work: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    train_name, test_name, guideline_file = CORPORA[lang]
    train, test = rows(train_name)[:n], rows(test_name)[:n_test]
    root = work / f"{lang}-{n}"
    env = {"EDITOR": f"cp {NER / guideline_file}", "STUDIO_EMBED": "hashed"}
    out: dict[str, Any] = {"lang": lang, "reviewed": n, "test": len(test), "llm": llm, "label_args": " ".join(extra)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "studio", "init", str(root)], check=True, capture_output=True, cwd=ROOT)
    studio(root, "guideline", "new", env=env)
    studio(root, "guideline", "approve")
    llm_args = ["--llm", llm] if llm != "embedded" else []
    if n:
        studio(root, "import", str(write_texts(work / f"train-{lang}-{n}.jsonl", train)))
        studio(root, *llm_args, "label", *extra, "--json")
        t = time.perf_counter()
        out["review_commands"] = document_mode(root, gold_by_doc(root, train))
        out["review_seconds"] = round(time.perf_counter() - t, 1)
    if n >= 20:
        t = time.perf_counter()
        trained = json.loads(studio(root, "train", "--json"))
        out.update(train_seconds=round(time.perf_counter() - t, 1), student_heldout=trained.get("scores", {}).get("f1"))
    studio(root, "import", str(write_texts(work / f"test-{lang}.jsonl", test)))
    t = time.perf_counter()
    labeled = json.loads(studio(root, *llm_args, "label", *extra, "--json"))
    seconds = time.perf_counter() - t
    out.update(label_per_min=round(len(test) / seconds * 60, 1), llm_skipped=labeled.get("llm_skipped", 0),
               student=labeled.get("student"), pretrained=bool(labeled.get("pretrained")))  # fmt: skip
    gold = work / f"gold-{lang}.jsonl"
    gold.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in test), "utf-8")
    report = json.loads(studio(root, "eval", str(gold), "--json"))
    strict = report["scores"]["strict"]["overall"] if "scores" in report else report["strict"]["overall"]
    out.update(f1=strict["f1"], p=strict["precision"], r=strict["recall"], threshold=report.get("threshold"),
               total_seconds=round(time.perf_counter() - t0, 1))  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--lang", nargs="+", default=["en"], choices=sorted(CORPORA), help="corpora (social: English posts)"
    )
    ap.add_argument("--budgets", nargs="+", type=int, default=[0, 20, 100])
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--llm", default="stub", help="stub (a loopback model that finds nothing), embedded, or a spec")
    ap.add_argument("--label-args", default="", help='more arguments for every studio label, e.g. "--prompt-version 4"')
    ap.add_argument("--keep", type=Path, default=None, help="make the projects in this folder and keep them")
    args = ap.parse_args()
    print("uptime:", uptime(), flush=True)
    stub = None
    llm = args.llm
    if llm == "stub":
        from tests.openai_stub import OpenAIStub

        stub = OpenAIStub(respond=lambda req: json.dumps({"entities": []}))
        stub.__enter__()
        llm = f"{stub.url}#stub"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = args.keep or Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            for lang in args.lang:
                for n in args.budgets:
                    row = run_budget(lang, n, args.test, llm, work, tuple(args.label_args.split()))
                    print(json.dumps(row), flush=True)
    finally:
        if stub is not None:
            stub.__exit__(None, None, None)
    print("uptime:", uptime(), flush=True)


if __name__ == "__main__":
    main()
