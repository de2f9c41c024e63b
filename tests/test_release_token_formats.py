"""Release token formats: the array path and the second process write the same bytes as spaCy's
Doc objects (the reference path), document for document, including every misfit report."""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from studio.ops.release import ReleaseOptions, build, build_release, tokenproc
from studio.ops.release.formats import iob2_to_spans, read_conll, write_token_formats
from studio.ops.release.models import ReleaseDoc
from studio.ops.release.tokenproc import TokenProcess
from studio.ops.review import document as review
from studio.schema import Document, Guideline, LabelDef, Span
from studio.store import Store

HUMAN = "human:ann"

# (text, [(surface, label, occurrence)]); some spans are cut on purpose below.
TEXTS = [
    ("SEOUL, March 3 (Yonhap) -- Samsung Electronics named Han Jong-hee co-CEO on Tuesday.",
     [("Samsung Electronics", "ORG"), ("Han Jong-hee", "PER"), ("SEOUL", "LOC")]),
    ("RESULTS: Bayern Munich 3 Borussia Dortmund 1\nRB Leipzig 2  Union Berlin 2",
     [("Bayern Munich", "ORG"), ("Borussia Dortmund", "ORG"), ("RB Leipzig", "ORG"), ("Union Berlin", "ORG")]),
    ("삼성전자의 이재용 회장은 오늘 서울에서 네이버 경영진을 만났다.",
     [("삼성전자", "ORG"), ("이재용", "PER"), ("서울", "LOC"), ("네이버", "ORG")]),
    ("Don't ask Zofia Wrobel-Kaminska about the Lisbon Accord, said Kwame Mensah of ECOWAS.",
     [("Zofia Wrobel-Kaminska", "PER"), ("Lisbon Accord", "MISC"), ("Kwame Mensah", "PER"), ("ECOWAS", "ORG")]),
    ("NEW YORK\t(Reuters)  IBM and Red Hat ended talks; shares of IBM fell 2.1%.",
     [("NEW YORK", "LOC"), ("IBM", "ORG"), ("Red Hat", "ORG")]),
    ("No entities in this plain sentence at all.", []),
]  # fmt: skip


def _docs() -> list[ReleaseDoc]:
    out = []
    for i, (text, ents) in enumerate(TEXTS, 1):
        spans = []
        for surface, label in ents:
            start = text.index(surface)
            spans.append(Span(start=start, end=start + len(surface), label=label, text=surface))
        out.append(ReleaseDoc(id=i, text=text, lang="en", source="t", content_hash=str(i), spans=spans))
    # Misfits, each a document of its own so the others stay on the array path.
    t = TEXTS[0][0]
    s = t.index("Samsung")
    cut = [Span(start=s, end=s + 5, label="ORG", text=t[s : s + 5])]  # inside a word: adjusted
    k = TEXTS[2][0]
    inside_ko = [Span(start=1, end=3, label="ORG", text=k[1:3])]  # Korean, inside a word
    r = TEXTS[1][0]
    j = r.index("2  Union")
    ws = [Span(start=j + 1, end=j + 3, label="ORG", text=r[j + 1 : j + 3])]  # whitespace only: dropped
    n = TEXTS[3][0]
    a = n.index("Zofia")
    overlap = [
        Span(start=a, end=a + 5, label="PER", text="Zofia"),
        Span(start=a, end=a + len("Zofia Wrobel-Kaminska"), label="PER", text="Zofia Wrobel-Kaminska"),
    ]
    same = [Span(start=a, end=a + 5, label="PER", text="Zofia"), Span(start=a, end=a + 5, label="MISC", text="Zofia")]
    for extra, spans in enumerate([cut, inside_ko, ws, overlap, same], len(out) + 1):
        text = {id(cut): t, id(inside_ko): k, id(ws): r}.get(id(spans), n)
        out.append(ReleaseDoc(id=extra, text=text, lang="en", source="t", content_hash=str(extra), spans=spans))
    return out


def _write(folder: Path, lang: str, arrays: bool) -> tuple[dict[str, str], dict]:
    folder.mkdir()
    docs = _docs()
    # Texts with no token or only whitespace tokens, between array-path documents of a split.
    empty = [
        ReleaseDoc(id=100 + k, text=text, lang="en", source="t", content_hash=f"e{k}")
        for k, text in enumerate(["", " \n  "])
    ]
    # train: array-path and aligned documents mixed; validation: array path only; test: aligned only.
    by_split = {"train": docs[:3] + empty + docs[6:8], "validation": docs[3:6], "test": docs[8:]}
    report = write_token_formats(folder, by_split, lang, "expand", arrays=arrays)
    return {k: hashlib.sha256(v).hexdigest() for k, v in _tree(folder).items()}, report.model_dump()


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_array_path_writes_the_reference_bytes(tmp_path: Path, lang: str) -> None:
    ref_files, ref_report = _write(tmp_path / "ref", lang, arrays=False)
    new_files, new_report = _write(tmp_path / "new", lang, arrays=True)
    assert new_files == ref_files
    assert new_report == ref_report
    statuses = sorted(m["status"] for m in ref_report["misaligned"])
    assert "adjusted" in statuses and "dropped" in statuses and len(ref_report["overlaps"]) == 2
    # The files say what they should: the clean documents' spans come back from CoNLL and DocBin.
    conll = {
        doc_id: (toks, tags)
        for split in ("train", "validation")
        for doc_id, toks, tags in read_conll(tmp_path / "new" / "conll" / f"{split}.conll")
    }
    for d in _docs()[:6]:
        got = [(s.start, s.end, s.label) for s in iob2_to_spans(d.text, *conll[d.id])]
        assert got == sorted((s.start, s.end, s.label) for s in d.spans)
    nlp = spacy.blank("en")
    docs = list(DocBin().from_bytes((tmp_path / "new" / "spacy" / "train.spacy").read_bytes()).get_docs(nlp.vocab))
    assert [(e.start_char, e.end_char, e.label_) for e in docs[2].ents] == [
        (s.start, s.end, s.label) for s in sorted(_docs()[2].spans, key=lambda s: s.start)
    ]


