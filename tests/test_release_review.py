"""Releases hold finished work: complete documents by default, partial ones only when asked, withdrawn never."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.errors import InvalidState
from studio.ops import review as rv
from studio.ops.release import ReleaseOptions, build_release
from studio.schema import Document, Guideline, LabelDef
from studio.store import Store
from tests.conftest import run_cli
from tests.test_release_build import jsonl_docs

ACTOR = "human:ann"
TEXTS = [
    "BERLIN, March 3 - Siemens named Roland Busch chief executive.",
    "Results: Bayern Munich 2 Borussia Dortmund 1 (Kane 2).",
    "서울 - 삼성전자가 갤럭시 S25를 공개했다.",
    "A short note without names.",
]


def _project(root: Path) -> Store:
    s = Store.init(root)
    s.start_session("t")
    labels = [LabelDef(name=n) for n in ("ORG", "PERSON", "PRODUCT", "LOC")]
    s.decide_guideline(s.add_guideline(Guideline(goal="news", labels=labels), "agent"), ACTOR, "approve")
    ids = [i for i, _ in s.add_documents([Document(text=t, lang="ko" if "서울" in t else "en") for t in TEXTS])]
    rv.add_text(s, ids[0], "Siemens", "ORG", ACTOR)
    rv.add_text(s, ids[0], "Roland Busch", "PERSON", ACTOR)
    rv.add_text(s, ids[0], "BERLIN", "LOC", ACTOR)
    rv.complete(s, ids[0], ACTOR)
    rv.add_text(s, ids[1], "Bayern Munich", "ORG", ACTOR)  # partial: Dortmund and Kane never added
    rv.add_text(s, ids[2], "삼성전자", "ORG", ACTOR)
    rv.add_text(s, ids[2], "갤럭시 S25", "PRODUCT", ACTOR)
    rv.complete(s, ids[2], ACTOR)
    rv.complete(s, ids[3], ACTOR)  # complete with no entities: a true negative
    return s


def _jsonl(folder: Path) -> dict[str, dict]:
    return {rec["text"]: rec for rec in jsonl_docs(folder).values()}


def test_partial_left_out_by_default_and_in_when_asked(tmp_path: Path) -> None:
    s = _project(tmp_path / "p")
    r = build_release(s, ReleaseOptions(license="CC-BY-4.0", split=(1.0, 0.0, 0.0)), ACTOR)
    recs = _jsonl(Path(r.path))
    assert set(recs) == {TEXTS[0], TEXTS[2], TEXTS[3]} and all("complete" not in x for x in recs.values())
    assert [sp["text"] for sp in recs[TEXTS[2]]["spans"]] == ["삼성전자", "갤럭시 S25"]
    card = (Path(r.path) / "README.md").read_text(encoding="utf-8")
    assert "only documents a person marked complete" in card and "1 partly reviewed document(s) are left out" in card
    assert "| train | 3 | 0 |" in card
    assert "In the project: 3 complete, 1 partial, 0 untouched, 0 withdrawn" in card

    rv.withdraw(s, 3, ACTOR, "duplicate")
    r2 = build_release(s, ReleaseOptions(license="CC-BY-4.0", split=(1.0, 0.0, 0.0), include_partial=True), ACTOR)
    recs = _jsonl(Path(r2.path))
    assert set(recs) == {TEXTS[0], TEXTS[1], TEXTS[3]}  # withdrawn document 3 left out
    assert recs[TEXTS[1]]["complete"] is False and recs[TEXTS[0]]["complete"] is True
    card = (Path(r2.path) / "README.md").read_text(encoding="utf-8")
    assert '"complete": false' in card and "| train | 2 | 1 |" in card and "name: complete" in card
    s.close()


def test_release_refuses_when_nothing_is_complete(tmp_path: Path) -> None:
    s = Store.init(tmp_path / "p")
    s.start_session("t")
    s.decide_guideline(s.add_guideline(Guideline(goal="x", labels=[LabelDef(name="ORG")]), "agent"), ACTOR, "approve")
    ((doc_id, _),) = s.add_documents([Document(text="Siemens and Bosch met.")])
    rv.add_text(s, doc_id, "Siemens", "ORG", ACTOR)
    with pytest.raises(InvalidState, match=r"no document is complete yet \(1 partly reviewed\).*--include-partial"):
        build_release(s, ReleaseOptions(license="MIT"), ACTOR)
    s.close()


def test_cli_release_include_partial_and_status(tmp_path: Path) -> None:
    _project(tmp_path / "p").close()
    code, out, err = run_cli("--project", str(tmp_path / "p"), "--user", "ann", "status", "--json")
    assert code == 0, err
    assert json.loads(out)["review"] == {"untouched": 0, "partial": 1, "complete": 3, "withdrawn": 0}
    code, out, err = run_cli("--project", str(tmp_path / "p"), "--user", "ann", "release", "--license", "MIT",
                             "--include-partial", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["documents"] == 4
