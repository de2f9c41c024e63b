"""Gold readers, the entity-level scorer, and `studio eval` on a tiny gold set checked by hand.

The tiny gold (fixtures/ner/tiny_iob2.conll, tiny_iob1.conll, tiny.jsonl; 10 entities):
  D1 "Apple hired Tim Cook in Cupertino."   Apple/ORG, Tim Cook/PER, Cupertino/LOC
  D2 "Microsoft and OpenAI signed a deal."  Microsoft/ORG, OpenAI/ORG
  D3 "Sam Altman leads OpenAI, not Google." Sam Altman/PER, OpenAI/ORG, Google/ORG
  D4 "Partners: Intel AMD."                 Intel/ORG, AMD/ORG  (adjacent: B-ORG in IOB1)
Proposals put in the project (confidence >= 0.5 unless noted):
  D1 Apple/ORG, Tim/PER, Cupertino/ORG     D2 Microsoft/ORG, OpenAI/ORG (0.3: below threshold), deal/ORG
  D3 Sam Altman/PER, OpenAI/ORG            D4 "Intel AMD"/ORG
Strict:  ORG  tp 3 (Apple, Microsoft, OpenAI@D3) fp 3 (Cupertino, deal, Intel AMD) fn 4 (OpenAI@D2, Google,
              Intel, AMD) -> P 3/6 = .5, R 3/7 = .4286, F1 6/13 = .4615
         PER  tp 1 (Sam Altman) fp 1 (Tim) fn 1 (Tim Cook) -> .5 / .5 / .5
         LOC  tp 0 fp 0 fn 1 -> 0 / 0 / 0
         all  tp 4 fp 4 fn 6 -> P .5, R .4, F1 4/9 = .4444
Partial: ORG  tp 4 (+ "Intel AMD"~Intel, the larger overlap; AMD stays unmatched) fp 2 fn 3 -> F1 8/13 = .6154
         PER  tp 2 (Tim ~ Tim Cook) fp 0 fn 0 -> 1.0
         all  tp 6 fp 2 fn 4 -> P .75, R .6, F1 12/18 = .6667
Approved (accept Apple, edit Tim -> Tim Cook, accept Sam Altman, reject deal): tp 3 fp 0 fn 7 -> P 1, R .3
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.ops.ner.evaluate import evaluate_store, map_offsets, score
from studio.ops.ner.formats import decode_tags, detect_scheme, parse_label_map, read_conll_text, read_gold
from studio.schema import Document, Proposal, Span
from studio.store import Store
from tests.conftest import run_cli

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "ner"
DOCS = [
    "Apple hired Tim Cook in Cupertino.",
    "Microsoft and OpenAI signed a deal.",
    "Sam Altman leads OpenAI, not Google.",
    "Partners: Intel AMD.",
]


def S(text: str, sub: str, label: str, nth: int = 0) -> Span:
    i = -1
    for _ in range(nth + 1):
        i = text.index(sub, i + 1)
    return Span(start=i, end=i + len(sub), label=label, text=sub)


def tri(spans: list[Span]) -> list[tuple[str, str]]:
    return [(s.text, s.label) for s in spans]


# -- readers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "scheme"), [("tiny_iob2.conll", "iob2"), ("tiny_iob1.conll", "iob1")])
def test_conll_readers_agree(name: str, scheme: str) -> None:
    gf = read_gold(FIX / name)
    assert gf.format == "conll" and gf.scheme == scheme and gf.errors == []
    assert [d.text for d in gf.docs] == [
        "Apple hired Tim Cook in Cupertino .",
        "Microsoft and OpenAI signed a deal .",
        "Sam Altman leads OpenAI , not Google .",
        "Partners : Intel AMD .",
    ]
    assert [tri(d.spans) for d in gf.docs] == [
        [("Apple", "ORG"), ("Tim Cook", "PER"), ("Cupertino", "LOC")],
        [("Microsoft", "ORG"), ("OpenAI", "ORG")],
        [("Sam Altman", "PER"), ("OpenAI", "ORG"), ("Google", "ORG")],
        [("Intel", "ORG"), ("AMD", "ORG")],
    ]
    assert gf.docs[0].where.endswith(f"{name}:3" if scheme == "iob2" else f"{name}:1")


def test_jsonl_reader_and_same_entities() -> None:
    gf = read_gold(FIX / "tiny.jsonl")
    assert gf.format == "jsonl" and gf.errors == [] and [d.text for d in gf.docs] == DOCS
    assert sum(len(d.spans) for d in gf.docs) == 10
    corpus = read_gold(FIX / "tech_news.jsonl")
    assert len(corpus.docs) == 30 and corpus.errors == []
    assert {s.label for d in corpus.docs for s in d.spans} == {"ORG", "PERSON", "PRODUCT", "LOC"}


def test_scheme_detection_and_bioes() -> None:
    assert detect_scheme(["B-ORG", "I-ORG", "O", "B-PER"]) == "iob2"
    assert detect_scheme(["I-ORG", "I-ORG", "B-ORG", "O"]) == "iob1"
    assert detect_scheme(["B-ORG", "I-PER"]) == "iob1"  # I- after another label starts an entity
    assert detect_scheme(["S-ORG", "O", "B-PER", "E-PER"]) == "bioes"
    toks = ["Intel", "AMD", "and", "Tim", "Cook", "x"]
    assert tri(decode_tags(toks, ["S-ORG", "S-ORG", "O", "B-PER", "E-PER", "O"])) == [
        ("Intel", "ORG"),
        ("AMD", "ORG"),
        ("Tim Cook", "PER"),
    ]
    assert tri(decode_tags(toks, ["I-ORG", "B-ORG", "O", "I-PER", "I-PER", "I-LOC"])) == [
        ("Intel", "ORG"),
        ("AMD", "ORG"),
        ("Tim Cook", "PER"),
        ("x", "LOC"),
    ]


def test_malformed_conll_lines_skip_their_sentence() -> None:
    raw = "Apple B-ORG\nhired\nTim B-PER\n\nGoogle B-ORG\nrose X-ORG\n\nIntel B-ORG\n"
    gf = read_conll_text(raw, "bad.conll")
    assert [d.text for d in gf.docs] == ["Intel"]
    assert gf.errors == [
        "bad.conll:2: expected 'TOKEN ... TAG', got 'hired'; sentence skipped",
        "bad.conll:6: bad tag 'X-ORG' (use O, B-X, I-X, E-X or S-X); sentence skipped",
    ]
    strict = read_conll_text("Apple I-ORG\nCook I-PER\n", "x.conll", scheme="iob2")
    assert (
        strict.scheme == "iob2" and len(strict.errors) == 2 and "x.conll:1: I-ORG starts an entity" in strict.errors[0]
    )


def _char_lines(text: str, spans: list[tuple[int, int, str]]) -> str:
    """One character per line with its BIO tag, a space as " <TAB>O", as KLUE NER's files are written."""
    tags = ["O"] * len(text)
    for a, b, label in spans:
        tags[a:b] = [f"B-{label}"] + [f"I-{label}"] * (b - a - 1)
    return "".join(f"{ch}\t{tag}\n" for ch, tag in zip(text, tags, strict=True))


