"""Prompting for small models: the ner prompt version and the verify / recall passes (studio/ops/ner/passes.py),
each against the baseline (ner.v2, no passes) measured in the same run (prints numbers; not a test).

Every variant labels the same sentences through `label_documents` (the product's path: chunks, few-shot,
parse, align, combine) in a fresh project; the LLM's answers are cached in one store per language
(`--cache DIR/cache-<lang>`), so variants that ask the same requests (v2 and v2+verify) reuse them, and a
re-run re-scores without the model. Seconds per sentence = model calls per sentence x the seconds per call
measured when the model was asked (wall time, kept in DIR/timings.json with the load at the time): a cached
re-run is not timed. To re-score without starting the model, name it behind a closed port
(`--llm "http://127.0.0.1:9/v1#qwen2.5-coder-1.5b-instruct-q4_k_m" --no-warm-up`: the cache key holds the model
name; a request not in the cache then fails and its sentence counts as failed). Before each variant two requests
(not cached, not timed) warm the server up: its model loaded, its two slots' prompt caches holding the variant's
system block.

Variants: `vN` (the ner prompt version) with `+recall` and/or `+verify`, e.g. `v2 v2+verify v3+recall+verify v4`;
a pass not named is off (the project settings label.recall_pass / label.verify_spans). `v4` answers in the compact
form (names per label, studio/ops/ner/parse.py:parse_by_label).

Speed, per variant: the wall time of its run when every call asked the model (sentences per minute), the mean
answer tokens and prompt tokens per request (the server's usage, also kept for cached answers), and, from the
llama.cpp server's log of this process (`print_timing`), the prompt tokens it evaluated (the rest came from its
prompt cache) and its generation and prompt-evaluation speed.

Scores: strict micro F1 (P, R) of the LLM's own spans (its vote >= 0.5) and, for English with
en_core_web_sm installed, of the combined proposals (the pretrained pipeline as a source, confidence >= 0.5).

    STUDIO_LLM_THREADS=1 nice -n 5 python bench/bench_prompting.py --lang en --split dev --n 40 \\
        --variants v2 v2+verify v3+recall+verify [--reviewed 20]

`--lang demo`: the demo's own pages (`studio demo`: the guideline the model drafted, the 11 crawled pages),
taken from the replay of fixtures/sessions/demo_en.jsonl, with the demo's label settings (student, learned
weights, gazetteer: as `studio label` runs there); "comb F1" is then the demo's proposal quality (confidence
>= 0.5 against the sample's gold, `studio.flows.demo.proposal_quality`).

Splits: dev = news_<lang>_train.jsonl from `--offset` (default 300 English, 100 Korean: after the documents
that can be reviewed), test = news_<lang>_test.jsonl from 0. Reviewed documents (few-shot examples) are
the first `--reviewed` training documents, approved in the project as bench_learning_curve.py does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from studio.ops.ner.evaluate import score  # noqa: E402
from studio.ops.ner.passes import RECALL_SETTING, VERIFY_SETTING  # noqa: E402
from studio.schema import Document, Guideline, Proposal, Span  # noqa: E402
from studio.store import Store  # noqa: E402

NER = ROOT / "fixtures" / "ner"
HUMAN = "human:bench"
SLOTS = [2]  # the server's slots the warm-up fills (--slots)
PRETRAINED_MAP = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "NORP": "MISC", "EVENT": "MISC"}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def read(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (NER / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def guideline(lang: str) -> Guideline:
    path = NER / ("news_guideline.yaml" if lang == "en" else "news_ko_guideline.yaml")
    return Guideline.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def parse_variant(name: str) -> tuple[int, bool, bool]:
    head, *flags = name.split("+")
    if not head.startswith("v") or not head[1:].isdigit() or set(flags) - {"recall", "verify"}:
        raise SystemExit(f"bad variant {name!r}: vN[+recall][+verify]")
    return int(head[1:]), "recall" in flags, "verify" in flags


_TIMING = re.compile(r"\|\s+(prompt eval|eval) time =\s+([\d.]+) ms /\s+(\d+) tokens")


def server_log_offsets() -> dict[Path, int]:
    """The sizes of this process's llama.cpp server logs (one per server it started), to read what follows."""
    from studio.llm.models import cache_dir

    return {f: f.stat().st_size for f in (cache_dir() / "logs").glob(f"server-{os.getpid()}-*.log")}


