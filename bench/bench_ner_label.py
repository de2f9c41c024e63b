"""Weak-labeling throughput and quality with the embedded model (prints figures; not a test).

On fixtures/ner/tech_news.jsonl (30 sentences, hand-labeled), label every sentence with the
real pipeline in three set-ups, each in a fresh project so nothing comes from the cache:
  1. one request at a time, the server's prompt cache off (no prefix reuse)
  2. one request at a time, prompt cache on (the guideline prefix is reused)
  3. two requests at once (the server's two slots), prompt cache on
and print sentences/minute next to the decode-bound limit (output tokens needed / measured
generation tokens/s), plus strict and partial F1 against the gold spans.

    python bench/bench_ner_label.py [--limit 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import yaml  # noqa: E402

from studio.llm import open_llm  # noqa: E402
from studio.llm.local import shared_server  # noqa: E402
from studio.llm.models import ensure_model  # noqa: E402
from studio.ops.ner.evaluate import score  # noqa: E402
from studio.ops.ner.label import LabelSettings, label_documents  # noqa: E402
from studio.schema import Document, Guideline, Span  # noqa: E402
from studio.store import Store  # noqa: E402


def generation_rate(base_url: str) -> float:
    body = {
        "messages": [{"role": "user", "content": "Count from one to forty in words."}],
        "max_tokens": 120,
        "temperature": 0,
    }
    t = httpx.post(base_url + "/chat/completions", json=body, timeout=600).json()["timings"]
    return float(t["predicted_per_second"])


def run(rows: list[dict], guideline: Guideline, concurrency: int, prompt_cache: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.init(tmp)
        store.start_session("bench")
        v = store.add_guideline(guideline, "agent")
        store.decide_guideline(v, "human:bench", "approve")
        store.add_documents([Document(text=r["text"]) for r in rows])
        llm = open_llm(store, "local", concurrency=concurrency, use_cache=False)
        extra = {} if prompt_cache else {"extra_body": {"cache_prompt": False}}
        settings = LabelSettings(docs_per_batch=max(2, concurrency * 2), request_extra=extra)
        t0 = time.perf_counter()
        report = label_documents(store, llm, settings=settings)
        secs = time.perf_counter() - t0
        out_tokens = store.conn.execute("SELECT SUM(completion_tokens) FROM llm_calls").fetchone()[0] or 0
        gold, pred = [], []
        for doc_id, r in zip(store.document_ids(), rows, strict=True):
            gold.append([Span(**s) for s in r["spans"]])
            pred.append(
                [
                    Span.model_validate(p.payload["span"])
                    for p in store.proposals(kind="span", document_id=doc_id, status=None)
                    if (p.confidence or 0) >= 0.5
                ]
            )
        s = score(gold, pred)
        store.close()
    return {
        "seconds": secs,
        "out_tokens": out_tokens,
        "report": report.as_dict(),
        "strict": s.overall("strict"),
        "partial": s.overall("partial"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=30)
    args = ap.parse_args()
    rows = [json.loads(x) for x in (ROOT / "fixtures/ner/tech_news.jsonl").read_text().splitlines()][: args.limit]
    guideline = Guideline.model_validate(yaml.safe_load((ROOT / "fixtures/ner/guideline.yaml").read_text()))
    server = shared_server(ensure_model())
    gen = generation_rate(server.base_url)
    print(f"embedded model generation: {gen:.1f} tokens/s; {len(rows)} sentences")
    for name, conc, cache in [
        ("sequential, no prefix reuse", 1, False),
        ("sequential, prefix reuse", 1, True),
        ("2 at once, prefix reuse", 2, True),
    ]:
        r = run(rows, guideline, conc, cache)
        per_min = len(rows) / r["seconds"] * 60
        bound = len(rows) / (r["out_tokens"] / gen) * 60 if r["out_tokens"] else float("nan")
        st, pa = r["strict"], r["partial"]
        print(
            f"{name:30s} {per_min:6.1f} sentences/min (decode-bound limit {bound:6.1f}; ratio {per_min / bound:4.2f}); "
            f"{r['out_tokens']} output tokens; F1 strict {st.f1:.3f} (P {st.precision:.2f} R {st.recall:.2f}), partial {pa.f1:.3f}; "
            f"hallucinated {r['report']['hallucinated']}"
        )


if __name__ == "__main__":
    main()