def test_a_character_per_line_file_is_read_as_characters() -> None:
    """KLUE NER: a "## id<TAB>sentence" line, then one character and its tag per line, a space as a line of its own;
    the text is the characters joined without spaces, and a name's inner space is part of it while a space tagged
    at its edge is not. A Chinese file of characters (no spaces) reads the same way; a token "#" is a token."""
    ko1 = "특히 영동고속도로 강릉 방향 문막휴게소에서 5㎞ 구간에는"
    ko2 = "김태윤 기자가 13일 서울 중구에서 밝혔다."
    spans1 = [(3, 9, "LC"), (10, 13, "LC"), (16, 21, "LC"), (24, 26, "QT")]  # "강릉 " tagged with its space
    spans2 = [(0, 3, "PS"), (8, 11, "DT"), (12, 17, "LC")]  # "서울 중구": a name with a space inside
    raw = (f"## klue-ner-v1_dev_00000\t{ko1}\n" + _char_lines(ko1, spans1) + "\n"
           + f"## klue-ner-v1_dev_00001\t{ko2}\n" + _char_lines(ko2, spans2) + "\n")  # fmt: skip
    gf = read_conll_text(raw, "klue.tsv")
    assert gf.errors == [] and [d.text for d in gf.docs] == [ko1, ko2]
    assert [[(s.text, s.label) for s in d.spans] for d in gf.docs] == [
        [("영동고속도로", "LC"), ("강릉", "LC"), ("문막휴게소", "LC"), ("5㎞", "QT")],
        [("김태윤", "PS"), ("13일", "DT"), ("서울 중구", "LC")],
    ]
    zh = read_conll_text("美\tB-LOC\n国\tI-LOC\n的\tO\n华\tB-PER\n莱\tI-PER\n士\tI-PER\n\n#\tO\n我\tO\n", "c.bio")
    assert [d.text for d in zh.docs] == ["美国的华莱士", "#我"]
    assert [(s.text, s.label) for s in zh.docs[0].spans] == [("美国", "LOC"), ("华莱士", "PER")]
    # a file of words is still joined with spaces, also when tab-separated with empty columns and comments
    en = read_conll_text("# sent_id = 1\n# text = Oslo won\nOslo\tNNP\t\tB-LOC\nwon\t\tO\n", "e.conll")
    assert [(d.text, [(s.text, s.label) for s in d.spans]) for d in en.docs] == [("Oslo won", [("Oslo", "LOC")])]