def _project(root: Path) -> Store:
    """Complete, partial and withdrawn documents, Korean among them."""
    store = Store.init(root)
    store.start_session("t")
    labels = [LabelDef(name=n) for n in ("PER", "ORG", "LOC", "MISC")]
    g = store.add_guideline(Guideline(goal="Names in news", labels=labels), "agent")
    store.decide_guideline(g, HUMAN, "approve")
    for i, (text, ents) in enumerate(TEXTS * 3):
        text = f"{text} ({i})"
        (doc_id, _), = store.add_documents([Document(text=text, source="t", lang="ko" if "삼성" in text else "en")])  # fmt: skip
        for surface, label in ents:
            review.add_text(store, doc_id, surface, label, HUMAN, occurrence=1 if text.count(surface) > 1 else None)
        if i % 7 == 3:
            review.withdraw(store, doc_id, HUMAN)
        elif i % 5 != 4:
            review.complete(store, doc_id, HUMAN)  # the others stay partial
    return store


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_second_process_release_is_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same store released in one process and with the second tokenizing process."""
    _project(tmp_path / "one").close()
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    trees = []
    for name, parallel_from in (("one", 10**9), ("two", 1)):
        store = Store.open(tmp_path / name)
        store.start_session("t")
        monkeypatch.setattr(tokenproc, "PARALLEL_FROM", parallel_from)
        r = build_release(store, ReleaseOptions(license="CC-BY-4.0", include_partial=True), HUMAN)
        trees.append(_tree(Path(r.path)))
        store.close()
    assert trees[0] == trees[1]
    info = json.loads(trees[0]["release.json"])
    assert info["review"]["project"]["withdrawn"] == 3 and info["token_formats"]["entities"] > 30, info["review"]
    conll = b"".join(v for k, v in trees[0].items() if k.startswith("conll/")).decode()
    assert "삼\tB-ORG\n성\tI-ORG" in conll  # Korean, one token per character


def test_second_process_failure_is_reported(tmp_path: Path) -> None:
    job = TokenProcess("en", "expand")
    try:
        job.send(_docs())
        with pytest.raises(Exception, match="second process"):
            job.finish(tmp_path / "missing" / "folder", {"train": _docs()})
    finally:
        job.close()
    assert not job.dir.exists() and job.proc.poll() is not None


def test_failed_release_stops_the_second_process_and_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second process writes its files while this one goes on: a failure after that point
    stops it before the half-written folder is removed, and the garbage collector is back on."""
    store = _project(tmp_path / "p")
    monkeypatch.setattr(tokenproc, "PARALLEL_FROM", 1)
    jobs: list[TokenProcess] = []

    def recorded(lang: str, mode: str) -> TokenProcess:
        jobs.append(TokenProcess(lang, mode))
        return jobs[-1]

    def failing(_store: Store, _ctx: object) -> None:
        assert not gc.isenabled()  # paused while the release runs
        raise RuntimeError("exporter failed")

    monkeypatch.setattr(build, "TokenProcess", recorded)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="exporter failed"):
        build_release(store, ReleaseOptions(license="CC-BY-4.0"), HUMAN, exporters=[failing])  # type: ignore[list-item]
    assert gc.isenabled()
    (job,) = jobs
    assert job.proc.poll() is not None and not job.dir.exists()
    assert [p.name for p in (store.root / "releases").iterdir()] == []
    # A collector the caller had turned off stays off.
    gc.disable()
    try:
        build_release(store, ReleaseOptions(license="CC-BY-4.0"), HUMAN)
        assert not gc.isenabled()
    finally:
        gc.enable()
    store.close()


def test_second_process_runs_this_code_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m` looks in the working directory first: a `studio` folder there (another checkout)
    must not be what the second process runs."""
    fake = tmp_path / "cwd" / "studio"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise RuntimeError("the wrong studio package")\n')
    monkeypatch.chdir(tmp_path / "cwd")
    out = Path("release")  # relative to the caller's working directory
    out.mkdir()
    job = TokenProcess("en", "expand")
    try:
        job.send(_docs())
        report = job.finish(out, {"train": _docs()})
    finally:
        job.close()
    assert report.files == ["spacy/train.spacy", "conll/train.conll"] and (out / "conll" / "train.conll").is_file()
