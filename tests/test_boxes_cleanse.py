"""Findings become proposals; only approved fixes reach the cleaned copy; the source is untouched."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.ops.boxes import CleanseOptions, apply_fixes, fix_proposals, read_dataset, run_cleanse
from studio.store import Store
from tests.conftest import FIXTURES

BOXES = FIXTURES / "boxes"


def tree_hash(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    shutil.copytree(BOXES / "yolo", tmp_path / "src" / "yolo")
    shutil.copytree(BOXES / "yolo_preds", tmp_path / "src" / "preds")
    return tmp_path / "src" / "yolo"


def decide(store: Store, approve: set[tuple[str, tuple[int, ...]]]) -> None:
    """Approve the proposals named by (check, lines); reject all the others."""
    for p in fix_proposals(store):
        key = (p.payload["check"], tuple(p.payload["lines"]))
        store.decide(p.id or 0, "human:tester", "accept" if key in approve else "reject")


def test_run_writes_proposals_and_logs_the_run(store: Store, yolo: Path) -> None:
    res = run_cleanse(store, CleanseOptions(dataset=str(yolo), predictions=str(yolo.parent / "preds")))
    assert res.counts["exact_duplicate"] == 1 and res.counts["missing_box"] == 1
    assert len(res.findings) == 15 and res.new == 15 and res.predictions == 6
    props = fix_proposals(store)
    assert len(props) == 15 and all(p.kind == "box_fix" and p.status == "pending" for p in props)
    p = next(p for p in props if p.payload["check"] == "near_duplicate")
    assert p.source == "boxes:near_duplicate" and p.confidence == 0.8 and p.batch == res.batch
    assert {"check", "fix", "image", "boxes", "evidence", "lines", "result", "dataset"} <= set(p.payload)
    assert p.payload["dataset"] == str(yolo / "dataset.yaml")
    run = store.decisions(action="boxes.cleanse.run")[-1]
    assert run.actor == "tool" and run.payload["dataset"] == str(yolo / "dataset.yaml")
    assert run.payload["settings"]["iou_near"] == 0.75 and run.payload["proposed"] == 15
    assert store.decisions(action="boxes.fix.propose")[-1].actor == "tool"
    assert store.get_setting("boxes.dataset")["path"] == str(yolo / "dataset.yaml")
    # A second run proposes nothing new, even after some were decided.
    store.decide(props[0].id or 0, "human:tester", "reject")
    again = run_cleanse(store, CleanseOptions(dataset=str(yolo), predictions=str(yolo.parent / "preds")))
    assert again.new == 0 and len(fix_proposals(store, status=None)) == 15


def test_apply_writes_exactly_the_approved_fixes(store: Store, yolo: Path, tmp_path: Path) -> None:
    before = tree_hash(yolo)
    run_cleanse(store, CleanseOptions(dataset=str(yolo), predictions=str(yolo.parent / "preds")))
    approve = {
        ("exact_duplicate", (2,)),
        ("near_duplicate", (3, 4)),
        ("outside_image", (4,)),
        ("invalid_value", (1,)),
        ("orphan_label", ()),
        ("missing_label", ()),
        ("class_mismatch", (2,)),
        ("poor_localization", (3,)),
        ("missing_box", ()),
    }
    decide(store, approve)
    assert store.decisions(action="boxes.fix.accept")[0].actor == "human:tester"
    out = tmp_path / "clean"
    res = apply_fixes(store, out, str(yolo))
    assert len(res.applied) == 9 and res.skipped == []
    assert tree_hash(yolo) == before  # source untouched
    assert (out / "labels/train/img1.txt").read_text() == (
        "0 0.5 0.5 0.2 0.2\n1 0.2025 0.3 0.1 0.2\n0 0.8 0.7 0.1 0.2\n2 0.8 0.7 0.1 0.2\n"
    )
    # img2: NaN line dropped, line 4 clipped; rejected and malformed lines stay as they were.
    assert (out / "labels/train/img2.txt").read_text() == (
        "1 0.5 0.5 0 0.1\n7 0.5 0.5 0.1 0.1\n0 0.925 0.5 0.15 0.2\n1 0.3 0.3 0.005 0.01\n0 0.5 0.5 0.2\n"
        "x 0.5 0.5 0.2 0.2\n0 0.1 0.8 0.1 0.1\n0 1.009 0.5 0.01 0.1\n2 1.5 0.5 0.1 0.1\n1.5 0.5 0.5 0.1 0.1\n"
    )
    assert (out / "labels/val/img3.txt").read_text() == (
        "0 0.3 0.3 0.2 0.2\n2 0.7 0.3 0.2 0.2\n2 0.4 0.75 0.2 0.2\n0 0.75 0.75 0.1 0.1\n1 0.5 0.5 0.1 0.1\n"
    )
    assert not (out / "images/train/img4.png").exists() and not (out / "labels/train/orphan.txt").exists()
    assert (out / "images/train/img1.png").read_bytes() == (yolo / "images/train/img1.png").read_bytes()
    assert f'path: "{out}"' in (out / "dataset.yaml").read_text()
    clean = read_dataset(out)
    assert len(clean.images) == 3 and clean.box_count() == 16
    report = json.loads((out / "cleanse_report.json").read_text())
    assert report["boxes"] == {"before": 18, "after": 16} and report["images"] == {"before": 4, "after": 3}
    assert report["by_check"]["outside_image"] == {
        "found": 2, "accepted": 1, "rejected": 1, "pending": 0, "applied": 1, "skipped": 0,
    }  # fmt: skip
    assert report["by_class"]["person"]["applied"] == 3  # merge, added box, person relabeled to dog
    md = (out / "cleanse_report.md").read_text()
    assert "| exact_duplicate | 1 | 1 | 0 | 0 | 1 | 0 |" in md
    logged = store.decisions(action="boxes.cleanse.apply")[-1]
    assert logged.actor == "tool" and len(logged.payload["applied"]) == 9


def test_apply_refuses_unsafe_outputs(store: Store, yolo: Path, tmp_path: Path) -> None:
    run_cleanse(store, CleanseOptions(dataset=str(yolo)))
    with pytest.raises(StudioError, match="inside the source dataset"):
        apply_fixes(store, yolo / "clean", str(yolo))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with pytest.raises(StudioError, match="not empty"):
        apply_fixes(store, tmp_path / "full", str(yolo))
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    assert not (yolo / "clean").exists()


def test_colliding_and_stale_fixes_are_skipped(store: Store, yolo: Path, tmp_path: Path) -> None:
    run_cleanse(store, CleanseOptions(dataset=str(yolo), predictions=str(yolo.parent / "preds")))
    # Approve four fixes on different boxes, reject the rest; then edit img3 line 4 in the source,
    # so the approved spurious-label drop no longer matches the box it was about.
    decide(store, {("outside_image", (4,)), ("tiny_box", (5,)), ("spurious_label", (4,)), ("class_mismatch", (2,))})
    lbl = yolo / "labels/val/img3.txt"
    lbl.write_text(lbl.read_text().replace("0 0.75 0.75 0.1 0.1", "0 0.76 0.75 0.1 0.1"))
    res = apply_fixes(store, tmp_path / "o1", str(yolo))
    assert sorted(o["check"] for o in res.applied) == ["class_mismatch", "outside_image", "tiny_box"]
    assert [(o["check"], o["reason"]) for o in res.skipped] == [
        ("spurious_label", "label changed since the check (line 4)")
    ]


def test_two_fixes_on_one_box_first_wins(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(BOXES / "yolo", root)
    # Three copies of one box: pairs (1,2), (1,3), (2,3) are all exact duplicates.
    (root / "labels/train/img1.txt").write_text("0 0.5 0.5 0.2 0.2\n" * 3)
    run_cleanse(store, CleanseOptions(dataset=str(root)))
    dups = [p for p in fix_proposals(store) if p.payload["check"] == "exact_duplicate"]
    assert sorted(tuple(p.payload["lines"]) for p in dups) == [(2,), (3,), (3,)]
    for p in dups:
        store.decide(p.id or 0, "human:tester", "accept")
    res = apply_fixes(store, tmp_path / "out", str(root))
    assert (tmp_path / "out/labels/train/img1.txt").read_text() == "0 0.5 0.5 0.2 0.2\n"
    assert len(res.applied) == 3 and any("already dropped" in o["reason"] for o in res.applied)


def test_coco_apply(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "coco"
    shutil.copytree(BOXES / "coco", src)
    before = tree_hash(src)
    run_cleanse(store, CleanseOptions(dataset=str(src / "annotations.json")))
    decide(
        store,
        {("exact_duplicate", (11,)), ("near_duplicate", (12, 13)), ("outside_image", (14,)), ("missing_label", ())},
    )
    out = tmp_path / "out"
    res = apply_fixes(store, out, str(src / "annotations.json"))
    assert len(res.applied) == 4 and tree_hash(src) == before
    data = json.loads((out / "annotations.json").read_text())
    anns = {a.get("id"): a for a in data["annotations"] if isinstance(a, dict)}
    assert 11 in anns  # the *second* record with id 11 (image 2) was never read as a box, so it stays
    assert anns[11]["image_id"] == 2
    assert anns[12]["bbox"] == [10.0, 10.0, 10.0, 10.25] and anns[12]["area"] == 102.5
    assert 13 not in anns and anns[14]["bbox"] == [90.0, 10.0, 10.0, 10.0]
    assert [im["id"] for im in data["images"]] == [1, 2, 3, 4, 5]  # image 6 (no annotations) dropped
    assert not (out / "images/c6.png").exists() and (out / "images/c1.png").exists()
    assert data["info"] == {"description": "planted issues: see ../README.md"}  # other fields kept
    ids = [a.get("id") for a in data["annotations"] if isinstance(a, dict)]
    assert ids.count(11) == 1  # annotation 11 on image 1 (the duplicate box) dropped
