"""`studio cleanse` end to end in a subprocess: list, review on the terminal, apply."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_cli

BOXES = FIXTURES / "boxes"


def studio_input(args: list[str], text: str) -> tuple[int, str, str]:
    return run_cli(*args, input=text, env={"STUDIO_USER": "rev"})


def test_cleanse_review_apply(tmp_path: Path) -> None:
    proj = tmp_path / "p"
    src = tmp_path / "yolo"
    shutil.copytree(BOXES / "yolo", src)
    assert run_cli("init", str(proj))[0] == 0
    code, out, err = run_cli("--project", str(proj), "cleanse", str(src), "--json", "--iou-near", "0.95")
    assert code == 0, err
    res = json.loads(out)
    assert res["proposed"] == 10 and "near_duplicate" not in res["counts"]  # 0.905 < 0.95
    assert {p["where"] for p in res["problems"]} >= {
        "labels/train/img2.txt:6: expected 5 values `class cx cy w h`, got 4"
    }
    code, out, _ = run_cli("--project", str(proj), "cleanse", "--list", "--json")
    listed = json.loads(out)
    assert len(listed) == 10 and listed[0]["payload"]["check"] == "invalid_value"
    # Review on the terminal: approve the first, reject the second, skip the third, quit.
    code, out, err = studio_input(["--project", str(proj), "cleanse", "--review"], "a\nr\ns\nq\n")
    assert code == 0, err
    assert "[1/10]" in out and "rule: a coordinate is NaN or infinite" in out
    assert "Approved 1, rejected 1, skipped 1; 8 still pending." in out
    code, out, _ = run_cli("--project", str(proj), "log", "--json", "--action", "boxes.fix")
    decisions = [(d["action"], d["actor"]) for d in json.loads(out)]
    assert decisions == [
        ("boxes.fix.propose", "tool"),
        ("boxes.fix.accept", "human:rev"),
        ("boxes.fix.reject", "human:rev"),
    ]
    code, out, err = run_cli("--project", str(proj), "cleanse", "--apply", str(tmp_path / "clean"))
    assert code == 0, err
    assert "1 fixes applied" in out and "boxes 18 -> 17" in out
    assert "0 nan" not in (tmp_path / "clean/labels/train/img2.txt").read_text()
    assert "0 nan" in (src / "labels/train/img2.txt").read_text()
    # Errors are one line with what to do next.
    code, _, err = run_cli("--project", str(proj), "cleanse", "--apply", str(tmp_path / "clean"))
    assert code == 1 and err.strip() == f"error: {tmp_path / 'clean'} exists and is not empty; choose a new folder"
    code, _, err = run_cli("--project", str(proj), "cleanse")
    assert code == 2 and "pass DATASET" in err


def test_cleanse_help_and_no_dataset(tmp_path: Path) -> None:
    code, out, _ = run_cli("cleanse", "--help")
    assert code == 0
    for word in ("--predictions", "--weights", "--iou-dup", "--review", "--apply", "--json", "0.999"):
        assert word in out
    proj = tmp_path / "p"
    run_cli("init", str(proj))
    code, _, err = run_cli("--project", str(proj), "cleanse", "--review")
    assert code == 1 and "run `studio cleanse DATASET` first" in err and "Traceback" not in err


def _torchvision_loads() -> bool:
    proc = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, timeout=120)
    return proc.returncode == 0


@pytest.mark.slow
def test_ultralytics_model_predictions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ultralytics")
    if not _torchvision_loads():
        pytest.skip("torchvision does not load with this torch build; ultralytics cannot predict")
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ycfg"))
    from ultralytics import YOLO

    from studio.ops.boxes import model_checks, predict_ultralytics, read_dataset

    ds = read_dataset(BOXES / "yolo")
    ds.images = [im for im in ds.images if im.name == "images/val/img3.jpg"]
    model = YOLO("yolov8n.yaml")  # built from its yaml: random weights, no download
    preds = predict_ultralytics(model, ds, conf=0.0, imgsz=64)
    p = preds.by_image["images/val/img3.jpg"]
    assert p.cxcywh.shape[1] == 4 and len(p.conf) == len(p.cls)
    assert ((p.conf >= 0) & (p.conf <= 1)).all()
    findings = model_checks(ds, preds)
    assert all(f.image == "images/val/img3.jpg" for f in findings)
    # The same model as a weights file through `studio cleanse --weights` (the env above reaches
    # the subprocess). At --pred-conf 1.0 no prediction survives, so every valid label on every
    # image the model ran on is spurious: 16 of the 18 boxes (one NaN, one zero-size).
    model.save(str(tmp_path / "w.pt"))
    proj = tmp_path / "p"
    assert run_cli("init", str(proj))[0] == 0
    code, out, err = run_cli(
        "--project", str(proj), "cleanse", str(BOXES / "yolo"), "--weights", str(tmp_path / "w.pt"),
        "--pred-conf", "1.0", "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["counts"]["spurious_label"] == 16
    assert any(p["where"].endswith("model class names differ from the dataset's; ids used as they are")
               for p in res["problems"])  # fmt: skip
