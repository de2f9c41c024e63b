"""A whole CLI session replays in a fresh folder: init, a guideline written and edited by hand,
import, label (on the loopback stub model), review through the line protocol (accept, add a span,
done), release; `studio session export` writes it, `studio replay` re-runs it with the same
decisions, the same guideline versions and the same release checksum."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from studio.agent.guideline import to_yaml
from studio.cli import cli
from studio.llm.session import load_recording
from studio.schema import Guideline, LabelDef
from studio.store import Store
from tests.openai_stub import OpenAIStub

DOCS = [
    "SEOUL (Yonhap) -- SAMSUNG NAMES NEW CHIP CHIEF\nSamsung Electronics appointed Jun Young-hyun to lead "
    "its memory business on Tuesday.",
    "삼성전자는 화요일 서울에서 갤럭시 S25를 공개했다.",
    "RESULTS | Nvidia 22.1bn | AMD 6.8bn\nNvidia beat AMD in the quarter, analysts at Morgan Stanley said.",
]
# What the stub model answers for each document (the person adds what it missed: Yonhap).
ANSWERS = {
    "SAMSUNG NAMES": [("Samsung Electronics", "ORG"), ("Jun Young-hyun", "PERSON"), ("SEOUL", "LOC")],
    "삼성전자는": [("삼성전자", "ORG"), ("서울", "LOC"), ("갤럭시 S25", "PRODUCT")],
    "RESULTS |": [("Nvidia", "ORG"), ("Morgan Stanley", "ORG")],
}
LABELS = [
    LabelDef(name="ORG", definition="A company, agency or other organization.", positive_examples=["Apple"]),
    LabelDef(name="PERSON", definition="A named person.", positive_examples=["Tim Cook"]),
    LabelDef(name="PRODUCT", definition="A named product or model.", positive_examples=["iPhone 16"]),
    LabelDef(name="LOC", definition="A city, region or country.", positive_examples=["Cupertino"]),
]
# The review: accept what the model proposed, add the news agency it missed, mark each done.
REVIEW = 'A\n+ "Yonhap" ORG\nd\nA\nd\nA\nd\nq\n'


def _respond(req: dict) -> str:
    text = req["messages"][-1]["content"]
    for key, ents in ANSWERS.items():
        if key in text:
            return json.dumps({"entities": [{"text": t, "label": lab} for t, lab in ents]}, ensure_ascii=False)
    return json.dumps({"entities": []})


def run(*args: str, input: str | None = None) -> str:
    res = CliRunner().invoke(cli, list(args), input=input)
    assert res.exit_code == 0, (args, res.output, res.exception)
    return res.stdout


def test_a_cli_session_with_import_label_review_release_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    monkeypatch.delenv("VISUAL", raising=False)
    project, fresh = tmp_path / "project", tmp_path / "fresh"
    inputs = tmp_path / "inputs"  # the person's files, outside the project
    inputs.mkdir()
    docs = inputs / "news.jsonl"
    docs.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in DOCS), encoding="utf-8")
    first, edited = inputs / "guideline.yaml", inputs / "guideline-edited.yaml"
    first.write_text(to_yaml(Guideline(goal="companies, people, products and places in tech news", labels=LABELS)))
    edit = Guideline(goal="companies, people, products and places in tech news", labels=LABELS,
                     edge_cases=["A news agency in a dateline (Yonhap, Reuters) is an ORG."])  # fmt: skip
    edited.write_text(to_yaml(edit))

    p = ("--project", str(project), "--user", "ana")
    run("init", str(project))
    monkeypatch.setenv("EDITOR", f"cp {shlex.quote(str(first))}")  # the "editor" writes the person's text
    run(*p, "guideline", "new")
    monkeypatch.setenv("EDITOR", f"cp {shlex.quote(str(edited))}")
    run(*p, "guideline", "edit", "--approve")
    assert "Imported 3 documents" in run(*p, "import", str(docs))
    with OpenAIStub(respond=_respond) as stub:
        # the stub model alone (the pretrained pipeline's votes are tested in test_ner_automap.py)
        out = run(*p, "--llm", f"{stub.url}#stub", "label", "--spacy", "off", "--json")
    assert json.loads(out)["proposals"] == 9  # Nvidia twice: in the table line and in the sentence
    run(*p, "review", input=REVIEW)
    release = json.loads(run(*p, "release", "--license", "CC-BY-4.0", "--json"))
    assert (release["documents"], release["spans"]) == (3, 10)

    store = Store.open(project)
    decisions = [(d.actor, d.action) for d in store.decisions()]
    guidelines = [store.guideline(v)[0] for v in (1, 2)]
    store.close()
    assert ("human:ana", "guideline.edit") in decisions and ("human:ana", "label.add") in decisions
    assert decisions.count(("human:ana", "document.complete")) == 3

    recording = tmp_path / "session.jsonl"
    run(*p, "session", "export", "-o", str(recording))
    events = load_recording(recording)
    assert [e["name"] for e in events if e["type"] == "tool"] == ["import", "label", "release"]
    human = [e["action"] for e in events if e["type"] == "decision"]
    assert human[:3] == ["guideline.propose", "guideline.edit", "guideline.approve"] and "label.add" in human

    replayed = json.loads(run("replay", str(recording), "--headless", "--json", "--into", str(fresh)))
    assert replayed["releases"] == {release["version"]: release["manifest_sha256"]}
    again = Store.open(fresh)
    assert [(d.actor, d.action) for d in again.decisions()] == decisions
    assert [again.guideline(v)[0] for v in (1, 2)] == guidelines
    again.close()


def test_a_setting_a_person_changed_replays(tmp_path: Path) -> None:
    """A setting is a row besides its decision: the replay sets it again (a release then finds its license)."""
    from studio.flows.engine import replay_file
    from studio.llm.session import export_session

    store = Store.init(tmp_path / "project")
    store.start_session("cli:settings")
    store.set_setting("release.license", "CC-BY-4.0", actor="human:ana")
    export_session(store, tmp_path / "s.jsonl", [store.session_id or ""])
    store.close()
    replay_file(tmp_path / "s.jsonl", tmp_path / "fresh")
    again = Store.open(tmp_path / "fresh")
    assert again.get_setting("release.license") == "CC-BY-4.0"
    again.close()


def test_tools_recorded_under_older_names_run_their_operation(tmp_path: Path) -> None:
    """`weak_label`, `cleanse`, `cleanse_apply` (the flows' older names) run `label`, `box_cleanse`,
    `box_apply`; an older result is compared in its own shape (fewer keys, counts for lists)."""
    from studio.flows.engine import LEGACY, Runner, same_shape
    from studio.ops import registry

    store = Store.init(tmp_path / "p")
    store.start_session("legacy")
    with pytest.raises(registry.OperationError, match="box_apply: out"):  # box_apply's own argument check
        Runner(store).tool("cleanse_apply", actor="human:ana")
    assert [e["key"] for e in store.events(kind="tool")] == []
    store.close()
    got = {"findings": [{"check": "tiny_box"}, {"check": "exact_duplicate"}], "proposed": 2, "counts": {}, "batch": "b"}
    assert same_shape({"findings": 2, "new": 2, "counts": {}}, got, LEGACY["cleanse"]) == {
        "findings": 2, "new": 2, "counts": {}}  # fmt: skip
    assert same_shape({"imported": 3, "errors": 0}, {"imported": 3, "errors": [], "files": 1}) == {
        "imported": 3, "errors": 0}  # fmt: skip
    assert same_shape({"imported": 3, "missing": 1}, {"imported": 3}) == {"imported": 3}  # a difference is kept


async def test_an_app_session_with_review_and_release_replays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same flow with its review and release done in the app (Textual pilot): the Labels screen's
    accept-all and done on each document, then the Release screen. The CLI commands before it and the
    app's session export together and replay with the same decisions and release checksum."""
    import asyncio

    from textual.widgets import Input

    from studio.tui.app import make_app
    from tests.test_tui_fixtures import settle

    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    project, fresh = tmp_path / "project", tmp_path / "fresh"
    docs = tmp_path / "news.jsonl"
    docs.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in DOCS), encoding="utf-8")
    guideline = tmp_path / "guideline.yaml"
    guideline.write_text(to_yaml(Guideline(goal="companies, people, products and places in tech news", labels=LABELS)))
    p = ("--project", str(project), "--user", "ana")
    run("init", str(project))
    monkeypatch.setenv("EDITOR", f"cp {shlex.quote(str(guideline))}")
    run(*p, "guideline", "new", "--approve")
    run(*p, "import", str(docs))
    with OpenAIStub(respond=_respond) as stub:  # sync model calls: not on the test's loop
        await asyncio.to_thread(run, *p, "--llm", f"{stub.url}#stub", "label")

    app = make_app(project, user="ana", screen="review")

    async def press(pilot: Any, *keys: str) -> None:
        await pilot.press(*keys)
        await settle(pilot)

    async with app.run_test(size=(80, 24)) as pilot:
        for _ in DOCS:
            await press(pilot, "A")
            await press(pilot, "d")
        await press(pilot, "8")
        app.screen.query_one("#license", Input).value = "CC-BY-4.0"
        await press(pilot, "b")
        await press(pilot, "y")
        [made] = app.store.decisions(action="release.create")
        decisions = [(d.actor, d.action) for d in app.store.decisions()]
    assert decisions.count(("human:ana", "document.complete")) == 3 and made.actor == "human:ana"
    recording = tmp_path / "session.jsonl"
    run(*p, "session", "export", "-o", str(recording))
    assert [e["name"] for e in load_recording(recording) if e["type"] == "tool"] == ["import", "label", "release"]
    replay = ["replay", str(recording), "--headless", "--json", "--into", str(fresh)]
    replayed = json.loads(await asyncio.to_thread(run, *replay))  # sync model calls: not on the test's loop
    assert list(replayed["releases"]) == [made.payload["version"]]
    again = Store.open(fresh)
    assert [(d.actor, d.action) for d in again.decisions()] == decisions
    assert again.decisions(action="release.create")[0].payload["manifest_sha256"] == made.payload["manifest_sha256"]
    again.close()
