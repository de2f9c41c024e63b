"""Release versions take ASCII digits only (issue 25, defect 17): `1١.0.0` is not `11.0.0`."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.ops.release.versions import parse_version
from studio.schema import Guideline, LabelDef
from studio.store import Store
from tests.conftest import run_cli


@pytest.mark.parametrize("text", ["1\u0661.0.0", "\u0661.\u0660.\u0660", "1.\u0968.0", "1.0.\uff13", "\U0001d7cf.0.0"])
def test_non_ascii_digits_are_refused(text: str) -> None:
    with pytest.raises(StudioError, match="ASCII digits"):
        parse_version(text)
    assert parse_version("11.0.0") == (11, 0, 0)


def test_release_cli_refuses_an_arabic_indic_digit(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "p")
    v = store.add_guideline(Guideline(goal="orgs", labels=[LabelDef(name="ORG", definition="a company")]), "agent")
    store.decide_guideline(v, "human:ana", "approve")
    store.close()
    code, _, err = run_cli("-p", str(tmp_path / "p"), "release", "--version", "1\u0661.0.0", "--license", "CC-BY-4.0")
    assert code != 0 and "ASCII digits" in err and "Traceback" not in err
    code, _, err = run_cli("-p", str(tmp_path / "p"), "why", "1", "\u0661:\u0665")
    assert code != 0 and "Traceback" not in err
