"""Release: each format read back by its real consumer, byte-identical reruns, refusals."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from studio.errors import InvalidState, StudioError
from studio.ops.release import ReleaseOptions, build_release
from studio.ops.release.formats import iob2_to_spans, read_conll
from studio.ops.release.manifest import verify
from studio.ops.review import document_status
from studio.schema import Document, Guideline, LabelDef, Proposal
from studio.store import Store
from tests.conftest import complete_documents, run_cli

HUMAN = "human:ann"
WORDS = [
    "river",
    "stone",
    "quiet",
    "market",
    "yellow",
    "window",
    "travel",
    "garden",
    "silver",
    "morning",
    "engine",
    "candle",
    "harbor",
    "paper",
    "forest",
    "winter",
    "violet",
    "bridge",
    "lantern",
    "meadow",
    "copper",
    "signal",
    "orchard",
    "velvet",
    "thunder",
    "island",
    "basket",
    "marble",
    "summit",
]
PEOPLE = ["Alice Moreau", "Bruno Keller", "Chen Wei", "Dana Scott", "Emil Novak", "Farah Haddad", "Greta Lind"]
ORGS = ["Acme Corp", "Globex", "Initech", "Umbrella Labs", "Stark Industries"]
PLACES = ["Berlin", "Lisbon", "Osaka", "Nairobi", "Quito"]
RARE = ["Zanzibar Fund"]  # a rare label, FUND


def _filler(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_texts(n: int = 60, seed: int = 7) -> list[tuple[str, list[tuple[str, str]]]]:
    """Distinct documents (random filler) with entities to label: (text, [(surface, label)])."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ents = [(rng.choice(PEOPLE), "PER"), (rng.choice(ORGS if i % 3 else PLACES), "ORG" if i % 3 else "LOC")]
        if i % 10 == 0:
            ents.append((RARE[0], "FUND"))
        parts = []
        for surface, _ in ents:
            parts.append(_filler(rng, 6))
            parts.append(surface)
        parts.append(_filler(rng, 5) + ".")
        out.append((" ".join(parts), ents))
    return out


def make_project(root: Path, n: int = 60, approve: bool = True, extra_texts: list[str] | None = None) -> Store:
    """A store with an approved guideline, documents, span proposals: most accepted, some pending."""
    store = Store.init(root)
    store.start_session("test")
    g = Guideline(
        goal="Find people, organisations, places and funds in news text",
        labels=[
            LabelDef(name="PER", definition="A named person."),
            LabelDef(name="ORG", definition="A company or institution."),
            LabelDef(name="LOC", definition="A named place."),
            LabelDef(name="FUND", definition="A named investment fund."),
        ],
    )
    version = store.add_guideline(g, "agent")
    if approve:
        store.decide_guideline(version, HUMAN, "approve")
    data = make_texts(n)
    docs = [Document(text=t) for t, _ in data] + [Document(text=t) for t in extra_texts or []]
    ids = [i for i, _ in store.add_documents(docs)]
    props = []
    for doc_id, (text, ents) in zip(ids, data, strict=False):
        for surface, label in ents:
            start = text.index(surface)
            props.append(
                Proposal(
                    kind="span",
                    document_id=doc_id,
                    payload={
                        "span": {"start": start, "end": start + len(surface), "label": label, "text": surface},
                        "sources": {"llm": 0.9, "gazetteer": 1.0 if label != "FUND" else 0.2},
                    },
                    source="llm:ner.v1",
                    confidence=0.9,
                    batch="b1",
                )
            )
    pids = store.add_proposals(props)
    for k, pid in enumerate(pids):
        if k % 17 == 5:
            continue  # left pending
        if k % 13 == 4:
            store.decide(pid, HUMAN, "reject", rationale="not an entity")
        else:
            store.accept_span(pid, HUMAN)
    complete_documents(store, HUMAN)  # those whose proposals are all decided
    return store


