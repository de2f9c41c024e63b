"""`studio review` document mode driven by its line protocol, as a script would drive it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from studio.ops.review import document_status, status_counts
from studio.ops.review.protocol import ProtocolError, parse_command
from studio.schema import Document, Guideline, LabelDef, Proposal, Span
from studio.store import Store
from tests.conftest import run_cli

DOCS = [
    ("SEOUL (Reuters) - Samsung Electronics hired Tim Cook in Cupertino.", [("Samsung", "ORG"), ("Cook", "PERSON")]),
    ("Microsoft and OpenAI signed a deal, said Satya Nadella.", [("Microsoft", "ORG"), ("OpenAI", "LOC")]),
]


def _project(root: Path) -> None:
    s = Store.init(root)
    s.start_session("setup")
    labels = [LabelDef(name=n) for n in ("ORG", "PERSON", "PRODUCT", "LOC")]
    s.decide_guideline(s.add_guideline(Guideline(goal="tech news", labels=labels), "agent"), "human:ann", "approve")
    for text, props in DOCS:
        doc_id, _ = s.add_document(Document(text=text))
        spans = [Span(start=text.index(t), end=text.index(t) + len(t), label=lab, text=t) for t, lab in props]
        s.add_proposals([Proposal(kind="span", document_id=doc_id, payload={"span": sp.model_dump()}) for sp in spans])
    s.close()


def _review(root: Path, script: str, *args: str) -> str:
    code, out, err = run_cli("--project", str(root), "--user", "ann", "review", *args, input=script)
    assert code == 0, err
    assert "Traceback" not in out + err
    return out


def test_parse_commands_and_their_errors() -> None:
    assert parse_command('+ "Tim Cook" PERSON 2').model_dump(include={"name", "text", "label", "number"}) == {
        "name": "add_text", "text": "Tim Cook", "label": "PERSON", "number": 2}  # fmt: skip
    assert parse_command("+ 3:9 ORG").model_dump(include={"start", "end", "label"}) == {
        "start": 3, "end": 9, "label": "ORG"}  # fmt: skip
    m = parse_command("e+2c")
    assert (m.name, m.edge, m.delta, m.unit) == ("move", "end", 2, "char")
    assert parse_command("3").number == 3 and parse_command("x not a place").reason == "not a place"
    for bad, expected in [
        ("", "nothing is accepted by default"),
        ("+ 3-9 ORG", "expected `+ START:END LABEL`"),
        ('+ "Tim Cook PERSON', "quote"),
        ("+ 3:9", "expected `+ START:END LABEL`"),
        ("l", "expected `l LABEL`"),
        ("zz", "unknown command 'zz'"),
    ]:
        with pytest.raises(ProtocolError, match=re.escape(expected)):
            parse_command(bad)


def test_a_script_finishes_documents(tmp_path: Path) -> None:
    _project(tmp_path)
    script = "\n".join([
        "d",                                  # refused: 2 pending
        "",                                   # no default: explained, nothing accepted
        "s-9",                                # refused: before the first token
        "e+1",                                # Samsung -> Samsung Electronics
        "+ 1:4 LOC", "y",                     # EOU -> SEOUL, confirmed
        '+ "Tim Cook" PERSON',                # replaces the Cook proposal
        "+ 0:3 PLACE",                        # not a label
        "+ 9999:10000 ORG",                   # out of range
        '+ "Cupertino" LOC',
        "d",
        "a", "4", "u", "2",                   # Microsoft accepted; OpenAI as LOC, undone; as PERSON
        "l ORG",
        '+ "Satya Nadella" PERSON',
        "d", "q",
    ]) + "\n"  # fmt: skip
    out = _review(tmp_path, script)
    assert "still has 2 pending proposal(s)" in out
    assert "nothing is accepted by default" in out
    assert "cannot move the start of ORG [18:25]" in out
    assert 'ORG [18:37] "Samsung Electronics"' in out
    assert 'snapped to token edges: [1:4] -> [0:5]: LOC "SEOUL"' in out
    assert 'rejected proposal PERSON [48:52] "Cook"' in out
    assert "'PLACE' is not a label of the approved guideline; use one of: ORG, PERSON, PRODUCT, LOC" in out
    assert "is not a range of document 1" in out
    s = Store.open(tmp_path)
    assert [(x.text, x.label) for x in s.approved_spans(1)] == [
        ("SEOUL", "LOC"), ("Samsung Electronics", "ORG"), ("Tim Cook", "PERSON"), ("Cupertino", "LOC")]  # fmt: skip
    assert [(x.text, x.label) for x in s.approved_spans(2)] == [
        ("Microsoft", "ORG"), ("OpenAI", "ORG"), ("Satya Nadella", "PERSON")]  # fmt: skip
    assert status_counts(s) == {"untouched": 0, "partial": 0, "complete": 2, "withdrawn": 0}
    s.close()


def test_undo_after_done_reopens_and_returns(tmp_path: Path) -> None:
    _project(tmp_path)
    out = _review(tmp_path, "A\nd\nu\nx\nd\nq\n")
    assert "undone: document 1 complete" in out
    assert out.count("── document 1") == 2  # back on document 1 after the undo
    s = Store.open(tmp_path)
    assert document_status(s, 1) == "complete" and len(s.approved_spans(1)) == 1  # one span removed by x
    assert [d.action for d in s.decisions(action="document.")] == [
        "document.complete", "document.undo", "document.complete"]  # fmt: skip
    s.close()


def test_ambiguous_text_asks_which(tmp_path: Path) -> None:
    s = Store.init(tmp_path)
    s.start_session("setup")
    labels = [LabelDef(name="ORG")]
    s.decide_guideline(s.add_guideline(Guideline(goal="x", labels=labels), "agent"), "human:ann", "approve")
    s.add_document(Document(text="APPLE RESULTS: Apple beat Applebee's; Apple shares rose."))
    s.close()
    out = _review(tmp_path, '+ "Apple" ORG\n2\nw duplicate\nq\n')
    assert '"Apple" occurs 2 times: 1) [15:20]' in out and "which one? [1-2" in out
    s = Store.open(tmp_path)
    assert [(x.start, x.text) for x in s.approved_spans(1)] == [(38, "Apple")]
    assert document_status(s, 1) == "withdrawn"
    s.close()


def test_korean_words_in_the_line_protocol(tmp_path: Path) -> None:
    text = "미국 상무부는 3일(현지시간) 발표했다."
    s = Store.init(tmp_path / "ko")
    labels = [LabelDef(name=n) for n in ("ORG", "LOC")]
    s.decide_guideline(s.add_guideline(Guideline(goal="뉴스", labels=labels, language="ko"), "agent"), "human:ann",
                       "approve")  # fmt: skip
    doc_id, _ = s.add_document(Document(text=text, lang="ko"))
    merged = Span(start=0, end=6, label="ORG", text="미국 상무부")
    s.add_proposals([Proposal(kind="span", document_id=doc_id, payload={"span": merged.model_dump()})])
    s.close()
    out = _review(tmp_path / "ko", "t\ns+1\nq\n")
    assert "0:2 미국  3:6 상무부  6:7 는  8:10 3일" in out  # words, not syllables
    with Store.open(tmp_path / "ko") as st:
        assert [(x.text, x.label) for x in st.approved_spans(doc_id)] == [("상무부", "ORG")]


def test_a_span_inside_a_token_is_saved_exactly_and_a_relabel_keeps_it(tmp_path: Path) -> None:
    """ "U.S." is inside the one token "U.S.-brokered": `+ 4:8` asks, and e saves the characters given; a relabel
    (digit or `l`) changes the label only, also of a span made by character moves (it used to snap it back)."""
    text = "The U.S.-brokered ceasefire between Israel and Hezbollah held for a third day."
    s = Store.init(tmp_path)
    s.start_session("setup")
    labels = [LabelDef(name=n) for n in ("ORG", "PERSON", "PRODUCT", "LOC")]
    s.decide_guideline(s.add_guideline(Guideline(goal="news", labels=labels), "agent"), "human:ann", "approve")
    for copy in (text, text + " Again."):
        doc_id, _ = s.add_document(Document(text=copy))
        s.add_proposals([Proposal(kind="span", document_id=doc_id,
                                  payload={"span": Span(start=4, end=17, label="ORG", text="U.S.-brokered").model_dump()})])  # fmt: skip
    s.close()
    script = "\n".join([
        "+ 4:8 LOC", "n",             # asked; not saved
        "+ 4:8 LOC", "e",             # exactly "U.S." (replaces the proposal over it)
        "l ORG", "4",                 # relabels keep [4:8]
        '+ "Hezbollah" ORG', "d",
        "e-9c", "4",                  # document 2: the proposal cut by characters, then relabeled: stays "U.S."
        "d", "q",
    ]) + "\n"  # fmt: skip
    out = _review(tmp_path, script)
    assert 'snapped to token edges: [4:8] -> [4:17]: LOC "U.S.-brokered" (you gave "U.S.")' in out
    assert 'save it? [y: as snapped / e: exactly "U.S." / n]' in out and "not saved" in out
    s = Store.open(tmp_path)
    assert [(x.start, x.end, x.label) for x in s.approved_spans(1)] == [(4, 8, "LOC"), (47, 56, "ORG")]
    assert [(x.start, x.end, x.label, x.text) for x in s.approved_spans(2)] == [(4, 8, "LOC", "U.S.")]
    assert status_counts(s)["complete"] == 2
    s.close()
