"""Import with annotations: each format in, release out, spans identical; refusals and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.ops.collect.hints import looks_line_per_record
from studio.ops.collect.labels import import_labeled, read_labeled
from studio.ops.release import ReleaseOptions, build_release
from studio.ops.review import document_status, status_counts
from studio.schema import Guideline, LabelDef
from studio.store import Store
from tests.conftest import FIXTURES, run_cli

LABELS = FIXTURES / "ner" / "labels"
ACTOR = "human:ann"


@pytest.fixture
def project(tmp_path: Path) -> Store:
    s = Store.init(tmp_path / "p")
    s.start_session("t")
    labels = [LabelDef(name=n) for n in ("ORG", "PERSON", "PRODUCT", "LOC")]
    s.decide_guideline(s.add_guideline(Guideline(goal="news", labels=labels), "agent"), ACTOR, "approve")
    yield s
    s.close()


def _released(store: Store, **opts: object) -> dict[str, list[tuple[int, int, str]]]:
    r = build_release(store, ReleaseOptions(license="CC-BY-4.0", split=(1.0, 0.0, 0.0), **opts), ACTOR)
    out = {}
    for line in (Path(r.path) / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        out[rec["text"]] = [(s["start"], s["end"], s["label"]) for s in rec["spans"]]
    return out


def _spans_in(path: Path, **kw: str) -> dict[str, list[tuple[int, int, str]]]:
    return {d.text: sorted((s.start, s.end, s.label) for s in d.spans) for d in read_labeled(path, **kw).docs}


def test_label_studio_export_round_trip(project: Store) -> None:
    res = import_labeled(project, LABELS / "labelstudio_export.json", ACTOR)
    assert (res.format, res.documents, res.spans, res.completed) == ("labelstudio", 2, 8, 2)
    assert res.errors == [
        f"{LABELS / 'labelstudio_export.json'}:#3: no annotation (only cancelled ones or none); task skipped"
    ]
    assert _released(project) == _spans_in(LABELS / "labelstudio_export.json")
    # the newest annotation that was not cancelled is the one used
    assert [s.text for s in project.approved_spans(2)] == ["Lisa Su", "AMD", "MI400"]
    label_add = project.decisions(action="label.add")[0]
    assert label_add.actor == ACTOR and label_add.payload["source"].endswith("labelstudio_export.json:#1")


def test_conll_bioes_and_iob1_round_trip(project: Store) -> None:
    bioes = import_labeled(project, LABELS / "news_bioes.conll", ACTOR)
    assert (bioes.scheme, bioes.documents, bioes.spans) == ("bioes", 3, 10)
    iob1 = import_labeled(project, FIXTURES / "ner" / "tiny_iob1.conll", ACTOR, mapping={"PER": "PERSON"})
    assert iob1.scheme == "iob1" and iob1.completed == 4
    want = _spans_in(LABELS / "news_bioes.conll")
    want.update({t: sorted((a, b, "PERSON" if lab == "PER" else lab) for a, b, lab in v)
                 for t, v in _spans_in(FIXTURES / "ner" / "tiny_iob1.conll").items()})  # fmt: skip
    assert _released(project) == want
    text = "SAN FRANCISCO , May 2 - Jensen Huang said TSMC will build chips in Arizona ."
    assert want[text] == [(0, 13, "LOC"), (24, 36, "PERSON"), (42, 46, "ORG"), (67, 74, "LOC")]


def test_jsonl_complete_flags_snapping_and_malformed_lines(project: Store) -> None:
    path = LABELS / "news.jsonl"
    res = import_labeled(project, path, ACTOR)
    assert res.errors[0].startswith(f"{path}:4: not JSON")
    assert f'{path}:6: Prodigy answer "reject": not an annotation; skipped' in res.errors
    assert res.snapped == [f"{path}:2: LOC 'umbai' snapped to 'Mumbai'"]
    assert (res.documents, res.completed, res.partial) == (4, 3, 1)
    assert status_counts(project) == {"untouched": 0, "partial": 1, "complete": 3, "withdrawn": 0}
    langs = {d.text[:4]: d.lang for d in project.documents()}
    assert langs["서울 -"] == "ko" and langs["CUPE"] == "en"  # each document's script; Latin takes the guideline's
    released = _released(project)
    assert "Microsoft and OpenAI talked; Satya Nadella declined to comment." not in released  # complete: false
    assert released["서울 - 삼성전자가 갤럭시 S25를 공개했다."] == [(0, 2, "LOC"), (5, 9, "ORG"), (11, 18, "PRODUCT")]
    cupertino = "CUPERTINO, Calif. - Tim Cook said Apple would open a store in Mumbai."
    assert released[cupertino][-1] == (62, 68, "LOC")  # snapped
    partial = _released(project, include_partial=True, version="0.2.0")
    assert partial["Microsoft and OpenAI talked; Satya Nadella declined to comment."] == [(0, 9, "ORG")]


def test_docbin_round_trip(project: Store, tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    bin_ = DocBin()
    for text, ents in [("Nvidia hired Ana Lopez in Austin.", [(0, 6, "ORG"), (13, 22, "PERSON"), (26, 32, "LOC")]),
                       ("No names in this one.", [])]:  # fmt: skip
        doc = nlp(text)
        doc.ents = [doc.char_span(a, b, label=lab) for a, b, lab in ents]
        bin_.add(doc)
    path = tmp_path / "train.spacy"
    bin_.to_disk(path)
    res = import_labeled(project, path, ACTOR)
    assert (res.format, res.documents, res.spans, res.completed) == ("docbin", 2, 3, 2)
    assert _released(project) == _spans_in(path)


def test_unknown_labels_refused_with_a_list_and_nothing_written(project: Store) -> None:
    before = project.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    with pytest.raises(
        StudioError, match=r"labels not in the approved guideline: PER \(2 spans\)\. .*--map PER=PERSON"
    ):
        import_labeled(project, FIXTURES / "ner" / "tiny_iob1.conll", ACTOR)
    assert project.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == before
    # MISC-like labels can be dropped by mapping them to O
    res = import_labeled(project, FIXTURES / "ner" / "tiny_iob1.conll", ACTOR, mapping={"PER": "O"})
    assert res.spans == 8


def test_as_proposals_of_a_weak_source(project: Store) -> None:
    res = import_labeled(project, LABELS / "labelstudio_export.json", ACTOR, as_proposals="old_team")
    assert res.proposals == 8 and res.spans == 0
    props = project.proposals(kind="span")
    assert {p.source for p in props} == {"old_team"} and props[0].payload["sources"] == {"old_team": 1.0}
    assert document_status(project, 1) == "untouched"


def test_cli_import_with_labels_and_per_line_hint(tmp_path: Path, project: Store) -> None:
    root = str(project.root)
    code, out, err = run_cli("--project", root, "import", str(LABELS / "news_bioes.conll"), "--with-labels", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["spans"] == 10
    code, out, err = run_cli("--project", root, "import", str(FIXTURES / "ner" / "tiny_iob1.conll"), "--with-labels")
    assert code == 1 and "labels not in the approved guideline: PER (2 spans)" in err and "Traceback" not in err
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "Apple hired Tim Cook.\nSamsung opened a lab in Seoul.\nNvidia shares rose 4%.\n", encoding="utf-8"
    )
    code, out, err = run_cli("--project", root, "import", str(notes))
    assert code == 0 and "look like separate sentences but became one document" in out and "--per-line" in out


def test_line_hint_heuristics() -> None:
    assert looks_line_per_record("One sentence.\nAnother one!\nA third?\n") == "sentences"
    assert looks_line_per_record("a\t1\nb\t2\nc\t3\n") == "records"
    wrapped = (
        "This paragraph was wrapped at a fixed\nwidth by an editor so its lines end in\nthe middle of sentences.\n"
    )
    assert looks_line_per_record(wrapped) is None
    assert looks_line_per_record("Para one.\n\nPara two.\n\nPara three.\n") is None
