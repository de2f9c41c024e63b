"""The headless review: answers typed on the terminal become decisions, in queue order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from studio.ops.review import review_queue
from studio.schema import Document, Proposal, Span
from studio.store import Store
from tests.conftest import run_cli


def _project(root: Path) -> list[int]:
    s = Store.init(root)
    s.start_session("setup")
    ids = []
    for text, sub, label in [
        ("Apple makes phones.", "Apple", "ORG"),
        ("Samsung sells TVs.", "Samsung", "ORG"),
        ("Google wins.", "wins", "ORG"),
    ]:
        doc_id, _ = s.add_document(Document(text=text))
        start = text.index(sub)
        span = Span(start=start, end=start + len(sub), label=label, text=sub)
        ids += s.add_proposals(
            [Proposal(kind="span", document_id=doc_id, payload={"span": span.model_dump()}, confidence=0.8)]
        )
    # a query ranks the third document first
    s.record("tool", "query.run", [], {"items": [{"rank": 1, "document_id": 3, "item": "3", "score": 0.9}]})
    assert [p.document_id for p in review_queue(s)] == [3, 1, 2]
    s.close()
    return ids


def test_review_answers_become_decisions(tmp_path: Path) -> None:
    ids = _project(tmp_path)
    code, _, err = run_cli("--project", str(tmp_path), "--user", "ann", "review", "--per-proposal",
                           input="x\nnot a company\na\nu\na\nq\n")  # fmt: skip
    assert code == 0, err
    s = Store.open(tmp_path)
    third, first, second = ids[2], ids[0], ids[1]
    assert s.proposal(third).status == "rejected"  # the ranked document came first
    assert s.proposal(first).status == "accepted"  # accepted, undone, accepted again
    assert s.proposal(second).status == "pending"  # quit before it
    actions = [d.action for d in s.decisions(actor="human:ann")]
    assert actions == ["label.reject", "label.accept", "label.undo", "label.accept"]
    assert s.decisions(action="label.reject")[0].rationale == "not a company"
    s.close()


def test_synthetic_sentences_are_marked_and_not_hidden_by_the_threshold(tmp_path: Path) -> None:
    s = Store.init(tmp_path)
    text = "Lisa Su told reporters the chips ship in May."
    doc_id, _ = s.add_document(Document(text=text, source="synthetic", provenance={"synthetic": True}))
    span = Span(start=0, end=7, label="PERSON", text="Lisa Su")
    [pid] = s.add_proposals([Proposal(kind="span", document_id=doc_id, source="synth:synth.v2",
                                      payload={"span": span.model_dump(), "synthetic": True})])  # fmt: skip
    s.close()
    code, out, err = run_cli("--project", str(tmp_path), "--user", "ann", "review", "--per-proposal",
                             "--min-confidence", "0.9", input="a\n")  # fmt: skip
    assert code == 0, err
    assert "PERSON  synthetic sentence (synth:synth.v2)" in out and "confidence" not in out
    s = Store.open(tmp_path)
    assert s.proposal(pid).status == "accepted"
    s.close()


def _wait_for(proc: subprocess.Popen, marker: str, timeout: float = 60) -> str:
    """Read the child's stdout until `marker` appears (the prompt it waits at)."""
    import os
    import select
    import time

    out = ""
    end = time.monotonic() + timeout
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    while marker not in out:
        assert time.monotonic() < end, f"no {marker!r} in {out!r}"
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            chunk = os.read(fd, 4096).decode()
            assert chunk, f"the review ended before {marker!r}: {out!r}"
            out += chunk
    return out


def test_two_sessions_skip_what_the_other_decided(tmp_path: Path) -> None:
    """Defect 18 of issue 25: the slower session says once that a proposal was decided elsewhere,
    skips the rest, and does not eat its answers on "already rejected"."""
    ids = _project(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio", "--project", str(tmp_path), "--user", "bo", "review", "--per-proposal"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    _wait_for(proc, "a/x/e/s/u/q: ")
    other = Store.open(tmp_path)  # the faster session rejects everything meanwhile
    for pid in ids:
        other.decide(pid, "human:ann", "reject", "not companies")
    other.close()
    out, err = proc.communicate(b"a\na\na\na\nq\n", timeout=60)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert text.count("was decided elsewhere (rejected); skipped") == 1
    assert "already rejected" not in text and "No more pending proposals" in text
    s = Store.open(tmp_path)
    assert [d.actor for d in s.decisions(action="label.") if d.action != "label.propose"] == ["human:ann"] * 3
    s.close()