def test_malformed_jsonl_lines_reported_and_skipped(tmp_path: Path) -> None:
    p = tmp_path / "g.jsonl"
    lines = [
        json.dumps({"text": "Apple rose.", "spans": [{"start": 0, "end": 5, "label": "ORG"}]}),
        "{not json",
        json.dumps({"spans": []}),
        json.dumps({"text": "Short", "spans": [{"start": 0, "end": 50, "label": "ORG"}]}),
        json.dumps({"text": "Apple", "spans": [{"start": 0, "end": 5, "label": "ORG", "text": "Pear!"}]}),
        "",
        json.dumps({"text": "Intel fell.", "spans": [{"start": 3, "end": 1, "label": "ORG"}]}),
    ]
    p.write_text("\n".join(lines), encoding="utf-8")
    gf = read_gold(p)
    assert [d.text for d in gf.docs] == ["Apple rose."]
    assert [e.split(":")[1] for e in gf.errors] == ["2", "3", "4", "5", "7"]
    assert all(e.endswith("skipped") for e in gf.errors)
    with pytest.raises(StudioError, match="does not exist"):
        read_gold(tmp_path / "missing.jsonl")
    (tmp_path / "latin1.conll").write_bytes("Zürich B-LOC\n".encode("latin-1"))
    with pytest.raises(StudioError, match="not UTF-8"):
        read_gold(tmp_path / "latin1.conll")


def test_label_map() -> None:
    assert parse_label_map(["PER=PERSON", " MISC = O "]) == {"PER": "PERSON", "MISC": "O"}
    with pytest.raises(StudioError, match="FROM=TO"):
        parse_label_map(["PERSON"])


# -- the scorer ---------------------------------------------------------------------------


def predictions() -> list[list[Span]]:
    d1, d2, d3, d4 = DOCS
    return [
        [S(d1, "Apple", "ORG"), S(d1, "Tim", "PER"), S(d1, "Cupertino", "ORG")],
        [S(d2, "Microsoft", "ORG"), S(d2, "deal", "ORG")],
        [S(d3, "Sam Altman", "PER"), S(d3, "OpenAI", "ORG")],
        [S(d4, "Intel AMD", "ORG")],
    ]


def gold() -> list[list[Span]]:
    return [d.spans for d in read_gold(FIX / "tiny.jsonl").docs]


def test_score_hand_computed() -> None:
    sc = score(gold(), predictions())
    assert sc.strict["ORG"].model_dump() == {"tp": 3, "fp": 3, "fn": 4}
    assert sc.strict["PER"].model_dump() == {"tp": 1, "fp": 1, "fn": 1}
    assert sc.strict["LOC"].model_dump() == {"tp": 0, "fp": 0, "fn": 1}
    assert sc.strict["ORG"].f1 == pytest.approx(6 / 13) and sc.strict["LOC"].f1 == 0.0
    o = sc.overall("strict")
    assert (o.tp, o.fp, o.fn) == (4, 4, 6)
    assert (o.precision, o.recall, o.f1) == (0.5, 0.4, pytest.approx(4 / 9))
    assert sc.macro_f1("strict") == pytest.approx((6 / 13 + 0.5 + 0) / 3)
    assert sc.partial["ORG"].model_dump() == {"tp": 4, "fp": 2, "fn": 3}
    assert sc.partial["PER"].model_dump() == {"tp": 2, "fp": 0, "fn": 0}
    p = sc.overall("partial")
    assert (p.tp, p.fp, p.fn, p.f1) == (6, 2, 4, pytest.approx(2 / 3))


