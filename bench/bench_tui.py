"""Document review with a big queue: time to first paint and keypress -> next span on screen.

Builds a project with N pending span proposals (5 per document, so 100k are 20k documents,
through the store API in big batches), opens the app headless on the Labels screen and measures:
  - first paint: make_app + mount + the first document painted with its spans
  - words ready: until the word tokens are in (the tokenizer's first load; a reference)
  - tab (next span, no decision), median and p95 per key
  - a (accept: the core's `accept` in a worker, a decision in the log, the document read
    again in a worker and painted with the next pending span current), median and p95
The baseline is the same with 1k proposals, measured in the same run; the ratio says whether
the screen stays flat as the queue grows. For reference it also times the headless
`review_queue` (which sorts the whole queue) to its first item.

    python bench/bench_tui.py            # 1k vs 100k
    python bench/bench_tui.py --big 20000 --presses 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events

from studio.ops.review import review_queue
from studio.schema import Document, Guideline, LabelDef, Proposal
from studio.store import Store
from studio.tui.app import StudioApp, make_app

PER_DOC = 5
WORDS = [
    "Acme",
    "Corp",
    "hired",
    "Jane",
    "Doe",
    "in",
    "Springfield",
    "while",
    "Globex",
    "opened",
    "a",
    "lab",
    "near",
    "Shelbyville",
]


def build(root: Path, n: int) -> Path:
    with Store.init(root) as store:
        store.start_session("bench")
        g = Guideline(goal="orgs, people, places", labels=[LabelDef(name=x) for x in ("ORG", "PERSON", "LOC")])
        store.decide_guideline(store.add_guideline(g, "agent"), "human:bench", "approve")
        docs = [
            Document(text=f"{i}: " + " ".join(WORDS[(i + k) % len(WORDS)] for k in range(40)))
            for i in range(n // PER_DOC)
        ]
        ids = [i for i, _ in store.add_documents(docs)]
        batch: list[Proposal] = []
        for doc_id, doc in zip(ids, docs, strict=True):
            pos = doc.text.index(" ") + 1
            for k in range(PER_DOC):
                end = doc.text.index(" ", pos) if " " in doc.text[pos:] else len(doc.text)
                span = {"start": pos, "end": end, "label": ("ORG", "PERSON", "LOC")[k % 3], "text": doc.text[pos:end]}
                batch.append(
                    Proposal(
                        kind="span",
                        document_id=doc_id,
                        payload={"span": span, "sources": {"llm:ner.v1": 0.7}},
                        confidence=0.7,
                    )
                )
                pos = end + 1
            if len(batch) >= 20_000:
                store.add_proposals(batch, actor="tool")
                batch = []
        if batch:
            store.add_proposals(batch, actor="tool")
    return root


CPU: list[float] = []  # CPU ms of the process per key, next to the wall-clock ms (a busy machine inflates those)


async def press_and_paint(app: StudioApp, key: str, char: str) -> float:
    """ms from a key event entering the app to the next span painted (layout + render of the screen).

    Pilot.press would add Textual's test-harness idle wait (tens of ms), which no terminal has.
    """
    screen: Any = app.screen
    before = (screen.view.document_id, screen.current())
    c = time.process_time()
    t = time.perf_counter()
    app.post_message(events.Key(key, char))
    while (screen.view.document_id, screen.current()) == before or screen.busy:
        await asyncio.sleep(0)
    screen._refresh_layout()
    screen._compositor.render_strips()
    CPU.append((time.process_time() - c) * 1000)
    return (time.perf_counter() - t) * 1000


def _stats(out: dict[str, float], name: str, times: list[float]) -> None:
    times, cpu = sorted(times), sorted(CPU)
    out[f"{name}_median_ms"] = statistics.median(times)
    out[f"{name}_p95_ms"] = times[int(0.95 * (len(times) - 1))]
    out[f"{name}_cpu_median_ms"] = statistics.median(cpu)
    out[f"{name}_cpu_p95_ms"] = cpu[int(0.95 * (len(cpu) - 1))]
    CPU.clear()


async def wait(cond: Any, timeout: float = 120.0) -> None:
    t = time.perf_counter()
    while not cond():
        if time.perf_counter() - t > timeout:
            raise SystemExit("timed out waiting for the app")
        await asyncio.sleep(0.001)


async def measure(root: Path, presses: int) -> dict[str, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    app = make_app(root, user="bench", screen="review")
    out: dict[str, float] = {}
    async with app.run_test(size=(80, 24)):
        screen: Any = app.screen
        await wait(lambda: screen.view is not None and screen.current() is not None)
        screen._refresh_layout()
        screen._compositor.render_strips()
        out["first_paint_ms"] = (time.perf_counter() - t0) * 1000
        out["first_paint_cpu_ms"] = (time.process_time() - c0) * 1000
        await wait(lambda: bool(screen.view.tokens) and not screen.busy)
        out["words_ready_ms"] = (time.perf_counter() - t0) * 1000
        await app.workers.wait_for_complete()
        CPU.clear()
        _stats(out, "tab", [await press_and_paint(app, "tab", "\t") for _ in range(presses)])
        times: list[float] = []
        while len(times) < presses:
            if not screen.view.pending:  # the document is finished: done, on to the next (not timed)
                here = screen.view.document_id
                app.post_message(events.Key("d", "d"))
                await wait(lambda here=here: screen.view.document_id != here and not screen.busy)
                continue
            if screen.current().kind != "proposal":
                app.post_message(events.Key("tab", "\t"))
                await wait(lambda: not screen.busy)
                continue
            times.append(await press_and_paint(app, "a", "a"))
        _stats(out, "a", times)
        await app.workers.wait_for_complete()
        accepted = len(app.store.decisions(action="label.accept"))
    if accepted != presses:
        raise SystemExit(f"expected {presses} accept decisions, found {accepted}")
    return out


def headless_first_item_ms(root: Path) -> float:
    with Store.open(root) as store:
        t = time.perf_counter()
        next(review_queue(store))
        return (time.perf_counter() - t) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=int, default=1_000)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--presses", type=int, default=200)
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.base, args.big):
            t = time.perf_counter()
            root = build(Path(tmp) / f"p{n}", n)
            print(f"built {n:,} pending proposals in {time.perf_counter() - t:.1f} s", flush=True)
            results[n] = asyncio.run(measure(root, args.presses))
            results[n]["review_queue_first_item_ms"] = headless_first_item_ms(root)
    base, big = results[args.base], results[args.big]
    print(f"\n{'metric':<28}{args.base:>12,}{args.big:>12,}{'ratio':>9}")
    for k in base:
        print(f"{k:<28}{base[k]:>12.1f}{big[k]:>12.1f}{big[k] / base[k]:>8.2f}x")
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