def release_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def jsonl_docs(folder: Path) -> dict[int, dict]:
    out = {}
    for f in sorted((folder / "data").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            out[rec["id"]] = rec
    return out


@pytest.fixture
def project(tmp_path: Path) -> Store:
    s = make_project(tmp_path / "proj")
    yield s
    s.close()


def test_release_writes_approved_labels_only(project: Store) -> None:
    r = build_release(project, ReleaseOptions(license="CC-BY-4.0"), HUMAN)
    folder = Path(r.path)
    assert r.version == "0.1.0" and folder == project.root / "releases" / "v0.1.0"
    docs = jsonl_docs(folder)
    complete = [d for d in project.labeled_document_ids() if document_status(project, d) == "complete"]
    assert sorted(docs) == complete and len(complete) < len(project.labeled_document_ids())  # partial left out
    for doc_id, rec in docs.items():
        approved = [s.model_dump() for s in project.approved_spans(doc_id)]
        assert rec["spans"] == approved
    pending = project.proposals(kind="span", status="pending")
    assert pending and r.pending_left_out == len(pending)
    # A pending or rejected span is never released.
    released = {(d, s["start"], s["end"]) for d, rec in docs.items() for s in rec["spans"]}
    for p in pending + project.proposals(kind="span", status="rejected"):
        assert (p.document_id, p.payload["span"]["start"], p.payload["span"]["end"]) not in released
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"Pending proposals left out of this release: {len(pending)}" in card
    assert "A named investment fund." in card and "Find people, organisations" in card
    assert "| llm | " in card and "gazetteer | llm |" in card
    assert "SPDX-License-Identifier: CC-BY-4.0" in (folder / "LICENSE").read_text()
    assert verify(folder) == []
    d = project.decisions(action="release.create")[-1]
    assert d.actor == HUMAN and d.payload["version"] == "0.1.0"
    assert d.payload["manifest_sha256"] == r.manifest_sha256 and d.payload["documents"] == r.documents
    assert not [p for p in (project.root / "releases").iterdir() if p.name.startswith(".")]


def test_formats_read_back_by_their_consumers(project: Store, tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    r = build_release(project, ReleaseOptions(license="MIT"), HUMAN)
    folder = Path(r.path)
    docs = jsonl_docs(folder)
    nlp = spacy.blank("en")
    seen = 0
    for split in ("train", "validation", "test"):
        want = {i: rec for i, rec in docs.items() if rec["split"] == split}
        assert want, f"{split} is empty"
        got = list(DocBin().from_disk(folder / "spacy" / f"{split}.spacy").get_docs(nlp.vocab))
        assert [d.text for d in got] == [want[i]["text"] for i in sorted(want)]
        for doc, i in zip(got, sorted(want), strict=True):
            spans = [(s["start"], s["end"], s["label"]) for s in want[i]["spans"]]
            assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == spans
            assert "sc" not in doc.spans  # no overlaps here: ents hold every span
        conll = read_conll(folder / "conll" / f"{split}.conll")
        assert [c[0] for c in conll] == sorted(want)
        for doc_id, tokens, tags in conll:
            back = iob2_to_spans(want[doc_id]["text"], tokens, tags)
            assert [s.model_dump() for s in back] == want[doc_id]["spans"]
            seen += 1
    assert seen == len(docs)

    script = (
        "import json, sys, datasets\n"
        "folder, cache = sys.argv[1], sys.argv[2]\n"
        "files = {s: f'{folder}/data/{s}.jsonl' for s in ('train', 'validation', 'test')}\n"
        "a = datasets.load_dataset('json', data_files=files, cache_dir=cache + '/a')\n"
        "b = datasets.load_dataset(folder, cache_dir=cache + '/b')\n"
        "out = {k: {s: [dict(r) for r in d[s]] for s in d} for k, d in (('json', a), ('folder', b))}\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(folder), str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = json.loads(proc.stdout)
    for how in ("json", "folder"):
        rows = {row["id"]: row for split in loaded[how].values() for row in split}
        assert rows == docs, how
        assert {s: len(v) for s, v in loaded[how].items()} == r.split_counts


def test_same_store_state_gives_identical_bytes(tmp_path: Path) -> None:
    a = make_project(tmp_path / "a")
    b = make_project(tmp_path / "b")
    ra = build_release(a, ReleaseOptions(license="CC0-1.0"), HUMAN)
    rb = build_release(b, ReleaseOptions(license="CC0-1.0"), HUMAN)
    fa, fb = release_files(Path(ra.path)), release_files(Path(rb.path))
    assert sorted(fa) == sorted(fb) and any(k.endswith(".spacy") for k in fa)
    for name in fa:
        assert fa[name] == fb[name], f"{name} differs between two identical stores"
    assert ra.manifest_sha256 == rb.manifest_sha256

    # The same state released under another version: only the version-bearing files differ,
    # and in those only the version itself.
    a.close()
    shutil.copytree(tmp_path / "a", tmp_path / "c")
    shutil.rmtree(tmp_path / "c" / "releases")
    c = Store.open(tmp_path / "c")
    c.start_session("t")
    b.close()
    b = Store.open(tmp_path / "b")
    # b and c both hold one release decision now; c has no release folder, so make its version differ.
    rc = build_release(c, ReleaseOptions(license="CC0-1.0", version="2.0.0"), HUMAN)
    rb2 = build_release(b, ReleaseOptions(license="CC0-1.0"), HUMAN)
    assert rb2.version == "0.1.1"
    fc, fb2 = release_files(Path(rc.path)), release_files(Path(rb2.path))
    differing = sorted(k for k in fc if fc[k] != fb2[k])
    assert differing == ["MANIFEST.json", "README.md", "release.json"]
    for name in ("README.md", "release.json"):
        assert fc[name].decode().replace("2.0.0", "X") == fb2[name].decode().replace("0.1.1", "X")
    c.close()
    b.close()


def test_versions_default_and_refusals(project: Store) -> None:
    assert build_release(project, ReleaseOptions(license="MIT"), HUMAN).version == "0.1.0"
    assert build_release(project, ReleaseOptions(license="MIT"), HUMAN).version == "0.1.1"
    assert build_release(project, ReleaseOptions(license="MIT", version="1.4.0"), HUMAN).version == "1.4.0"
    assert build_release(project, ReleaseOptions(license="MIT"), HUMAN).version == "1.4.1"
    n = len(project.decisions())
    with pytest.raises(InvalidState, match="exists already"):
        build_release(project, ReleaseOptions(license="MIT", version="0.1.1"), HUMAN)
    for bad in ("../x", "1.0", "1.0.0/../../a", "01.0.0", "v1.0.0", "1.0.0 ", "1.0.0-rc1", ""):
        with pytest.raises(StudioError, match="not valid"):
            build_release(project, ReleaseOptions(license="MIT", version=bad or "x"), HUMAN)
    with pytest.raises(StudioError, match="unknown license"):
        build_release(project, ReleaseOptions(license="Beerware"), HUMAN)
    with pytest.raises(StudioError, match="--license"):
        build_release(project, ReleaseOptions(), HUMAN)
    with pytest.raises(StudioError, match="human decision"):
        build_release(project, ReleaseOptions(license="MIT"), "agent")
    assert len(project.decisions()) == n
    assert sorted(p.name for p in (project.root / "releases").iterdir()) == ["v0.1.0", "v0.1.1", "v1.4.0", "v1.4.1"]
    # The license can come from the project setting instead of the option.
    project.set_setting("release.license", "odbl-1.0", actor=HUMAN)
    r = build_release(project, ReleaseOptions(), HUMAN)
    assert "ODbL-1.0" in (Path(r.path) / "LICENSE").read_text()


def test_refuses_without_approved_guideline(tmp_path: Path) -> None:
    s = make_project(tmp_path / "p", approve=False)
    with pytest.raises(InvalidState, match="no approved guideline"):
        build_release(s, ReleaseOptions(license="MIT"), HUMAN)
    assert not (s.root / "releases").exists() or not any((s.root / "releases").iterdir())
    assert s.decisions(action="release") == []
    s.close()


def test_refuses_releases_dir_escaping_the_project(project: Store, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (project.root / "releases").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StudioError, match="outside the project"):
        build_release(project, ReleaseOptions(license="MIT"), HUMAN)
    assert list(outside.iterdir()) == []
    (project.root / "releases").unlink()
    (project.root / "releases").mkdir()
    (project.root / "releases" / "v0.1.0").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StudioError, match="symlink"):
        build_release(project, ReleaseOptions(license="MIT", version="0.1.0"), HUMAN)
    assert list(outside.iterdir()) == []


def test_misaligned_and_overlapping_spans_are_reported(tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    s = make_project(tmp_path / "p", n=3)
    text = "The Berliners met at New York City Hall yesterday."
    ((doc_id, _),) = s.add_documents([Document(text=text)])
    spans = [("Berlin", "LOC"), ("New York City Hall", "LOC"), ("York", "ORG")]
    pids = s.add_proposals(
        Proposal(kind="span", document_id=doc_id, payload={"span": {"start": text.index(t), "end": text.index(t) + len(t), "label": lab, "text": t}})
        for t, lab in spans
    )  # fmt: skip
    for pid in pids:
        s.accept_span(pid, HUMAN)
    complete_documents(s, HUMAN)
    r = build_release(s, ReleaseOptions(license="MIT", align="contract", split=(1.0, 0.0, 0.0)), HUMAN)
    info = json.loads((Path(r.path) / "release.json").read_text())
    assert info["misaligned_spans"] == [{"doc": doc_id, "start": 4, "end": 10, "label": "LOC", "status": "dropped"}]
    assert info["overlapping_spans"] == [{"doc": doc_id, "start": 25, "end": 29, "label": "ORG"}]
    assert r.split_counts == {"train": r.documents, "validation": 0, "test": 0}
    assert sorted(p.name for p in (Path(r.path) / "data").iterdir()) == ["train.jsonl"]
    docs = {
        d.text: d for d in DocBin().from_disk(Path(r.path) / "spacy" / "train.spacy").get_docs(spacy.blank("en").vocab)
    }
    assert [(e.text, e.label_) for e in docs[text].ents] == [("New York City Hall", "LOC")]
    assert sorted(sp.text for sp in docs[text].spans["sc"]) == ["New York City Hall", "York"]
    jl = jsonl_docs(Path(r.path))[doc_id]
    assert [sp["text"] for sp in jl["spans"]] == ["Berlin", "New York City Hall", "York"]  # JSONL keeps all
    card = (Path(r.path) / "README.md").read_text()
    assert "1 could not be aligned" in card and "1 overlapping spans" in card

    r2 = build_release(s, ReleaseOptions(license="MIT", align="expand", split=(1.0, 0.0, 0.0)), HUMAN)
    info = json.loads((Path(r2.path) / "release.json").read_text())
    assert info["misaligned_spans"] == [
        {
            "doc": doc_id,
            "start": 4,
            "end": 10,
            "label": "LOC",
            "status": "adjusted",
            "aligned_start": 4,
            "aligned_end": 13,
        }
    ]
    s.close()


def test_cli_release_releases_and_refusals(tmp_path: Path) -> None:
    proj = tmp_path / "p"
    make_project(proj, n=12).close()
    code, _, err = run_cli("--project", str(proj), "release")
    assert code == 1 and err.startswith("error:") and "--license" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("--project", str(proj), "release", "--license", "MIT", "--version", "../x")
    assert code == 1 and "not valid" in err and "Traceback" not in err
    code, _, err = run_cli("--project", str(proj), "release", "--license", "MIT", "--split", "0.5,0.5")
    assert code == 2 and "fractions" in err
    code, out, err = run_cli("--project", str(proj), "release", "--license", "MIT", "--json", "-m", "first cut")
    assert code == 0, err
    result = json.loads(out)
    assert result["version"] == "0.1.0" and Path(result["path"]).is_dir()
    code, out, err = run_cli("--project", str(proj), "release", "--license", "MIT", "--version", "0.1.0")
    assert code == 1 and "exists already" in err
    code, out, err = run_cli("--project", str(proj), "releases", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["version"] for r in rows] == ["0.1.0"] and rows[0]["actor"] == "human:tester"
    assert rows[0]["manifest_sha256"] == result["manifest_sha256"]


def test_card_provenance_quality_and_cleansing(tmp_path: Path) -> None:
    s = make_project(tmp_path / "p", n=4)
    crawled = [
        Document(
            text="Greta Lind spoke in Quito about river stone quiet markets.",
            source="crawl",
            provenance={"url": "https://News.example.org/a", "license_hints": {"meta:dc.rights": "CC BY 4.0"}},
        ),
        Document(
            text="Emil Novak of Globex toured summit harbor paper forests.",
            source="crawl",
            provenance={"url": "https://news.example.org/b", "license_hints": {"link:license": "https://creativecommons.org/licenses/by/4.0/"}},
        ),
        Document(text="Chen Wei visited Osaka with copper signal orchards.", source="import", provenance={"license": "CC0"}),
    ]  # fmt: skip
    ids = [i for i, _ in s.add_documents(crawled)]
    for doc_id, doc in zip(ids, crawled, strict=True):
        name = " ".join(doc.text.split()[:2])
        (pid,) = s.add_proposals(
            [Proposal(kind="span", document_id=doc_id, payload={"span": {"start": 0, "end": len(name), "label": "PER", "text": name}})]
        )  # fmt: skip
        s.accept_span(pid, HUMAN)
    fixes = s.add_proposals([Proposal(kind="box_fix", payload={"check": "iou"}) for _ in range(3)], actor="tool")
    s.decide(fixes[0], HUMAN, "accept")
    s.decide(fixes[1], HUMAN, "reject")
    complete_documents(s, HUMAN)
    r = build_release(s, ReleaseOptions(license="CC-BY-4.0"), HUMAN)
    card = (Path(r.path) / "README.md").read_text(encoding="utf-8")
    assert "| crawl | 2 |" in card and "| import |" in card
    assert "| news.example.org | 2 |" in card
    assert "| CC BY 4.0 | 1 |" in card and "| CC0 | 1 |" in card
    assert "Cleansing: 3 box fixes proposed; decisions: boxes.fix.accept 1, boxes.fix.reject 1." in card
    info = json.loads((Path(r.path) / "release.json").read_text())
    llm = info["quality"]["span_proposals"]["llm"]
    decided = llm["accepted"] + llm["edited"] + llm["rejected"]
    assert llm["accepted_share"] == round(llm["accepted"] / decided, 4) and llm["rejected"] > 0
    assert info["quality"]["span_proposals"]["other"]["accepted"] == 3
    assert info["quality"]["label_origin"]["label.accept"] == r.spans
    # gazetteer and llm agree except on FUND spans (gazetteer 0.2 < 0.5 <= llm 0.9).
    (pair,) = info["quality"]["weak_source_agreement"]
    fund = sum(1 for p in s.proposals(kind="span", status=None) if p.payload["span"]["label"] == "FUND")
    assert pair["a"] == "gazetteer" and pair["b"] == "llm" and pair["agree"] == pair["both_scored"] - fund
    actions = {(d["action"], d["actor"]): d["count"] for d in info["decisions"]}
    assert actions[("boxes.fix.accept", HUMAN)] == 1 and actions[("boxes.fix.propose", "tool")] == 1
    assert ("release.create", HUMAN) not in actions  # the summary is of the state released, before this decision
    s.close()


def test_quality_counts_equal_the_proposals(project: Store) -> None:
    """The card's proposal outcomes (counted by SQL) against the proposals counted here, with
    partial documents (and so pending proposals) in the release."""
    r = build_release(project, ReleaseOptions(license="CC-BY-4.0", include_partial=True), HUMAN)
    quality = json.loads((Path(r.path) / "release.json").read_text(encoding="utf-8"))["quality"]
    proposals = project.proposals(kind="span", status=None)
    released = set(jsonl_docs(Path(r.path)))
    by_status = Counter(p.status for p in proposals if p.source.startswith("llm"))
    llm = quality["span_proposals"]["llm"]
    assert {k: llm[k] for k in ("accepted", "rejected", "pending")} == {
        k: by_status[k] for k in ("accepted", "rejected", "pending")
    }
    assert llm["proposed"] == len(proposals) and "other" not in quality["span_proposals"]
    pending_here = sum(1 for p in proposals if p.status == "pending" and p.document_id in released)
    assert quality["pending_in_released_documents"] == pending_here > 0
    assert quality["label_origin"] == {"label.accept": r.spans}