def test_score_partial_is_one_to_one_and_duplicates_count_once() -> None:
    t = "Tim Cook met Tim"
    g = [[S(t, "Tim Cook", "PER")]]
    # two predictions overlap one gold span: one tp, one fp; the duplicate counts once
    pr = [[S(t, "Tim", "PER"), S(t, "Cook", "PER"), S(t, "Cook", "PER")]]
    sc = score(g, pr)
    assert sc.partial["PER"].model_dump() == {"tp": 1, "fp": 1, "fn": 0}
    assert sc.strict["PER"].model_dump() == {"tp": 0, "fp": 2, "fn": 1}
    # different label never matches, even overlapping
    assert score(g, [[S(t, "Tim Cook", "ORG")]]).partial["PER"].fn == 1
    assert score([], []).overall().f1 == 0.0
    with pytest.raises(ValueError):
        score(g, [])


def test_map_offsets_between_tokenized_and_raw_text() -> None:
    conll = read_gold(FIX / "tiny_iob2.conll").docs[2]
    mapped = map_offsets(conll.text, DOCS[2], conll.spans)
    assert mapped == gold()[2] and [s.text for s in mapped] == ["Sam Altman", "OpenAI", "Google"]
    nfd = unicodedata.normalize("NFD", "Café  Zürich opened")
    mapped = map_offsets("Café Zürich opened", nfd, [Span(start=0, end=11, label="ORG")])
    assert mapped is not None and mapped[0].text == unicodedata.normalize("NFD", "Café  Zürich")
    assert map_offsets("Apple", "Pear", []) is None


# -- against a project ----------------------------------------------------------------------


def fill(store: Store) -> dict[str, int]:
    """The tiny project: DOCS plus one unrelated document, and the proposals above."""
    ids = [i for i, _ in store.add_documents(Document(text=t) for t in [*DOCS, "Unrelated text."])]
    d1, d2, d3, d4 = DOCS
    plan = [
        (0, S(d1, "Apple", "ORG"), 0.9),
        (0, S(d1, "Tim", "PER"), 0.6),
        (0, S(d1, "Cupertino", "ORG"), 0.7),
        (1, S(d2, "Microsoft", "ORG"), 0.95),
        (1, S(d2, "OpenAI", "ORG"), 0.3),
        (1, S(d2, "deal", "ORG"), 0.9),
        (2, S(d3, "Sam Altman", "PER"), 0.8),
        (2, S(d3, "OpenAI", "ORG"), 0.85),
        (3, S(d4, "Intel AMD", "ORG"), 0.5),
    ]
    props = [
        Proposal(
            kind="span",
            document_id=ids[i],
            payload={"span": sp.model_dump(), "sources": {"llm": c}},
            confidence=c,
            source="llm:ner.v1",
            batch="run1",
        )
        for i, sp, c in plan
    ]
    pids = store.add_proposals(props)
    return {"apple": pids[0], "tim": pids[1], "deal": pids[5], "sam": pids[6]}


def approve(store: Store, pids: dict[str, int]) -> None:
    store.accept_span(pids["apple"], "human:ann")
    store.accept_span(pids["tim"], "human:ann", edited=S(DOCS[0], "Tim Cook", "PER"))
    store.accept_span(pids["sam"], "human:ann")
    store.decide(pids["deal"], "human:ann", "reject")


@pytest.mark.parametrize("name", ["tiny.jsonl", "tiny_iob2.conll", "tiny_iob1.conll"])
def test_evaluate_store_proposals(store: Store, name: str) -> None:
    fill(store)
    calls: list[tuple[int, int]] = []
    rep = evaluate_store(
        store, read_gold(FIX / name).docs, what="proposals", threshold=0.5, progress=lambda d, t: calls.append((d, t))
    )
    assert rep.matched_docs == 4 and rep.unmatched == []
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    o = rep.scores.overall("strict")
    assert (o.tp, o.fp, o.fn) == (4, 4, 6)
    p = rep.scores.overall("partial")
    assert (p.tp, p.fp, p.fn) == (6, 2, 4)
    # lower threshold lets OpenAI@D2 (0.3) in: one more tp, one fewer fn
    o = evaluate_store(store, read_gold(FIX / name).docs, threshold=0.2).scores.overall()
    assert (o.tp, o.fp, o.fn) == (5, 4, 5)
    # decided proposals still count as proposals, and a batch filter that matches nothing scores nothing
    o = evaluate_store(store, read_gold(FIX / name).docs, batch="other").scores.overall()
    assert (o.tp, o.fp, o.fn) == (0, 0, 10)