def server_timings(before: dict[Path, int]) -> dict[str, float]:
    """Sum the server's `print_timing` lines logged since `before`: prompt tokens evaluated (not from its prompt
    cache) and generated, with their milliseconds."""
    out = {"prompt_n": 0.0, "prompt_ms": 0.0, "gen_n": 0.0, "gen_ms": 0.0, "requests": 0.0}
    for f in server_log_offsets():
        with f.open(encoding="utf-8", errors="replace") as fh:
            fh.seek(before.get(f, 0))
            for m in _TIMING.finditer(fh.read()):
                which = "prompt" if m[1] == "prompt eval" else "gen"
                out[f"{which}_n"] += int(m[3])
                out[f"{which}_ms"] += float(m[2])
                out["requests"] += which == "prompt"
    return out


def call_tokens(cache: Store, after: int) -> dict[str, float]:
    """Mean prompt and answer tokens of the model calls logged after call id `after` (cached ones too)."""
    rows = cache.conn.execute(
        "SELECT prompt_tokens, completion_tokens FROM llm_calls WHERE id > ? AND error IS NULL", (after,)
    ).fetchall()
    got = [(int(a or 0), int(b or 0)) for a, b in rows if b is not None]
    n = max(1, len(got))
    return {"prompt": sum(a for a, _ in got) / n, "out": sum(b for _, b in got) / n, "n": len(got)}


def demo_sample(work: Path) -> tuple[Guideline, list[dict[str, Any]]]:
    """The demo's guideline and pages with their gold spans, from a replay of the recorded demo (kept in `work`)."""
    from studio.flows.demo import Oracle
    from studio.flows.engine import replay_file

    project = work / "demo-replay"
    if not (project / "studio.db").exists():
        replay_file(ROOT / "fixtures" / "sessions" / "demo_en.jsonl", project)
    with Store.open(project) as store:
        approved = store.approved_guideline()
        assert approved is not None
        g = approved[0]
        oracle = Oracle(project / "sample" / "gold.jsonl", g.label_names())
        docs = [store.document(i).text for i in store.document_ids()]
    sample = [{"text": t, "spans": [s.model_dump() for s in oracle.gold_for(t)]} for t in docs]
    return g, sample


def warm_up(g: Guideline, version: int, llm_spec: str | None) -> None:
    """Start the server and fill its slots' prompt caches with this prompt's system block (one request per slot,
    at once, never cached), so a variant's timing holds neither the model's loading nor the other variant's
    prefix: each is measured in the steady state of a labeling run."""
    from studio.llm import open_llm
    from studio.ops.ner.label import LabelSettings, label_documents

    nonce = time.time_ns()
    with tempfile.TemporaryDirectory() as tmp, Store.init(Path(tmp) / "w") as store:
        store.decide_guideline(store.add_guideline(g, "agent"), HUMAN, "approve")
        text = "Warm-up {} {}: Ada Lovelace met Alan Turing in London."
        ids = [store.add_document(Document(text=text.format(nonce, i), lang=g.language, source="import"))[0]
               for i in range(SLOTS[0])]  # fmt: skip
        label_documents(store, open_llm(None, llm_spec), ids, settings=LabelSettings(prompt_version=version))


