"""Benchmark: release a project of N synthetic documents (default 100k), each with two approved spans.

The store is built fast with executemany in one transaction by direct SQL that mirrors what the
decisions would do: one `documents.add` and one `label.propose` decision for the batch, then per
proposal a `label.accept` decision row, the proposal status set to accepted and the label row
(pointing at that decision), exactly what `state.apply_decision` writes. The guideline goes
through the Store API. The script checks the materialized state against `rebuild_state()` on a
copy when --check is given.

Each phase runs in a fresh subprocess (so its peak RSS is its own), each release on its own copy
of the project (so both write v0.1.0 and their manifests can be compared):
  baseline  read the same approved documents and spans and write them as one JSONL file
  old       `build_release` of the code at --old-rev (default: the commit before the speed-up of
            issue 19, with the review-status query already fixed), from `git archive`
  release   `build_release` of this checkout (all formats, PII scan, near-duplicate splits, card,
            manifest; from 20k documents the token formats in a second process)
Prints seconds, CPU seconds (this process and its children, in all and each), peak RSS, the ratios old/new and
release/baseline, whether old and new wrote the same files (manifest sha256), and `uptime`.

  python bench/bench_release.py [--docs 100000 | --quick] [--keep DIR] [--old-rev REV | --no-old]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emil", "Farah", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lena"]
LAST = ["Moreau", "Keller", "Wei", "Scott", "Novak", "Haddad", "Lind", "Sato", "Ruiz", "Berg", "Aydin", "Vogel"]
ORGS = ["Acme Corp", "Globex", "Initech", "Umbrella Labs", "Stark Industries", "Wayne Holdings", "Tyrell"]
VOCAB = [
    f"{a}{b}"
    for a in ("ka", "lo", "mi", "ne", "po", "ru", "sa", "te", "vi", "zo")
    for b in ("ra", "len", "dor", "mis", "tun", "gal", "fen", "bri")
]


KO_PER = ["김민준", "이서연", "박지호", "최유나", "정하늘", "강도윤"]
KO_ORG = ["삼성전자", "현대자동차", "네이버", "카카오", "엘지화학"]
KO_FILL = ["오늘", "발표했다", "새로운", "계획을", "서울에서", "투자", "시장", "기자회견에서", "밝혔다", "올해"]


def make_docs(n: int, seed: int = 1) -> list[tuple[str, list[tuple[int, int, str, str]]]]:
    """English news-like lines with a person and an organisation; every 20th document is Korean
    (character-level tokens), every 333rd has a span cut inside a word (adjusted for the token
    formats) and every 500th two overlapping spans (one left out of ents and CoNLL)."""
    rng = random.Random(seed)
    out = []
    prev = ""
    for i in range(n):
        if i % 20 == 7:
            per, org = rng.choice(KO_PER), rng.choice(KO_ORG)
            filler = " ".join(rng.choice(KO_FILL) for _ in range(12))
            text = f"{org}의 {per} 대표는 {filler} ({i}일)."
        elif i % 100 == 99:
            # 1% near duplicates of the previous document: one word changed.
            words = prev.split(" ")
            words[-2] = "changed"
            text = " ".join(words)
            per = prev.split(" ")[0] + " " + prev.split(" ")[1]
            org = next(o for o in ORGS if o in prev)
        else:
            per = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            org = rng.choice(ORGS)
            filler = " ".join(rng.choice(VOCAB) for _ in range(22))
            contact = f" Reach {per.split()[0].lower()}{i}@example.org." if i % 50 == 0 else ""
            text = f"{per} of {org} said {filler} on day {i}.{contact}"
        p0, o0 = text.index(per), text.index(org)
        spans = [(p0, p0 + len(per), "PER", per), (o0, o0 + len(org), "ORG", org)]
        if i % 333 == 1 and " " in per:
            spans[0] = (p0, p0 + len(per) - 2, "PER", per[:-2])  # cut inside the last name
        if i % 500 == 2:
            spans.append((o0, o0 + len(org) + 5, "MISC", text[o0 : o0 + len(org) + 5]))  # overlaps the ORG
        out.append((text, spans))
        prev = text
    return out


def doc_status(i: int) -> str | None:
    """Most documents complete; every 97th partly reviewed (no document.complete), every 211th withdrawn."""
    if i % 211 == 3:
        return "withdrawn"
    return None if i % 97 == 5 else "complete"


def build_store(root: Path, n: int) -> None:
    """Direct inserts in one transaction, mirroring what the decisions would materialize, with the
    decision log's hash chain computed as `Store.record` does."""
    from studio.schema import Guideline, LabelDef, content_hash, utcnow
    from studio.store import Store, chain

    def dumps(obj: object) -> str:
        return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    store = Store.init(root)
    store.start_session("bench")
    labels_def = [LabelDef(name="PER"), LabelDef(name="ORG"), LabelDef(name="MISC")]
    g = store.add_guideline(Guideline(goal="People and organisations in news", labels=labels_def), "agent")
    store.decide_guideline(g, "human:bench", "approve")
    docs = make_docs(n)
    now = utcnow()
    with store.transaction() as c:
        c.executemany(
            "INSERT INTO documents (id, content_hash, text, source, lang, provenance, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(i + 1, content_hash(t), t, "import", "ko" if i % 20 == 7 else "en", "{}", now)
             for i, (t, _) in enumerate(docs)],
        )  # fmt: skip
        store.record("tool", "documents.add", [], {"count": n, "first_id": 1, "last_id": n, "skipped_duplicates": 0})
        d = store.record("agent", "label.propose", [], {"count": 2 * n, "kinds": ["span"], "batch": "bench"})
        props, decisions, labels, status = [], [], [], []
        last_id, prev_hash = chain.head(c)

        def decide(actor: str, action: str, subjects: list[str], payload: dict[str, object]) -> int:
            nonlocal last_id, prev_hash
            last_id += 1
            content = (last_id, now, store.session_id, actor, action, dumps(subjects), dumps(payload), "")
            prev, prev_hash = prev_hash, chain.decision_hash(prev_hash, content)
            decisions.append((*content, prev, prev_hash))
            return last_id

        pid = 0
        for i, (_, spans) in enumerate(docs):
            for start, end, label, text in spans:
                pid += 1
                payload = {"span": {"start": start, "end": end, "label": label, "text": text}, "sources": {"llm": 0.9}}
                props.append(
                    (pid, "span", i + 1, json.dumps(payload), "llm:ner.v1", 0.9, "accepted", "bench", now, d.id)
                )
                did = decide("human:bench", "label.accept", [f"proposal:{pid}", f"doc:{i + 1}"], {"proposal_id": pid})
                labels.append((i + 1, start, end, label, text, pid, did))
            st = doc_status(i)
            if st == "complete":
                payload = {"document_id": i + 1, "before": None, "spans": len(spans)}
                status.append((i + 1, st, decide("human:bench", "document.complete", [f"doc:{i + 1}"], payload)))
            elif st == "withdrawn":
                payload = {"document_id": i + 1, "before": None}
                status.append((i + 1, st, decide("human:bench", "document.withdraw", [f"doc:{i + 1}"], payload)))
        c.executemany(
            "INSERT INTO proposals (id, kind, document_id, payload, source, confidence, status, batch, created_at,"
            " decision_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            props,
        )
        c.executemany(
            "INSERT INTO decisions (id, ts, session_id, actor, action, subject_ids, payload, rationale, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            decisions,
        )
        c.executemany(
            'INSERT INTO labels (document_id, start, "end", label, text, proposal_id, decision_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
            labels,
        )
        c.executemany(
            'INSERT INTO label_support (document_id, start, "end", label, text, proposal_id, decision_id)'
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            labels,
        )
        c.executemany("INSERT INTO document_status (document_id, status, decision_id) VALUES (?, ?, ?)", status)
    store.close()


