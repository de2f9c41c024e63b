"""File import against fixtures/import: every format, with one malformed row or file each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.ops.collect.importer import ImportProgress, ImportSettings, import_paths
from studio.store import Store
from tests.conftest import FIXTURES, run_cli

IMPORT = FIXTURES / "import"


def errors_of(result: object) -> list[str]:
    return [str(e).removeprefix(str(IMPORT) + "/") for e in result.errors]  # type: ignore[attr-defined]


def test_a_folder_imports_everything_and_reports_each_bad_row(store: Store) -> None:
    progress: list[ImportProgress] = []
    result = import_paths(store, [IMPORT], on_progress=progress.append)
    assert errors_of(result) == [
        "empty.txt: empty file",
        "mixed-bytes.jsonl:2: undecodable bytes (not UTF-8); line skipped",
        "rows.jsonl:3: not valid JSON (Expecting property name enclosed in double quotes at column 33)",
        "rows.jsonl:5: field 'text' is missing (fields: body); pick one with --field",
        "table.csv:3: row has no value in column 'text'",
        "table.csv:6: column 'text' is empty",
    ]
    assert result.files == 10 and result.skipped_files == [str(IMPORT / "nested" / "readme.md")]
    assert result.by_format == {"txt": 3, "jsonl": 6, "html": 2, "csv": 3}
    assert result.imported == 14 == len(list(store.documents(source="import")))
    assert progress[-1].files_done == progress[-1].files_total == 10


def test_text_and_provenance_per_format(store: Store) -> None:
    import_paths(store, [IMPORT])
    docs = {(Path(d.provenance["path"]).name, d.provenance.get("line")): d for d in store.documents()}
    merkel = docs[("rows.jsonl", 1)]
    assert merkel.text == "Angela Merkel met Emmanuel Macron in Berlin."
    assert merkel.source == "import" and merkel.provenance["format"] == "jsonl"
    assert docs[("rows.jsonl", 6)].text == "The Louvre is in Paris — the world’s most visited museum."
    # The good lines around an undecodable one survive, with their UTF-8 intact.
    assert docs[("mixed-bytes.jsonl", 1)].text == "Zürich is the largest city in Switzerland."
    assert docs[("mixed-bytes.jsonl", 3)].text == "São Paulo is the largest city in Brazil."
    nairobi = docs[("table.csv", 4)]
    assert nairobi.text == "A quoted field\nwith a line break in Nairobi." and nairobi.provenance["row"] == 3
    assert docs[("table.csv", 7)].provenance["row"] == 5
    legacy = docs[("legacy-cp1252.txt", None)]
    assert "Les élèves de l’école" in legacy.text and legacy.provenance["charset"] == "detected:cp1252"
    page = docs[("page.html", None)]
    assert page.text.startswith("Field notes\nJane Goodall studied chimpanzees")
    assert "Home | Contact" not in page.text  # boilerplate gone
    assert page.provenance["license_hints"] == {"meta:copyright": "(c) 2023 Example Press"}
    assert page.provenance["title"] == "Saved page"
    broken = docs[("broken.html", None)]
    assert "Lagos" in broken.text and "Accra" in broken.text


def test_import_is_one_tool_decision_and_reimport_only_finds_duplicates(store: Store) -> None:
    first = import_paths(store, [IMPORT])
    second = import_paths(store, [IMPORT])
    assert second.imported == 0 and second.duplicates == first.imported
    runs = store.decisions(action="import.run")
    assert [r.actor for r in runs] == ["tool", "tool"]
    assert runs[0].payload["counts"] == {
        "files": 10,
        "imported": 14,
        "duplicates": 0,
        "errors": 6,
        "skipped_files": 1,
    }
    assert "table.csv:3: row has no value in column 'text'" in runs[0].payload["errors"][4]
    assert runs[0].payload["args"]["field"] == "text"


def test_per_line_txt_field_and_column_options(store: Store, tmp_path: Path) -> None:
    per_line = import_paths(store, [IMPORT / "sentences.txt"], ImportSettings(per_line=True))
    assert (per_line.imported, per_line.duplicates) == (2, 1)  # the repeated line is one document
    lines = sorted(d.provenance["line"] for d in store.documents())
    assert lines == [1, 3]
    (tmp_path / "t.jsonl").write_text('{"body": "Nelson Mandela was born in Mvezo.", "lang": "en"}\n')
    (tmp_path / "t.csv").write_text("id,review\n1,Das Essen in München war gut.\n")
    res = import_paths(store, [tmp_path / "t.jsonl"], ImportSettings(field="body"))
    assert res.imported == 1 and not res.errors
    res = import_paths(store, [tmp_path / "t.csv"], ImportSettings(column="review", lang="de"))
    assert res.imported == 1
    assert [d.lang for d in store.documents()][-1] == "de"
    res = import_paths(store, [tmp_path / "t.csv"])
    assert errors_of(res) == [f"{tmp_path}/t.csv:1: no column 'text' (columns: id, review); pick one with --column"]


def test_other_encodings_and_bad_files(store: Store, tmp_path: Path) -> None:
    (tmp_path / "utf16.txt").write_bytes("Łódź is a city in Poland.".encode("utf-16"))
    ja = "東京都は日本の首都です。大阪は食べ物がおいしい町として知られています。京都には古いお寺がたくさんあります。"
    (tmp_path / "sjis.txt").write_bytes(ja.encode("shift_jis"))
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "bad.txt").write_bytes("Köln ist schön.\n".encode() + b"Gr\xfc\xdfe aus K\xf6ln\n")
    files = ["utf16.txt", "sjis.txt", "binary.txt", "doc.pdf", "bad.txt"]
    res = import_paths(store, [tmp_path / f for f in files])
    texts = {d.text for d in store.documents()}
    assert "Łódź is a city in Poland." in texts and ja in texts
    assert res.imported == 2
    assert errors_of(res) == [
        f"{tmp_path}/binary.txt: looks like a binary file (NUL bytes); file skipped",
        f"{tmp_path}/doc.pdf: unsupported file type '.pdf'; use .txt, .jsonl, .csv, .html or .conll",
        f"{tmp_path}/bad.txt:2: undecodable bytes (not UTF-8); file skipped",
    ]


def test_a_missing_path_is_a_user_error_and_imports_nothing(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StudioError, match=r"no such file or folder: .*nope"):
        import_paths(store, [IMPORT / "story.txt", tmp_path / "nope"])
    assert list(store.documents()) == [] and store.decisions(action="import.run") == []


def _import_into_new_project(tmp_path: Path, *args: str) -> tuple[Path, str]:
    """`studio import ARGS` in a new project under tmp_path: the project and what the import printed."""
    proj = tmp_path / "proj"
    Store.init(proj).close()
    code, out, err = run_cli("-p", str(proj), "import", *args)
    assert code == 0, err
    return proj, out


def test_cli_import_summary_json_and_errors(tmp_path: Path) -> None:
    proj, out = _import_into_new_project(tmp_path, str(IMPORT))
    assert out.startswith("Imported 14 documents from 10 files (0 duplicates skipped, 6 errors).")
    assert f"  {IMPORT}/rows.jsonl:3: not valid JSON" in out
    code, out, err = run_cli("-p", str(proj), "import", str(IMPORT / "story.txt"), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["imported"], summary["duplicates"], summary["errors"]) == (0, 1, [])
    code, _, err = run_cli("-p", str(proj), "import", str(tmp_path / "missing.jsonl"))
    assert code == 1 and err.startswith("error: no such file or folder") and "Traceback" not in err
    code, out, err = run_cli("-p", str(proj), "import", str(IMPORT / "empty.txt"))
    assert code == 1 and "empty.txt: empty file" in out and "nothing was imported" in err
    code, out, _ = run_cli("import", "--help")
    assert code == 0 and "--field" in out and "--column" in out and "--per-line" in out


def test_a_documents_language_comes_from_its_script_then_the_setting_then_the_guideline(tmp_path: Path) -> None:
    """Korean text imported without --lang is Korean (its review moves by words, not syllables); Latin
    text takes --lang, else the approved guideline's language; a .jsonl 'lang' wins. The decision
    records the language Latin text got."""
    from studio.schema import Guideline, LabelDef

    lines = ["미국 상무부는 3일(현지시간) 한국과학기술원(KAIST)과 협력한다고 밝혔다.", "LG Twins 3, KT Wiz 1",
             "2-1", "Samsung hired 이정후's agent."]  # fmt: skip
    (tmp_path / "mixed.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "rows.jsonl").write_text('{"text": "Guten Tag aus Berlin.", "lang": "de"}\n', encoding="utf-8")

    def langs(store: Store) -> dict[str, str]:
        return {d.text: d.lang for d in store.documents()}

    plain = Store.init(tmp_path / "plain")
    import_paths(plain, [tmp_path / "mixed.txt", tmp_path / "rows.jsonl"], ImportSettings(per_line=True))
    assert langs(plain) == {
        lines[0]: "ko",
        lines[1]: "en",
        lines[2]: "en",
        lines[3]: "en",
        "Guten Tag aus Berlin.": "de",
    }
    assert plain.decisions(action="import.run")[0].payload["args"]["lang"] == "en"

    korean = Store.init(tmp_path / "ko")
    g = Guideline(goal="뉴스", language="ko", labels=[LabelDef(name="ORG")])
    korean.decide_guideline(korean.add_guideline(g, "agent"), "human:ann", "approve")
    res = import_paths(korean, [tmp_path / "mixed.txt"], ImportSettings(per_line=True))
    assert res.languages == {"ko": 2, "en": 2}
    assert langs(korean) == {
        lines[0]: "ko",
        lines[1]: "en",
        lines[2]: "ko",
        lines[3]: "en",
    }  # no letters: the project's
    assert korean.decisions(action="import.run")[0].payload["args"]["lang"] == "ko"
    code, out, err = run_cli("-p", str(tmp_path / "ko"), "import", str(tmp_path / "rows.jsonl"))
    assert code == 0, err
    assert "Imported 1 documents from 1 files (0 duplicates skipped, 0 errors). Languages: de 1." in out

    german = Store.init(tmp_path / "de")
    import_paths(german, [tmp_path / "mixed.txt"], ImportSettings(per_line=True, lang="de"))
    assert langs(german)[lines[0]] == "ko" and langs(german)[lines[1]] == "de"

    from studio.ops.review.document import document_view

    [doc] = [d for d in plain.documents() if d.lang == "ko"]
    words = [w.text for w in document_view(plain, doc.id).words]
    assert words[:3] == (
        ["미국", "상무부", "는"] if _has_kiwi() else ["미국", "상무부는", "3일"]
    )  # words, not syllables


def _has_kiwi() -> bool:
    from studio.ops.ner import morph

    return morph.available()


CONLL = """-DOCSTART- -X- -X- O