def test_evaluate_store_approved_and_map(store: Store) -> None:
    approve(store, fill(store))
    docs = read_gold(FIX / "tiny.jsonl").docs
    rep = evaluate_store(store, docs, what="approved")
    o = rep.scores.overall()
    assert (o.tp, o.fp, o.fn, o.precision, o.recall) == (3, 0, 7, 1.0, 0.3)
    # only documents a human reviewed: D1 and D3 have approved labels -> 6 gold entities, 3 found
    rep = evaluate_store(store, docs, what="approved", reviewed_only=True)
    assert rep.matched_docs == 2 and len(rep.unmatched) == 2
    o = rep.scores.overall()
    assert (o.tp, o.fp, o.fn) == (3, 0, 3)
    # --map renames labels on both sides; mapping to O drops a label
    rep = evaluate_store(store, docs, label_map={"PER": "PERSON", "LOC": "O"})
    assert set(rep.scores.strict) == {"ORG", "PERSON"}
    o = rep.scores.overall()
    assert (o.tp, o.fp, o.fn) == (4, 4, 5)


def test_unmatched_gold_documents_are_listed(store: Store, tmp_path: Path) -> None:
    fill(store)
    p = tmp_path / "g.jsonl"
    extra = {"text": "Not in the project.", "spans": []}
    p.write_text((FIX / "tiny.jsonl").read_text() + json.dumps(extra) + "\n", encoding="utf-8")
    rep = evaluate_store(store, read_gold(p).docs)
    assert rep.gold_docs == 5 and rep.matched_docs == 4 and rep.unmatched == [f"{p}:5"]


# -- the command ------------------------------------------------------------------------------


def test_eval_cli(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    s = Store.init(proj)
    s.start_session("t")
    approve(s, fill(s))
    s.close()
    code, out, err = run_cli("--project", str(proj), "eval", str(FIX / "tiny_iob1.conll"), "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["format"] == "conll" and r["scheme"] == "iob1" and r["matched_docs"] == 4
    assert r["strict"]["overall"] == {"tp": 4, "fp": 4, "fn": 6, "precision": 0.5, "recall": 0.4, "f1": 0.4444}
    assert r["strict"]["per_label"]["ORG"]["f1"] == 0.4615
    assert r["partial"]["overall"]["f1"] == 0.6667
    code, out, err = run_cli(
        "--project", str(proj), "eval", str(FIX / "tiny.jsonl"), "--what", "approved", "--map", "PER=PERSON", "--json"
    )
    assert code == 0, err
    r = json.loads(out)
    assert r["threshold"] is None and set(r["strict"]["per_label"]) == {"ORG", "PERSON", "LOC"}
    assert r["strict"]["overall"]["precision"] == 1.0 and r["strict"]["overall"]["recall"] == 0.3
    code, out, err = run_cli("--project", str(proj), "eval", str(FIX / "tiny_iob2.conll"))
    assert code == 0, err
    assert "(overall)" in out and " 0.444 " in out and "matched 4 of 4 gold documents (iob2)" in out
    # every run is logged as a tool decision
    code, out, _ = run_cli("--project", str(proj), "log", "--action", "eval", "--json")
    runs = json.loads(out)
    assert len(runs) == 3 and runs[0]["actor"] == "tool" and runs[0]["payload"]["strict"]["tp"] == 4


def test_eval_cli_errors(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    Store.init(proj).close()
    code, _, err = run_cli("--project", str(proj), "eval", str(FIX / "tiny.jsonl"))
    assert code == 1 and "none of the 4 gold documents is in this project" in err
    assert len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.conll"
    bad.write_text("Apple\n", encoding="utf-8")
    code, _, err = run_cli("--project", str(proj), "eval", str(bad))
    assert code == 1 and "warning: " in err and "bad.conll:1" in err and "no readable documents" in err
    code, _, err = run_cli("--project", str(proj), "eval", str(FIX / "tiny.jsonl"), "--map", "PER")
    assert code == 1 and "FROM=TO" in err
    code, out, _ = run_cli("eval", "--help")
    assert code == 0 and "--threshold" in out and "--map" in out and "IOB" in out
