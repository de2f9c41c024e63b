"""The simulated labeling loop: seeded, and active learning beats random on the shipped set."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.ops.active.gold import read_gold
from studio.ops.active.ner import TokenTagger, bio_tags, entity_f1, tokenize
from studio.ops.active.simulate import SimSettings, compare, simulate, split
from studio.schema import Span

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "textclf" / "tickets.jsonl"


def test_shipped_set_margin_needs_far_fewer_labels_than_random() -> None:
    gold = read_gold(FIXTURE)
    assert gold.task == "classification" and len(gold.labels()) == 6 and not gold.problems
    r = simulate(gold, SimSettings(strategy="margin", seed=0, batch=20, steps=10, features="tfidf"))
    assert [p.labels for p in r.curve.points] == list(range(20, 201, 20))
    # cold start: the first steps are random's picks, so the curves are equal there
    cold = [k for k, p in enumerate(r.curve.points) if p.cold_start]
    assert cold and all(r.curve.points[k].score == r.random.points[k].score for k in cold)
    assert r.labels_to_match is not None and r.share_of_random is not None
    assert r.share_of_random <= 0.7
    assert r.curve.final > r.random.final


def test_simulate_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text("".join(FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)[:240]))
    gold = read_gold(small)
    settings = SimSettings(strategy="entropy", seed=5, batch=10, steps=4, features="tfidf")
    a = simulate(gold, settings)
    b = simulate(gold, settings)
    assert a.model_dump() == b.model_dump()
    c = simulate(gold, settings.model_copy(update={"seed": 6}))
    assert c.curve.model_dump() != a.curve.model_dump()


def test_split_is_stratified_and_seeded() -> None:
    keys = ["a"] * 8 + ["b"] * 4 + ["c"]
    pool, test = split(keys, 0.25, seed=1)
    assert sorted(pool + test) == list(range(13))
    assert sorted(keys[i] for i in test) == ["a", "a", "b"]  # c has one item: it stays in the pool
    assert split(keys, 0.25, seed=1) == (pool, test)


def test_compare_share() -> None:
    from studio.ops.active.simulate import Curve, CurvePoint

    base = Curve(
        strategy="random", points=[CurvePoint(labels=n, score=s) for n, s in [(10, 0.3), (20, 0.5), (30, 0.6)]]
    )
    fast = Curve(
        strategy="margin", points=[CurvePoint(labels=n, score=s) for n, s in [(10, 0.3), (20, 0.6), (30, 0.7)]]
    )
    slow = Curve(
        strategy="margin", points=[CurvePoint(labels=n, score=s) for n, s in [(10, 0.1), (20, 0.2), (30, 0.5)]]
    )
    assert compare(fast, base) == (20, 0.6667)
    assert compare(slow, base) == (None, None)


def test_gold_reader_reports_bad_lines(tmp_path: Path) -> None:
    f = tmp_path / "g.jsonl"
    f.write_text('{"text": "ok", "label": "a"}\nnot json\n{"text": ""}\n{"text": "two", "label": "b"}\n')
    gold = read_gold(f)
    assert [i.text for i in gold.items] == ["ok", "two"]
    assert [p.split(": ")[0] for p in gold.problems] == [f"{f}:2", f"{f}:3"]
    csv_file = tmp_path / "g.csv"
    csv_file.write_text('text,label\n"hello, world",greet\n,empty\nbye,farewell\n')
    gold = read_gold(csv_file)
    assert [(i.text, i.label) for i in gold.items] == [("hello, world", "greet"), ("bye", "farewell")]
    assert gold.problems == [f"{csv_file}:3: empty text or label, skipped"]
    with pytest.raises(StudioError, match="no usable rows"):
        (tmp_path / "empty.jsonl").write_text("nope\n")
        read_gold(tmp_path / "empty.jsonl")


def _ner_gold(path: Path, n: int) -> None:
    rng = random.Random(0)
    people, orgs, cities = (
        ["Tim Cook", "Lisa Su", "Sam Altman", "Jensen Huang"],
        ["Apple", "AMD", "Nvidia", "Intel"],
        ["Paris", "Tokyo", "Austin"],
    )
    lines = []
    for _ in range(n):
        p, o, c = rng.choice(people), rng.choice(orgs), rng.choice(cities)
        form = rng.randrange(3)
        text = [f"{p} said {o} will open an office in {c}.", f"In {c}, {o} hired {p}.", f"{o} shares fell."][form]
        spans = []
        for word, label in ((p, "PER"), (o, "ORG"), (c, "LOC")):
            if word in text:
                start = text.index(word)
                spans.append({"start": start, "end": start + len(word), "label": label})
        lines.append(json.dumps({"text": text, "spans": spans}))
    lines.append(json.dumps({"text": "bad span", "spans": [{"start": 4, "end": 99, "label": "X"}]}))
    path.write_text("\n".join(lines) + "\n")


def test_ner_simulation_is_deterministic(tmp_path: Path) -> None:
    f = tmp_path / "ner.jsonl"
    _ner_gold(f, 60)
    gold = read_gold(f)
    assert gold.task == "ner" and gold.labels() == ["LOC", "ORG", "PER"]
    assert len(gold.problems) == 1 and "past the end" in gold.problems[0]
    settings = SimSettings(strategy="margin", seed=2, batch=4, steps=3)
    a = simulate(gold, settings)
    assert a.metric == "entity_f1" and len(a.curve.points) == 3
    assert a.model_dump() == simulate(gold, settings).model_dump()
    assert a.curve.final > 0.5  # a dozen labeled sentences teach these names


def test_token_tagger_learns_spans() -> None:
    text = "Tim Cook visited Paris."
    toks = tokenize(text)
    assert bio_tags(toks, [Span(start=0, end=8, label="PER"), Span(start=17, end=22, label="LOC")]) == [
        "B-PER",
        "I-PER",
        "O",
        "B-LOC",
        "O",
    ]
    texts = [f"{p} visited {c}." for p in ["Tim Cook", "Lisa Su", "Sam Altman"] for c in ["Paris", "Tokyo", "Rome"]]
    spans = {}
    for i, t in enumerate(texts):
        p = t.split(" visited")[0]
        c = t.split("visited ")[1].rstrip(".")
        spans[i] = [
            Span(start=0, end=len(p), label="PER"),
            Span(start=t.index(c), end=t.index(c) + len(c), label="LOC"),
        ]
    tagger = TokenTagger([*texts, "Lisa Su visited Tokyo."])
    assert tagger.fit(spans, ["PER", "LOC"])
    pred = tagger.predict_spans(len(texts))
    assert entity_f1([[Span(start=0, end=7, label="PER"), Span(start=16, end=21, label="LOC")]], [pred]) == 1.0
