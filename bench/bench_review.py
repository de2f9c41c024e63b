"""Benchmark: a scripted annotator with gold spans drives `studio review` over 100 sentences.

Two corpora: fixtures/ner/tech_news.jsonl (30 sentences, 89 entities) and
fixtures/ner/review_dense.jsonl (70 sentences, 283 entities: headlines in capitals, datelines,
result and table lines, Korean). Each document gets proposals from a seeded stub weak source that
makes the errors a model makes (per gold entity: proposed right, wrong label, one token off at an
edge, or missed; plus spurious proposals on capitalized words), the same proposals for both modes.

The annotator talks to `studio review` through its line protocol, in a subprocess, reading each
prompt before it answers (it sees the document like a person: the printed listing and the store's
view of the document it is on). Two modes, on identical projects:

  document      `studio review`: a / x / A / 1-9 / s±N e±N / + START:END LABEL / n / d
  per-proposal  `studio review --per-proposal` (today's review): a / x + reason / e + range + label;
                it cannot add a missed entity nor mark a document done, so its release needs
                --include-partial and misses what the model missed.

After the review the project is released and the released spans are scored against gold
(strict: same start, end and label). Prints, per corpus and mode: gold entities, commands sent,
commands per gold entity, strict P/R/F1 of the release, partial documents in it, and seconds.

  python bench/bench_review.py [--seed 7] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPORA = {"tech_news": ROOT / "fixtures/ner/tech_news.jsonl", "dense": ROOT / "fixtures/ner/review_dense.jsonl"}
GUIDELINE = ROOT / "fixtures/ner/guideline.yaml"
ACTOR = "human:bench"
Gold = tuple[int, int, str]


# -- the project and the stub weak source -------------------------------------------------------
def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def stub_proposals(rows: list[dict[str, Any]], labels: list[str], seed: int) -> list[list[Gold]]:
    """Per document: what a weak model might propose, seeded. The tokens come from the same
    tokenizer the review uses, so one-token-off errors are real token edges."""
    from studio.ops.review.document import tokenize

    rng = random.Random(seed)
    out = []
    for row in rows:
        text = row["text"]
        toks = tokenize(text, row.get("lang", "en"))
        props: list[Gold] = []
        for g in row["spans"]:
            r = rng.random()
            s, e, lab = g["start"], g["end"], g["label"]
            if r < 0.55:
                props.append((s, e, lab))
            elif r < 0.65:
                props.append((s, e, rng.choice([x for x in labels if x != lab])))
            elif r < 0.75:
                inside = [t for t in toks if s <= t.start and t.end <= e]
                after = [t for t in toks if t.start >= e]
                if len(inside) > 1:
                    props.append((inside[1].start, e, lab))  # first token missed
                elif after:
                    props.append((s, after[0].end, lab))  # one token too many
            # else: missed
        gold_cover = [(g["start"], g["end"]) for g in row["spans"]]
        free = [t for t in toks if t.text[:1].isupper() and not any(a < t.end and t.start < b for a, b in gold_cover)]
        if free and rng.random() < 0.35:
            t = rng.choice(free)
            props.append((t.start, t.end, rng.choice(labels)))
        props = sorted(set(props))
        kept: list[Gold] = []
        for p in props:  # a weak source never proposes two overlapping spans
            if not any(p[0] < k[1] and k[0] < p[1] for k in kept):
                kept.append(p)
        out.append(kept)
    return out


def build(root: Path, rows: list[dict[str, Any]], proposals: list[list[Gold]]) -> list[int]:
    import yaml

    from studio.schema import Document, Guideline, Proposal, Span
    from studio.store import Store

    s = Store.init(root)
    s.start_session("bench")
    g = Guideline.model_validate(yaml.safe_load(GUIDELINE.read_text(encoding="utf-8")))
    s.decide_guideline(s.add_guideline(g, "agent"), ACTOR, "approve")
    ids = [i for i, _ in s.add_documents([Document(text=r["text"], lang=r.get("lang", "en")) for r in rows])]
    props = [
        Proposal(kind="span", document_id=doc_id, source="stub:weak", confidence=0.7, batch="bench",
                 payload={"span": Span(start=a, end=b, label=lab, text=row["text"][a:b]).model_dump(),
                          "sources": {"stub:weak": 0.7}})
        for doc_id, row, ps in zip(ids, rows, proposals, strict=True)
        for a, b, lab in ps
    ]  # fmt: skip
    s.add_proposals(props, actor="tool")
    s.close()
    return ids


# -- talking to `studio review` ----------------------------------------------------------------
class Session:
    """`studio review` in a subprocess; `send` writes one line and returns the output up to the next prompt."""

    PROMPTS = ("> ", ": ", "[y/n] ", "/ n] ", "to cancel] ")

    def __init__(self, root: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "STUDIO_USER": "bench"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "studio", "--project", str(root), "review", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        self.commands = 0
        self.last = self.read()

    def read(self, timeout: float = 600) -> str:
        out = b""
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        end = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return out.decode()
                out += chunk
                text = out.decode(errors="replace")
                if text.endswith(self.PROMPTS) and not select.select([fd], [], [], 0.05)[0]:
                    return text  # a prompt, and nothing more on its way
            elif self.proc.poll() is not None:
                return out.decode()
            if time.monotonic() > end:
                raise TimeoutError(f"no prompt from studio review: {out[-500:]!r}")

    def send(self, line: str) -> str:
        self.commands += 1
        self.proc.stdin.write((line + "\n").encode())  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        self.last = self.read()
        if "Traceback" in self.last:
            raise RuntimeError(self.last)
        return self.last

    def finish(self) -> int:
        """Quit (q is not review work) and return the commands sent."""
        work = self.commands
        try:
            if self.proc.poll() is None:
                self.send("q")
            self.proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass  # it had already ended after the last document
        self.proc.wait(timeout=60)
        return work


def _cursor(output: str) -> int | None:
    import re

    found = re.findall(r"^\s*>\s*(\d+) ", output, flags=re.M)
    return int(found[-1]) - 1 if found else None


def document_mode(root: Path, gold_by_doc: dict[int, set[Gold]]) -> int:
    """Finish every document with the line protocol; returns the commands sent."""
    import re

    from studio.ops.review import document_view
    from studio.store import Store

    store = Store.open(root)
    sess = Session(root)
    cur = 0
    doc_id = None
    seen: dict[tuple[int, str, str], int] = {}  # (document, command, view) -> times sent: a loop is a failure
    while "No more open documents" not in sess.last and sess.proc.poll() is None:
        m = re.findall(r"── document (\d+) ", sess.last)
        if m:
            doc_id = int(m[-1])
        if doc_id is None:
            raise RuntimeError(f"no document shown: {sess.last!r}")
        c = _cursor(sess.last)
        cur = c if c is not None else cur
        view = document_view(store, doc_id)
        cmd = next_command(view, gold_by_doc[doc_id], cur)
        state = (doc_id, cmd, repr([(v.start, v.end, v.label, v.kind) for v in view.spans]))
        seen[state] = seen.get(state, 0) + 1
        if seen[state] > 2:
            raise RuntimeError(f"{cmd!r} on document {doc_id} changes nothing: {sess.last[-300:]!r}")
        out = sess.send(cmd)
        if "save it? [y" in out:  # the gold span is not on token edges ("U.S." in "U.S.-brokered"): as given
            out = sess.send("e")
        if "  ! " in out:
            raise RuntimeError(f"refused: {cmd!r} on document {doc_id}: {out}")
    store.close()
    return sess.finish()


def next_command(view: Any, gold: set[Gold], cur: int) -> str:
    labels = view.labels
    pending = view.pending
    approved = {(v.start, v.end, v.label) for v in view.approved}
    if not pending:
        for g in sorted(gold - approved):
            return f"+ {g[0]}:{g[1]} {g[2]}"
        return "d"
    if all((p.start, p.end, p.label) in gold for p in pending):
        return "A"
    items = view.spans
    cur = min(cur, len(items) - 1)
    v = items[cur]
    if v.kind != "proposal":
        return "n"
    key = (v.start, v.end, v.label)
    if key in gold:
        return "a"
    same_range = [g for g in gold if (g[0], g[1]) == (v.start, v.end)]
    if same_range:
        return str(labels.index(same_range[0][2]) + 1)
    over = [g for g in gold if g[0] < v.end and v.start < g[1]]
    if over:
        g = over[0]
        if g in approved:
            return "x"  # its entity is in already
        starts = [t.start for t in view.words]  # s+N / e+N move by words (Korean: Kiwi's, not syllables)
        ends = [t.end for t in view.words]
        if g[2] == v.label and v.start != g[0] and v.end == g[1] and g[0] in starts and v.start in starts:
            return f"s{starts.index(g[0]) - starts.index(v.start):+d}"
        if g[2] == v.label and v.end != g[1] and v.start == g[0] and g[1] in ends and v.end in ends:
            return f"e{ends.index(g[1]) - ends.index(v.end):+d}"
        return f"+ {g[0]}:{g[1]} {g[2]}"  # replaces the proposal
    return "x"


def per_proposal_mode(root: Path, gold_by_doc: dict[int, set[Gold]]) -> int:
    """Today's review: one proposal at a time; missed entities cannot be added."""
    import re

    from studio.store import Store

    store = Store.open(root)
    sess = Session(root, "--per-proposal")
    while True:
        m = re.findall(r"^#(\d+) doc (\d+)", sess.last, flags=re.M)
        if not m or "No more pending" in sess.last:
            break
        pid, doc_id = int(m[-1][0]), int(m[-1][1])
        sp = store.proposal(pid).payload["span"]
        key = (sp["start"], sp["end"], sp["label"])
        gold = gold_by_doc[doc_id]
        over = [g for g in gold if g[0] < key[1] and key[0] < g[1]]
        if key in gold:
            sess.send("a")
        elif over:
            g = over[0]
            sess.send("e")
            sess.send(f"{g[0]}:{g[1]}")
            sess.send(g[2])
        else:
            sess.send("x")
            sess.send("")  # the optional reason
    store.close()
    return sess.finish()


