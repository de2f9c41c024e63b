"""PII scan: what is found and what is not; redaction shifts spans; crossing a span is refused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.ops.release import ReleaseOptions, build_release
from studio.ops.release.pii import luhn_ok, redact, scan
from studio.schema import Document, Proposal, Span
from tests.conftest import complete_documents
from tests.test_release_build import HUMAN, jsonl_docs, make_project


def kinds(text: str) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in scan(text)]


def test_finds_each_kind() -> None:
    text = (
        "Mail jane.doe+news@mail.example.co.uk or call +44 20 7946 0958 / (555) 123-4567. "
        "Server 192.168.10.254 charged card 4111 1111 1111 1111 to IBAN DE89 3704 0044 0532 0130 00 today."
    )
    assert kinds(text) == [
        ("email", "jane.doe+news@mail.example.co.uk"),
        ("phone", "+44 20 7946 0958"),
        ("phone", "(555) 123-4567"),
        ("ipv4", "192.168.10.254"),
        ("credit_card", "4111 1111 1111 1111"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
    ]


def test_does_not_flag_lookalikes() -> None:
    text = (
        "On 2024-01-15 version 1.2.3.4.5 sold 12345 units; order 4111 1111 1111 1112 (bad Luhn), "
        "code DE00 1234 5678 9012 3456 78 (bad check digits), ip 999.1.1.1, year 1999, user@localhost."
    )
    assert kinds(text) == []
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


def test_prefilter_finds_what_every_pattern_finds() -> None:
    """The cheap checks that let a text skip patterns never lose a match."""
    rng = random.Random(3)
    pieces = ["1", "12", "123.", "4111", " ", "-", ".", "(555)", "+44", "@", "a.b", "DE89", "x@y.org", "192", "0"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    texts += ["call 55 1234 5678 now", "1.2.3.4", "4111-1111-1111-1111", "서울 02-1234-5678 전화", "٤١١١ ١١١١"]
    texts += ["IBAN DE89 3704 0044 0532 0130 00.", "DE89370400440532013000"]
    found = 0
    for text in texts:
        assert scan(text) == scan(text, prefilter=False), text
        found += len(scan(text))
    assert found > 500  # the corpus does contain matches of every kind
    assert {m.kind for t in texts for m in scan(t)} == {"email", "phone", "ipv4", "credit_card", "iban"}


def _span(text: str, sub: str, label: str) -> Span:
    start = text.index(sub)
    return Span(start=start, end=start + len(sub), label=label, text=sub)


def test_redaction_shifts_offsets() -> None:
    text = "Ann (ann@x.org) met Bob at 10.0.0.1 and wrote to Acme (contact: sales@acme.com) in Oslo."
    spans = [
        _span(text, "Ann", "PER"),
        _span(text, "Bob", "PER"),
        _span(text, "Acme (contact: sales@acme.com)", "ORG"),
        _span(text, "Oslo", "LOC"),
    ]
    new, moved = redact(1, text, spans, scan(text))
    assert new == "Ann ([EMAIL]) met Bob at [IP] and wrote to Acme (contact: [EMAIL]) in Oslo."
    assert [(new[s.start : s.end], s.text, s.label) for s in moved] == [
        ("Ann", "Ann", "PER"),
        ("Bob", "Bob", "PER"),
        ("Acme (contact: [EMAIL])", "Acme (contact: [EMAIL])", "ORG"),
        ("Oslo", "Oslo", "LOC"),
    ]


def test_redaction_crossing_a_span_is_refused() -> None:
    text = "Write to bob@acme.com today."
    with pytest.raises(StudioError, match=r"crosses the labeled span .* --pii keep"):
        redact(7, text, [_span(text, "acme", "ORG")], scan(text))
    with pytest.raises(StudioError, match="document 7"):
        redact(7, text, [_span(text, "acme.com today", "ORG")], scan(text))


def test_release_redacts_or_keeps(tmp_path: Path) -> None:
    s = make_project(tmp_path / "p", n=6)
    text = "Call Dr. Ines Ruiz at +34 912 345 678 or ines@clinic.es about Madrid General."
    ((doc_id, _),) = s.add_documents([Document(text=text)])
    pids = s.add_proposals(
        Proposal(kind="span", document_id=doc_id, payload={"span": _span(text, sub, lab).model_dump()})
        for sub, lab in (("Ines Ruiz", "PER"), ("Madrid General", "ORG"))
    )  # fmt: skip
    for pid in pids:
        s.accept_span(pid, HUMAN)
    complete_documents(s, HUMAN)
    r = build_release(s, ReleaseOptions(license="MIT", split=(1.0, 0.0, 0.0)), HUMAN)
    assert r.pii_found["phone"] == 1 and r.pii_found["email"] == 1
    rec = jsonl_docs(Path(r.path))[doc_id]
    assert rec["text"] == "Call Dr. Ines Ruiz at [PHONE] or [EMAIL] about Madrid General."
    assert [(rec["text"][sp["start"] : sp["end"]], sp["text"]) for sp in rec["spans"]] == [
        ("Ines Ruiz", "Ines Ruiz"),
        ("Madrid General", "Madrid General"),
    ]
    whole = "".join(
        p.read_text(encoding="utf-8") for p in Path(r.path).rglob("*") if p.is_file() and p.suffix != ".spacy"
    )
    assert "ines@clinic.es" not in whole and "912 345 678" not in whole
    card = (Path(r.path) / "README.md").read_text()
    assert "Mode: **redact**. 2 matches" in card and "phone 1" in card

    kept = build_release(s, ReleaseOptions(license="MIT", pii="keep", split=(1.0, 0.0, 0.0)), HUMAN)
    assert jsonl_docs(Path(kept.path))[doc_id]["text"] == text
    info = json.loads((Path(kept.path) / "release.json").read_text())
    assert info["pii"] == {"mode": "keep", "found": kept.pii_found, "redacted": 0, "in_spans": 0}
    assert "Mode: **keep**" in (Path(kept.path) / "README.md").read_text()
    s.close()