def run_variant(
    variant: str, g: Guideline, reviewed: list[dict[str, Any]], sample: list[dict[str, Any]], cache: Store,
    spacy: bool, llm_spec: str | None = None, demo: bool = False, warm: bool = True,
) -> dict[str, Any]:  # fmt: skip
    from studio.llm import open_llm
    from studio.ops.ner.label import LabelSettings, label_documents

    version, recall, verify = parse_variant(variant)
    if warm:
        warm_up(g, version, llm_spec)
    with tempfile.TemporaryDirectory() as tmp, Store.init(Path(tmp) / "p") as store:
        store.decide_guideline(store.add_guideline(g, "agent"), HUMAN, "approve")
        store.set_setting(RECALL_SETTING, recall, actor=HUMAN)
        store.set_setting(VERIFY_SETTING, verify, actor=HUMAN)
        for d in reviewed:
            doc_id, _ = store.add_document(Document(text=d["text"], lang=g.language, source="import"))
            props = [Proposal(kind="span", document_id=doc_id, payload={"span": s}, source="human") for s in d["spans"]]
            for pid in store.add_proposals(props, actor=HUMAN):
                store.accept_span(pid, HUMAN)
        ids = [store.add_document(Document(text=d["text"], lang=g.language, source="import"))[0] for d in sample]
        if demo:  # as `studio label` runs in the demo
            settings = LabelSettings(prompt_version=version, spacy_auto=True)  # the pipeline votes, as by default
        else:
            settings = LabelSettings(prompt_version=version, student=False, learned_weights=False, spacy_model=spacy,
                                     spacy_map=PRETRAINED_MAP if spacy else {})  # fmt: skip
        llm = open_llm(cache, llm_spec)  # the answers are cached in (and read from) the per-language store
        last_call = int(cache.conn.execute("SELECT COALESCE(MAX(id), 0) FROM llm_calls").fetchone()[0])
        logs = server_log_offsets()
        load = uptime()
        t = time.perf_counter()
        report = label_documents(store, llm, ids, settings=settings)
        seconds = time.perf_counter() - t
        tokens = call_tokens(cache, last_call)
        server = server_timings(logs)
        llm_spans, combined = [], []
        passes: dict[str, int] = {}
        for doc_id in ids:
            props = store.proposals(kind="span", document_id=doc_id)
            llm_spans.append([Span(**p.payload["span"]) for p in props if p.payload["sources"].get("llm", 0) >= 0.5])
            combined.append([Span(**p.payload["span"]) for p in props if (p.confidence or 0) >= 0.5])
            for p in props:
                if "pass" in p.payload:
                    passes[p.payload["pass"]] = passes.get(p.payload["pass"], 0) + 1
    gold = [[Span(**s) for s in d["spans"]] for d in sample]
    out = {"variant": variant, "calls": report.llm_calls, "asked": report.llm_calls - report.cache_hits,
           "failed": len(report.failed), "seconds": seconds, "load": load, "passes": passes, "tokens": tokens,
           "server": server, "failures": dict(report.failed),
           "llm": score(gold, llm_spans).overall("strict"), "combined": score(gold, combined).overall("strict") if spacy or demo else None,
           "pred": [[s.model_dump() for s in doc] for doc in llm_spans]}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", choices=["en", "ko", "demo"], default="en")
    ap.add_argument("--split", choices=["dev", "test"], default="dev")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--offset", type=int, default=None)
    ap.add_argument("--reviewed", type=int, default=0)
    ap.add_argument("--variants", nargs="+", default=["v2", "v2+verify", "v3+recall+verify"])
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "prompt3")
    ap.add_argument("--no-spacy", action="store_true", help="English: leave the pretrained pipeline out")
    ap.add_argument("--llm", default=None, help="a model spec (default: the embedded model)")
    ap.add_argument("--slots", type=int, default=None,
                    help="the embedded server's parallel slots (default: the product's, 2); at most 4 requests are sent at once")  # fmt: skip
    ap.add_argument("--no-warm-up", action="store_true", help="re-scoring from the cache: do not start the model")
    ap.add_argument("--dump", type=Path, default=None, help="write each variant's LLM spans and the gold here (JSON)")
    a = ap.parse_args()
    from studio.ops.ner.sources import pretrained_available

    if a.slots:  # a measurement only: the product starts its server with the default
        from studio.llm import local

        local.shared_server.__defaults__ = (8192, a.slots)
        SLOTS[0] = a.slots

    a.cache.mkdir(parents=True, exist_ok=True)
    demo = a.lang == "demo"
    if demo:
        g, sample = demo_sample(a.cache)
        offset, reviewed, a.split = 0, [], "pages"
    else:
        g = guideline(a.lang)
        offset = a.offset if a.offset is not None else (0 if a.split == "test" else (300 if a.lang == "en" else 100))
        sample = read(f"news_{a.lang}_{'train' if a.split == 'dev' else 'test'}")[offset : offset + a.n]
        reviewed = read(f"news_{a.lang}_train")[: a.reviewed]
    spacy = a.lang == "en" and not a.no_spacy and pretrained_available()
    timings_file = a.cache / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    print(f"{a.lang} {a.split}[{offset}:{offset + len(sample)}], {a.reviewed} reviewed, "
          f"threads {os.environ.get('STUDIO_LLM_THREADS', 'default')}, slots {a.slots or 'default'}; {uptime()}",
          flush=True)  # fmt: skip
    cache_root = a.cache / f"cache-{a.lang}"
    cache = Store.init(cache_root)  # opens it again when it exists
    rows = []
    dump: dict[str, Any] = {"gold": [d["spans"] for d in sample], "text": [d["text"] for d in sample]}
    for v in a.variants:
        r = run_variant(v, g, reviewed, sample, cache, spacy, a.llm, demo=demo, warm=not a.no_warm_up)
        key = f"{a.lang}/{a.split}/{offset}/{len(sample)}/r{a.reviewed}/{v}"
        if r["asked"]:  # the model was asked: this run's wall time is the measurement
            timings[key] = {"seconds": r["seconds"], "calls": r["calls"], "asked": r["asked"], "load": r["load"],
                            "server": r["server"], "at": time.strftime("%H:%M", time.gmtime())}  # fmt: skip
            timings_file.write_text(json.dumps(timings, indent=1))
        r["timing"] = timings.get(key)
        rows.append(r)
        dump[v] = r["pred"]
        print(f"  {v}: done, {r['calls']} calls ({r['asked']} asked the model) in {r['seconds']:.0f} s", flush=True)
    base = rows[0]
    n = len(sample)
    # seconds per model call, from the runs of this sample that asked the model (a cached re-run asks nothing)
    prefix = f"{a.lang}/{a.split}/{offset}/{len(sample)}/r{a.reviewed}/"
    timed = [t for k, t in timings.items() if k.startswith(prefix) and t["asked"] >= 5]
    per_call = sum(t["seconds"] for t in timed) / max(1, sum(t["asked"] for t in timed))
    head = f"{'variant':24} {'F1':>6} {'P':>6} {'R':>6} {'vs base':>8} {'comb F1':>8} {'calls/sent':>10} {'s/sent':>7}  passes"
    print(head)
    for r in rows:
        o, c = r["llm"], r["combined"]
        print(f"{r['variant']:24} {o.f1:6.3f} {o.precision:6.3f} {o.recall:6.3f} {o.f1 - base['llm'].f1:+8.3f} "
              f"{(c.f1 if c else float('nan')):8.3f} {r['calls'] / n:10.2f} {r['calls'] / n * per_call:7.1f}  "
              f"{r['passes'] or ''}{' failed ' + str(r['failed']) if r['failed'] else ''}")  # fmt: skip
    print(f"s/sent = calls/sent x {per_call:.1f} s per model call (all variants), measured when the model was asked.")
    print("Per variant, when its run asked the model for every call (else its last such run, from the timings file):")
    print(f"  {'variant':22} {'tok out':>7} {'tok in':>7} {'sent/min':>8} {'vs base':>7} {'s/call':>6} "
          f"{'evaluated in':>12} {'gen tok/s':>9} {'prompt tok/s':>12}  load then")  # fmt: skip
    base_rate = None
    for r in rows:
        tm = r["timing"]
        tok = r["tokens"]
        line = f"  {r['variant']:22} {tok['out']:7.1f} {tok['prompt']:7.0f} "
        if tm and tm["asked"] == tm["calls"]:
            rate = n * 60 / tm["seconds"]
            base_rate = base_rate or rate
            sv = tm.get("server") or {}
            req = max(1.0, sv.get("requests", 0))
            line += (f"{rate:8.2f} {rate / base_rate:6.2f}x {tm['seconds'] / tm['asked']:6.1f} "
                     f"{sv.get('prompt_n', 0) / req:12.0f} {sv.get('gen_n', 0) / max(1e-9, sv.get('gen_ms', 0)) * 1000:9.1f} "
                     f"{sv.get('prompt_n', 0) / max(1e-9, sv.get('prompt_ms', 0)) * 1000:12.1f}  {tm.get('at', '')} {tm['load']}")  # fmt: skip
        else:
            line += "   (not timed: answers came from the cache)"
        print(line)
    print("tok out / tok in: mean answer / prompt tokens per request; evaluated in: prompt tokens per request the "
          "server evaluated (not from its prompt cache); sent/min: sentences (demo: pages) per minute, wall time")  # fmt: skip
    gold = [{(s["start"], s["end"], s["label"]) for s in doc} for doc in dump["gold"]]
    had = [{(s["start"], s["end"], s["label"]) for s in doc} for doc in base["pred"]]
    for r in rows[1:]:  # the LLM's spans against the baseline's, per sentence
        got = [{(s["start"], s["end"], s["label"]) for s in doc} for doc in r["pred"]]
        moved = [sum(len(f(b, v) & g if right else f(b, v) - g) for b, v, g in zip(had, got, gold, strict=True))
                 for right in (True, False) for f in (lambda b, v: v - b, lambda b, v: b - v)]  # fmt: skip
        print(f"  {r['variant']} vs {base['variant']}: right spans +{moved[0]} -{moved[1]}, "
              f"wrong spans +{moved[2]} -{moved[3]} (gold {sum(map(len, gold))})")  # fmt: skip
    for r in rows:
        if r["failures"]:
            print(f"  {r['variant']} failures: {r['failures']}")
    print(f"baseline = {base['variant']} (same run); {uptime()}")
    if a.dump:
        a.dump.write_text(json.dumps(dump, ensure_ascii=False))


if __name__ == "__main__":
    main()