def check_state(root: Path) -> None:
    """The bulk SQL must equal what replaying the decisions gives."""
    from studio.store import Store

    copy = Path(tempfile.mkdtemp()) / "copy"
    shutil.copytree(root, copy)
    s = Store.open(copy)
    queries = [
        'SELECT document_id, start, "end", label, proposal_id, decision_id FROM labels ORDER BY 1, 2, 3, 4',
        "SELECT document_id, status, decision_id FROM document_status ORDER BY 1",
    ]
    before = [[tuple(r) for r in s.conn.execute(q)] for q in queries]
    s.rebuild_state()
    after = [[tuple(r) for r in s.conn.execute(q)] for q in queries]
    s.close()
    shutil.rmtree(copy.parent)
    assert before == after, "bulk-built state differs from the decision log"
    print(f"check: materialized labels and document status equal a rebuild from the log ({len(after[0])} labels)")


def phase(name: str, root: Path) -> None:
    from studio.store import Store

    store = Store.open(root)
    store.start_session("bench")
    t0 = time.perf_counter()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage0.ru_utime + usage0.ru_stime
    stages: dict[str, float] = {}
    if name == "baseline":
        out = Path(tempfile.mkdtemp()) / "plain.jsonl"
        with out.open("w", encoding="utf-8") as fh:
            for doc_id in store.labeled_document_ids():
                doc = store.document(doc_id)
                spans = [s.model_dump() for s in store.approved_spans(doc_id)]
                fh.write(json.dumps({"id": doc_id, "text": doc.text, "spans": spans}, sort_keys=True) + "\n")
        shutil.rmtree(out.parent)
        extra: dict[str, object] = {}
    else:
        from studio.ops.release import ReleaseOptions, build_release

        last = [time.process_time()]

        def progress(stage: str, done: int, total: int) -> None:
            # CPU seconds of this process since the previous report (wall times grow with the load).
            now = time.process_time()
            stages[stage] = stages.get(stage, 0.0) + now - last[0]
            last[0] = now

        r = build_release(store, ReleaseOptions(license="CC-BY-4.0"), "human:bench", progress=progress)
        plan = json.loads((Path(r.path) / "release.json").read_text(encoding="utf-8"))["split_plan"]
        extra = {"documents": r.documents, "spans": r.spans, "splits": r.split_counts, "pii": r.pii_found, "plan": plan}
        extra["children_cpu_seconds"] = round(sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]), 2)
        extra["parent_cpu_seconds"] = round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu0, 2)
        extra["manifest_sha256"] = r.manifest_sha256
    seconds = time.perf_counter() - t0
    store.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the tokenizing process of a large release
    rss_mb = max(usage.ru_maxrss, kids.ru_maxrss) / 1024
    cpu = usage.ru_utime + usage.ru_stime - cpu0 + kids.ru_utime + kids.ru_stime
    print(json.dumps({"phase": name, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(rss_mb, 1), "stages": {k: round(v, 2) for k, v in stages.items()}, **extra}))  # fmt: skip