# -- scoring ------------------------------------------------------------------------------------
def release_and_score(root: Path, gold_by_text: dict[str, set[Gold]], include_partial: bool) -> dict[str, Any]:
    from studio.ops.release import ReleaseOptions, build_release
    from studio.store import Store

    store = Store.open(root)
    store.start_session("bench")
    opts = ReleaseOptions(license="CC-BY-4.0", split=(1.0, 0.0, 0.0), include_partial=include_partial)
    r = build_release(store, opts, ACTOR)
    store.close()
    tp = fp = fn = partial = 0
    seen = set()
    for line in (Path(r.path) / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        seen.add(rec["text"])
        partial += rec.get("complete") is False
        got = {(s["start"], s["end"], s["label"]) for s in rec["spans"]}
        want = gold_by_text[rec["text"]]
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
    fn += sum(len(v) for t, v in gold_by_text.items() if t not in seen)  # documents not released
    p = tp / (tp + fp) if tp + fp else 0.0
    rec_ = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * rec_ / (p + rec_) if p + rec_ else 0.0
    return {"documents": r.documents, "partial": partial, "precision": round(p, 4), "recall": round(rec_, 4),
            "f1": round(f1, 4)}  # fmt: skip


def run(name: str, path: Path, mode: str, seed: int, base: Path) -> dict[str, Any]:
    import yaml

    rows = load(path)
    labels = [lab["name"] for lab in yaml.safe_load(GUIDELINE.read_text(encoding="utf-8"))["labels"]]
    proposals = stub_proposals(rows, labels, seed)
    root = base / f"{name}-{mode}"
    ids = build(root, rows, proposals)
    gold_by_doc = {i: {(s["start"], s["end"], s["label"]) for s in r["spans"]} for i, r in zip(ids, rows, strict=True)}
    gold_by_text = {r["text"]: gold_by_doc[i] for i, r in zip(ids, rows, strict=True)}
    t0 = time.perf_counter()
    commands = document_mode(root, gold_by_doc) if mode == "document" else per_proposal_mode(root, gold_by_doc)
    seconds = time.perf_counter() - t0
    n_gold = sum(len(v) for v in gold_by_doc.values())
    n_props = sum(len(p) for p in proposals)
    exact = sum(len(set(p) & gold_by_doc[i]) for i, p in zip(ids, proposals, strict=True))
    score = release_and_score(root, gold_by_text, include_partial=mode != "document")
    return {"corpus": name, "mode": mode, "documents": len(rows), "gold": n_gold, "proposals": n_props,
            "proposals_exact": exact, "commands": commands, "per_gold_entity": round(commands / n_gold, 3),
            "seconds": round(seconds, 1), **score}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="Build the projects here and keep them.")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-review-"))
    base.mkdir(parents=True, exist_ok=True)
    results = []
    for name, path in CORPORA.items():
        for mode in ("document", "per-proposal"):
            r = run(name, path, mode, args.seed, base)
            print(json.dumps(r))
            results.append(r)
    print(f"\n{'corpus':<10} {'mode':<13} {'docs':>4} {'gold':>4} {'props':>5} {'cmds':>5} {'cmd/ent':>7} "
          f"{'P':>6} {'R':>6} {'F1':>6} {'partial':>7} {'s':>6}")  # fmt: skip
    for r in results:
        print(f"{r['corpus']:<10} {r['mode']:<13} {r['documents']:>4} {r['gold']:>4} {r['proposals']:>5} "
              f"{r['commands']:>5} {r['per_gold_entity']:>7} {r['precision']:>6} {r['recall']:>6} {r['f1']:>6} "
              f"{r['partial']:>7} {r['seconds']:>6}")  # fmt: skip
    doc = [r for r in results if r["mode"] == "document"]
    ok = all(r["f1"] == 1.0 and r["partial"] == 0 for r in doc)
    total_docs = sum(r["documents"] for r in doc)
    print(f"\ndocument review over {total_docs} sentences: release equals gold (strict F1 1.0, 0 partial): {ok}")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if not args.keep:
        shutil.rmtree(base)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
