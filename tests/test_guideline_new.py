"""Writing your own guideline in $EDITOR, and the checks a guideline gets before a person approves it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from studio.agent.guideline import check_guideline
from studio.schema import Guideline, LabelDef, SourcesPlan
from studio.store import Store
from tests.conftest import run_cli

GOOD = """\
goal: People and companies in Korean and English business news.
language: en
target_size: 800
labels:
  - name: ORG
    definition: Companies and public bodies, by name.
    exclude: [products named after the company]
    positive_examples: [Hyundai Motor, KEPCO]
    negative_examples: [Galaxy S25]
  - name: PERSON
    definition: Real people, by name.
    positive_examples: [Lee Jae-yong, Lisa Su]
"""


def _editor(tmp_path: Path, text: str) -> str:
    """An $EDITOR that replaces the file it is given with `text` (a real program, run by the CLI)."""
    src = tmp_path / "typed.yaml"
    src.write_text(text, encoding="utf-8")
    script = tmp_path / "editor.py"
    script.write_text(f"import shutil, sys\nshutil.copy({str(src)!r}, sys.argv[1])\n", encoding="utf-8")
    return f"{sys.executable} {script}"


def _studio(root: Path, editor: str, *args: str) -> subprocess.CompletedProcess[str]:
    code, out, err = run_cli("--project", str(root), "--user", "ann", *args, env={"EDITOR": editor, "VISUAL": ""})
    return subprocess.CompletedProcess(args, code, out, err)


def test_guideline_new_and_edit_on_a_new_project(tmp_path: Path) -> None:
    root = tmp_path / "p"
    Store.init(root).close()
    proc = _studio(root, _editor(tmp_path, GOOD), "guideline", "new", "--approve")
    assert proc.returncode == 0, proc.stderr
    assert "Saved and approved guideline v1." in proc.stdout and "Check before approving" not in proc.stdout
    s = Store.open(root)
    g, version = s.approved_guideline()
    assert version == 1 and g.label_names() == ["ORG", "PERSON"]
    assert s.decisions(action="guideline.propose")[0].actor == "human:ann"
    s.close()
    # `edit` on a project without a guideline starts from the template instead of asking for `studio plan`
    root2 = tmp_path / "q"
    Store.init(root2).close()
    bad = GOOD.replace("target_size: 800", "target_size: 1000000000000000").replace(
        "[Lee Jae-yong, Lisa Su]", "[Lee Jae-yong, The President]"
    )
    proc = _studio(root2, _editor(tmp_path, bad), "guideline", "edit", "--approve")
    assert proc.returncode == 0, proc.stderr
    assert "Check before approving:" in proc.stdout and "target_size 1000000000000000 is outside" in proc.stdout
    assert "PERSON: example 'The President' describes a role" in proc.stdout
    assert "Saved guideline v1 (a draft)" in proc.stdout  # not approved: the checks found problems


def test_a_broken_edit_is_kept_and_explained(tmp_path: Path) -> None:
    root = tmp_path / "p"
    Store.init(root).close()
    proc = _studio(root, _editor(tmp_path, "goal: [unclosed\n"), "guideline", "new")
    assert proc.returncode == 1 and "not valid YAML" in proc.stderr and "your edit is kept in" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_checks_of_a_drafted_guideline() -> None:
    g = Guideline(
        goal="tech news",
        target_size=1_000_000_000_000_000,
        labels=[
            LabelDef(name="PERSON", definition="People by name.", positive_examples=["The President", "Tim Cook"]),
            LabelDef(name="ORG", definition="Companies.", exclude=["iPhone"], positive_examples=["Apple", "iPhone"]),
            LabelDef(name="PRODUCT", definition="", positive_examples=["Apple"]),
        ],
        sources=SourcesPlan(seed_urls=["https://www.techcrunch-news-daily.com/ai", "https://example.com/news"]),
    )
    problems = check_guideline(g, drafted=True)
    text = "\n".join(problems)
    assert "target_size 1000000000000000 is outside 10..1,000,000" in text
    assert "PERSON: example 'The President' describes a role or a kind of thing, not a name" in text
    assert "ORG: example 'iPhone' contradicts its own exclusion or negative example 'iphone'" in text
    assert "PRODUCT: no definition" in text
    assert "example 'apple' is given for ORG and PRODUCT" in text
    assert (
        "seed URL 'https://www.techcrunch-news-daily.com/ai' was suggested by the model and has not been checked"
        in text
    )
    assert "seed URL 'https://example.com/news' is a placeholder" in text
    assert "Tim Cook" not in text
    ok = Guideline(goal="x", labels=[LabelDef(name="ORG", definition="Companies.", positive_examples=["삼성전자"])])
    assert check_guideline(ok) == []
