"""The hand-written corpora: their JSONL files are what `build_wild.py` makes from the marked-up sources."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

NER = Path(__file__).resolve().parent.parent / "fixtures" / "ner"


def _builder():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_wild", NER / "build_wild.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["wild_en", "wild_ko", "wild_social"])
def test_the_files_are_built_from_their_sources(name: str) -> None:
    build = _builder()
    train, test, problems = build.build(name)
    assert problems == []
    for split, docs in (("train", train), ("test", test)):
        on_disk = [json.loads(x) for x in (NER / f"{name}_{split}.jsonl").read_text(encoding="utf-8").splitlines()]
        assert on_disk == docs
    for d in train + test:
        assert all(d["text"][s["start"] : s["end"]] == s["text"] for s in d["spans"])
    assert not {d["text"] for d in train} & {d["text"] for d in test}


def test_marks_are_checked() -> None:
    build = _builder()
    doc, problems = build.parse_line("[Angela Merkel|PER] met [ Reuters |ORG] in [Berlin|CITY] ]", build.BRACKETS,
                                     ("PER", "ORG", "LOC"))  # fmt: skip
    assert doc["text"] == "Angela Merkel met  Reuters  in Berlin ]"
    assert doc["spans"][0] == {"start": 0, "end": 13, "label": "PER", "text": "Angela Merkel"}
    assert len(problems) == 3  # the space inside a mark, the unknown label, the stray bracket
    doc, problems = build.parse_line("[속보] {삼성전자|ORG}, {3월 5일|DAT} 발표", build.BRACES, ("ORG", "DAT"))
    assert problems == [] and doc["text"] == "[속보] 삼성전자, 3월 5일 발표"