SOCCER NN B-NP O
- : O O
LEEDS NNP B-NP I-ORG
BEAT VB B-VP O
SHEFFIELD NNP B-NP I-ORG
WEDNESDAY NNP I-NP I-ORG
. . O O

LONDON NNP B-NP I-LOC
1996-08-30 CD I-NP O

Gary NNP B-NP I-PER
Speed NNP I-NP I-PER
scored
twice RB B-ADVP O

Leeds NNP B-NP I-ORG
2 CD I-NP O
Sheffield NNP B-NP I-ORG
Wednesday NNP I-NP B-ORG
0 CD I-NP O
"""


def test_a_conll_file_imports_its_sentences_as_text_that_eval_finds(tmp_path: Path) -> None:
    """A plain import of a CoNLL file: one document per sentence (tokens joined by spaces, as `studio eval` reads
    the same file), a malformed sentence reported with its line and left out, the tags not imported, and a hint
    saying how to import them."""
    from studio.ops.ner.formats import read_gold

    path = tmp_path / "test.conll"
    path.write_text(CONLL, encoding="utf-8")
    proj, out = _import_into_new_project(tmp_path, str(path))
    assert out.startswith("Imported 3 documents from 1 files (0 duplicates skipped, 1 errors).")
    assert f"{path}:16: expected 'TOKEN ... TAG', got 'scored'; sentence skipped" in out
    assert "hint: 3 sentences of CoNLL files were read as text" in out and "--with-labels" in out
    store = Store.open(proj)
    try:
        docs = [store.document(i) for i in store.document_ids()]
        assert [d.text for d in docs] == [
            "SOCCER - LEEDS BEAT SHEFFIELD WEDNESDAY .", "LONDON 1996-08-30", "Leeds 2 Sheffield Wednesday 0"]  # fmt: skip
        assert [d.text for d in docs] == [g.text for g in read_gold(path).docs]
        assert [(d.provenance["format"], d.provenance["line"]) for d in docs] == [
            ("conll", 3),
            ("conll", 11),
            ("conll", 19),
        ]
        assert not list(store.proposals(kind="span", status=None))  # the tags are not labels or proposals
    finally:
        store.close()
    code, out, err = run_cli("-p", str(proj), "eval", str(path), "--what", "approved")
    assert code == 0, err
    assert "matched 3 of 3 gold documents" in out
    # a folder with a CoNLL file reads it too; an annotation format the plain import cannot read says what to use
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "b.iob").write_text("Oslo I-LOC\n", encoding="utf-8")
    (tmp_path / "more" / "x.spacy").write_bytes(b"\x00\x01")
    code, out, err = run_cli("-p", str(proj), "import", str(tmp_path / "more"), str(tmp_path / "more" / "x.spacy"))
    assert code == 0, err
    assert out.startswith("Imported 1 documents from 2 files (0 duplicates skipped, 1 errors).")
    assert "unsupported file type '.spacy'; use .txt, .jsonl, .csv, .html or .conll (annotations: --with-labels)" in out
    # a KLUE NER file (.tsv, one character per line) imports its sentences; a table in a .tsv says what to do
    klue = "## klue-ner-v1_dev_00000\t서울 중구\n" + "".join(
        f"{c}\t{t}\n" for c, t in zip("서울 중구", ["B-LC", "I-LC", "I-LC", "I-LC", "I-LC"], strict=True)
    )
    (tmp_path / "klue.tsv").write_text(klue, encoding="utf-8")
    (tmp_path / "table.tsv").write_text("id\ttext\n1\tOslo won the final\n", encoding="utf-8")
    code, out, err = run_cli("-p", str(proj), "import", str(tmp_path / "klue.tsv"), str(tmp_path / "table.tsv"))
    assert code == 0, err
    assert out.startswith("Imported 1 documents from 2 files (0 duplicates skipped, 1 errors). Languages: ko 1.")
    assert f"{tmp_path}/table.tsv: not CoNLL (a token and its tag per line" in out