OLD_REV = "d7735ab"  # issue 19: the bench's realistic store and the review-status query, old writers


def export_rev(rev: str) -> Path:
    """The `studio` package at `rev`, extracted from git into a temporary folder."""
    repo = Path(__file__).resolve().parent.parent
    dest = Path(tempfile.mkdtemp(prefix="studio-old-"))
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "studio"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def run_phase(name: str, root: Path, pythonpath: Path | None = None) -> dict[str, object]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    project = root
    if name != "baseline":  # each release on a copy, so old and new both write v0.1.0
        project = root.parent / f"copy-{name}"
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(root, project)
    phase_name = "release" if name == "old" else name
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase_name, "--project", str(project.absolute())]
    # The working directory holds the code measured: a release's tokenizing process is started with
    # `python -m`, which looks there first (older revisions did not give it a directory of its own).
    cwd = pythonpath or Path(__file__).resolve().parent.parent
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if project != root:
        shutil.rmtree(project, ignore_errors=True)
    if proc.returncode != 0:
        sys.exit(f"phase {name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["phase"] = name
    print(json.dumps(result))
    return result


def _split_cpu(result: dict[str, object]) -> str:
    """CPU seconds of the release's own process and of its tokenizing process (the two run side by
    side on two cores, so the larger one is about the wall time on a quiet machine)."""
    return f"this process {result['parent_cpu_seconds']}s, tokenizing process {result['children_cpu_seconds']}s"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="20k documents instead of --docs.")
    ap.add_argument("--keep", type=Path, help="Build the project here and keep it (reused when it exists).")
    ap.add_argument("--check", action="store_true", help="Also check the bulk-built state against a rebuild.")
    ap.add_argument("--old-rev", default=OLD_REV, help=f"The revision measured as the old path (default {OLD_REV}).")
    ap.add_argument("--no-old", action="store_true", help="Skip the old path.")
    ap.add_argument("--phase", choices=["baseline", "release"], help=argparse.SUPPRESS)
    ap.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        phase(args.phase, args.project)
        return
    n = 20_000 if args.quick else args.docs
    root = args.keep or Path(tempfile.mkdtemp()) / "bench"
    if not (root / "studio.db").exists():
        t0 = time.perf_counter()
        build_store(root, n)
        print(f"built store: {n} documents, ~{2 * n} approved spans in {time.perf_counter() - t0:.1f}s ({root})")
    if args.check:
        check_state(root)
    print(f"before: {uptime()}")
    old_code = None if args.no_old else export_rev(args.old_rev)
    results = {"baseline": run_phase("baseline", root)}
    if old_code is not None:
        results["old"] = run_phase("old", root, old_code)
        shutil.rmtree(old_code)
    results["release"] = run_phase("release", root)
    print(f"after: {uptime()}")
    b, r = results["baseline"], results["release"]
    print(
        f"release: {r['seconds']}s wall, {r['cpu_seconds']}s CPU ({_split_cpu(r)}), peak RSS {r['peak_rss_mb']} MB; "
        f"baseline (read + plain JSONL): {b['seconds']}s wall, {b['cpu_seconds']}s CPU, {b['peak_rss_mb']} MB; "
        f"ratio CPU {r['cpu_seconds'] / b['cpu_seconds']:.2f}x, wall {r['seconds'] / b['seconds']:.2f}x, "
        f"memory {r['peak_rss_mb'] / b['peak_rss_mb']:.2f}x"
    )
    if "old" in results:
        o = results["old"]
        print(
            f"old path ({args.old_rev}): {o['seconds']}s wall, {o['cpu_seconds']}s CPU ({_split_cpu(o)}), "
            f"{o['peak_rss_mb']} MB; "
            f"new/old: wall {r['seconds'] / o['seconds']:.2f}x, CPU {r['cpu_seconds'] / o['cpu_seconds']:.2f}x "
            f"(old/new wall {o['seconds'] / r['seconds']:.1f}x); "
            f"same files: {o['manifest_sha256'] == r['manifest_sha256']}"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} CPUs; wall times grow with it)")
    if not args.keep:
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    main()
